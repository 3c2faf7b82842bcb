//! Security groups that exist outside the stack (the RDS group): found by name or id, never
//! created, changed or deleted; only the rules the stack adds to them are ours.

use aws_sdk_ec2::types::Filter;

use super::{outputs, Result};
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::plan::{Desired, Live};
use crate::spec::Spec;

pub const KIND: &str = "existing_security_group";

pub fn address(name: &str) -> String {
    format!("security_group.{name}")
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    spec.security_groups
        .iter()
        .map(|(name, g)| Desired::data(address(name), KIND, g.existing.clone(), format!("security_groups.{name}.existing must name a group of this region, by name or sg- id")))
        .collect()
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    let by = if d.name.starts_with("sg-") { "group-id" } else { "group-name" };
    let out = match aws.ec2.describe_security_groups().filters(Filter::builder().name(by).values(&d.name).build()).send().await.aws("ec2:DescribeSecurityGroups") {
        Ok(out) => out,
        Err(e) if e.is(ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let groups = out.security_groups.unwrap_or_default();
    if groups.len() > 1 {
        return Err(super::Error::Other(crate::engine::Failure::new(
            format!("{} security groups are named `{}`", groups.len(), d.name),
            "name the group by its sg- id instead",
        )));
    }
    Ok(groups.into_iter().next().map(|g| {
        let id = g.group_id.unwrap_or_default();
        Live { id: id.clone(), fields: Default::default(), outputs: outputs([("id", id)]) }
    }))
}
