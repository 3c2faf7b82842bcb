//! Security groups that exist outside the stack (the RDS group): found by name or id, never
//! created, changed or deleted; only the rules the stack adds to them are ours.

use aws_sdk_ec2::types::SecurityGroup;

use super::{outputs, Result};
use crate::plan::{Desired, Live};
use crate::spec::Spec;

pub const KIND: &str = "existing_security_group";

pub fn address(name: &str) -> String {
    format!("security_group.{name}")
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    spec.security_groups
        .iter()
        .map(|(name, g)| {
            Desired::data(
                address(name),
                KIND,
                g.existing.clone(),
                format!("security_groups.{name}.existing must name a group of this region, by name or sg- id"),
            )
        })
        .collect()
}

/// The group out of those the observation read ([`super::security_group::lookup`]).
pub fn observe(groups: &[SecurityGroup], d: &Desired) -> Result<Option<Live>> {
    let matching: Vec<&SecurityGroup> =
        groups.iter().filter(|g| g.group_id.as_deref() == Some(d.name.as_str()) || g.group_name.as_deref() == Some(d.name.as_str())).collect();
    if matching.len() > 1 {
        return Err(super::Error::Other(crate::engine::Failure::new(
            format!("{} security groups are named `{}`", matching.len(), d.name),
            "name the group by its sg- id instead",
        )));
    }
    Ok(matching.first().map(|g| {
        let id = g.group_id.clone().unwrap_or_default();
        Live { id: id.clone(), fields: Default::default(), outputs: outputs([("id", id)]) }
    }))
}
