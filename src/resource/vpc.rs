//! The default VPC and its default subnets (read-only): where the tutorial puts everything.

use aws_sdk_ec2::types::Filter;

use super::{outputs, Result};
use crate::aws::{Aws, AwsResultExt};
use crate::plan::{Desired, Live};
use crate::spec::Spec;

pub const KIND: &str = "vpc";
pub const ADDRESS: &str = "vpc.default";

pub fn needed(spec: &Spec) -> bool {
    spec.cluster.ec2.is_some() || spec.load_balancer.is_some() || spec.services.values().any(|s| s.network.is_some())
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    if !needed(spec) {
        return vec![];
    }
    vec![Desired {
        address: ADDRESS.into(),
        kind: KIND.into(),
        name: "default".into(),
        fields: Default::default(),
        replace_on: vec![],
        unordered: vec![],
        depends_on: vec![],
        data: true,
        versioned: false,
        meta: [("missing_hint".to_string(), "this region has no default VPC: create one (EC2 console → Your VPCs → Actions → Create default VPC)".to_string())].into(),
    }]
}

pub async fn observe(aws: &Aws, _d: &Desired) -> Result<Option<Live>> {
    let vpcs = aws.ec2.describe_vpcs().filters(Filter::builder().name("is-default").values("true").build()).send().await.aws("ec2:DescribeVpcs")?;
    let Some(vpc) = vpcs.vpcs.unwrap_or_default().into_iter().next() else { return Ok(None) };
    let id = vpc.vpc_id.unwrap_or_default();
    let subnets = aws.ec2.describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(&id).build())
        .filters(Filter::builder().name("default-for-az").values("true").build())
        .send().await.aws("ec2:DescribeSubnets")?;
    let mut ids: Vec<String> = subnets.subnets.unwrap_or_default().into_iter().filter_map(|s| s.subnet_id).collect();
    ids.sort();
    Ok(Some(Live { id: id.clone(), fields: Default::default(), outputs: outputs([("id", id), ("subnets", ids.join(","))]) }))
}
