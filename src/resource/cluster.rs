//! The ECS cluster itself. Its capacity providers are `cluster_capacity`'s business.

use aws_sdk_ecs::types::{ClusterField, Tag};
use serde_json::{json, Value};

use super::{outputs, own_tags, tag_pairs, Result};
use crate::aws::{Aws, AwsResultExt};
use crate::plan::{Change, Desired, Fields, Live, Outputs};
use crate::spec::Spec;

pub const KIND: &str = "cluster";

pub fn address(spec: &Spec) -> String {
    format!("{KIND}.{}", spec.cluster.name)
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let address = address(spec);
    vec![Desired {
        fields: [("tags".to_string(), own_tags(&spec.stack.name, &address))].into(),
        address,
        kind: KIND.into(),
        name: spec.cluster.name.clone(),
        ..Default::default()
    }]
}

pub fn ecs_tags(fields: &Fields) -> Vec<Tag> {
    tag_pairs(fields).into_iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()
}

/// Also reports the capacity providers and default strategy, for `cluster_capacity` to compare.
pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    let out = aws.ecs.describe_clusters().clusters(&d.name).include(ClusterField::Tags).send().await.aws("ecs:DescribeClusters")?;
    let Some(c) = out.clusters.unwrap_or_default().into_iter().find(|c| c.status.as_deref() == Some("ACTIVE")) else { return Ok(None) };
    let tags = c.tags.unwrap_or_default();
    let mut providers = c.capacity_providers.unwrap_or_default();
    providers.sort();
    let strategy: Vec<Value> = c
        .default_capacity_provider_strategy
        .unwrap_or_default()
        .iter()
        .map(|s| json!({"provider": s.capacity_provider, "weight": s.weight, "base": s.base}))
        .collect();
    let arn = c.cluster_arn.unwrap_or_default();
    let fields = [
        ("tags", super::live_tags(tags.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())))),
        ("capacity_providers", json!(providers)),
        ("default_strategy", Value::Array(strategy)),
    ];
    Ok(Some(Live { id: arn.clone(), fields: crate::plan::fields(fields), outputs: outputs([("arn", arn), ("name", d.name.clone())]) }))
}

/// Whether the cluster exists (a deleted one stays listed as INACTIVE for a while).
pub async fn is_active(aws: &Aws, name: &str) -> Result<bool> {
    let out = aws.ecs.describe_clusters().clusters(name).send().await.aws("ecs:DescribeClusters")?;
    Ok(out.clusters().iter().any(|c| c.status.as_deref() == Some("ACTIVE")))
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields) -> Result<Outputs> {
    if let Some(live) = &c.live {
        aws.ecs.tag_resource().resource_arn(&live.id).set_tags(Some(ecs_tags(fields))).send().await.aws("ecs:TagResource")?;
        return Ok(live.outputs.clone());
    }
    // On an account's first cluster, ECS makes its service-linked role and cannot use it at once.
    let out = crate::aws::retry_propagation(|| async {
        aws.ecs.create_cluster().cluster_name(&c.desired.name).set_tags(Some(ecs_tags(fields))).send().await.aws("ecs:CreateCluster")
    })
    .await?;
    let arn = out.cluster.and_then(|c| c.cluster_arn).unwrap_or_default();
    Ok(outputs([("arn", arn), ("name", c.desired.name.clone())]))
}

/// A cluster goes once its services, tasks and instances have; those leave asynchronously.
pub async fn delete(aws: &Aws, c: &Change, waiting: super::Note<'_>) -> Result<Outputs> {
    super::retry_in_use(waiting, "its services, tasks and instances are gone", || async {
        aws.ecs.delete_cluster().cluster(&c.desired.name).send().await.aws("ecs:DeleteCluster")
    })
    .await?;
    Ok(Outputs::new())
}
