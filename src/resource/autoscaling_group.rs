//! The autoscaling group of the cluster's instances (max 1 in the tutorial), in the default
//! subnets. It is created empty: its instances come only once its capacity provider is attached
//! (see `instances`, which owns how many run).

use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
use serde_json::json;

use super::{field, int, launch_template, outputs, own_tags, stack_name, tag_pairs, vpc, Result};
use crate::aws::{retry_propagation, Aws, AwsResultExt};
use crate::plan::{reference, Change, Desired, Fields, Live, Outputs};
use crate::spec::Spec;

pub const KIND: &str = "autoscaling_group";
pub const ADDRESS: &str = "autoscaling_group.ecs";

/// The group's name: the spec's (an adopted group) or `<stack>-ecs`.
pub fn name(spec: &Spec) -> String {
    spec.cluster.ec2.as_ref().and_then(|e| e.autoscaling_group.clone()).unwrap_or_else(|| stack_name(spec, "ecs"))
}

/// The group whose capacity the stack's tasks may wait for, when the stack has one.
pub fn of(spec: &Spec) -> Option<String> {
    spec.cluster.ec2.as_ref().map(|_| name(spec))
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let Some(ec2) = &spec.cluster.ec2 else { return vec![] };
    let subnets = vpc::subnets(&ec2.subnets);
    let fields = [
        ("max", json!(ec2.max)),
        ("subnets", subnets),
        ("launch_template", reference(launch_template::ADDRESS, "id")),
        ("tags", own_tags(&spec.stack.name, ADDRESS)),
    ];
    vec![Desired {
        address: ADDRESS.into(),
        kind: KIND.into(),
        name: name(spec),
        fields: crate::plan::fields(fields),
        // Empty at first, so it needs no cluster yet: its instances wait for `instances`.
        depends_on: vec![launch_template::ADDRESS.into(), vpc::ADDRESS.into()],
        ..Default::default()
    }]
}

/// What Auto Scaling says of a group while its deletion runs (its instances terminating).
const DELETING: &str = "Delete in progress";

async fn describe(aws: &Aws, name: &str) -> std::result::Result<Option<aws_sdk_autoscaling::types::AutoScalingGroup>, crate::aws::AwsError> {
    let out = aws.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(name).send().await.aws("autoscaling:DescribeAutoScalingGroups")?;
    Ok(out.auto_scaling_groups.unwrap_or_default().into_iter().next())
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    // One being deleted is as good as gone (its name is free once it is: see `apply`).
    let Some(g) = describe(aws, &d.name).await?.filter(|g| g.status.as_deref() != Some(DELETING)) else { return Ok(None) };
    let mut subnets: Vec<&str> = g.vpc_zone_identifier.as_deref().unwrap_or_default().split(',').filter(|s| !s.is_empty()).collect();
    subnets.sort();
    let tags = g.tags.clone().unwrap_or_default();
    let lt = g.launch_template.as_ref().and_then(|l| l.launch_template_id.clone()).unwrap_or_default();
    let lt_name = g.launch_template.as_ref().and_then(|l| l.launch_template_name.clone()).unwrap_or_default();
    let fields = [
        ("min", json!(g.min_size.unwrap_or(0))),
        ("max", json!(g.max_size.unwrap_or(0))),
        ("desired", json!(g.desired_capacity.unwrap_or(0))),
        ("subnets", json!(subnets.join(","))),
        ("launch_template", json!(lt)),
        ("tags", super::live_tags(tags.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())))),
    ];
    let arn = g.auto_scaling_group_arn.unwrap_or_default();
    Ok(Some(Live {
        id: d.name.clone(),
        fields: crate::plan::fields(fields),
        outputs: outputs([("arn", arn), ("name", d.name.clone()), ("launch_template_name", lt_name)]),
    }))
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields, waiting: super::Note<'_>) -> Result<Outputs> {
    let name = &c.desired.name;
    let template = LaunchTemplateSpecification::builder().launch_template_id(field(fields, "launch_template")).version("$Default").build();
    let tags: Vec<Tag> = tag_pairs(fields)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).propagate_at_launch(true).resource_id(name).resource_type("auto-scaling-group").build())
        .collect();
    match &c.live {
        None => {
            // A group of this name still being deleted (a destroy just before) keeps the name taken.
            super::until(waiting, &format!("group {name} left by an earlier deletion is gone"), || async { Ok(describe(aws, name).await?.is_none()) }).await?;
            retry_propagation(|| async {
                aws.autoscaling
                    .create_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .launch_template(template.clone())
                    // Empty until the capacity provider is attached (see `instances`).
                    .min_size(0)
                    .max_size(int(fields, "max").unwrap_or(1))
                    .desired_capacity(0)
                    .vpc_zone_identifier(field(fields, "subnets"))
                    .set_tags(Some(tags.clone()))
                    .send()
                    .await
                    .aws("autoscaling:CreateAutoScalingGroup")
            })
            .await?;
        }
        Some(_) => {
            let touched = |f: &str| super::changed(c, f);
            if ["max", "subnets", "launch_template"].iter().any(|f| touched(f)) {
                let mut req = aws.autoscaling.update_auto_scaling_group().auto_scaling_group_name(name);
                if touched("max") {
                    req = req.max_size(int(fields, "max").unwrap_or(1));
                }
                if touched("subnets") {
                    req = req.vpc_zone_identifier(field(fields, "subnets"));
                }
                if touched("launch_template") {
                    req = req.launch_template(template);
                }
                req.send().await.aws("autoscaling:UpdateAutoScalingGroup")?;
            }
            if touched("tags") {
                aws.autoscaling.create_or_update_tags().set_tags(Some(tags)).send().await.aws("autoscaling:CreateOrUpdateTags")?;
            }
        }
    }
    let arn = match &c.live {
        Some(l) => l.outputs["arn"].clone(),
        None => observe(aws, &c.desired).await?.map(|l| l.outputs["arn"].clone()).unwrap_or_default(),
    };
    Ok(outputs([("arn", arn), ("name", name.clone())]))
}

/// Delete the group with its instances, and wait until it is gone (its instances leave the
/// cluster, which can then be deleted).
/// Auto Scaling refuses while a scaling activity runs (terraform-provider-aws retries the same).
pub async fn delete(aws: &Aws, c: &Change, waiting: super::Note<'_>) -> Result<Outputs> {
    let name = &c.desired.name;
    // A run that stopped after asking need not ask again.
    if describe(aws, name).await?.is_some_and(|g| g.status.as_deref() != Some(DELETING)) {
        super::retry_in_use(waiting, "its scaling activity ends", || async {
            aws.autoscaling.delete_auto_scaling_group().auto_scaling_group_name(name).force_delete(true).send().await.aws("autoscaling:DeleteAutoScalingGroup")
        })
        .await?;
    }
    super::until(waiting, &format!("group {name} and its instances are gone"), || async { Ok(describe(aws, name).await?.is_none()) }).await?;
    Ok(Outputs::new())
}
