//! The instance profile that hands the instance role to the cluster's EC2 instances.

use serde_json::json;

use super::{field, iam_role, outputs, own_tags, tag_pairs, Result};
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::plan::{reference, Change, Desired, Fields, Live, Outputs};
use crate::spec::Spec;

pub const KIND: &str = "instance_profile";

pub fn address(spec: &Spec) -> String {
    format!("{KIND}.{}", iam_role::instance_role_name(spec))
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let name = iam_role::instance_role_name(spec);
    let role = iam_role::address(&name);
    let address = address(spec);
    let fields = [("role", reference(&role, "name")), ("tags", own_tags(&spec.stack.name, &address))];
    vec![Desired { address, kind: KIND.into(), name, fields: crate::plan::fields(fields), depends_on: vec![role], ..Default::default() }]
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    let p = match aws.iam.get_instance_profile().instance_profile_name(&d.name).send().await.aws("iam:GetInstanceProfile") {
        Ok(out) => out.instance_profile.expect("GetInstanceProfile returns a profile"),
        Err(e) if e.is(ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let role = p.roles.first().map(|r| r.role_name.clone()).unwrap_or_default();
    let tags = p.tags.unwrap_or_default();
    let fields = [("role", json!(role)), ("tags", super::live_tags(tags.iter().map(|t| (t.key.as_str(), t.value.as_str()))))];
    Ok(Some(Live { id: p.instance_profile_id, fields: crate::plan::fields(fields), outputs: outputs([("arn", p.arn), ("name", d.name.clone())]) }))
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields) -> Result<Outputs> {
    let name = &c.desired.name;
    let iam = &aws.iam;
    let tags = || {
        tag_pairs(fields).into_iter().map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().expect("key and value set")).collect::<Vec<_>>()
    };
    let arn = match &c.live {
        Some(live) => {
            if super::changed(c, "tags") {
                iam.tag_instance_profile().instance_profile_name(name).set_tags(Some(tags())).send().await.aws("iam:TagInstanceProfile")?;
            }
            live.outputs["arn"].clone()
        }
        None => {
            let out = iam.create_instance_profile().instance_profile_name(name).set_tags(Some(tags())).send().await.aws("iam:CreateInstanceProfile")?;
            out.instance_profile.expect("CreateInstanceProfile returns a profile").arn
        }
    };
    if super::changed(c, "role") {
        let old = c.live.as_ref().and_then(|l| l.fields.get("role")).and_then(|v| v.as_str()).unwrap_or_default();
        if !old.is_empty() {
            iam.remove_role_from_instance_profile().instance_profile_name(name).role_name(old).send().await.aws("iam:RemoveRoleFromInstanceProfile")?;
        }
        let role = field(fields, "role");
        crate::aws::retry_propagation(|| async {
            iam.add_role_to_instance_profile().instance_profile_name(name).role_name(role).send().await.aws("iam:AddRoleToInstanceProfile")
        })
        .await?;
    }
    Ok(outputs([("arn", arn), ("name", name.clone())]))
}

pub async fn delete(aws: &Aws, c: &Change) -> Result<Outputs> {
    let name = &c.desired.name;
    if let Some(role) = c.live.as_ref().and_then(|l| l.fields.get("role")).and_then(|v| v.as_str()).filter(|r| !r.is_empty()) {
        aws.iam.remove_role_from_instance_profile().instance_profile_name(name).role_name(role).send().await.aws("iam:RemoveRoleFromInstanceProfile")?;
    }
    aws.iam.delete_instance_profile().instance_profile_name(name).send().await.aws("iam:DeleteInstanceProfile")?;
    Ok(Outputs::new())
}
