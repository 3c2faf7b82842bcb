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

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields) -> Result<Outputs> {
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
        (Some(0), _) => wait_until_empty(aws, group).await?,
        (Some(_), _) | (None, Some(1..)) => wait_for_instance(aws, &c.desired.meta["cluster"], group, &c.desired.meta["provider"], &seen).await?,
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
    let out = aws.autoscaling.describe_scaling_activities().auto_scaling_group_name(group).send().await.aws("autoscaling:DescribeScalingActivities")?;
    Ok(out
        .activities
        .unwrap_or_default()
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
async fn wait_for_instance(aws: &Aws, cluster: &str, group: &str, provider: &str, seen: &HashSet<String>) -> Result<()> {
    let deadline = Instant::now() + REGISTER_TIMEOUT;
    let mut pause = Duration::from_millis(250);
    loop {
        let (registered, activities) = tokio::try_join!(registered(aws, cluster, provider), activities(aws, group))?;
        if registered {
            return Ok(());
        }
        if let Some(failed) = activities.iter().find(|a| a.failed && !seen.contains(&a.id)) {
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
    let arns = match aws.ecs.list_container_instances().cluster(cluster).send().await.aws("ecs:ListContainerInstances") {
        Ok(o) => o.container_instance_arns.unwrap_or_default(),
        Err(e) if e.is(crate::aws::ErrorKind::NotFound) => return Ok(vec![]),
        Err(e) => return Err(e.into()),
    };
    if arns.is_empty() {
        return Ok(vec![]);
    }
    let out = aws.ecs.describe_container_instances().cluster(cluster).set_container_instances(Some(arns)).send().await.aws("ecs:DescribeContainerInstances")?;
    Ok(out.container_instances.unwrap_or_default())
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
        let arns = aws.ecs.list_tasks().cluster(cluster).desired_status(status).send().await.aws("ecs:ListTasks")?.task_arns.unwrap_or_default();
        if arns.is_empty() {
            continue;
        }
        let arns: Vec<String> = arns.into_iter().take(100).collect();
        let tasks = aws.ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await.aws("ecs:DescribeTasks")?.tasks.unwrap_or_default();
        if tasks.iter().any(|t| t.last_status != t.desired_status) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Until the group has no instance left (scaled to zero, nothing is billed); an instance kept
/// by scale-in protection (managed termination protection) past its tasks is named.
async fn wait_until_empty(aws: &Aws, group: &str) -> Result<()> {
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
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}
