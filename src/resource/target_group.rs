//! The load balancer's target group: HTTP, health check on `/` as in the tutorial, instance
//! targets for bridge tasks and ip targets for awsvpc, and a short deregistration delay so a
//! deploy on a tiny stack does not wait five minutes for draining.

use std::collections::HashMap;

use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, Tag, TargetGroupAttribute, TargetTypeEnum};
use serde_json::json;

use super::{field, outputs, own_tags, tag_pairs, vpc, Result};
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::plan::{reference, Address, Change, Desired, Fields, Live, Outputs};
use crate::spec::{LoadBalancer, NetworkMode, Spec};

pub const KIND: &str = "target_group";

pub fn name(lb: &LoadBalancer) -> String {
    lb.target_group.name.clone().unwrap_or_else(|| lb.name.clone())
}

pub fn address(lb: &LoadBalancer) -> String {
    format!("{KIND}.{}", name(lb))
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let Some(lb) = &spec.load_balancer else { return vec![] };
    let attached = spec.services.values().filter(|s| s.load_balancer.is_some());
    let ip = attached.clone().any(|s| spec.tasks.get(&s.task).is_some_and(|t| t.network_mode == NetworkMode::Awsvpc));
    let port = attached.filter_map(|s| s.load_balancer.as_ref()).map(|l| l.port).next().unwrap_or(80);
    let address = address(lb);
    let fields = [
        ("protocol", json!("HTTP")),
        ("port", json!(port)),
        ("vpc", reference(vpc::ADDRESS, "id")),
        ("target_type", json!(if ip { "ip" } else { "instance" })),
        ("health_check_path", json!(lb.target_group.health_check_path)),
        ("health_check_interval", json!(lb.target_group.health_check_interval)),
        ("healthy_threshold", json!(lb.target_group.healthy_threshold)),
        ("deregistration_delay", json!(lb.target_group.deregistration_delay)),
        ("tags", own_tags(&spec.stack.name, &address)),
    ];
    vec![Desired {
        address,
        kind: KIND.into(),
        name: name(lb),
        fields: crate::plan::fields(fields),
        replace_on: vec!["protocol".into(), "port".into(), "vpc".into(), "target_type".into()],
        depends_on: vec![vpc::ADDRESS.into()],
        ..Default::default()
    }]
}

pub async fn observe(aws: &Aws, d: &Desired, _deps: &HashMap<Address, Live>) -> Result<Option<Live>> {
    let out = match aws.elbv2.describe_target_groups().names(&d.name).send().await.aws("elbv2:DescribeTargetGroups") {
        Ok(o) => o,
        Err(e) if e.is(ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(tg) = out.target_groups.unwrap_or_default().into_iter().next() else { return Ok(None) };
    let arn = tg.target_group_arn.clone().unwrap_or_default();
    let attrs = aws.elbv2.describe_target_group_attributes().target_group_arn(&arn).send().await.aws("elbv2:DescribeTargetGroupAttributes")?;
    let delay = attrs
        .attributes
        .unwrap_or_default()
        .into_iter()
        .find(|a| a.key.as_deref() == Some("deregistration_delay.timeout_seconds"))
        .and_then(|a| a.value)
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(300);
    let fields = [
        ("protocol", json!(tg.protocol.as_ref().map(|p| p.as_str()).unwrap_or("HTTP"))),
        ("port", json!(tg.port)),
        ("vpc", json!(tg.vpc_id)),
        ("target_type", json!(tg.target_type.as_ref().map(|t| t.as_str()).unwrap_or("instance"))),
        ("health_check_path", json!(tg.health_check_path.clone().unwrap_or_else(|| "/".into()))),
        ("health_check_interval", json!(tg.health_check_interval_seconds.unwrap_or(30))),
        ("healthy_threshold", json!(tg.healthy_threshold_count.unwrap_or(5))),
        ("deregistration_delay", json!(delay)),
        ("tags", live_elb_tags(aws, &arn).await?),
    ];
    Ok(Some(Live { id: arn.clone(), fields: crate::plan::fields(fields), outputs: outputs([("arn", arn)]) }))
}

/// The ecsdeploy tags of a load balancer or target group, as a field value.
pub async fn live_elb_tags(aws: &Aws, arn: &str) -> Result<serde_json::Value> {
    let out = aws.elbv2.describe_tags().resource_arns(arn).send().await.aws("elbv2:DescribeTags")?;
    let tags: Vec<Tag> = out.tag_descriptions.unwrap_or_default().into_iter().flat_map(|t| t.tags.unwrap_or_default()).collect();
    Ok(super::live_tags(tags.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()))))
}

pub fn elb_tags(fields: &Fields) -> Vec<Tag> {
    tag_pairs(fields).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields) -> Result<Outputs> {
    let arn = match (&c.live, c.action.in_place()) {
        (Some(live), true) => {
            if ["health_check_path", "health_check_interval", "healthy_threshold"].iter().any(|f| super::changed(c, f)) {
                aws.elbv2
                    .modify_target_group()
                    .target_group_arn(&live.id)
                    .health_check_path(field(fields, "health_check_path"))
                    .set_health_check_interval_seconds(super::int(fields, "health_check_interval"))
                    .set_healthy_threshold_count(super::int(fields, "healthy_threshold"))
                    .send()
                    .await
                    .aws("elbv2:ModifyTargetGroup")?;
            }
            if super::changed(c, "tags") {
                aws.elbv2.add_tags().resource_arns(&live.id).set_tags(Some(elb_tags(fields))).send().await.aws("elbv2:AddTags")?;
            }
            live.id.clone()
        }
        (live, _) => {
            if let Some(live) = live {
                aws.elbv2.delete_target_group().target_group_arn(&live.id).send().await.aws("elbv2:DeleteTargetGroup")?;
            }
            let out = aws
                .elbv2
                .create_target_group()
                .name(&c.desired.name)
                .protocol(ProtocolEnum::Http)
                .port(fields["port"].as_i64().unwrap_or(80) as i32)
                .vpc_id(field(fields, "vpc"))
                .target_type(TargetTypeEnum::from(field(fields, "target_type")))
                .health_check_path(field(fields, "health_check_path"))
                .set_health_check_interval_seconds(super::int(fields, "health_check_interval"))
                .set_healthy_threshold_count(super::int(fields, "healthy_threshold"))
                .set_tags(Some(elb_tags(fields)))
                .send()
                .await
                .aws("elbv2:CreateTargetGroup")?;
            out.target_groups.unwrap_or_default().into_iter().next().and_then(|t| t.target_group_arn).unwrap_or_default()
        }
    };
    if super::changed(c, "deregistration_delay") {
        let attr = TargetGroupAttribute::builder().key("deregistration_delay.timeout_seconds").value(fields["deregistration_delay"].to_string()).build();
        aws.elbv2.modify_target_group_attributes().target_group_arn(&arn).attributes(attr).send().await.aws("elbv2:ModifyTargetGroupAttributes")?;
    }
    Ok(outputs([("arn", arn)]))
}

/// A target group is in use until its listener and load balancer are gone.
pub async fn delete(aws: &Aws, c: &Change, waiting: super::Note<'_>) -> Result<Outputs> {
    let live = c.live.as_ref().expect("a deletion has a live resource");
    super::retry_in_use(waiting, "no listener forwards to it", || async {
        aws.elbv2.delete_target_group().target_group_arn(&live.id).send().await.aws("elbv2:DeleteTargetGroup")
    })
    .await?;
    Ok(Outputs::new())
}
