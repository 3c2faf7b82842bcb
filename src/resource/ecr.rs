//! Images in ECR: before a CI deploy registers anything, the image it names must exist; its
//! digest is recorded on the revision.

use aws_sdk_ecr::types::ImageIdentifier;

use super::Result;
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::engine::Failure;

/// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG` (or `@sha256:…`) → (repository, identifier).
fn parse(uri: &str) -> Option<(String, ImageIdentifier)> {
    let (host, rest) = uri.split_once('/')?;
    if !host.contains(".dkr.ecr.") {
        return None;
    }
    if let Some((repo, digest)) = rest.split_once('@') {
        return Some((repo.to_string(), ImageIdentifier::builder().image_digest(digest).build()));
    }
    let (repo, tag) = rest.rsplit_once(':').unwrap_or((rest, "latest"));
    Some((repo.to_string(), ImageIdentifier::builder().image_tag(tag).build()))
}

/// The image's digest, or a clear error when ECR does not have it. Images outside ECR (Docker
/// Hub, public registries) cannot be checked and pass as `None`.
pub async fn digest(aws: &Aws, uri: &str) -> Result<Option<String>> {
    let Some((repo, id)) = parse(uri) else { return Ok(None) };
    match aws.ecr.describe_images().repository_name(&repo).image_ids(id).send().await.aws("ecr:DescribeImages") {
        Ok(out) => Ok(out.image_details.unwrap_or_default().into_iter().next().and_then(|d| d.image_digest)),
        Err(e) if e.is(ErrorKind::NotFound) || matches!(e.code.as_deref(), Some("ImageNotFoundException" | "RepositoryNotFoundException")) => {
            Err(super::Error::Other(Failure::new(
                format!("image {uri} is not in ECR"),
                format!("push it first (docker push {uri}), or check the repository `{repo}` and the tag"),
            )))
        }
        Err(e) => Err(e.into()),
    }
}
