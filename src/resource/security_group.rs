//! The stack's own security group for the ECS instances (and awsvpc tasks). Its rules are the
//! `ingress` resource's business.

use std::collections::HashMap;

use aws_sdk_ec2::types::{Filter, ResourceType, SecurityGroup, Tag, TagSpecification};
use serde_json::json;

use super::{field, outputs, own_tags, stack_name, tag_pairs, vpc, Result};
use crate::aws::{Aws, AwsError, AwsResultExt};
use crate::plan::{reference, Address, Change, Desired, Fields, Live, Outputs};
use crate::spec::Spec;

pub const KIND: &str = "security_group";

/// `ecs`: the instances' group. (`alb` joins it with the load balancer.)
pub fn address(group: &str) -> String {
    format!("{KIND}.{group}")
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let mut out = Vec::new();
    if vpc::needed(spec) {
        out.push(group(spec, "ecs", "ECS instances and tasks"));
    }
    if spec.load_balancer.is_some() {
        out.push(group(spec, "alb", "the load balancer"));
    }
    out
}

/// The spec's name and description of an adopted group (`ecs` or `alb`), where it gives them.
fn adopted(spec: &Spec, which: &str) -> (Option<String>, Option<String>) {
    match which {
        "ecs" => spec.cluster.ec2.as_ref().map(|e| (e.security_group.clone(), e.security_group_description.clone())),
        _ => spec.load_balancer.as_ref().map(|l| (l.security_group.clone(), l.security_group_description.clone())),
    }
    .unwrap_or_default()
}

/// A group's name: `<stack>-ecs` / `<stack>-alb`, or the adopted group's name from the spec.
pub fn name(spec: &Spec, which: &str) -> String {
    adopted(spec, which).0.unwrap_or_else(|| stack_name(spec, which))
}

fn group(spec: &Spec, which: &str, what: &str) -> Desired {
    let address = address(which);
    let described = adopted(spec, which).1;
    let fields = [
        ("description", json!(described.unwrap_or_else(|| format!("{what} of stack {}", spec.stack.name)))),
        ("vpc", reference(vpc::ADDRESS, "id")),
        ("tags", own_tags(&spec.stack.name, &address)),
    ];
    Desired {
        address,
        kind: KIND.into(),
        name: name(spec, which),
        fields: crate::plan::fields(fields),
        // EC2 cannot rename a group, change its description or move it to another VPC.
        replace_on: vec!["description".into(), "vpc".into()],
        depends_on: vec![vpc::ADDRESS.into()],
        reads: vec![vpc::ADDRESS.into()],
        ..Default::default()
    }
}

/// The groups named `names` (by name, or by `sg-` id), in one call per kind of name: the
/// stack's own groups and the existing ones it adds rules to, for every resource that needs one.
pub async fn lookup(aws: &Aws, names: &[String]) -> std::result::Result<Vec<SecurityGroup>, AwsError> {
    let (ids, names): (Vec<String>, Vec<String>) = names.iter().cloned().partition(|n| n.starts_with("sg-"));
    let by = |filter: &'static str, values: Vec<String>| async move {
        if values.is_empty() {
            return Ok(vec![]);
        }
        let f = Filter::builder().name(filter).set_values(Some(values)).build();
        aws.ec2.describe_security_groups().filters(f).into_paginator().items().send().try_collect().await.aws("ec2:DescribeSecurityGroups")
    };
    let (a, b) = tokio::try_join!(by("group-name", names), by("group-id", ids))?;
    Ok(a.into_iter().chain(b).collect())
}

pub fn observe(groups: &[SecurityGroup], d: &Desired, deps: &HashMap<Address, Live>) -> Result<Option<Live>> {
    let Some(vpc) = deps.get(vpc::ADDRESS) else { return Ok(None) };
    let found = groups.iter().find(|g| g.group_name.as_deref() == Some(d.name.as_str()) && g.vpc_id.as_deref() == Some(vpc.id.as_str()));
    Ok(found.map(|g| {
        let id = g.group_id.clone().unwrap_or_default();
        let fields = [
            ("description", json!(g.description.clone().unwrap_or_default())),
            ("vpc", json!(g.vpc_id.clone().unwrap_or_default())),
            ("tags", super::live_tags(g.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())))),
        ];
        Live { id: id.clone(), fields: crate::plan::fields(fields), outputs: outputs([("id", id)]) }
    }))
}

pub fn ec2_tags(fields: &Fields) -> Vec<Tag> {
    tag_pairs(fields).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields) -> Result<Outputs> {
    if let (Some(live), true) = (&c.live, c.action.in_place()) {
        aws.ec2.create_tags().resources(&live.id).set_tags(Some(ec2_tags(fields))).send().await.aws("ec2:CreateTags")?;
        return Ok(live.outputs.clone());
    }
    if let Some(live) = &c.live {
        // Replace: the old group goes first (the name must be free). EC2 refuses while it is in use.
        aws.ec2.delete_security_group().group_id(&live.id).send().await.aws("ec2:DeleteSecurityGroup")?;
    }
    let out = aws
        .ec2
        .create_security_group()
        .group_name(&c.desired.name)
        .description(field(fields, "description"))
        .vpc_id(field(fields, "vpc"))
        .tag_specifications(TagSpecification::builder().resource_type(ResourceType::SecurityGroup).set_tags(Some(ec2_tags(fields))).build())
        .send()
        .await
        .aws("ec2:CreateSecurityGroup")?;
    Ok(outputs([("id", out.group_id.unwrap_or_default())]))
}

/// A group goes once no instance, interface or rule uses it; those leave asynchronously.
pub async fn delete(aws: &Aws, c: &Change, waiting: super::Note<'_>) -> Result<Outputs> {
    let live = c.live.as_ref().expect("a deletion has a live resource");
    // A deleted load balancer's network interfaces linger for minutes, keeping its group in use.
    super::retry_in_use(waiting, "no instance, network interface or rule uses it", || async {
        aws.ec2.delete_security_group().group_id(&live.id).send().await.aws("ec2:DeleteSecurityGroup")
    })
    .await?;
    Ok(Outputs::new())
}
