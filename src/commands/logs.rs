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
    let group = observe::log_group_of(&loaded.spec, &name)
        .ok_or_else(|| Error::usage(format!("`{name}` has no logs"), "name a service, job or task whose task logs to CloudWatch (logs.enabled)"))?;
    let stack = Stack::connect(global, loaded).await?;
    stack.provider.aws.account_id().await?;
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let mut from = now_ms - window.as_millis() as i64;
    loop {
        let (lines, next) = observe::log_lines(&stack.provider.aws, &group, from).await.map_err(super::resource_error)?;
        for (stream, line) in &lines {
            out.stream_line(stream, line);
        }
        from = next;
        if !follow {
            return Ok(0);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}
