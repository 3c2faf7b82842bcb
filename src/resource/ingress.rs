//! Inbound rules ecsdeploy owns, one resource per receiving group: SSH and HTTP on the ECS group,
//! MySQL into the existing RDS group. Reconciliation adds and revokes exactly the difference. On
//! the stack's own groups every inbound rule is ours; on existing groups only rules tagged with
//! this stack are, so rules other people made there are never touched.

use std::collections::HashMap;

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange, ResourceType, SecurityGroupRule, TagSpecification, UserIdGroupPair};
use serde_json::{json, Value};

use super::{existing_group, field, own_tags, security_group, Result, TAG_STACK};
use crate::aws::{retry_propagation, Aws, AwsResultExt};
use crate::plan::{reference, resolve, Address, Change, Desired, Fields, Live, Outputs};
use crate::spec::{Spec, OWN_GROUPS};

pub const KIND: &str = "ingress";

fn group_address(group: &str) -> String {
    if OWN_GROUPS.contains(&group) {
        security_group::address(group)
    } else {
        existing_group::address(group)
    }
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    // Receiving group → its rules, in spec order.
    let mut groups: Vec<(String, Vec<Value>)> = Vec::new();
    let mut add = |group: &str, rule: Value| match groups.iter_mut().find(|(g, _)| g == group) {
        Some((_, rules)) if rules.contains(&rule) => {}
        Some((_, rules)) => rules.push(rule),
        None => groups.push((group.to_string(), vec![rule])),
    };
    if let Some(ec2) = &spec.cluster.ec2 {
        for cidr in &ec2.ssh_cidrs {
            add("ecs", rule("tcp", 22, 22, json!(cidr), "SSH"));
        }
    }
    if let Some(lb) = &spec.load_balancer {
        for cidr in &lb.allow_cidrs {
            let port = lb.listener_port as i64;
            add("alb", rule("tcp", port, port, json!(cidr), "Listener"));
        }
    }
    // The load balancer reaches the tasks: their static host ports, Docker's ephemeral range for
    // dynamic ones, or the container port of awsvpc tasks.
    if spec.load_balancer.is_some() {
        for s in spec.services.values().filter(|s| s.load_balancer.is_some()) {
            let Some(task) = spec.tasks.get(&s.task) else { continue };
            let lb = s.load_balancer.as_ref().expect("filtered");
            for m in task.containers.iter().filter(|c| c.name == lb.container).flat_map(|c| &c.port_mappings).filter(|m| m.container == lb.port) {
                let (from, to) = match (task.network_mode, m.host) {
                    (crate::spec::NetworkMode::Bridge, None | Some(0)) => (32768, 65535),
                    (crate::spec::NetworkMode::Bridge, Some(h)) => (h as i64, h as i64),
                    _ => (m.container as i64, m.container as i64),
                };
                let r = rule("tcp", from, to, reference(&security_group::address("alb"), "id"), "From the load balancer");
                add("ecs", r);
            }
        }
    }
    for r in &spec.ingress {
        let (from, to) = match (r.port, r.from_port, r.to_port) {
            (Some(p), _, _) => (p as i64, p as i64),
            (None, Some(a), Some(b)) => (a as i64, b as i64),
            _ => (-1, -1),
        };
        let source = match (&r.cidr, &r.source_group) {
            (Some(c), _) => json!(c),
            (None, Some(g)) => reference(&group_address(g), "id"),
            (None, None) => continue,
        };
        add(&r.group, rule(&r.protocol, from, to, source, r.description.as_deref().unwrap_or("")));
    }
    groups
        .into_iter()
        .map(|(group, rules)| {
            let target = group_address(&group);
            let mut depends_on: Vec<Address> = vec![target.clone()];
            for r in &rules {
                for dep in crate::plan::unresolved_refs(r) {
                    let a = dep.rsplit_once('.').map(|(a, _)| a.to_string()).unwrap_or(dep);
                    if !depends_on.contains(&a) {
                        depends_on.push(a);
                    }
                }
            }
            let address = format!("{KIND}.{group}");
            Desired {
                fields: [
                    ("group".to_string(), reference(&target, "id")),
                    ("rules".to_string(), Value::Array(rules)),
                    // On the rules themselves: ours, or matching ones made by hand (to adopt).
                    ("tags".to_string(), own_tags(&spec.stack.name, &address)),
                ]
                .into(),
                meta: [("own".to_string(), OWN_GROUPS.contains(&group.as_str()).to_string())].into(),
                name: group,
                kind: KIND.into(),
                unordered: vec!["rules".into()],
                // The sources' ids too: a matching rule made by hand is recognised by its source.
                reads: depends_on.clone(),
                depends_on,
                address,
                ..Default::default()
            }
        })
        .collect()
}

fn rule(protocol: &str, from: i64, to: i64, source: Value, description: &str) -> Value {
    json!({ "protocol": protocol, "from": from, "to": to, "source": source, "description": description })
}

/// One inbound rule as observed: normalised, its id, and whether it carries this stack's tag.
struct Owned {
    rule: Value,
    id: String,
    tagged: bool,
}

/// The rules we own on a group: on our own groups every inbound rule, on existing ones those
/// tagged with the stack; on both, untagged rules equal to a wanted one (made by hand, to adopt).
async fn owned_rules(aws: &Aws, group_id: &str, own_group: bool, stack: &str, want: &[Value]) -> Result<Vec<Owned>> {
    let rules = aws
        .ec2
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(group_id).build())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("ec2:DescribeSecurityGroupRules")?;
    Ok(rules
        .into_iter()
        .filter(|r| r.is_egress != Some(true))
        .map(|r| Owned {
            rule: normalise(&r),
            id: r.security_group_rule_id.clone().unwrap_or_default(),
            tagged: r.tags().iter().any(|t| t.key() == Some(TAG_STACK) && t.value() == Some(stack)),
        })
        .filter(|o| own_group || o.tagged || want.contains(&o.rule))
        .collect())
}

/// The `tags` field as observed: none (`{}`, to adopt) while a wanted rule lacks the stack's
/// tag, ours when the stack's rules are there, absent when there is no rule of ours at all.
fn rules_tags(owned: &[Owned], want: &[Value], stack: &str, address: &str) -> Value {
    if owned.iter().any(|o| !o.tagged && want.contains(&o.rule)) {
        json!({})
    } else if owned.iter().any(|o| o.tagged) {
        own_tags(stack, address)
    } else {
        Value::Null
    }
}

/// A rule as the plan compares it: `{protocol, from, to, source, description}`.
pub fn normalise(r: &SecurityGroupRule) -> Value {
    let source = r
        .cidr_ipv4
        .clone()
        .or_else(|| r.cidr_ipv6.clone())
        .or_else(|| r.referenced_group_info.as_ref().and_then(|g| g.group_id.clone()))
        .or_else(|| r.prefix_list_id.clone())
        .unwrap_or_default();
    rule(
        r.ip_protocol.as_deref().unwrap_or("-1"),
        r.from_port.unwrap_or(-1) as i64,
        r.to_port.unwrap_or(-1) as i64,
        json!(source),
        r.description.as_deref().unwrap_or(""),
    )
}

pub async fn observe(aws: &Aws, d: &Desired, deps: &HashMap<Address, Live>, stack: &str) -> Result<Option<Live>> {
    let target = &d.depends_on[0];
    let Some(group) = deps.get(target) else { return Ok(None) };
    let known: HashMap<Address, Outputs> = deps.iter().map(|(a, l)| (a.clone(), l.outputs.clone())).collect();
    let want = resolve(&d.fields["rules"], &known).as_array().cloned().unwrap_or_default();
    let owned = owned_rules(aws, &group.id, d.meta["own"] == "true", stack, &want).await?;
    let fields = [
        ("group".to_string(), json!(group.id)),
        ("tags".to_string(), rules_tags(&owned, &want, stack, &d.address)),
        ("rules".to_string(), Value::Array(owned.into_iter().map(|o| o.rule).collect())),
    ];
    Ok(Some(Live { id: group.id.clone(), fields: fields.into(), outputs: Default::default() }))
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields, stack: &str) -> Result<Outputs> {
    let group_id = field(fields, "group");
    let want = fields["rules"].as_array().cloned().unwrap_or_default();
    // Read again for the rule ids: revoking by id removes exactly the rule meant.
    let have = owned_rules(aws, group_id, c.desired.meta["own"] == "true", stack, &want).await?;
    let adopt: Vec<String> = have.iter().filter(|o| !o.tagged && want.contains(&o.rule)).map(|o| o.id.clone()).collect();
    if !adopt.is_empty() {
        let tags = security_group::ec2_tags(&[("tags".to_string(), own_tags(stack, &c.address))].into());
        retry_propagation(|| async {
            aws.ec2.create_tags().set_resources(Some(adopt.clone())).set_tags(Some(tags.clone())).send().await.aws("ec2:CreateTags")
        })
        .await?;
    }
    let revoke: Vec<String> = have.iter().filter(|o| !want.contains(&o.rule)).map(|o| o.id.clone()).collect();
    if !revoke.is_empty() {
        aws.ec2
            .revoke_security_group_ingress()
            .group_id(group_id)
            .set_security_group_rule_ids(Some(revoke))
            .send()
            .await
            .aws("ec2:RevokeSecurityGroupIngress")?;
    }
    let add: Vec<IpPermission> = want.iter().filter(|r| !have.iter().any(|o| o.rule == **r)).map(permission).collect();
    if !add.is_empty() {
        let tags = security_group::ec2_tags(&[("tags".to_string(), own_tags(stack, &c.address))].into());
        let tagged = TagSpecification::builder().resource_type(ResourceType::SecurityGroupRule).set_tags(Some(tags)).build();
        // A group made moments ago (this one, or the source it names) can be unknown to EC2 yet.
        retry_propagation(|| async {
            aws.ec2
                .authorize_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(Some(add.clone()))
                .tag_specifications(tagged.clone())
                .send()
                .await
                .aws("ec2:AuthorizeSecurityGroupIngress")
        })
        .await?;
    }
    Ok(Outputs::new())
}

fn permission(r: &Value) -> IpPermission {
    let description = r["description"].as_str().filter(|d| !d.is_empty()).map(String::from);
    let source = r["source"].as_str().unwrap_or_default();
    let p = IpPermission::builder()
        .ip_protocol(r["protocol"].as_str().unwrap_or("tcp"))
        .from_port(r["from"].as_i64().unwrap_or(-1) as i32)
        .to_port(r["to"].as_i64().unwrap_or(-1) as i32);
    if source.starts_with("sg-") {
        p.user_id_group_pairs(UserIdGroupPair::builder().group_id(source).set_description(description).build()).build()
    } else {
        p.ip_ranges(IpRange::builder().cidr_ip(source).set_description(description).build()).build()
    }
}

/// Revoke the rules the stack owns on the group (on an existing group, only those).
pub async fn delete(aws: &Aws, c: &Change, stack: &str) -> Result<Outputs> {
    let live = c.live.as_ref().expect("a deletion has a live resource");
    let ids: Vec<String> = owned_rules(aws, &live.id, c.desired.meta["own"] == "true", stack, &[]).await?.into_iter().map(|o| o.id).collect();
    if !ids.is_empty() {
        aws.ec2.revoke_security_group_ingress().group_id(&live.id).set_security_group_rule_ids(Some(ids)).send().await.aws("ec2:RevokeSecurityGroupIngress")?;
    }
    Ok(Outputs::new())
}
