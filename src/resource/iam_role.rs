//! IAM roles: the task roles of the spec (`ecs-iris-tasks` with AmazonS3FullAccess), the task
//! execution role (ECR pulls, awslogs) and the EC2 instance role behind the instance profile.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{changed, field, outputs, own_tags, stack_name, tag_pairs, Result};
use crate::aws::{Aws, AwsError, AwsResultExt, ErrorKind};
use crate::plan::{Change, Desired, Fields, Live, Outputs};
use crate::spec::Spec;

pub const KIND: &str = "iam_role";

pub fn address(name: &str) -> String {
    format!("{KIND}.{name}")
}

/// The instance role's name (a role of the spec's, or the stack's own); the instance profile
/// carries the same name.
pub fn instance_role_name(spec: &Spec) -> String {
    spec.cluster.ec2.as_ref().and_then(|e| e.instance_role.clone()).unwrap_or_else(|| stack_name(spec, "ecs-instance"))
}

pub fn execution_role_name(spec: &Spec) -> String {
    stack_name(spec, "ecs-execution")
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let mut out: Vec<Desired> = spec
        .roles
        .iter()
        .map(|(name, r)| {
            let inline = r.inline_policies.iter().map(|(k, doc)| (k.clone(), serde_json::from_str(doc).unwrap_or(Value::Null))).collect();
            role(spec, name, &r.trust, &r.managed_policies, inline, r.description.clone())
        })
        .collect();
    if spec.tasks.values().any(|t| t.execution_role.is_none()) {
        out.push(role(
            spec,
            &execution_role_name(spec),
            &["ecs-tasks".into()],
            &["AmazonECSTaskExecutionRolePolicy".into()],
            Default::default(),
            Some("ECS task execution: image pulls and awslogs".into()),
        ));
    }
    if spec.cluster.ec2.as_ref().is_some_and(|e| e.instance_role.is_none()) {
        out.push(role(
            spec,
            &instance_role_name(spec),
            &["ec2.amazonaws.com".into()],
            &["AmazonEC2ContainerServiceforEC2Role".into()],
            Default::default(),
            Some("ECS container instances of the stack's cluster".into()),
        ));
    }
    out
}

fn role(spec: &Spec, name: &str, trust: &[String], managed: &[String], inline: serde_json::Map<String, Value>, description: Option<String>) -> Desired {
    let principals: BTreeSet<String> = trust.iter().map(|t| if t == "ecs-tasks" { "ecs-tasks.amazonaws.com".to_string() } else { t.clone() }).collect();
    let policies: BTreeSet<String> = managed.iter().map(|p| policy_key(p)).collect();
    let address = address(name);
    let fields = [
        ("trust", json!(principals)),
        ("managed_policies", json!(policies)),
        ("inline_policies", Value::Object(inline)),
        ("description", json!(description.unwrap_or_default())),
        ("tags", own_tags(&spec.stack.name, &address)),
    ];
    Desired { address, kind: KIND.into(), name: name.to_string(), fields: crate::plan::fields(fields), ..Default::default() }
}

/// AWS managed policies by name, others by ARN: what the user writes and what the plan shows.
fn policy_key(p: &str) -> String {
    match p.strip_prefix("arn:aws:iam::aws:policy/") {
        Some(rest) => rest.rsplit('/').next().unwrap_or(rest).to_string(),
        None => p.to_string(),
    }
}

/// IAM returns policy documents URL-encoded.
fn decode(doc: &str) -> Value {
    let text = percent_encoding::percent_decode_str(doc).decode_utf8_lossy();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn principals(doc: &Value) -> BTreeSet<String> {
    let statements = match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| match &s["Principal"]["Service"] {
            Value::String(p) => vec![p.clone()],
            Value::Array(a) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
            _ => vec![],
        })
        .collect()
}

fn trust_document(principals: &Value) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": principals}, "Action": "sts:AssumeRole"}]
    })
    .to_string()
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    // All three at once; each says NoSuchEntity when the role does not exist.
    let read = tokio::try_join!(
        async { aws.iam.get_role().role_name(&d.name).send().await.aws("iam:GetRole") },
        attached_policies(aws, &d.name),
        inline_policy_names(aws, &d.name),
    );
    let (role, attached, inline_names) = match read {
        Ok((r, a, i)) => (r.role.expect("GetRole returns a role"), a, i),
        Err(e) if e.is(ErrorKind::NotFound) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let managed: BTreeSet<String> = attached.iter().filter_map(|p| p.policy_arn.as_deref()).map(policy_key).collect();
    let mut inline = serde_json::Map::new();
    for name in inline_names {
        let doc = aws.iam.get_role_policy().role_name(&d.name).policy_name(&name).send().await.aws("iam:GetRolePolicy")?;
        inline.insert(name, decode(&doc.policy_document));
    }
    let trust = principals(&decode(role.assume_role_policy_document.as_deref().unwrap_or("{}")));
    let tags = role.tags.unwrap_or_default();
    let fields = [
        ("trust", json!(trust)),
        ("managed_policies", json!(managed)),
        ("inline_policies", Value::Object(inline)),
        ("description", json!(role.description.unwrap_or_default())),
        ("tags", super::live_tags(tags.iter().map(|t| (t.key.as_str(), t.value.as_str())))),
    ];
    Ok(Some(Live { id: role.role_id, fields: crate::plan::fields(fields), outputs: outputs([("arn", role.arn), ("name", d.name.clone())]) }))
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields) -> Result<Outputs> {
    let name = &c.desired.name;
    let iam = &aws.iam;
    let arn = match &c.live {
        Some(live) => live.outputs["arn"].clone(),
        None => {
            let mut req =
                iam.create_role().role_name(name).assume_role_policy_document(trust_document(&fields["trust"])).description(field(fields, "description"));
            for (k, v) in tag_pairs(fields) {
                req = req.tags(aws_sdk_iam::types::Tag::builder().key(k).value(v).build().expect("key and value set"));
            }
            let out = req.send().await.aws("iam:CreateRole")?;
            out.role.expect("CreateRole returns a role").arn
        }
    };
    let live = c.live.as_ref().map(|l| &l.fields);
    if c.live.is_some() && changed(c, "trust") {
        iam.update_assume_role_policy().role_name(name).policy_document(trust_document(&fields["trust"])).send().await.aws("iam:UpdateAssumeRolePolicy")?;
    }
    if c.live.is_some() && changed(c, "description") {
        iam.update_role().role_name(name).description(field(fields, "description")).send().await.aws("iam:UpdateRole")?;
    }
    let (add, remove) = set_difference(&fields["managed_policies"], live.and_then(|l| l.get("managed_policies")));
    for p in remove {
        let arn = attached_arn(aws, name, &p).await?;
        iam.detach_role_policy().role_name(name).policy_arn(arn).send().await.aws("iam:DetachRolePolicy")?;
    }
    for p in add {
        attach(aws, name, &p).await?;
    }
    if changed(c, "inline_policies") {
        let want = fields["inline_policies"].as_object().cloned().unwrap_or_default();
        let have = live.and_then(|l| l.get("inline_policies")).and_then(Value::as_object).cloned().unwrap_or_default();
        for (k, doc) in &want {
            if have.get(k) != Some(doc) {
                iam.put_role_policy().role_name(name).policy_name(k).policy_document(doc.to_string()).send().await.aws("iam:PutRolePolicy")?;
            }
        }
        for k in have.keys().filter(|k| !want.contains_key(*k)) {
            iam.delete_role_policy().role_name(name).policy_name(k).send().await.aws("iam:DeleteRolePolicy")?;
        }
    }
    if c.live.is_some() && changed(c, "tags") {
        let tags = tag_pairs(fields).into_iter().map(|(k, v)| aws_sdk_iam::types::Tag::builder().key(k).value(v).build().expect("key and value set"));
        iam.tag_role().role_name(name).set_tags(Some(tags.collect())).send().await.aws("iam:TagRole")?;
    }
    Ok(outputs([("arn", arn), ("name", name.clone())]))
}

/// Elements of `want` missing from `have`, and of `have` missing from `want` (string sets).
fn set_difference(want: &Value, have: Option<&Value>) -> (Vec<String>, Vec<String>) {
    let set = |v: Option<&Value>| -> BTreeSet<String> {
        v.and_then(Value::as_array).map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
    };
    let (want, have) = (set(Some(want)), set(have));
    (want.difference(&have).cloned().collect(), have.difference(&want).cloned().collect())
}

/// Attach an AWS managed policy by name (trying the paths AWS keeps them under) or by ARN.
async fn attach(aws: &Aws, role: &str, policy: &str) -> Result<()> {
    let candidates: Vec<String> = if policy.starts_with("arn:") {
        vec![policy.to_string()]
    } else {
        ["", "service-role/", "job-function/"].iter().map(|p| format!("arn:aws:iam::aws:policy/{p}{policy}")).collect()
    };
    let mut last = None;
    for arn in candidates {
        match aws.iam.attach_role_policy().role_name(role).policy_arn(&arn).send().await.aws("iam:AttachRolePolicy") {
            Ok(_) => return Ok(()),
            Err(e) if e.is(ErrorKind::NotFound) || e.code.as_deref() == Some("InvalidInput") => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    let mut e = last.expect("at least one candidate");
    e.hint = Some(format!("no managed policy `{policy}` exists: check the name in the IAM console, or give its ARN"));
    Err(e.into())
}

async fn attached_arn(aws: &Aws, role: &str, key: &str) -> Result<String> {
    Ok(attached_policies(aws, role).await?.into_iter().filter_map(|p| p.policy_arn).find(|a| policy_key(a) == key).unwrap_or_else(|| key.to_string()))
}

/// Detach and delete its policies, leave its instance profiles, then delete the role.
pub async fn delete(aws: &Aws, c: &Change, waiting: super::Note<'_>) -> Result<Outputs> {
    let name = &c.desired.name;
    let iam = &aws.iam;
    for arn in attached_policies(aws, name).await?.into_iter().filter_map(|p| p.policy_arn) {
        iam.detach_role_policy().role_name(name).policy_arn(arn).send().await.aws("iam:DetachRolePolicy")?;
    }
    for policy in inline_policy_names(aws, name).await? {
        iam.delete_role_policy().role_name(name).policy_name(policy).send().await.aws("iam:DeleteRolePolicy")?;
    }
    let profiles =
        iam.list_instance_profiles_for_role().role_name(name).into_paginator().items().send().try_collect().await.aws("iam:ListInstanceProfilesForRole")?;
    for p in profiles {
        iam.remove_role_from_instance_profile()
            .instance_profile_name(p.instance_profile_name)
            .role_name(name)
            .send()
            .await
            .aws("iam:RemoveRoleFromInstanceProfile")?;
    }
    // IAM may still see a policy or profile just removed (DeleteConflict) for a moment.
    super::retry_in_use(waiting, "IAM sees its policies and profiles gone", || async { iam.delete_role().role_name(name).send().await.aws("iam:DeleteRole") })
        .await?;
    Ok(Outputs::new())
}

/// Every managed policy attached to the role, all pages.
async fn attached_policies(aws: &Aws, role: &str) -> std::result::Result<Vec<aws_sdk_iam::types::AttachedPolicy>, AwsError> {
    aws.iam.list_attached_role_policies().role_name(role).into_paginator().items().send().try_collect().await.aws("iam:ListAttachedRolePolicies")
}

/// The names of the role's inline policies, all pages.
async fn inline_policy_names(aws: &Aws, role: &str) -> std::result::Result<Vec<String>, AwsError> {
    aws.iam.list_role_policies().role_name(role).into_paginator().items().send().try_collect().await.aws("iam:ListRolePolicies")
}
