//! What the stack owns, found by its tag whatever the spec now says: ownership follows the tags
//! (design §1). A plan deletes what the spec no longer describes; `destroy` deletes all of it.
//!
//! Where it is found, in one round trip of listings:
//! - the Resource Groups Tagging API (`GetResources`, filtered on `ecsdeploy:stack`, paginated),
//!   which lists every resource type but IAM roles and Auto Scaling groups (its "supported
//!   services" page): clusters, services, task definitions, security groups, load balancers,
//!   target groups, log groups are taken from it;
//! - each service's own listing where it does not answer: Auto Scaling groups, IAM roles and
//!   instance profiles (IAM's listings return no tags: one `ListRoleTags` per role and one
//!   `GetInstanceProfile` per profile the spec does not name follow);
//! - capacity providers, launch templates and inbound rules from their own listings too, which
//!   give the tags and what a deletion needs (a rule's group) in the same call.
//!
//! The tagging index is eventually consistent and may still list what was deleted moments ago,
//! so a candidate the spec does not name is confirmed by its own service before it is planned
//! for deletion: a second round trip, only for those. Both run alongside the plan's own reads.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::Filter;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use futures::future::try_join_all;
use serde_json::json;

use super::{
    autoscaling_group, capacity_provider, cluster, cluster_capacity, iam_role, ingress, instance_profile, launch_template, listener, load_balancer, log_group,
    security_group, service, target_group, task_definition, Result, TAG_RESOURCE, TAG_STACK,
};
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::plan::{Action, Address, Change, Desired, Live, Plan};

/// One resource the stack owns.
#[derive(Debug, Clone, PartialEq)]
pub struct Owned {
    pub kind: &'static str,
    /// Its name in AWS (a security group's or an ingress's id where it has no name of its own).
    pub name: String,
    /// What its deletion acts on: an ARN, a group or template id, or the name.
    pub id: String,
    /// The `ecsdeploy:resource` tag: the address it had in the spec that made it.
    pub address: Address,
    /// Context its deletion needs (a service's cluster; an instance profile's role).
    pub meta: BTreeMap<String, String>,
}

/// The order deletions go in: whatever uses a resource goes before it. A service is scaled to 0
/// and drained before its target group and load balancer; the group's instances are gone before
/// the cluster; rules go before the groups they name.
const DELETION_ORDER: [&str; 14] = [
    service::KIND,
    listener::KIND,
    load_balancer::KIND,
    target_group::KIND,
    task_definition::KIND,
    cluster_capacity::KIND,
    capacity_provider::KIND,
    autoscaling_group::KIND,
    launch_template::KIND,
    cluster::KIND,
    ingress::KIND,
    security_group::KIND,
    instance_profile::KIND,
    iam_role::KIND,
];

fn rank(kind: &str) -> usize {
    DELETION_ORDER.iter().position(|k| *k == kind).unwrap_or(DELETION_ORDER.len())
}

/// A resource of the spec: kind, identity (the name; `cluster/name` for a service, as a service
/// of the same name in another cluster is another one), and its id in AWS when observed.
pub type Known = (String, String, String);

fn identity(kind: &str, name: &str, meta: &BTreeMap<String, String>) -> String {
    match (kind, meta.get("cluster")) {
        (service::KIND, Some(cluster)) => format!("{cluster}/{name}"),
        _ => name.to_string(),
    }
}

/// What the spec names, before anything is read: the inventory skips those.
pub fn expected(desired: &[Desired]) -> Vec<Known> {
    desired.iter().map(|d| (d.kind.clone(), identity(&d.kind, &d.name, &d.meta), String::new())).collect()
}

/// The spec's resources as observed (with their ids: a security group is known by its id).
fn observed(changes: &[Change]) -> Vec<Known> {
    changes
        .iter()
        .filter_map(|c| c.live.as_ref().map(|l| (c.desired.kind.clone(), identity(&c.desired.kind, &c.desired.name, &c.desired.meta), l.id.clone())))
        .collect()
}

fn is_known(known: &[Known], o: &Owned) -> bool {
    let name = identity(o.kind, &o.name, &o.meta);
    known.iter().any(|(k, n, i)| k == o.kind && (n == &name || (!i.is_empty() && i == &o.id)))
}

/// Everything tagged with `stack` but what `known` names, each confirmed to exist. Two round
/// trips, made alongside the plan's own reads: the listings, then IAM's tags and the
/// confirmations of the Tagging API's candidates by their own services.
pub async fn owned(aws: &Aws, stack: &str, known: &[Known]) -> Result<Vec<Owned>> {
    let (tagged, groups, providers, templates, roles, profiles, rules) = futures::try_join!(
        tagged(aws, stack),
        groups(aws, stack),
        providers(aws, stack),
        templates(aws, stack),
        roles(aws),
        profiles(aws),
        rules(aws, stack),
    )?;
    let unknown =
        |kind: &'static str, name: &str| !is_known(known, &Owned { kind, name: name.into(), id: String::new(), address: String::new(), meta: BTreeMap::new() });
    let roles = roles.into_iter().filter(|r| unknown(iam_role::KIND, r));
    let profiles = profiles.into_iter().filter(|(p, _)| unknown(instance_profile::KIND, p));
    let mut seen = BTreeSet::new();
    let candidates: Vec<Owned> = tagged
        .into_iter()
        .filter_map(|(arn, address)| candidate(&arn, address))
        .filter(|o| !is_known(known, o) && seen.insert((o.kind, o.id.clone())))
        .collect();
    let (roles, profiles, confirmed) = futures::try_join!(
        try_join_all(roles.map(|r| role_if_ours(aws, stack, r))),
        try_join_all(profiles.map(|(p, role)| profile_if_ours(aws, stack, p, role))),
        confirm(aws, candidates),
    )?;
    // Confirmed security groups carry their names now: known ones by name drop out here.
    let mut out: Vec<Owned> = confirmed.into_iter().filter(|o| !is_known(known, o)).collect();
    out.extend(roles.into_iter().flatten());
    out.extend(profiles.into_iter().flatten());
    out.extend(groups.into_iter().chain(providers).chain(templates).chain(rules).filter(|o| !is_known(known, o)));
    // A cluster that goes lets go of its capacity providers first.
    let clusters: Vec<String> = out.iter().filter(|o| o.kind == cluster::KIND).map(|o| o.name.clone()).collect();
    out.extend(clusters.into_iter().map(|c| Owned {
        kind: cluster_capacity::KIND,
        address: format!("{}.{c}", cluster_capacity::KIND),
        id: c.clone(),
        name: c,
        meta: BTreeMap::new(),
    }));
    out.sort_by(|a, b| (rank(a.kind), &a.address, &a.name).cmp(&(rank(b.kind), &b.address, &b.name)));
    Ok(out)
}

/// (ARN, `ecsdeploy:resource`) of every resource the Tagging API lists with the stack's tag.
async fn tagged(aws: &Aws, stack: &str) -> Result<Vec<(String, String)>> {
    let filter = TagFilter::builder().key(TAG_STACK).values(stack).build();
    let mut pages = aws.tagging.get_resources().tag_filters(filter).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        for m in page.aws("tagging:GetResources")?.resource_tag_mapping_list.unwrap_or_default() {
            // Without the resource tag it is not a resource of the spec (the stack's lease).
            let address = m.tags().iter().find(|t| t.key == TAG_RESOURCE).map(|t| t.value.clone());
            if let (Some(arn), Some(address)) = (m.resource_arn, address) {
                out.push((arn, address));
            }
        }
    }
    Ok(out)
}

/// A resource the Tagging API listed, as ecsdeploy deletes it; `None` for what is not deleted on
/// its own (tasks and instances go with their service and group; listeners with their load
/// balancer) or is listed by its own service instead.
fn candidate(arn: &str, address: String) -> Option<Owned> {
    let kind = address.split('.').next().unwrap_or_default();
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    let owned =
        |kind, name: &str, id: &str, meta: BTreeMap<String, String>| Some(Owned { kind, name: name.into(), id: id.into(), address: address.clone(), meta });
    match kind {
        cluster::KIND => owned(cluster::KIND, resource.strip_prefix("cluster/")?, arn, BTreeMap::new()),
        service::KIND => {
            // `service/CLUSTER/NAME` (the ARN format of every account since 2021).
            let (cluster, name) = resource.strip_prefix("service/")?.split_once('/')?;
            owned(service::KIND, name, arn, [("cluster".to_string(), cluster.to_string())].into())
        }
        // Every revision is listed, deregistered ones too: one candidate per family.
        task_definition::KIND => {
            let family = resource.strip_prefix("task-definition/")?.rsplit_once(':')?.0;
            owned(task_definition::KIND, family, family, BTreeMap::new())
        }
        security_group::KIND => {
            let id = resource.strip_prefix("security-group/")?;
            owned(security_group::KIND, id, id, BTreeMap::new())
        }
        load_balancer::KIND => owned(load_balancer::KIND, resource.strip_prefix("loadbalancer/")?.split('/').nth(1)?, arn, BTreeMap::new()),
        target_group::KIND => owned(target_group::KIND, resource.strip_prefix("targetgroup/")?.split('/').next()?, arn, BTreeMap::new()),
        log_group::KIND => {
            let name = resource.strip_prefix("log-group:")?.trim_end_matches(":*");
            owned(log_group::KIND, name, arn.trim_end_matches(":*"), BTreeMap::new())
        }
        _ => None,
    }
}

/// The candidates their own services still have (the Tagging API's index lags deletions).
async fn confirm(aws: &Aws, candidates: Vec<Owned>) -> Result<Vec<Owned>> {
    // A family goes while it has an ACTIVE revision: one listing answers for all of them.
    let families = async {
        match candidates.iter().any(|o| o.kind == task_definition::KIND) {
            true => active_families(aws).await,
            false => Ok(BTreeSet::new()),
        }
    };
    let checks = candidates.iter().filter(|o| o.kind != task_definition::KIND).cloned().map(|o| async move {
        let exists = match o.kind {
            cluster::KIND => cluster::is_active(aws, &o.name).await?,
            service::KIND => service::describe(aws, &o.meta["cluster"], &o.name).await?.is_some(),
            security_group::KIND => {
                let out = aws
                    .ec2
                    .describe_security_groups()
                    .filters(Filter::builder().name("group-id").values(&o.id).build())
                    .send()
                    .await
                    .aws("ec2:DescribeSecurityGroups")?;
                match out.security_groups.unwrap_or_default().into_iter().next() {
                    // Named as people know it.
                    Some(g) => return Ok(Some(Owned { name: g.group_name.unwrap_or_default(), ..o })),
                    None => false,
                }
            }
            load_balancer::KIND => {
                let found = aws.elbv2.describe_load_balancers().load_balancer_arns(&o.id).send().await.aws("elbv2:DescribeLoadBalancers");
                absent_if_not_found(found)?
            }
            target_group::KIND => {
                let found = aws.elbv2.describe_target_groups().target_group_arns(&o.id).send().await.aws("elbv2:DescribeTargetGroups");
                absent_if_not_found(found)?
            }
            log_group::KIND => {
                let groups = aws
                    .logs
                    .describe_log_groups()
                    .log_group_name_prefix(&o.name)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .aws("logs:DescribeLogGroups")?;
                groups.iter().any(|g| g.log_group_name.as_deref() == Some(o.name.as_str()))
            }
            _ => true,
        };
        Ok::<_, super::Error>(exists.then_some(o))
    });
    let (families, confirmed) = futures::try_join!(families, try_join_all(checks))?;
    let families = candidates.into_iter().filter(|o| o.kind == task_definition::KIND && families.contains(&o.name));
    Ok(confirmed.into_iter().flatten().chain(families).collect())
}

fn absent_if_not_found<T>(r: std::result::Result<T, crate::aws::AwsError>) -> Result<bool> {
    match r {
        Ok(_) => Ok(true),
        Err(e) if e.is(ErrorKind::NotFound) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn tag_value<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>, key: &str) -> Option<String> {
    tags.into_iter().find(|(k, _)| *k == key).map(|(_, v)| v.to_string())
}

/// Whether tags say `ecsdeploy:stack = stack`; then the address they give (or `kind.name`).
fn ours<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)> + Clone, stack: &str, kind: &str, name: &str) -> Option<Address> {
    (tag_value(tags.clone(), TAG_STACK)? == stack).then(|| tag_value(tags, TAG_RESOURCE).unwrap_or_else(|| format!("{kind}.{name}")))
}

async fn groups(aws: &Aws, stack: &str) -> Result<Vec<Owned>> {
    let filter = aws_sdk_autoscaling::types::Filter::builder().name(format!("tag:{TAG_STACK}")).values(stack).build();
    let mut pages = aws.autoscaling.describe_auto_scaling_groups().filters(filter).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        for g in page.aws("autoscaling:DescribeAutoScalingGroups")?.auto_scaling_groups.unwrap_or_default() {
            let name = g.auto_scaling_group_name.clone().unwrap_or_default();
            // One being deleted is on its way already.
            if g.status.is_some() {
                continue;
            }
            let tags = g.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
            if let Some(address) = ours(tags, stack, autoscaling_group::KIND, &name) {
                out.push(Owned { kind: autoscaling_group::KIND, id: name.clone(), name, address, meta: BTreeMap::new() });
            }
        }
    }
    Ok(out)
}

async fn providers(aws: &Aws, stack: &str) -> Result<Vec<Owned>> {
    let mut out = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .ecs
            .describe_capacity_providers()
            .include(aws_sdk_ecs::types::CapacityProviderField::Tags)
            .set_next_token(token)
            .send()
            .await
            .aws("ecs:DescribeCapacityProviders")?;
        for p in page.capacity_providers() {
            let name = p.name.clone().unwrap_or_default();
            let active = p.status.as_ref().is_some_and(|s| s.as_str() == "ACTIVE");
            let tags = p.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
            if let Some(address) = ours(tags, stack, capacity_provider::KIND, &name).filter(|_| active) {
                out.push(Owned { kind: capacity_provider::KIND, id: name.clone(), name, address, meta: BTreeMap::new() });
            }
        }
        token = page.next_token;
        if token.is_none() {
            return Ok(out);
        }
    }
}

async fn templates(aws: &Aws, stack: &str) -> Result<Vec<Owned>> {
    let filter = Filter::builder().name(format!("tag:{TAG_STACK}")).values(stack).build();
    let mut pages = aws.ec2.describe_launch_templates().filters(filter).into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        for t in page.aws("ec2:DescribeLaunchTemplates")?.launch_templates.unwrap_or_default() {
            let name = t.launch_template_name.clone().unwrap_or_default();
            let tags = t.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
            if let Some(address) = ours(tags, stack, launch_template::KIND, &name) {
                out.push(Owned { kind: launch_template::KIND, id: t.launch_template_id.clone().unwrap_or_default(), name, address, meta: BTreeMap::new() });
            }
        }
    }
    Ok(out)
}

/// Role names, without the service-linked roles AWS itself manages.
async fn roles(aws: &Aws) -> Result<Vec<String>> {
    let mut pages = aws.iam.list_roles().into_paginator().items().send();
    let mut out = Vec::new();
    while let Some(role) = pages.next().await {
        let role = role.aws("iam:ListRoles")?;
        if !role.path.starts_with("/aws-service-role/") {
            out.push(role.role_name);
        }
    }
    Ok(out)
}

/// (profile name, its role) of every instance profile.
async fn profiles(aws: &Aws) -> Result<Vec<(String, String)>> {
    let mut pages = aws.iam.list_instance_profiles().into_paginator().items().send();
    let mut out = Vec::new();
    while let Some(p) = pages.next().await {
        let p = p.aws("iam:ListInstanceProfiles")?;
        let role = p.roles.first().map(|r| r.role_name.clone()).unwrap_or_default();
        out.push((p.instance_profile_name, role));
    }
    Ok(out)
}

async fn role_if_ours(aws: &Aws, stack: &str, name: String) -> Result<Option<Owned>> {
    let tags = match aws.iam.list_role_tags().role_name(&name).into_paginator().items().send().try_collect().await.aws("iam:ListRoleTags") {
        Ok(tags) => tags,
        // Deleted since it was listed.
        Err(e) if e.is(ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let address = ours(tags.iter().map(|t| (t.key.as_str(), t.value.as_str())), stack, iam_role::KIND, &name);
    Ok(address.map(|address| Owned { kind: iam_role::KIND, id: name.clone(), name, address, meta: BTreeMap::new() }))
}

async fn profile_if_ours(aws: &Aws, stack: &str, name: String, role: String) -> Result<Option<Owned>> {
    // GetInstanceProfile carries the tags (and is served wherever ListInstanceProfileTags is).
    let tags = match aws.iam.get_instance_profile().instance_profile_name(&name).send().await.aws("iam:GetInstanceProfile") {
        Ok(o) => o.instance_profile.map(|p| p.tags.unwrap_or_default()).unwrap_or_default(),
        Err(e) if e.is(ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let address = ours(tags.iter().map(|t| (t.key.as_str(), t.value.as_str())), stack, instance_profile::KIND, &name);
    Ok(address.map(|address| Owned { kind: instance_profile::KIND, id: name.clone(), name, address, meta: [("role".to_string(), role)].into() }))
}

async fn active_families(aws: &Aws) -> Result<BTreeSet<String>> {
    let mut pages = aws.ecs.list_task_definition_families().status(aws_sdk_ecs::types::TaskDefinitionFamilyStatus::Active).into_paginator().send();
    let mut out = BTreeSet::new();
    while let Some(page) = pages.next().await {
        out.extend(page.aws("ecs:ListTaskDefinitionFamilies")?.families.unwrap_or_default());
    }
    Ok(out)
}

/// One ingress per group that holds inbound rules tagged with the stack.
async fn rules(aws: &Aws, stack: &str) -> Result<Vec<Owned>> {
    let filter = Filter::builder().name(format!("tag:{TAG_STACK}")).values(stack).build();
    let mut pages = aws.ec2.describe_security_group_rules().filters(filter).into_paginator().send();
    let mut by_group: BTreeMap<String, Address> = BTreeMap::new();
    while let Some(page) = pages.next().await {
        for r in page.aws("ec2:DescribeSecurityGroupRules")?.security_group_rules.unwrap_or_default() {
            let group = r.group_id.clone().unwrap_or_default();
            let tags = r.tags().iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default()));
            if let Some(address) = ours(tags, stack, ingress::KIND, &group).filter(|_| r.is_egress != Some(true)) {
                by_group.entry(group).or_insert(address);
            }
        }
    }
    // Only the rules tagged with the stack are revoked, whoever's group holds them.
    Ok(by_group
        .into_iter()
        .map(|(g, address)| Owned { kind: ingress::KIND, id: g.clone(), name: g, address, meta: [("own".to_string(), "false".to_string())].into() })
        .collect())
}

/// What a plan or a teardown says of a resource, and which kinds it keeps.
pub struct Why<'a> {
    pub reason: &'a str,
    pub keep: &'a [&'a str],
    pub kept: &'a str,
}

/// Deletions of `owned`, in a safe order, each after `after` (the changes of the spec a
/// deletion must not overtake: a service stops using a target group before the group goes).
/// Services are deleted first and wait for nothing, so that a renamed service's predecessor frees
/// its host port before the new one starts. Kinds in `why.keep` stay, as no-ops saying so.
pub fn deletions(owned: &[Owned], stack: &str, why: &Why, after: &[Address], taken: &BTreeSet<Address>) -> Vec<Change> {
    let mut used: BTreeSet<Address> = taken.clone();
    let mut out: Vec<Change> = Vec::new();
    for o in owned {
        // The address a spec gave it, unless a resource of the current spec holds it now.
        let mut address = if o.address.starts_with(&format!("{}.", o.kind)) { o.address.clone() } else { format!("{}.{}", o.kind, o.name) };
        if used.contains(&address) {
            address = format!("{}.{}", o.kind, o.name);
        }
        while used.contains(&address) {
            address.push('\'');
        }
        used.insert(address.clone());
        let kept = why.keep.contains(&o.kind);
        let earlier: Vec<Address> =
            out.iter().filter(|c| c.action == Action::Delete && rank(&c.desired.kind) < rank(o.kind)).map(|c| c.address.clone()).collect();
        let depends_on = match o.kind {
            _ if kept => vec![],
            service::KIND => vec![],
            _ => earlier.into_iter().chain(after.iter().cloned()).collect(),
        };
        let live = Live {
            id: o.id.clone(),
            fields: [("tags".to_string(), json!({ TAG_STACK: stack, TAG_RESOURCE: o.address })), ("role".to_string(), json!(o.meta.get("role")))]
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .collect(),
            outputs: Default::default(),
        };
        out.push(Change {
            address: address.clone(),
            action: if kept { Action::NoOp } else { Action::Delete },
            reason: if kept { format!("{}: {}", why.reason, why.kept) } else { why.reason.to_string() },
            fields: vec![],
            desired: Desired { address, kind: o.kind.into(), name: o.name.clone(), depends_on, meta: o.meta.clone(), ..Default::default() },
            live: Some(live),
        });
    }
    out
}

/// What the stack owns that the spec does not describe (for `status`): addresses, log groups and
/// the cluster's provider list aside (kept, and part of the cluster).
pub async fn beyond_the_spec(aws: &Aws, stack: &str, desired: &[Desired]) -> Result<Vec<Owned>> {
    let owned = owned(aws, stack, &expected(desired)).await?;
    // Without a plan's reads, the spec's own groups and rules (known by id only once read) are
    // told by the address they are tagged with.
    let addresses: BTreeSet<&str> = desired.iter().map(|d| d.address.as_str()).collect();
    let the_specs = |o: &Owned| [ingress::KIND, security_group::KIND].contains(&o.kind) && addresses.contains(o.address.as_str());
    Ok(owned.into_iter().filter(|o| o.kind != log_group::KIND && o.kind != cluster_capacity::KIND && !the_specs(o)).collect())
}

/// The spec's plan, with what the stack owns beyond the spec planned for deletion ("no longer in
/// the spec"); `owned` was found alongside the plan's reads. What the plan observes is not
/// beyond it (a security group or an ingress is known by its id only once read). Log groups are
/// kept, as by `destroy` without `--logs`.
pub fn prune(plan: &mut Plan, owned: Vec<Owned>) {
    let seen = observed(&plan.changes);
    let owned: Vec<Owned> = owned.into_iter().filter(|o| !is_known(&seen, o)).collect();
    let after: Vec<Address> = plan.changes.iter().filter(|c| c.action.mutates()).map(|c| c.address.clone()).collect();
    let taken = plan.changes.iter().map(|c| c.address.clone()).collect();
    let why = Why { reason: NO_LONGER_IN_THE_SPEC, keep: &[log_group::KIND], kept: "kept with its logs (`ecsdeploy destroy --logs` deletes it)" };
    let deletions = deletions(&owned, &plan.stack, &why, &after, &taken);
    after_old_services(&mut plan.changes, &deletions);
    plan.changes.extend(deletions);
}

pub const NO_LONGER_IN_THE_SPEC: &str = "no longer in the spec";

/// `destroy`: everything the stack owns, whatever any spec says, deleted in a safe order.
pub async fn teardown(aws: &Aws, stack: &str, keep_logs: bool) -> Result<Plan> {
    let owned = owned(aws, stack, &[]).await?;
    let keep: &[&str] = if keep_logs { &[log_group::KIND] } else { &[] };
    let why = Why { reason: "owned by the stack", keep, kept: "kept with its logs (--logs deletes it)" };
    Ok(Plan { stack: stack.to_string(), changes: deletions(&owned, stack, &why, &[], &BTreeSet::new()), warnings: vec![] })
}

/// The changes of a plan that must wait for the deletions of services it no longer describes
/// (a renamed service's successor needs the host port its predecessor holds).
fn after_old_services(plan_changes: &mut [Change], deletions: &[Change]) {
    let services: Vec<Address> =
        deletions.iter().filter(|c| c.action == Action::Delete && c.desired.kind == service::KIND).map(|c| c.address.clone()).collect();
    for c in plan_changes.iter_mut().filter(|c| c.action.mutates() && c.desired.kind == service::KIND) {
        c.desired.depends_on.extend(services.iter().cloned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(kind: &'static str, name: &str) -> Owned {
        Owned { kind, name: name.into(), id: format!("id-{name}"), address: format!("{kind}.{name}"), meta: BTreeMap::new() }
    }

    #[test]
    fn deletions_go_dependents_first_after_the_spec_and_services_first_of_all() {
        let mut all = vec![
            owned(security_group::KIND, "alb"),
            owned(load_balancer::KIND, "iris-alb"),
            owned(service::KIND, "old"),
            owned(target_group::KIND, "iris-alb"),
            owned(log_group::KIND, "/ecs/old"),
        ];
        all.sort_by_key(|o| rank(o.kind));
        let why = Why { reason: NO_LONGER_IN_THE_SPEC, keep: &[log_group::KIND], kept: "kept" };
        let d = deletions(&all, "iris", &why, &["service.web".to_string()], &BTreeSet::new());
        let get = |a: &str| d.iter().find(|c| c.address == a).unwrap();
        assert!(get("service.old").desired.depends_on.is_empty(), "a service goes first, waiting for nothing");
        assert_eq!(get("load_balancer.iris-alb").desired.depends_on, ["service.old", "service.web"]);
        assert_eq!(get("target_group.iris-alb").desired.depends_on, ["service.old", "load_balancer.iris-alb", "service.web"]);
        assert!(get("security_group.alb").desired.depends_on.contains(&"load_balancer.iris-alb".to_string()));
        assert_eq!(get("log_group./ecs/old").action, Action::NoOp, "log groups are kept unless asked");
        assert_eq!(get("service.old").live.as_ref().unwrap().fields["tags"]["ecsdeploy:stack"], "iris");
    }

    #[test]
    fn an_address_the_spec_now_uses_for_another_resource_is_not_reused() {
        let mut group = owned(autoscaling_group::KIND, "old-ecs");
        group.address = "autoscaling_group.ecs".into();
        let why = Why { reason: "r", keep: &[], kept: "" };
        let d = deletions(&[group], "iris", &why, &[], &["autoscaling_group.ecs".to_string()].into());
        assert_eq!(d[0].address, "autoscaling_group.old-ecs");
    }

    #[test]
    fn tagging_api_arns_become_what_deletion_acts_on() {
        let c = |arn: &str, address: &str| candidate(arn, address.into());
        let s = c("arn:aws:ecs:us-east-1:1:service/iris/web", "service.web").unwrap();
        assert_eq!((s.name.as_str(), s.meta["cluster"].as_str()), ("web", "iris"));
        assert_eq!(c("arn:aws:ecs:us-east-1:1:task-definition/iris-inference:3", "task_definition.iris-inference").unwrap().name, "iris-inference");
        assert_eq!(c("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/iris-alb/abc", "load_balancer.iris-alb").unwrap().name, "iris-alb");
        assert_eq!(c("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/iris-alb/abc", "target_group.iris-alb").unwrap().name, "iris-alb");
        assert_eq!(c("arn:aws:logs:us-east-1:1:log-group:/ecs/iris:*", "log_group./ecs/iris").unwrap().name, "/ecs/iris");
        assert_eq!(c("arn:aws:ec2:us-east-1:1:security-group/sg-1", "security_group.alb").unwrap().id, "sg-1");
        assert_eq!(c("arn:aws:ecs:us-east-1:1:cluster/iris", "cluster.iris").unwrap().name, "iris");
        assert_eq!(c("arn:aws:ecs:us-east-1:1:task/iris/abc", "service.web"), None);
    }
}
