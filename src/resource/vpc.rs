//! The default VPC and its default subnets (read-only): where the tutorial puts everything.

use aws_sdk_ec2::types::Filter;

use super::{outputs, Result};
use crate::aws::{Aws, AwsResultExt};
use crate::plan::{Desired, Live};
use serde_json::{json, Value};

use crate::plan::reference;
use crate::spec::{Spec, Subnets};

pub const KIND: &str = "vpc";
pub const ADDRESS: &str = "vpc.default";

pub fn needed(spec: &Spec) -> bool {
    spec.cluster.ec2.is_some() || spec.load_balancer.is_some() || spec.services.values().any(|s| s.network.is_some())
}

/// A subnets field: the listed ids (sorted, comma-joined as AWS takes them) or the default ones.
pub fn subnets(choice: &Subnets) -> Value {
    match choice {
        Subnets::List(l) => {
            let mut l = l.clone();
            l.sort();
            json!(l.join(","))
        }
        Subnets::Keyword(_) => reference(ADDRESS, "subnets"),
    }
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    if !needed(spec) {
        return vec![];
    }
    vec![Desired::data(ADDRESS, KIND, "default", "this region has no default VPC: create one (EC2 console → Your VPCs → Actions → Create default VPC)")]
}

pub async fn observe(aws: &Aws, _d: &Desired) -> Result<Option<Live>> {
    // Both at once: a default subnet (default-for-az) lives only in the default VPC.
    let (vpcs, subnets) = tokio::try_join!(
        async { aws.ec2.describe_vpcs().filters(Filter::builder().name("is-default").values("true").build()).send().await.aws("ec2:DescribeVpcs") },
        async {
            let f = Filter::builder().name("default-for-az").values("true").build();
            aws.ec2.describe_subnets().filters(f).into_paginator().items().send().try_collect().await.aws("ec2:DescribeSubnets")
        },
    )?;
    let Some(vpc) = vpcs.vpcs.unwrap_or_default().into_iter().next() else { return Ok(None) };
    let id = vpc.vpc_id.unwrap_or_default();
    let mut ids: Vec<String> = subnets.into_iter().filter(|s| s.vpc_id.as_deref() == Some(id.as_str())).filter_map(|s| s.subnet_id).collect();
    ids.sort();
    Ok(Some(Live { id: id.clone(), fields: Default::default(), outputs: outputs([("id", id), ("subnets", ids.join(","))]) }))
}
