//! Images in ECR: before anything changes, every image the spec (or a CI deploy's `--image`)
//! names must exist; its digest is recorded on the revision.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ecr::types::{DescribeImagesFilter, ImageIdentifier, TagStatus};
use futures::future::join_all;

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

/// The digests of `images` that are in ECR, looked up together; an image ECR does not have is an
/// error naming it and the repository's recent tags, before anything changes.
pub async fn digests(aws: &Aws, images: BTreeSet<String>) -> Result<BTreeMap<String, String>> {
    let looked = join_all(images.into_iter().map(|uri| async move { digest(aws, &uri).await.map(|d| d.map(|d| (uri, d))) })).await;
    let mut found = BTreeMap::new();
    let mut missing: Vec<Failure> = Vec::new();
    for r in looked {
        match r {
            Ok(Some((uri, d))) => {
                found.insert(uri, d);
            }
            Ok(None) => {}
            Err(super::Error::Other(f)) => missing.push(f),
            Err(e) => return Err(e),
        }
    }
    // Every missing image at once, in the spec's order (a typo in IMAGE_TAG misses them all).
    match missing.len() {
        0 => Ok(found),
        _ => {
            let hint = missing[0].hint.clone().unwrap_or_default();
            let message = missing.into_iter().map(|f| f.message).collect::<Vec<_>>().join("; ");
            Err(super::Error::Other(Failure::new(message, hint)))
        }
    }
}

/// The image's digest, or a clear error when ECR does not have it. Images outside ECR (Docker
/// Hub, public registries) cannot be checked and pass as `None`.
pub async fn digest(aws: &Aws, uri: &str) -> Result<Option<String>> {
    let Some((repo, id)) = parse(uri) else { return Ok(None) };
    match aws.ecr.describe_images().repository_name(&repo).image_ids(id).send().await.aws("ecr:DescribeImages") {
        Ok(out) => Ok(out.image_details.unwrap_or_default().into_iter().next().and_then(|d| d.image_digest)),
        Err(e) if e.code.as_deref() == Some("RepositoryNotFoundException") => Err(super::Error::Other(Failure::new(
            format!("image {uri}: there is no repository `{repo}` in this account and region"),
            format!("create it and push the image (aws ecr create-repository --repository-name {repo}), or correct the image in the spec"),
        ))),
        Err(e) if e.is(ErrorKind::NotFound) || e.code.as_deref() == Some("ImageNotFoundException") => {
            let recent = recent_tags(aws, &repo).await?;
            let recent = if recent.is_empty() { "it has no tagged image".to_string() } else { format!("its most recent tags: {}", recent.join(", ")) };
            Err(super::Error::Other(Failure::new(
                format!("image {uri} is not in ECR (repository `{repo}`: {recent})"),
                format!("push it first (docker push {uri}), or correct the tag (IMAGE_TAG, or the spec)"),
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// The repository's newest tags, newest first (at most five).
async fn recent_tags(aws: &Aws, repo: &str) -> Result<Vec<String>> {
    let mut images = Vec::new();
    let mut pages =
        aws.ecr.describe_images().repository_name(repo).filter(DescribeImagesFilter::builder().tag_status(TagStatus::Tagged).build()).into_paginator().send();
    while let Some(page) = pages.next().await {
        images.extend(page.aws("ecr:DescribeImages")?.image_details.unwrap_or_default());
    }
    images.sort_by_key(|d| std::cmp::Reverse(d.image_pushed_at.map(|t| t.secs()).unwrap_or(0)));
    Ok(images.into_iter().flat_map(|d| d.image_tags.unwrap_or_default()).take(5).collect())
}
