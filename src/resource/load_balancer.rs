//! The optional Application Load Balancer, internet-facing in the default subnets, behind its own
//! security group. Users open its DNS name.

use std::collections::HashMap;

use aws_sdk_elasticloadbalancingv2::types::{LoadBalancerSchemeEnum, LoadBalancerTypeEnum};
use serde_json::{json, Value};

use super::{
    outputs, own_tags, security_group,
    target_group::{elb_tags, live_elb_tags},
    vpc, Result,
};
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::plan::{reference, Address, Change, Desired, Fields, Live, Outputs};
use crate::spec::{LoadBalancer, Spec};

pub const KIND: &str = "load_balancer";

pub fn address(lb: &LoadBalancer) -> String {
    format!("{KIND}.{}", lb.name)
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let Some(lb) = &spec.load_balancer else { return vec![] };
    let address = address(lb);
    let group = security_group::address("alb");
    let subnets = vpc::subnets(&lb.subnets);
    let fields = [
        ("subnets", subnets),
        ("security_groups", json!([reference(&group, "id")])),
        ("scheme", json!("internet-facing")),
        ("tags", own_tags(&spec.stack.name, &address)),
    ];
    vec![Desired {
        address,
        kind: KIND.into(),
        name: lb.name.clone(),
        fields: crate::plan::fields(fields),
        replace_on: vec!["scheme".into()],
        unordered: vec!["security_groups".into()],
        depends_on: vec![vpc::ADDRESS.into(), group],
        ..Default::default()
    }]
}

pub async fn find(aws: &Aws, name: &str) -> Result<Option<aws_sdk_elasticloadbalancingv2::types::LoadBalancer>> {
    match aws.elbv2.describe_load_balancers().names(name).send().await.aws("elbv2:DescribeLoadBalancers") {
        Ok(o) => Ok(o.load_balancers.unwrap_or_default().into_iter().next()),
        Err(e) if e.is(ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub async fn observe(aws: &Aws, d: &Desired, _deps: &HashMap<Address, Live>) -> Result<Option<Live>> {
    let Some(lb) = find(aws, &d.name).await? else {
        two_zones(aws, d).await?;
        return Ok(None);
    };
    let arn = lb.load_balancer_arn.clone().unwrap_or_default();
    let mut subnets: Vec<String> = lb.availability_zones().iter().filter_map(|z| z.subnet_id.clone()).collect();
    subnets.sort();
    let fields = [
        ("subnets", json!(subnets.join(","))),
        ("security_groups", json!(lb.security_groups())),
        ("scheme", json!(lb.scheme.as_ref().map(|s| s.as_str()).unwrap_or("internet-facing"))),
        ("tags", live_elb_tags(aws, &arn).await?),
    ];
    Ok(Some(Live { id: arn.clone(), fields: crate::plan::fields(fields), outputs: outputs([("arn", arn), ("dns", lb.dns_name.unwrap_or_default())]) }))
}

/// AWS refuses a load balancer whose subnets are not in two Availability Zones ("At least two
/// subnets in two different Availability Zones must be specified"): said at plan time for
/// subnets the spec lists (the default ones are one per zone).
async fn two_zones(aws: &Aws, d: &Desired) -> Result<()> {
    let Some(listed) = d.fields.get("subnets").and_then(Value::as_str) else { return Ok(()) };
    let ids: Vec<String> = listed.split(',').filter(|s| !s.is_empty()).map(String::from).collect();
    let subnets =
        aws.ec2.describe_subnets().set_subnet_ids(Some(ids.clone())).into_paginator().items().send().try_collect().await.aws("ec2:DescribeSubnets")?;
    let zones: std::collections::BTreeSet<String> = subnets.iter().filter_map(|s| s.availability_zone.clone()).collect();
    if zones.len() < 2 {
        return Err(super::Error::Other(crate::engine::Failure::new(
            format!(
                "the load balancer's subnets ({}) are all in {}: AWS needs subnets in at least two Availability Zones",
                ids.join(", "),
                zones.into_iter().collect::<Vec<_>>().join(", ")
            ),
            "add a subnet of another Availability Zone to load_balancer.subnets, or write subnets = \"default\"",
        )));
    }
    Ok(())
}

fn list(fields: &Fields, name: &str) -> Vec<String> {
    match &fields[name] {
        Value::String(s) => s.split(',').filter(|s| !s.is_empty()).map(String::from).collect(),
        Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
        _ => vec![],
    }
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields) -> Result<Outputs> {
    if let (Some(live), true) = (&c.live, c.action.in_place()) {
        if super::changed(c, "subnets") {
            aws.elbv2.set_subnets().load_balancer_arn(&live.id).set_subnets(Some(list(fields, "subnets"))).send().await.aws("elbv2:SetSubnets")?;
        }
        if super::changed(c, "security_groups") {
            aws.elbv2
                .set_security_groups()
                .load_balancer_arn(&live.id)
                .set_security_groups(Some(list(fields, "security_groups")))
                .send()
                .await
                .aws("elbv2:SetSecurityGroups")?;
        }
        if super::changed(c, "tags") {
            aws.elbv2.add_tags().resource_arns(&live.id).set_tags(Some(elb_tags(fields))).send().await.aws("elbv2:AddTags")?;
        }
        return Ok(live.outputs.clone());
    }
    if let Some(live) = &c.live {
        aws.elbv2.delete_load_balancer().load_balancer_arn(&live.id).send().await.aws("elbv2:DeleteLoadBalancer")?;
    }
    let out = aws
        .elbv2
        .create_load_balancer()
        .name(&c.desired.name)
        .set_subnets(Some(list(fields, "subnets")))
        .set_security_groups(Some(list(fields, "security_groups")))
        .scheme(LoadBalancerSchemeEnum::InternetFacing)
        .r#type(LoadBalancerTypeEnum::Application)
        .set_tags(Some(elb_tags(fields)))
        .send()
        .await
        .aws("elbv2:CreateLoadBalancer")?;
    let lb = out.load_balancers.unwrap_or_default().into_iter().next();
    Ok(outputs([("arn", lb.as_ref().and_then(|l| l.load_balancer_arn.clone()).unwrap_or_default()), ("dns", lb.and_then(|l| l.dns_name).unwrap_or_default())]))
}

pub async fn delete(aws: &Aws, c: &Change) -> Result<Outputs> {
    let live = c.live.as_ref().expect("a deletion has a live resource");
    aws.elbv2.delete_load_balancer().load_balancer_arn(&live.id).send().await.aws("elbv2:DeleteLoadBalancer")?;
    Ok(Outputs::new())
}
