//! Which capacity providers the cluster offers and its default strategy: the stack's EC2 provider
//! first (free tier), FARGATE and FARGATE_SPOT kept enabled when the spec says so.

use std::collections::HashMap;

use aws_sdk_ecs::types::CapacityProviderStrategyItem;
use serde_json::{json, Value};

use super::{capacity_provider, cluster, Result};
use crate::aws::{retry_propagation, Aws, AwsError, AwsResultExt};
use crate::plan::{reference, Address, Change, Desired, Fields, Live, Outputs};
use crate::spec::Spec;

pub const KIND: &str = "cluster_capacity";

pub fn address(spec: &Spec) -> Address {
    format!("{KIND}.{}", spec.cluster.name)
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let cluster = cluster::address(spec);
    let mut depends_on = vec![cluster.clone()];
    let mut providers = Vec::new();
    let default = if spec.cluster.ec2.is_some() {
        let cp = capacity_provider::address(spec);
        depends_on.push(cp.clone());
        providers.push(reference(&cp, "name"));
        reference(&cp, "name")
    } else {
        json!("FARGATE")
    };
    if spec.cluster.fargate {
        providers.extend([json!("FARGATE"), json!("FARGATE_SPOT")]);
    }
    if providers.is_empty() {
        return vec![];
    }
    let strategy = json!([{ "provider": default, "weight": 1, "base": 0 }]);
    vec![Desired {
        address: address(spec),
        kind: KIND.into(),
        name: spec.cluster.name.clone(),
        fields: [("capacity_providers".to_string(), Value::Array(providers)), ("default_strategy".to_string(), strategy)].into(),
        unordered: vec!["capacity_providers".into()],
        reads: vec![cluster::address(spec)],
        depends_on,
        ..Default::default()
    }]
}

/// Read from the cluster's own observation: no call of its own.
pub fn observe(d: &Desired, deps: &HashMap<Address, Live>) -> Result<Option<Live>> {
    Ok(deps.get(&d.depends_on[0]).map(|c| Live {
        id: c.id.clone(),
        fields: ["capacity_providers", "default_strategy"].iter().map(|k| (k.to_string(), c.fields[*k].clone())).collect(),
        outputs: Default::default(),
    }))
}

/// A strategy field (`[{provider, weight, base}]`) as ECS takes it.
pub fn strategy_items(v: &Value) -> Vec<CapacityProviderStrategyItem> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            CapacityProviderStrategyItem::builder()
                .capacity_provider(s["provider"].as_str().unwrap_or_default())
                .weight(s["weight"].as_i64().unwrap_or(1) as i32)
                .base(s["base"].as_i64().unwrap_or(0) as i32)
                .build()
                .expect("provider set")
        })
        .collect()
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields) -> Result<Outputs> {
    let providers: Vec<String> = fields["capacity_providers"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)).collect();
    put(aws, &c.desired.name, providers, strategy_items(&fields["default_strategy"])).await?;
    Ok(Outputs::new())
}

/// Detach every provider, so the capacity provider can be deleted: once no task uses it.
pub async fn delete(aws: &Aws, c: &Change, waiting: super::Note<'_>) -> Result<Outputs> {
    super::retry_in_use(waiting, "no task uses the cluster's providers", || put(aws, &c.desired.name, vec![], vec![])).await?;
    Ok(Outputs::new())
}

/// PutClusterCapacityProviders, again while the cluster is busy with a change of its attachments.
async fn put(aws: &Aws, cluster: &str, providers: Vec<String>, strategy: Vec<CapacityProviderStrategyItem>) -> std::result::Result<(), AwsError> {
    retry_propagation(|| async {
        aws.ecs
            .put_cluster_capacity_providers()
            .cluster(cluster)
            .set_capacity_providers(Some(providers.clone()))
            .set_default_capacity_provider_strategy(Some(strategy.clone()))
            .send()
            .await
            .aws("ecs:PutClusterCapacityProviders")
    })
    .await?;
    Ok(())
}
