//! Reads of ECS tasks and container instances that several kinds share: every page of a listing,
//! and descriptions in chunks of the API's limit (DescribeTasks and DescribeContainerInstances
//! take at most 100 at a time).

use aws_sdk_ecs::operation::list_tasks::builders::ListTasksFluentBuilder;
use aws_sdk_ecs::types::{ContainerInstance, Task};

use crate::aws::{Aws, AwsError, AwsResultExt, ErrorKind};

const DESCRIBE_LIMIT: usize = 100;

/// Every task ARN the listing names, all pages.
pub async fn arns(list: ListTasksFluentBuilder) -> Result<Vec<String>, AwsError> {
    list.into_paginator().items().send().try_collect().await.aws("ecs:ListTasks")
}

/// The tasks, described in chunks.
pub async fn describe(aws: &Aws, cluster: &str, arns: &[String]) -> Result<Vec<Task>, AwsError> {
    let mut tasks = Vec::with_capacity(arns.len());
    for chunk in arns.chunks(DESCRIBE_LIMIT) {
        let out = aws.ecs.describe_tasks().cluster(cluster).set_tasks(Some(chunk.to_vec())).send().await.aws("ecs:DescribeTasks")?;
        tasks.extend(out.tasks.unwrap_or_default());
    }
    Ok(tasks)
}

/// The ARNs of the cluster's container instances, all pages (none when the cluster does not exist).
pub async fn instance_arns(aws: &Aws, cluster: &str) -> Result<Vec<String>, AwsError> {
    match aws.ecs.list_container_instances().cluster(cluster).into_paginator().items().send().try_collect().await.aws("ecs:ListContainerInstances") {
        Err(e) if e.is(ErrorKind::NotFound) => Ok(vec![]),
        other => other,
    }
}

/// The cluster's container instances, described (none when the cluster does not exist).
pub async fn instances(aws: &Aws, cluster: &str) -> Result<Vec<ContainerInstance>, AwsError> {
    let arns = instance_arns(aws, cluster).await?;
    let mut out = Vec::with_capacity(arns.len());
    for chunk in arns.chunks(DESCRIBE_LIMIT) {
        let described = aws
            .ecs
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(chunk.to_vec()))
            .send()
            .await
            .aws("ecs:DescribeContainerInstances")?;
        out.extend(described.container_instances.unwrap_or_default());
    }
    Ok(out)
}
