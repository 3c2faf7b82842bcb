//! The SSH key pair (read-only): it must exist; ecsdeploy never holds private keys.

use super::{outputs, Result};
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::plan::{Desired, Live};
use crate::spec::Spec;

pub const KIND: &str = "key_pair";

pub fn address(name: &str) -> String {
    format!("{KIND}.{name}")
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let Some(name) = spec.cluster.ec2.as_ref().and_then(|e| e.key_pair.clone()) else { return vec![] };
    vec![Desired::data(
        address(&name),
        KIND,
        name.clone(),
        format!("create it (EC2 console → Key pairs, or `aws ec2 create-key-pair --key-name {name}`), or remove cluster.ec2.key_pair"),
    )]
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    match aws.ec2.describe_key_pairs().key_names(&d.name).send().await.aws("ec2:DescribeKeyPairs") {
        Ok(out) => Ok(out.key_pairs.unwrap_or_default().into_iter().next().map(|k| {
            let id = k.key_pair_id.unwrap_or_default();
            Live { id, fields: Default::default(), outputs: outputs([("name", d.name.clone())]) }
        })),
        Err(e) if e.is(ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
