//! Read-only views for the commands that report (`status`, `logs`): what runs where, and the
//! lines a task family wrote. Nothing here changes AWS.

use super::{log_group, service, Result};
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::spec::Spec;

/// One service as `status` shows it.
#[derive(Debug, Default)]
pub struct ServiceStatus {
    pub name: String,
    pub exists: bool,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub task_definition: String,
    /// (id, status, rollout state, rollout reason).
    pub deployments: Vec<(String, String, String, String)>,
    /// (when, message), the latest first.
    pub events: Vec<(String, String)>,
    /// Its running tasks, then the latest stopped ones (a crash loop shows here, not in counts).
    pub tasks: Vec<TaskStatus>,
    /// Stopped tasks ECS still remembers (about an hour), beyond those in `tasks`.
    pub more_stopped: usize,
    pub url: Option<String>,
    /// (target, state) from the load balancer's target group.
    pub targets: Vec<(String, String)>,
}

/// One task of a service, as `status` shows it.
#[derive(Debug, Default)]
pub struct TaskStatus {
    pub id: String,
    pub last_status: String,
    /// When it started (running) or stopped (stopped), UTC; "" when ECS has not said.
    pub since: String,
    /// (container, exit code) once a container exited.
    pub exit_codes: Vec<(String, i32)>,
    pub stopped_reason: String,
}

/// How many stopped tasks `status` lists.
const STOPPED_SHOWN: usize = 3;

/// A time from AWS as `status` prints it (UTC, to the second).
fn when(t: Option<&aws_smithy_types::DateTime>) -> String {
    t.and_then(|t| std::time::SystemTime::try_from(*t).ok()).map(|t| humantime::format_rfc3339_seconds(t).to_string()).unwrap_or_default()
}

/// The service's running tasks and its latest stopped ones (with how many more ECS remembers).
async fn service_tasks(aws: &Aws, cluster: &str, name: &str) -> Result<(Vec<TaskStatus>, usize)> {
    use aws_sdk_ecs::types::DesiredStatus;
    let list = || aws.ecs.list_tasks().cluster(cluster).service_name(name);
    let (running, stopped) = tokio::try_join!(super::tasks::arns(list()), super::tasks::arns(list().desired_status(DesiredStatus::Stopped)))?;
    let arns: Vec<String> = running.into_iter().chain(stopped).collect();
    let mut tasks = super::tasks::describe(aws, cluster, &arns).await?;
    // Running first (oldest first), then stopped, the latest first.
    let key = |t: &aws_sdk_ecs::types::Task| match &t.stopped_at {
        None => (0, t.started_at.map(|d| d.as_secs_f64()).unwrap_or(0.0)),
        Some(d) => (1, -d.as_secs_f64()),
    };
    tasks.sort_by(|a, b| key(a).partial_cmp(&key(b)).unwrap_or(std::cmp::Ordering::Equal));
    let stopped = tasks.iter().filter(|t| t.stopped_at.is_some()).count();
    let shown = tasks.len() - stopped + stopped.min(STOPPED_SHOWN);
    let out = tasks
        .into_iter()
        .take(shown)
        .map(|t| TaskStatus {
            id: t.task_arn.as_deref().and_then(|a| a.rsplit('/').next()).unwrap_or_default().to_string(),
            last_status: t.last_status.clone().unwrap_or_default(),
            since: when(t.stopped_at.as_ref().or(t.started_at.as_ref())),
            exit_codes: t.containers().iter().filter_map(|c| Some((c.name.clone().unwrap_or_default(), c.exit_code?))).collect(),
            stopped_reason: t.stopped_reason.clone().unwrap_or_default(),
        })
        .collect();
    Ok((out, stopped.saturating_sub(STOPPED_SHOWN)))
}

/// A container instance of the cluster.
#[derive(Debug, Default)]
pub struct InstanceStatus {
    pub instance_id: String,
    pub instance_type: String,
    pub public_ip: String,
    pub running_tasks: i32,
    /// The capacity provider ECS associated it with when it registered ("" for none).
    pub capacity_provider: String,
}

pub async fn services(aws: &Aws, spec: &Spec) -> Result<Vec<ServiceStatus>> {
    let mut out = Vec::new();
    for name in spec.services.keys() {
        let mut st = ServiceStatus { name: name.clone(), ..Default::default() };
        if let Some(s) = service::describe(aws, &spec.cluster.name, name).await? {
            st.exists = true;
            (st.desired, st.running, st.pending) = (s.desired_count, s.running_count, s.pending_count);
            st.task_definition = s.task_definition.clone().unwrap_or_default();
            st.deployments = s
                .deployments()
                .iter()
                .map(|d| {
                    (
                        d.id.clone().unwrap_or_default(),
                        d.status.clone().unwrap_or_default(),
                        d.rollout_state.as_ref().map(|r| r.as_str().to_string()).unwrap_or_default(),
                        d.rollout_state_reason.clone().unwrap_or_default(),
                    )
                })
                .collect();
            st.events = s.events().iter().take(5).filter_map(|e| Some((when(e.created_at.as_ref()), e.message.clone()?))).collect();
            (st.tasks, st.more_stopped) = service_tasks(aws, &spec.cluster.name, name).await?;
            for lb in s.load_balancers() {
                let Some(tg) = &lb.target_group_arn else { continue };
                let health = aws.elbv2.describe_target_health().target_group_arn(tg).send().await.aws("elbv2:DescribeTargetHealth")?;
                st.targets.extend(health.target_health_descriptions.unwrap_or_default().into_iter().map(|t| {
                    let target = t.target.map(|x| format!("{}:{}", x.id.unwrap_or_default(), x.port.unwrap_or(0))).unwrap_or_default();
                    (target, t.target_health.and_then(|h| h.state).map(|s| s.as_str().to_string()).unwrap_or_default())
                }));
            }
            if st.running > 0 {
                st.url = service::public_url(aws, spec, name).await?;
            }
        }
        out.push(st);
    }
    Ok(out)
}

pub async fn instances(aws: &Aws, cluster: &str) -> Result<Vec<InstanceStatus>> {
    let mut out = Vec::new();
    for ci in super::instances::container_instances(aws, cluster).await? {
        let id = ci.ec2_instance_id.clone().unwrap_or_default();
        let described = aws.ec2.describe_instances().instance_ids(&id).send().await.aws("ec2:DescribeInstances")?;
        let instance = described.reservations.unwrap_or_default().into_iter().flat_map(|r| r.instances.unwrap_or_default()).next();
        out.push(InstanceStatus {
            instance_type: instance.as_ref().and_then(|i| i.instance_type.as_ref()).map(|t| t.as_str().to_string()).unwrap_or_default(),
            public_ip: instance.and_then(|i| i.public_ip_address).unwrap_or_default(),
            running_tasks: ci.running_tasks_count,
            capacity_provider: ci.capacity_provider_name.clone().unwrap_or_default(),
            instance_id: id,
        });
    }
    Ok(out)
}

/// The log group of a service's or job's task family (or of a task family named directly).
pub fn log_group_of(spec: &Spec, name: &str) -> Option<String> {
    let family = match (spec.services.get(name), spec.jobs.get(name)) {
        (Some(s), _) => s.task.clone(),
        (None, Some(j)) => j.task.clone(),
        (None, None) => name.to_string(),
    };
    log_group::group_name(&family, spec.tasks.get(&family)?)
}

/// The task id in `name` when it is one: 32 hex digits, as ECS makes them, or a task's ARN (both
/// as `run` prints them).
pub fn task_id(name: &str) -> Option<&str> {
    let id = name.rsplit('/').next()?;
    let arn = name.starts_with("arn:") && name.contains(":task/");
    (arn || (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))).then_some(id)
}

/// Where task `id` may have written, for every task family of the spec that logs: (log group,
/// stream). awslogs names a task's stream `prefix/container/task-id`.
pub fn task_streams(spec: &Spec, id: &str) -> Vec<(String, String)> {
    spec.tasks
        .iter()
        .filter_map(|(family, t)| Some((log_group::group_name(family, t)?, t)))
        .flat_map(|(group, t)| t.containers.iter().map(move |c| (group.clone(), format!("{}/{}/{id}", t.logs.stream_prefix, c.name))))
        .collect()
}

/// Lines of `group` (of one `stream` of it when given) since `from_ms` (epoch milliseconds),
/// oldest first, with the stream they came from; and the timestamp to continue from.
pub async fn log_lines(aws: &Aws, group: &str, stream: Option<&str>, from_ms: i64) -> Result<(Vec<(String, String)>, i64)> {
    let mut lines = Vec::new();
    let mut last = from_ms;
    let mut token = None;
    let streams = stream.map(|s| vec![s.to_string()]);
    loop {
        let call = aws.logs.filter_log_events().log_group_name(group).set_log_stream_names(streams.clone()).start_time(from_ms);
        let out = match call.set_next_token(token).send().await.aws("logs:FilterLogEvents") {
            Ok(o) => o,
            Err(e) if e.is(ErrorKind::NotFound) => return Ok((vec![], from_ms)),
            Err(e) => return Err(e.into()),
        };
        for e in out.events.unwrap_or_default() {
            last = last.max(e.timestamp.unwrap_or(0) + 1);
            lines.push((e.log_stream_name.unwrap_or_default(), e.message.unwrap_or_default()));
        }
        token = out.next_token;
        if token.is_none() {
            return Ok((lines, last));
        }
    }
}

/// Everything `doctor` looks at for one service. Read calls only.
pub async fn doctor_facts(aws: &Aws, spec: &Spec, name: &str) -> Result<crate::doctor::Facts> {
    let cluster = &spec.cluster.name;
    let status = services(aws, spec).await?.into_iter().find(|s| s.name == name).unwrap_or_default();
    let registered = instances(aws, cluster).await?;
    let container_instances = registered.len();
    let provider = super::capacity_provider::name(spec);
    let outside_provider = registered.iter().filter(|i| i.capacity_provider != provider).map(|i| i.instance_id.clone()).collect();
    let group = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(super::autoscaling_group::name(spec))
        .send()
        .await
        .aws("autoscaling:DescribeAutoScalingGroups")?;
    let group_instances = group.auto_scaling_groups.unwrap_or_default().iter().map(|g| g.instances().len()).sum();
    let waiting_for_capacity = match (status.exists, super::autoscaling_group::of(spec)) {
        (true, Some(group)) => service::waiting_for_capacity(aws, cluster, name, &group).await?,
        _ => None,
    };
    let stopped = if status.exists { service::stopped_tasks(aws, cluster, name).await? } else { vec![] };
    let last = stopped.first();
    let log_lines = match last {
        Some(t) if status.running == 0 => service::last_log_lines(aws, t, 10).await,
        _ => match log_group_of(spec, name) {
            Some(g) => {
                let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0) - 3_600_000;
                let (lines, _) = log_lines(aws, &g, None, since).await?;
                lines.into_iter().rev().take(10).rev().map(|(_, l)| l).collect()
            }
            None => vec![],
        },
    };
    let rules = match super::security_group::lookup(aws, &[super::security_group::name(spec, "ecs")]).await?.into_iter().next() {
        Some(g) => g
            .ip_permissions()
            .iter()
            .flat_map(|p| {
                let (a, b) = (p.from_port.unwrap_or(-1), p.to_port.unwrap_or(-1));
                p.ip_ranges()
                    .iter()
                    .filter_map(|r| r.cidr_ip.clone())
                    .chain(p.user_id_group_pairs().iter().filter_map(|u| u.group_id.clone()))
                    .map(move |src| (a, b, src))
                    .collect::<Vec<_>>()
            })
            .collect(),
        None => vec![],
    };
    let door = if status.exists { service::front_door(aws, spec, name).await? } else { None };
    let blocked_here = match (&door, crate::engine::verify::public_address().await) {
        (Some(d), Some(me)) => service::lets_in(aws, d, me).await?.err().map(|rules| (me.to_string(), rules)),
        _ => None,
    };
    let answer = match (&status.url, &blocked_here) {
        (Some(_), Some(_)) => Err("not tried: the security groups keep this machine out".into()),
        (Some(u), None) => crate::engine::verify::probe(u).await,
        (None, _) => Err("no address".into()),
    };
    Ok(crate::doctor::Facts {
        service: name.to_string(),
        service_exists: status.exists,
        desired: status.desired,
        running: status.running,
        group_instances,
        container_instances,
        outside_provider,
        waiting_for_capacity,
        events: status.events.iter().map(|(_, m)| m.clone()).collect(),
        last_stopped: last.map(|t| (t.stop_code.clone(), t.reason.clone(), t.exit_codes.iter().map(|(_, c)| *c).collect())),
        log_lines,
        rules,
        targets: status.targets.iter().map(|(_, s)| s.clone()).collect(),
        url: status.url.clone(),
        blocked_here,
        answer,
    })
}
