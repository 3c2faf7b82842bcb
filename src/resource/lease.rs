//! One run at a time per stack. The lease is a CloudWatch Logs group named after the stack:
//! CreateLogGroup succeeds for exactly one caller, which makes it a mutex AWS keeps for us. It
//! carries who holds it and until when; a lease past its expiry, or held by a process of this
//! machine that no longer exists, is taken over.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Result, TAG_STACK};
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::engine::Failure;

/// How long a lease holds without being released (a run that died frees the stack after this).
const TTL: Duration = Duration::from_secs(30 * 60);
const TAG_OWNER: &str = "ecsdeploy:lease-owner";
const TAG_EXPIRES: &str = "ecsdeploy:lease-expires";

pub struct Lease {
    group: String,
}

fn name(stack: &str) -> String {
    format!("/ecsdeploy/lease/{stack}")
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// `host:pid` of a process that is gone (only knowable for this machine).
fn dead(owner: &str) -> bool {
    match owner.rsplit_once(':') {
        Some((h, pid)) if h == host() => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        _ => false,
    }
}

pub async fn acquire(aws: &Aws, stack: &str) -> Result<Lease> {
    let group = name(stack);
    let owner = format!("{}:{}", host(), std::process::id());
    for _ in 0..3 {
        let tags = HashMap::from([
            (TAG_STACK.to_string(), stack.to_string()),
            (TAG_OWNER.to_string(), owner.clone()),
            (TAG_EXPIRES.to_string(), (now() + TTL.as_secs()).to_string()),
        ]);
        match aws.logs.create_log_group().log_group_name(&group).set_tags(Some(tags)).send().await.aws("logs:CreateLogGroup") {
            Ok(_) => return Ok(Lease { group }),
            Err(e) if e.is(ErrorKind::AlreadyExists) => {}
            Err(e) => return Err(e.into()),
        }
        let arn = format!("arn:aws:logs:{}:{}:log-group:{group}", aws.region(), aws.account_id().await?);
        let held = aws.logs.list_tags_for_resource().resource_arn(arn).send().await.aws("logs:ListTagsForResource")?.tags.unwrap_or_default();
        let holder = held.get(TAG_OWNER).cloned().unwrap_or_default();
        let expires: u64 = held.get(TAG_EXPIRES).and_then(|e| e.parse().ok()).unwrap_or(0);
        if expires > now() && !dead(&holder) {
            return Err(super::Error::Other(Failure::new(
                format!("another ecsdeploy run ({holder}) is changing stack `{stack}`"),
                format!(
                    "wait for it to finish; if it died elsewhere its lease expires in {} min (or delete the log group {group})",
                    (expires - now()).div_ceil(60)
                ),
            )));
        }
        // Expired, or its process is gone: take it over.
        match aws.logs.delete_log_group().log_group_name(&group).send().await.aws("logs:DeleteLogGroup") {
            Ok(_) => {}
            Err(e) if e.is(ErrorKind::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Err(super::Error::Other(Failure::new(format!("could not take the lease of stack `{stack}`"), "another run is starting at the same moment; try again")))
}

pub async fn release(aws: &Aws, lease: Lease) -> Result<()> {
    match aws.logs.delete_log_group().log_group_name(&lease.group).send().await.aws("logs:DeleteLogGroup") {
        Ok(_) => Ok(()),
        Err(e) if e.is(ErrorKind::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
