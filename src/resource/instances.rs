//! How many instances the autoscaling group runs: its minimum, and its desired count unless the
//! capacity provider's managed scaling moves it. Set only once the provider is attached to the
//! cluster: ECS associates an instance with a provider when the instance registers, so one that
//! boots before its group backs a provider is never used by tasks placed with the provider's
//! strategy. AWS's order is group at 0 → provider → attached → capacity
//! (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/asg-capacity-providers.html).
//! Raising the count waits until an instance has registered with the provider, and fails at once
//! when the group reports a failed launch (the group hides EC2's refusal in its scaling activities).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::DesiredStatus;
use serde_json::json;

use super::{autoscaling_group, capacity_provider, cluster_capacity, int, outputs, Result};
use crate::aws::{Aws, AwsResultExt};
use crate::engine::Failure;
use crate::plan::{Address, Change, Desired, Fields, Live, Outputs};
use crate::spec::Spec;

pub const KIND: &str = "instances";
pub const ADDRESS: &str = "instances.ecs";

/// How long an instance may take to launch, boot and register (a minute or two on AWS).
const REGISTER_TIMEOUT: Duration = Duration::from_secs(600);
/// How long scale-in protection may outlast the tasks (ECS lifts it once an instance is empty).
const PROTECTION_GRACE: Duration = Duration::from_secs(120);

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let Some(ec2) = &spec.cluster.ec2 else { return vec![] };
    let mut fields = vec![("min", json!(ec2.min))];
    // With managed scaling ECS moves the desired count itself; comparing it would undo ECS. The
    // first apply still sets it, so the first instance boots without waiting for ECS's alarm.
    if !ec2.managed_scaling {
        fields.push(("desired", json!(ec2.desired)));
    }
    vec![Desired {
        address: ADDRESS.into(),
        kind: KIND.into(),
        name: autoscaling_group::name(spec),
        fields: crate::plan::fields(fields),
        depends_on: vec![autoscaling_group::ADDRESS.into(), cluster_capacity::address(spec)],
        reads: vec![autoscaling_group::ADDRESS.into()],
        meta: [
            ("cluster".to_string(), spec.cluster.name.clone()),
            ("provider".to_string(), capacity_provider::name(spec)),
            ("desired".to_string(), ec2.desired.to_string()),
        ]
        .into(),
        ..Default::default()
    }]
}

/// What the ECS agent registers on an instance type (CPU units, MiB of memory): the OS and the
/// agent keep the rest, so a 1 GiB t2.micro or t3.micro offers tasks 982 MiB. Only the burstable
/// types students use are known; other types are not judged.
fn offered_by(instance_type: &str) -> Option<(u32, u32)> {
    Some(match instance_type {
        "t2.nano" => (1024, 459),
        "t2.micro" => (1024, 982),
        "t2.small" => (1024, 1993),
        "t2.medium" => (2048, 3943),
        "t3.nano" | "t3a.nano" | "t4g.nano" => (2048, 459),
        "t3.micro" | "t3a.micro" | "t4g.micro" => (2048, 982),
        "t3.small" | "t3a.small" | "t4g.small" => (2048, 1941),
        "t3.medium" | "t3a.medium" | "t4g.medium" => (2048, 3928),
        "t3.large" | "t3a.large" | "t4g.large" => (2048, 7820),
        _ => return None,
    })
}

/// A task's reservation on an instance (CPU units, MiB): the task's size, or its containers'.
fn size(task: &crate::spec::TaskDef) -> (u32, u32) {
    let containers = |f: fn(&crate::spec::Container) -> Option<u32>| task.containers.iter().filter_map(f).sum::<u32>();
    (task.cpu.unwrap_or_else(|| containers(|c| c.cpu)), task.memory.unwrap_or_else(|| containers(|c| c.memory_reservation.or(c.memory))))
}

/// Plan notes: a rolling deploy, or a job next to the services, that the group's instances cannot
/// hold (ECS would leave the new tasks waiting, or refuse the job), with the ways out.
pub fn fit_notes(spec: &Spec) -> Vec<String> {
    let Some(ec2) = &spec.cluster.ec2 else { return vec![] };
    // Unpinned, the type is the account's free one: a t2.micro or t3.micro (the smaller CPU).
    let (kind, (cpu, mem)) = match ec2.instance_type.as_deref() {
        Some(t) => match offered_by(t) {
            Some(r) => (t.to_string(), r),
            None => return vec![],
        },
        None => ("t2.micro/t3.micro (the free tier's)".to_string(), (1024, 982)),
    };
    let offer = (cpu * ec2.max, mem * ec2.max);
    let offered = format!("{} × {kind} offer{} {} MiB and {} CPU units", ec2.max, if ec2.max == 1 { "s" } else { "" }, offer.1, offer.0);
    let on_ec2 = |cp: Option<&str>, lt| !crate::spec::uses_fargate(spec, cp, lt);
    let services: Vec<(&String, &crate::spec::Service, (u32, u32))> = spec
        .services
        .iter()
        .filter(|(_, s)| on_ec2(s.capacity_provider.as_deref(), s.launch_type))
        .filter_map(|(n, s)| Some((n, s, size(spec.tasks.get(&s.task)?))))
        .collect();
    let steady = services.iter().fold((0, 0), |(c, m), (_, s, (tc, tm))| (c + tc * s.desired_count, m + tm * s.desired_count));
    let short = |need: (u32, u32)| match (need.0 > offer.0, need.1 > offer.1) {
        (_, true) => Some(format!("{} MiB", need.1)),
        (true, false) => Some(format!("{} CPU units", need.0)),
        _ => None,
    };
    let mut notes = Vec::new();
    for (name, s, (tc, tm)) in &services {
        let (_, maximum, _) = super::service::deployment_percents(spec, s);
        let during = (s.desired_count * maximum).div_ceil(100).max(s.desired_count);
        let need = (steady.0 + tc * (during - s.desired_count), steady.1 + tm * (during - s.desired_count));
        if let Some(what) = short(need) {
            notes.push(format!(
                "service `{name}`: a rolling deploy runs {during} of its tasks at once (maximum_percent {maximum}), {what} with the other services, but {offered}: \
                 set maximum_percent = 100 and minimum_healthy_percent = 0 under [services.{name}.deployment] (the old task stops first: a short outage), \
                 choose a bigger cluster.ec2.instance_type, raise cluster.ec2.max, or lower tasks.{}.memory",
                s.task
            ));
        }
    }
    for (name, j) in spec.jobs.iter().filter(|(_, j)| on_ec2(j.capacity_provider.as_deref(), j.launch_type)) {
        let Some((jc, jm)) = spec.tasks.get(&j.task).map(size) else { continue };
        if let Some(what) = short((steady.0 + jc, steady.1 + jm)) {
            notes.push(format!(
                "job `{name}` cannot run next to the services ({what} with them), as {offered}: \
                 `ecsdeploy scale --desired 0` before `ecsdeploy run {name}` (and back after), choose a bigger cluster.ec2.instance_type, \
                 raise cluster.ec2.max, or lower tasks.{}.memory",
                j.task
            ));
        }
    }
    notes
}

/// Read from the group's own observation in a plan (no call of its own); a day-2 change that
/// plans this alone reads the group.
pub async fn observe(aws: &Aws, d: &Desired, deps: &HashMap<Address, Live>) -> Result<Option<Live>> {
    let group = match deps.get(autoscaling_group::ADDRESS) {
        Some(g) => Some(g.clone()),
        None => autoscaling_group::observe(aws, d).await?,
    };
    Ok(group.map(|g| Live {
        id: g.id.clone(),
        fields: ["min", "desired"].iter().filter(|k| d.fields.contains_key(**k)).map(|k| (k.to_string(), g.fields[*k].clone())).collect(),
        outputs: Outputs::new(),
    }))
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields, waiting: super::Note<'_>) -> Result<Outputs> {
    let group = &c.desired.name;
    let desired = int(fields, "desired").or_else(|| c.live.is_none().then(|| c.desired.meta["desired"].parse().unwrap_or(1)));
    let min = int(fields, "min");
    let seen = activities(aws, group).await?.into_iter().map(|a| a.id).collect::<HashSet<_>>();
    aws.autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name(group)
        .set_min_size(min)
        .set_desired_capacity(desired)
        .send()
        .await
        .aws("autoscaling:UpdateAutoScalingGroup")?;
    match (desired, min) {
        (Some(0), _) => wait_until_empty(aws, group, waiting).await?,
        (Some(_), _) | (None, Some(1..)) => wait_for_instance(aws, &c.desired.meta["cluster"], group, &c.desired.meta["provider"], &seen, waiting).await?,
        _ => {}
    }
    Ok(outputs([("name", group.clone())]))
}

/// The group's instances go with the group: nothing to delete of their own.
pub async fn delete(_aws: &Aws, _c: &Change) -> Result<Outputs> {
    Ok(Outputs::new())
}

/// One scaling activity of the group, as the group reports it.
struct Activity {
    id: String,
    failed: bool,
    message: String,
}

async fn activities(aws: &Aws, group: &str) -> Result<Vec<Activity>> {
    let all = aws
        .autoscaling
        .describe_scaling_activities()
        .auto_scaling_group_name(group)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("autoscaling:DescribeScalingActivities")?;
    Ok(all
        .into_iter()
        .map(|a| Activity {
            id: a.activity_id.unwrap_or_default(),
            failed: a.status_code.as_ref().map(|s| s.as_str()) == Some("Failed"),
            message: a.status_message.or(a.description).unwrap_or_default(),
        })
        .collect())
}

/// Until an instance has registered with the provider (the only kind the provider's tasks use);
/// a launch the group reports failed since `seen` ends the wait with the group's reason.
async fn wait_for_instance(aws: &Aws, cluster: &str, group: &str, provider: &str, seen: &HashSet<String>, waiting: super::Note<'_>) -> Result<()> {
    let started = Instant::now();
    let mut patience = super::Patience::new(waiting);
    let deadline = started + REGISTER_TIMEOUT;
    let mut pause = Duration::from_millis(250);
    loop {
        let (registered, activities) = tokio::try_join!(registered(aws, cluster, provider), activities(aws, group))?;
        if registered {
            return Ok(());
        }
        // A new instance profile or security group EC2 does not know yet: the group retries on
        // its own, and terraform-provider-aws ignores those failed activities while it waits
        // (hashicorp/terraform-provider-aws#31282).
        let propagating = |a: &Activity| {
            (a.message.contains("Invalid IAM Instance Profile") || (a.message.contains("The security group") && a.message.contains("does not exist")))
                && started.elapsed() < crate::aws::PROPAGATION_TIMEOUT
        };
        if let Some(failed) = activities.iter().find(|a| a.failed && !seen.contains(&a.id) && !propagating(a)) {
            return Err(super::Error::Other(Failure::new(
                format!("group {group} could not launch an instance: {}", failed.message),
                launch_fix(&failed.message, group),
            )));
        }
        if Instant::now() > deadline {
            return Err(super::Error::Other(Failure::new(
                format!("no instance of group {group} registered with capacity provider {provider} in {} minutes", REGISTER_TIMEOUT.as_secs() / 60),
                format!("check that the instance profile's role has AmazonEC2ContainerServiceforEC2Role, that the user data sets ECS_CLUSTER={cluster}, and that the AMI is ECS-optimised (cluster.ec2.ami); `ecsdeploy doctor` looks at each"),
            )));
        }
        patience.say(&format!("an instance of group {group} registers with capacity provider {provider}"));
        tokio::time::sleep(pause).await;
        // Often on the deploy's critical path: look again within a second.
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// The fix for a launch EC2 refused, by its reason.
fn launch_fix(message: &str, group: &str) -> String {
    if message.contains("not eligible for Free Tier") {
        "this account is on the AWS free plan: remove cluster.ec2.instance_type to use its free-tier type (`ecsdeploy plan` shows it)".into()
    } else if message.contains("architecture") {
        "use an AMI built for the instance type's architecture: ami = \"amazon-linux-2023\" picks the matching one".into()
    } else {
        format!("fix the cause above and apply again; the group's history: `aws autoscaling describe-scaling-activities --auto-scaling-group-name {group}`")
    }
}

/// Whether an ACTIVE, connected container instance is registered with `provider`.
async fn registered(aws: &Aws, cluster: &str, provider: &str) -> Result<bool> {
    Ok(container_instances(aws, cluster)
        .await?
        .iter()
        .any(|ci| ci.status() == Some("ACTIVE") && ci.agent_connected && ci.capacity_provider_name.as_deref() == Some(provider)))
}

/// The cluster's container instances (none when the cluster does not exist).
pub async fn container_instances(aws: &Aws, cluster: &str) -> Result<Vec<aws_sdk_ecs::types::ContainerInstance>> {
    Ok(super::tasks::instances(aws, cluster).await?)
}

/// Why tasks waiting in PROVISIONING (needing `memory` MiB) can never be placed, when that is so:
/// under managed scaling ECS keeps them waiting for an instance (for up to 30 minutes on AWS), but
/// the group already runs its maximum, every instance has joined, and no task is stopping to free
/// room.
pub async fn no_capacity_coming(aws: &Aws, cluster: &str, group: &str, memory: i32) -> Result<Option<String>> {
    let out = aws.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await.aws("autoscaling:DescribeAutoScalingGroups")?;
    let Some(g) = out.auto_scaling_groups.unwrap_or_default().into_iter().next() else { return Ok(None) };
    let (max, running) = (g.max_size.unwrap_or(0), g.instances().len());
    if g.desired_capacity.unwrap_or(0) < max || (running as i32) < max {
        return Ok(None);
    }
    if in_flux(aws, cluster, &[DesiredStatus::Stopped]).await? {
        return Ok(None);
    }
    let instances = container_instances(aws, cluster).await?;
    if instances.len() < running {
        return Ok(None);
    }
    let memory_of = |resources: &[aws_sdk_ecs::types::Resource]| resources.iter().find(|r| r.name() == Some("MEMORY")).map(|r| r.integer_value).unwrap_or(0);
    let offered = instances.iter().map(|ci| memory_of(ci.registered_resources())).max().unwrap_or(0);
    let free = instances.iter().map(|ci| memory_of(ci.remaining_resources())).max().unwrap_or(0);
    let why = if memory > offered {
        format!("insufficient memory: the task needs {memory} MiB and the group's instances offer {offered} MiB")
    } else if memory > free {
        format!("insufficient memory: the task needs {memory} MiB and the instance has {free} MiB free")
    } else {
        "no instance has room for it".to_string()
    };
    Ok(Some(format!("{why}, and group {group} already runs its maximum of {max} instance(s)")))
}

/// Whether some task of the cluster headed for one of `headed` (starting, stopping) has not
/// reached it yet: placement may succeed once it has.
pub async fn in_flux(aws: &Aws, cluster: &str, headed: &[DesiredStatus]) -> Result<bool> {
    for status in headed.iter().cloned() {
        let arns = super::tasks::arns(aws.ecs.list_tasks().cluster(cluster).desired_status(status)).await?;
        let tasks = super::tasks::describe(aws, cluster, &arns).await?;
        if tasks.iter().any(|t| t.last_status != t.desired_status) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Until the group has no instance left (scaled to zero, nothing is billed); an instance kept
/// by scale-in protection (managed termination protection) past its tasks is named.
async fn wait_until_empty(aws: &Aws, group: &str, waiting: super::Note<'_>) -> Result<()> {
    let mut patience = super::Patience::new(waiting);
    let start = Instant::now();
    let deadline = start + REGISTER_TIMEOUT;
    let mut pause = Duration::from_millis(250);
    loop {
        let out = aws.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await.aws("autoscaling:DescribeAutoScalingGroups")?;
        let instances = out.auto_scaling_groups.unwrap_or_default().into_iter().flat_map(|g| g.instances.unwrap_or_default()).collect::<Vec<_>>();
        if instances.is_empty() {
            return Ok(());
        }
        let protected: Vec<&str> = instances.iter().filter(|i| i.protected_from_scale_in == Some(true)).filter_map(|i| i.instance_id.as_deref()).collect();
        if !protected.is_empty() && start.elapsed() > PROTECTION_GRACE {
            return Err(super::Error::Other(Failure::new(
                format!("instance {} keeps running (and billing): it is protected from scale-in", protected.join(", ")),
                format!("the capacity provider's managed termination protection keeps instances that run tasks; once the tasks are gone: `aws autoscaling set-instance-protection --no-protected-from-scale-in --auto-scaling-group-name {group} --instance-ids {}`", protected.join(" ")),
            )));
        }
        if Instant::now() > deadline {
            return Err(super::Error::Other(Failure::new(
                format!("group {group} still has instances after {} minutes", REGISTER_TIMEOUT.as_secs() / 60),
                "run the command again later",
            )));
        }
        patience.say(&format!("group {group}'s {} instance(s) have terminated", instances.len()));
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::fit_notes;

    fn notes(file: &str, edit: impl Fn(String) -> String) -> Vec<String> {
        let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        fit_notes(&crate::spec::parse(file, &edit(text), &|_| None).unwrap().spec)
    }

    #[test]
    fn the_shipped_specs_fit_their_instances() {
        for file in ["deploy.toml", "examples/iris-alb.toml", "examples/fargate.toml", "examples/minimal.toml"] {
            assert_eq!(notes(file, |t| t), Vec::<String>::new(), "{file}");
        }
    }

    #[test]
    fn a_job_or_a_roll_that_does_not_fit_is_said_with_the_ways_out() {
        let job = notes("deploy.toml", |t| t.replace("memory = 448", "memory = 512"));
        assert_eq!(job.len(), 1, "{job:?}");
        assert!(job[0].starts_with("job `iris-pipeline` cannot run next to the services (1024 MiB with them)"), "{}", job[0]);
        assert!(job[0].contains("scale --desired 0"), "{}", job[0]);
        let roll = notes("examples/iris-alb.toml", |t| t.replace("memory = 448", "memory = 512"));
        assert_eq!(roll.len(), 1, "{roll:?}");
        assert!(roll[0].starts_with("service `iris-app`: a rolling deploy runs 2 of its tasks at once (maximum_percent 200), 1024 MiB"), "{}", roll[0]);
        assert!(roll[0].contains("1 × t2.micro/t3.micro (the free tier's) offers 982 MiB"), "{}", roll[0]);
        // Two instances hold the roll; an unknown type is not judged.
        assert!(notes("examples/iris-alb.toml", |t| t.replace("memory = 448", "memory = 512").replace("max = 1", "max = 2")).is_empty());
        let big = |t: String| t.replace("memory = 448", "memory = 4096").replace("[cluster.ec2]", "[cluster.ec2]\ninstance_type = \"m7i.large\"");
        assert!(notes("examples/iris-alb.toml", big).is_empty());
    }
}
