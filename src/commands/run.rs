use std::time::Duration;

use super::Stack;
use crate::cli::Global;
use crate::engine::wait::NO_CAPACITY_PATIENCE;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::resource::{autoscaling_group, instances, job};

/// Start a one-off task; with `wait`, stream its logs and exit with its exit code.
pub async fn run(global: &Global, out: &Output, name: &str, wait: bool, env: &[String]) -> Result<u8> {
    let env = env
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(Error::usage(format!("`{kv}` is not NAME=VALUE"), "write --env BUCKET_NAME=my-bucket")),
        })
        .collect::<Result<Vec<_>>>()?;
    let loaded = crate::spec::load(&global.file)?;
    // A name the spec does not know is refused before any AWS call, with the names it knows.
    if !loaded.spec.jobs.contains_key(name) && !loaded.spec.tasks.contains_key(name) {
        let list = |names: Vec<&String>| if names.is_empty() { "none".to_string() } else { names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ") };
        return Err(Error::usage(
            format!("the spec has no job or task `{name}`"),
            format!("name a job ({}) or a task family ({})", list(loaded.spec.jobs.keys().collect()), list(loaded.spec.tasks.keys().collect())),
        ));
    }
    let stack = Stack::connect(global, loaded).await?;
    stack.provider.aws.account_id().await?;
    let aws = &stack.provider.aws;
    let cluster = &stack.loaded.spec.cluster.name;
    let started = job::start(aws, &stack.loaded.spec, name, &env).await.map_err(super::resource_error)?;
    out.step(&format!("started {}", started.arn));
    if !wait {
        out.hint(&format!("follow it with `ecsdeploy logs {name} --follow`"));
        return Ok(0);
    }
    let mut token = None;
    let mut pause = Duration::from_millis(200);
    let mut stuck_since: Option<std::time::Instant> = None;
    let group = autoscaling_group::of(&stack.loaded.spec);
    loop {
        let state = job::state(aws, cluster, &started.arn).await.map_err(super::resource_error)?;
        // Waiting for capacity that cannot come: say so (after ECS has had time to act) rather
        // than wait with it, and take the task back.
        let stuck = match (state.provisioning, &group) {
            (Some(memory), Some(group)) => instances::no_capacity_coming(aws, cluster, group, memory).await.map_err(super::resource_error)?,
            _ => None,
        };
        match (stuck, stuck_since) {
            (Some(why), Some(since)) if since.elapsed() > NO_CAPACITY_PATIENCE => {
                let _ = aws.ecs.stop_task().cluster(cluster).task(&started.arn).reason("ecsdeploy run: no capacity for the task").send().await;
                return Err(Error::Failed {
                    message: format!("the task waits for capacity that cannot come: {why}"),
                    hint: Some("free some (`ecsdeploy scale --desired 0` stops the service's tasks), lower the task's memory, or raise cluster.ec2.max".into()),
                });
            }
            (Some(_), None) => stuck_since = Some(std::time::Instant::now()),
            (None, _) => stuck_since = None,
            _ => {}
        }
        if let Some((group, stream)) = &started.log {
            // Read until the stream has nothing new, so lines arrive in order and none is lost.
            loop {
                let (lines, next) = job::log_lines(aws, group, stream, token.clone()).await.map_err(super::resource_error)?;
                let done = lines.is_empty() || next == token;
                lines.iter().for_each(|l| out.log_line(l));
                token = next;
                if done {
                    break;
                }
            }
        }
        if state.stopped {
            return match state.exit_code {
                Some(code) => {
                    if code != 0 {
                        out.step(&format!("the task exited {code}: {}", state.reason));
                    }
                    Ok(u8::try_from(code).unwrap_or(1))
                }
                // `doctor` looks at services, not jobs: the remedy is said here.
                None => Err(Error::Failed {
                    message: format!("the task stopped before its container ran: {}", state.reason),
                    hint: Some(format!(
                        "the reason is ECS's: an image it cannot pull (push it, or fix the tag in the spec), no memory or port free on \
                         the instances (`ecsdeploy status`), a role it cannot use; then `ecsdeploy run {name}` again"
                    )),
                }),
            };
        }
        // Interrupted: the task is ECS's now; it runs on without this command.
        if tokio::time::timeout(pause, crate::interrupt::asked()).await.is_ok() {
            let id = started.arn.rsplit('/').next().unwrap_or_default();
            return Err(Error::Interrupted {
                message: format!("task {id} goes on running in ECS; stop it with `aws ecs stop-task --cluster {cluster} --task {id}`"),
                resume: format!("ecsdeploy logs {name} --follow"),
            });
        }
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}
