//! CloudWatch Logs groups the tasks' awslogs driver writes to, with their retention.

use aws_sdk_cloudwatchlogs::types::LogGroup;
use serde_json::json;

use super::{outputs, own_tags, tag_pairs, Result};
use crate::aws::{Aws, AwsResultExt};
use crate::plan::{Change, Desired, Fields, Live, Outputs};
use crate::spec::{Spec, TaskDef};

pub const KIND: &str = "log_group";

/// The group a task logs to (default `/ecs/<family>`), or none when logging is off.
pub fn group_name(family: &str, task: &TaskDef) -> Option<String> {
    task.logs.enabled.then(|| task.logs.group.clone().unwrap_or_else(|| format!("/ecs/{family}")))
}

pub fn address(group: &str) -> String {
    format!("{KIND}.{group}")
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let mut out: Vec<Desired> = Vec::new();
    for (family, task) in &spec.tasks {
        let Some(group) = group_name(family, task) else { continue };
        let address = address(&group);
        if out.iter().any(|d| d.address == address) {
            continue;
        }
        out.push(Desired {
            fields: [("retention_days".to_string(), json!(task.logs.retention_days)), ("tags".to_string(), own_tags(&spec.stack.name, &address))].into(),
            address,
            kind: KIND.into(),
            name: group,
            ..Default::default()
        });
    }
    out
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    // A prefix matches other groups too (`/ecs/iris` and `/ecs/iris-pipeline`): read every page.
    let groups =
        aws.logs.describe_log_groups().log_group_name_prefix(&d.name).into_paginator().items().send().try_collect().await.aws("logs:DescribeLogGroups")?;
    let Some(g): Option<LogGroup> = groups.into_iter().find(|g| g.log_group_name.as_deref() == Some(d.name.as_str())) else {
        return Ok(None);
    };
    let arn = g.arn.clone().unwrap_or_default();
    // The tags API wants the ARN without the trailing `:*`.
    let arn = arn.trim_end_matches(":*").to_string();
    let tags = aws.logs.list_tags_for_resource().resource_arn(&arn).send().await.aws("logs:ListTagsForResource")?.tags.unwrap_or_default();
    let fields = [
        ("retention_days".to_string(), json!(g.retention_in_days.unwrap_or(0))),
        ("tags".to_string(), super::live_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))),
    ];
    Ok(Some(Live { id: arn.clone(), fields: fields.into(), outputs: outputs([("arn", arn), ("name", d.name.clone())]) }))
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields) -> Result<Outputs> {
    let name = &c.desired.name;
    let tags: std::collections::HashMap<String, String> = tag_pairs(fields).into_iter().collect();
    match &c.live {
        None => {
            aws.logs.create_log_group().log_group_name(name).set_tags(Some(tags)).send().await.aws("logs:CreateLogGroup")?;
        }
        Some(live) if super::changed(c, "tags") => {
            aws.logs.tag_resource().resource_arn(&live.id).set_tags(Some(tags)).send().await.aws("logs:TagResource")?;
        }
        Some(_) => {}
    }
    if super::changed(c, "retention_days") {
        match fields["retention_days"].as_i64().unwrap_or(7) as i32 {
            // 0: never expire, as CloudWatch Logs keeps a group without a policy.
            0 => {
                if c.live.is_some() {
                    aws.logs.delete_retention_policy().log_group_name(name).send().await.aws("logs:DeleteRetentionPolicy")?;
                }
            }
            days => {
                aws.logs.put_retention_policy().log_group_name(name).retention_in_days(days).send().await.aws("logs:PutRetentionPolicy")?;
            }
        }
    }
    let arn = match &c.live {
        Some(l) => l.id.clone(),
        None => observe(aws, &c.desired).await?.map(|l| l.id).unwrap_or_default(),
    };
    Ok(outputs([("arn", arn), ("name", name.clone())]))
}

pub async fn delete(aws: &Aws, c: &Change) -> Result<Outputs> {
    aws.logs.delete_log_group().log_group_name(&c.desired.name).send().await.aws("logs:DeleteLogGroup")?;
    Ok(Outputs::new())
}
