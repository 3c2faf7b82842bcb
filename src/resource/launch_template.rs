//! The launch template of the cluster's instances: ECS-optimised AMI, the account's free-tier type, key pair,
//! instance profile, the ECS group, and user data that names the cluster. A content change makes
//! a new version (and makes it the default); an unchanged spec makes none.

use aws_sdk_ec2::types::{LaunchTemplateIamInstanceProfileSpecificationRequest, RequestLaunchTemplateData, ResourceType, TagSpecification};
use serde_json::{json, Value};

use super::{ami, field, instance_profile, instance_type, key_pair, outputs, own_tags, security_group, stack_name, Result};
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::plan::{reference, Change, Desired, Fields, Live, Outputs};
use crate::spec::Spec;

pub const KIND: &str = "launch_template";
pub const ADDRESS: &str = "launch_template.ecs";

/// What the ECS agent reads at boot to join the cluster; the same on the Amazon Linux 2 and
/// Amazon Linux 2023 ECS-optimised AMIs (both read /etc/ecs/ecs.config).
pub fn user_data(cluster: &str) -> String {
    format!("#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n")
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let Some(ec2) = &spec.cluster.ec2 else { return vec![] };
    let profile = instance_profile::address(spec);
    let group = security_group::address("ecs");
    let mut depends_on = vec![ami::ADDRESS.to_string(), instance_type::ADDRESS.to_string(), profile.clone(), group.clone()];
    let key = match &ec2.key_pair {
        Some(k) => {
            depends_on.push(key_pair::address(k));
            json!(k)
        }
        None => json!(""),
    };
    let fields = [
        ("image_id", reference(ami::ADDRESS, "id")),
        ("instance_type", reference(instance_type::ADDRESS, "type")),
        ("key_name", key),
        // By name: the console's form writes the ARN, a hand-made template often the name; both
        // are the same profile.
        ("instance_profile", reference(&profile, "name")),
        ("security_groups", json!([reference(&group, "id")])),
        ("user_data", json!(ec2.user_data.clone().unwrap_or_else(|| user_data(&spec.cluster.name)))),
        ("tags", own_tags(&spec.stack.name, ADDRESS)),
    ];
    vec![Desired {
        address: ADDRESS.into(),
        kind: KIND.into(),
        name: ec2.launch_template.clone().unwrap_or_else(|| stack_name(spec, "ecs")),
        fields: crate::plan::fields(fields),
        unordered: vec!["security_groups".into()],
        depends_on,
        ..Default::default()
    }]
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    let lt = match aws.ec2.describe_launch_templates().launch_template_names(&d.name).send().await.aws("ec2:DescribeLaunchTemplates") {
        Ok(out) => match out.launch_templates.unwrap_or_default().into_iter().next() {
            Some(lt) => lt,
            None => return Ok(None),
        },
        Err(e) if e.is(ErrorKind::NotFound) || e.code.as_deref() == Some("InvalidLaunchTemplateName.NotFoundException") => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let id = lt.launch_template_id.clone().unwrap_or_default();
    let versions =
        aws.ec2.describe_launch_template_versions().launch_template_id(&id).versions("$Default").send().await.aws("ec2:DescribeLaunchTemplateVersions")?;
    let Some(v) = versions.launch_template_versions.unwrap_or_default().into_iter().next() else { return Ok(None) };
    let Some(data) = v.launch_template_data.clone() else { return Ok(None) };
    let user_data =
        data.user_data.as_deref().map(|u| String::from_utf8(aws_smithy_types::base64::decode(u).unwrap_or_default()).unwrap_or_default()).unwrap_or_default();
    let mut groups = data.security_group_ids.unwrap_or_default();
    groups.sort();
    let tags = lt.tags.unwrap_or_default();
    let fields = [
        ("image_id", json!(data.image_id.unwrap_or_default())),
        ("instance_type", json!(data.instance_type.map(|t| t.as_str().to_string()).unwrap_or_default())),
        ("key_name", json!(data.key_name.unwrap_or_default())),
        (
            "instance_profile",
            json!(data
                .iam_instance_profile
                .and_then(|p| p.name.or_else(|| p.arn.map(|a| a.rsplit('/').next().unwrap_or_default().to_string())))
                .unwrap_or_default()),
        ),
        ("security_groups", json!(groups)),
        ("user_data", json!(user_data)),
        ("tags", super::live_tags(tags.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())))),
    ];
    let version = v.version_number.unwrap_or(1).to_string();
    Ok(Some(Live { id: id.clone(), fields: crate::plan::fields(fields), outputs: outputs([("id", id), ("version", version)]) }))
}

fn data(fields: &Fields) -> RequestLaunchTemplateData {
    let groups: Vec<String> = fields["security_groups"].as_array().into_iter().flatten().filter_map(Value::as_str).map(String::from).collect();
    let key = field(fields, "key_name");
    RequestLaunchTemplateData::builder()
        .image_id(field(fields, "image_id"))
        .instance_type(field(fields, "instance_type").into())
        .set_key_name((!key.is_empty()).then(|| key.to_string()))
        .iam_instance_profile(LaunchTemplateIamInstanceProfileSpecificationRequest::builder().name(field(fields, "instance_profile")).build())
        .set_security_group_ids(Some(groups))
        .user_data(aws_smithy_types::base64::encode(field(fields, "user_data")))
        .build()
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields) -> Result<Outputs> {
    let tags = super::security_group::ec2_tags(fields);
    let Some(live) = &c.live else {
        let out = aws
            .ec2
            .create_launch_template()
            .launch_template_name(&c.desired.name)
            .launch_template_data(data(fields))
            .tag_specifications(TagSpecification::builder().resource_type(ResourceType::LaunchTemplate).set_tags(Some(tags)).build())
            .send()
            .await
            .aws("ec2:CreateLaunchTemplate")?;
        let lt = out.launch_template.as_ref();
        let version = lt.and_then(|l| l.default_version_number).unwrap_or(1).to_string();
        return Ok(outputs([("id", lt.and_then(|l| l.launch_template_id.clone()).unwrap_or_default()), ("version", version)]));
    };
    let mut version = live.outputs["version"].clone();
    if c.fields.iter().any(|f| f.field != "tags") && c.action.in_place() {
        let out = aws
            .ec2
            .create_launch_template_version()
            .launch_template_id(&live.id)
            .launch_template_data(data(fields))
            .send()
            .await
            .aws("ec2:CreateLaunchTemplateVersion")?;
        version = out.launch_template_version.and_then(|v| v.version_number).unwrap_or(1).to_string();
        aws.ec2.modify_launch_template().launch_template_id(&live.id).default_version(&version).send().await.aws("ec2:ModifyLaunchTemplate")?;
    }
    if super::changed(c, "tags") {
        aws.ec2.create_tags().resources(&live.id).set_tags(Some(tags)).send().await.aws("ec2:CreateTags")?;
    }
    Ok(outputs([("id", live.id.clone()), ("version", version)]))
}

pub async fn delete(aws: &Aws, c: &Change) -> Result<Outputs> {
    let live = c.live.as_ref().expect("a deletion has a live resource");
    aws.ec2.delete_launch_template().launch_template_id(&live.id).send().await.aws("ec2:DeleteLaunchTemplate")?;
    Ok(Outputs::new())
}
