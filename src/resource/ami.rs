//! The ECS-optimised AMI (read-only): the newest Amazon Linux 2 (or 2023) image for ECS, or an
//! explicit id from the spec.

use aws_sdk_ec2::types::Filter;

use super::{outputs, Result};
use crate::aws::{Aws, AwsResultExt};
use crate::plan::{Desired, Live};
use crate::spec::Spec;

pub const KIND: &str = "ami";
pub const ADDRESS: &str = "ami.ecs";

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let Some(ec2) = &spec.cluster.ec2 else { return vec![] };
    vec![Desired::data(ADDRESS, KIND, ec2.ami.clone(), "no such ECS-optimised AMI in this region: use ami = \"amazon-linux-2\" or an AMI id that exists here".to_string())]
}

/// Name patterns of the ECS-optimised x86_64 images.
fn pattern(choice: &str) -> Option<&'static str> {
    match choice {
        "amazon-linux-2" => Some("amzn2-ami-ecs-hvm-*-x86_64-ebs"),
        "amazon-linux-2023" => Some("al2023-ami-ecs-hvm-*-x86_64"),
        _ => None,
    }
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    let req = aws.ec2.describe_images();
    let req = match pattern(&d.name) {
        Some(p) => req.owners("amazon").filters(Filter::builder().name("name").values(p).build()).filters(Filter::builder().name("state").values("available").build()),
        None => req.image_ids(&d.name),
    };
    let images = match req.send().await.aws("ec2:DescribeImages") {
        Ok(out) => out.images.unwrap_or_default(),
        Err(e) if e.is(crate::aws::ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    // Newest first; the name breaks ties so the choice is stable.
    let newest = images.into_iter().max_by(|a, b| (&a.creation_date, &a.name).cmp(&(&b.creation_date, &b.name)));
    Ok(newest.map(|img| {
        let id = img.image_id.unwrap_or_default();
        Live { id: id.clone(), fields: Default::default(), outputs: outputs([("id", id), ("name", img.name.unwrap_or_default())]) }
    }))
}
