use std::time::Duration;

use super::Stack;
use crate::cli::Global;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::resource::observe;
use crate::spec::{self, parse_duration};

/// Print a service's or job's log lines since `since`; with `follow`, keep printing new ones.
pub async fn run(global: &Global, out: &Output, name: Option<String>, follow: bool, since: &str) -> Result<u8> {
    let window = parse_duration(since).ok_or_else(|| Error::usage(format!("`{since}` is not a duration"), "write e.g. --since 10m or --since 2h"))?;
    let loaded = spec::load(&global.file)?;
    // Bad names are refused before any AWS call.
    let name = match name {
        Some(n) => n,
        None => Stack::only_service(&loaded)?,
    };
    // A task id (as `run` prints it) reads that task's own streams; a service, job or family its group.
    let sources: Vec<(String, Option<String>)> = match (observe::log_group_of(&loaded.spec, &name), observe::task_id(&name)) {
        (Some(group), _) => vec![(group, None)],
        (None, Some(id)) => observe::task_streams(&loaded.spec, id).into_iter().map(|(g, s)| (g, Some(s))).collect(),
        (None, None) => return Err(unknown(&loaded.spec, &name)),
    };
    if sources.is_empty() {
        return Err(Error::usage(format!("`{name}`: no task of the spec logs to CloudWatch"), "set logs.enabled = true on a task (the default)"));
    }
    let stack = Stack::connect(global, loaded).await?;
    stack.provider.aws.account_id().await?;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let mut from = vec![now_ms - window.as_millis() as i64; sources.len()];
    loop {
        for ((group, stream), from) in sources.iter().zip(from.iter_mut()) {
            let (lines, next) = observe::log_lines(&stack.provider.aws, group, stream.as_deref(), *from).await.map_err(super::resource_error)?;
            for (stream, line) in &lines {
                out.stream_line(stream, line);
            }
            *from = next;
        }
        if !follow {
            return Ok(0);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// A name that is no service, job, task family or task id: say which names there are.
fn unknown(spec: &crate::spec::Spec, name: &str) -> Error {
    let known = |names: Vec<&String>| names.into_iter().map(String::as_str).collect::<Vec<_>>().join(", ");
    let named = spec.services.contains_key(name) || spec.jobs.contains_key(name) || spec.tasks.contains_key(name);
    let message = match named {
        true => format!("`{name}` sends no logs to CloudWatch"),
        false => format!("the spec has no service, job, task family or task id `{name}`"),
    };
    Error::usage(
        message,
        format!(
            "name a service ({}), a job ({}), a task family ({}) whose task logs (logs.enabled), or a task id as `ecsdeploy run` prints it",
            known(spec.services.keys().collect()),
            known(spec.jobs.keys().collect()),
            known(spec.tasks.keys().collect())
        ),
    )
}
