//! The ECS-optimised AMI (read-only): the one AWS recommends for the instances' architecture,
//! read from AWS's public SSM parameter as AWS documents it
//! (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/retrieve-ecs-optimized_AMI.html),
//! or an explicit id from the spec, whose architecture must match the instance type's.

use super::{outputs, Result};
use crate::aws::{Aws, AwsResultExt};
use crate::engine::Failure;
use crate::plan::{Desired, Live};
use crate::spec::Spec;

pub const KIND: &str = "ami";
pub const ADDRESS: &str = "ami.ecs";

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let Some(ec2) = &spec.cluster.ec2 else { return vec![] };
    let mut d = Desired::data(ADDRESS, KIND, ec2.ami.clone(), "no such AMI in this region: use ami = \"amazon-linux-2023\" or an AMI id that exists here");
    // The variant follows the instances' architecture, known without asking: the account's
    // free-tier default is x86_64, and a pinned type's is in EC2's table (`validate` checks it).
    let pinned = ec2.instance_type.as_deref();
    let arm = pinned.and_then(|t| crate::spec::architectures(t).ok()).is_some_and(|a| !a.contains(&"x86_64"));
    d.meta.insert("architecture".into(), if arm { "arm64" } else { "x86_64" }.into());
    d.meta.insert("instance_type".into(), pinned.unwrap_or("the account's free-tier type").into());
    vec![d]
}

/// AWS's public parameter naming the recommended ECS-optimised AMI of a choice and architecture.
pub fn parameter(choice: &str, architecture: &str) -> Option<String> {
    let os = match choice {
        "amazon-linux-2023" | "amazon-linux-2" => choice,
        _ => return None,
    };
    let arch = if architecture == "arm64" { "/arm64" } else { "" };
    Some(format!("/aws/service/ecs/optimized-ami/{os}{arch}/recommended/image_id"))
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    let arch = &d.meta["architecture"];
    // AWS publishes one parameter per architecture: its image matches by construction.
    if let Some(name) = parameter(&d.name, arch) {
        return Ok(recommended(aws, &name).await?.map(|id| Live { id: id.clone(), fields: Default::default(), outputs: outputs([("id", id)]) }));
    }
    let id = d.name.clone();
    let images = match aws.ec2.describe_images().image_ids(&id).send().await.aws("ec2:DescribeImages") {
        Ok(out) => out.images.unwrap_or_default(),
        Err(e) if e.is(crate::aws::ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(image) = images.into_iter().next() else { return Ok(None) };
    let image_arch = image.architecture.as_ref().map(|a| a.as_str().to_string()).unwrap_or_default();
    if !image_arch.is_empty() && image_arch != *arch {
        return Err(super::Error::Other(Failure::new(
            format!("{id} is an {image_arch} image, but the instances ({}) are {arch}: EC2 refuses to launch them together", d.meta["instance_type"]),
            "choose an AMI built for the instance type's architecture, or use ami = \"amazon-linux-2023\" (ecsdeploy picks the matching variant)",
        )));
    }
    Ok(Some(Live { id: id.clone(), fields: Default::default(), outputs: outputs([("id", id)]) }))
}

/// The AMI id a public parameter names now.
pub async fn recommended(aws: &Aws, parameter: &str) -> Result<Option<String>> {
    match aws.ssm.get_parameter().name(parameter).send().await.aws("ssm:GetParameter") {
        Ok(out) => Ok(out.parameter.and_then(|p| p.value)),
        Err(e) if e.is(crate::aws::ErrorKind::NotFound) || e.code.as_deref() == Some("ParameterNotFound") => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Which named choice (if any) an AMI id is the recommended image of, for `init`.
pub async fn choice_of(aws: &Aws, image_id: &str, architecture: &str) -> Result<Option<&'static str>> {
    for choice in ["amazon-linux-2023", "amazon-linux-2"] {
        let name = parameter(choice, architecture).expect("a named choice");
        if recommended(aws, &name).await?.as_deref() == Some(image_id) {
            return Ok(Some(choice));
        }
    }
    Ok(None)
}
