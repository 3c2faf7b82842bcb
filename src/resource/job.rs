//! One-off tasks (`[jobs.*]`, the iris pipeline): start one with RunTask on the cluster's
//! capacity, watch it, and read its awslogs stream as it grows.

use aws_sdk_ecs::types::{CapacityProviderStrategyItem, ContainerOverride, DesiredStatus, KeyValuePair, LaunchType as EcsLaunchType, TaskOverride};

use super::{capacity_provider, log_group, Result};
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::engine::Failure;
use crate::spec::{LaunchType, Spec};

/// What `run` needs to know about a started task.
pub struct Started {
    pub arn: String,
    /// (log group, stream) of the job's first container, when it logs.
    pub log: Option<(String, String)>,
}

/// A task's state as `run` follows it.
pub struct State {
    pub stopped: bool,
    /// Waiting for an instance with room (capacity providers with managed scaling): the
    /// task's memory (MiB) then.
    pub provisioning: Option<i32>,
    pub reason: String,
    /// The essential container's exit code, once it exited.
    pub exit_code: Option<i32>,
}

fn other(message: String, hint: &str) -> super::Error {
    super::Error::Other(Failure::new(message, hint))
}

/// Start the job `name` (a `[jobs]` entry, or a task family run with the cluster's defaults).
pub async fn start(aws: &Aws, spec: &Spec, name: &str, env: &[(String, String)]) -> Result<Started> {
    let (family, provider, launch, command) = match spec.jobs.get(name) {
        Some(j) => (j.task.clone(), j.capacity_provider.clone(), j.launch_type, j.command.clone()),
        None if spec.tasks.contains_key(name) => (name.to_string(), None, None, None),
        None => return Err(other(format!("no job or task `{name}` in the spec"), "name a [jobs.*] or [tasks.*] entry")),
    };
    let task = &spec.tasks[&family];
    let td = match aws.ecs.describe_task_definition().task_definition(&family).send().await.aws("ecs:DescribeTaskDefinition") {
        Ok(o) => o.task_definition.and_then(|t| t.task_definition_arn).unwrap_or_default(),
        Err(e) if e.is(ErrorKind::NotFound) || e.code.as_deref() == Some("ClientException") => {
            return Err(other(format!("task definition `{family}` is not registered"), "run `ecsdeploy apply` first"));
        }
        Err(e) => return Err(e.into()),
    };
    let container = &task.containers[0].name;
    let mut overrides = ContainerOverride::builder().name(container).set_command(command);
    for (k, v) in env {
        overrides = overrides.environment(KeyValuePair::builder().name(k).value(v).build());
    }
    let mut req = aws
        .ecs
        .run_task()
        .cluster(&spec.cluster.name)
        .task_definition(&td)
        .count(1)
        .started_by("ecsdeploy")
        .overrides(TaskOverride::builder().container_overrides(overrides.build()).build());
    req = match (provider.as_deref(), launch) {
        (Some("ec2"), _) => req.capacity_provider_strategy(
            CapacityProviderStrategyItem::builder().capacity_provider(capacity_provider::name(spec)).weight(1).build().expect("provider set"),
        ),
        (Some(cp), _) => req.capacity_provider_strategy(CapacityProviderStrategyItem::builder().capacity_provider(cp).weight(1).build().expect("provider set")),
        (None, Some(LaunchType::Ec2)) => req.launch_type(EcsLaunchType::Ec2),
        (None, Some(LaunchType::Fargate)) => req.launch_type(EcsLaunchType::Fargate),
        // The cluster's default strategy (the stack's EC2 provider).
        (None, None) => req,
    };
    // A task on its way to STOPPED still holds its memory and ports: when that may be why there is
    // no room, wait for it (bounded) rather than fail.
    let mut pause = std::time::Duration::from_millis(300);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut last_try = false;
    let out = loop {
        // On an account's first task, ECS may still be making its service-linked role.
        let out = crate::aws::retry_propagation(|| async { req.clone().send().await.aws("ecs:RunTask") }).await?;
        let no_room = out.failures().iter().any(|f| f.reason().is_some_and(|r| r.starts_with("RESOURCE:")));
        if !no_room || last_try || std::time::Instant::now() > deadline {
            break out;
        }
        if super::instances::in_flux(aws, &spec.cluster.name, &[DesiredStatus::Running, DesiredStatus::Stopped]).await? {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(5));
        } else {
            // A task may have finished stopping between the attempt and the look: one more try.
            last_try = true;
        }
    };
    if let Some(f) = out.failures.as_ref().and_then(|f| f.first()) {
        let reason = f.reason.clone().unwrap_or_default();
        return Err(other(
            format!("ECS could not start the task: {reason}"),
            "no instance has room for it: free some (`ecsdeploy scale --desired 0` stops the service's tasks), lower the task's memory, or raise cluster.ec2.max",
        ));
    }
    let arn = out.tasks.unwrap_or_default().into_iter().next().and_then(|t| t.task_arn).unwrap_or_default();
    let id = arn.rsplit('/').next().unwrap_or_default();
    let log = log_group::group_name(&family, task).map(|g| (g, format!("{}/{container}/{id}", task.logs.stream_prefix)));
    Ok(Started { arn, log })
}

pub async fn state(aws: &Aws, cluster: &str, arn: &str) -> Result<State> {
    let out = aws.ecs.describe_tasks().cluster(cluster).tasks(arn).send().await.aws("ecs:DescribeTasks")?;
    let Some(t) = out.tasks.unwrap_or_default().into_iter().next() else {
        return Err(other(format!("task {arn} is gone"), "stopped tasks stay visible for about an hour; look in the console"));
    };
    let exit_code = t.containers().iter().find_map(|c| c.exit_code);
    Ok(State {
        stopped: t.last_status.as_deref() == Some("STOPPED"),
        provisioning: (t.last_status.as_deref() == Some("PROVISIONING")).then(|| t.memory.as_deref().and_then(|m| m.parse().ok()).unwrap_or(0)),
        reason: t.stopped_reason.unwrap_or_default(),
        exit_code,
    })
}

/// Lines written since `token` (none yet when the stream does not exist), and the next token.
pub async fn log_lines(aws: &Aws, group: &str, stream: &str, token: Option<String>) -> Result<(Vec<String>, Option<String>)> {
    let out = match aws
        .logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(true)
        .set_next_token(token.clone())
        .send()
        .await
        .aws("logs:GetLogEvents")
    {
        Ok(o) => o,
        Err(e) if e.is(ErrorKind::NotFound) => return Ok((vec![], token)),
        Err(e) => return Err(e.into()),
    };
    let lines = out.events.unwrap_or_default().into_iter().filter_map(|e| e.message).collect();
    Ok((lines, out.next_forward_token.or(token)))
}
