//! The ECS capacity provider that puts the autoscaling group behind the cluster, with managed
//! scaling as the console sets it up.

use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, AutoScalingGroupProviderUpdate, CapacityProviderUpdateStatus, ManagedScaling, ManagedScalingStatus, ManagedTerminationProtection,
};
use serde_json::json;

use super::{autoscaling_group, cluster::ecs_tags, field, outputs, own_tags, Result};
use crate::aws::{Aws, AwsError, AwsResultExt, ErrorKind};
use crate::plan::{reference, Change, Desired, Fields, Live, Outputs};
use crate::spec::Spec;

pub const KIND: &str = "capacity_provider";

pub fn address(spec: &Spec) -> String {
    format!("{KIND}.{}", name(spec))
}

/// ECS refuses provider names starting with `aws`, `ecs` or `fargate`.
pub fn name(spec: &Spec) -> String {
    if let Some(n) = spec.cluster.ec2.as_ref().and_then(|e| e.capacity_provider.clone()) {
        return n;
    }
    let base = format!("{}-ec2", spec.stack.name);
    let lower = base.to_ascii_lowercase();
    if ["aws", "ecs", "fargate"].iter().any(|p| lower.starts_with(p)) {
        format!("cp-{base}")
    } else {
        base
    }
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let Some(ec2) = &spec.cluster.ec2 else { return vec![] };
    let address = address(spec);
    let fields = [
        ("auto_scaling_group", reference(autoscaling_group::ADDRESS, "arn")),
        ("managed_scaling", json!(if ec2.managed_scaling { "ENABLED" } else { "DISABLED" })),
        ("tags", own_tags(&spec.stack.name, &address)),
    ];
    vec![Desired {
        address,
        kind: KIND.into(),
        name: name(spec),
        fields: crate::plan::fields(fields),
        // A provider is bound to its group for life.
        replace_on: vec!["auto_scaling_group".into()],
        depends_on: vec![autoscaling_group::ADDRESS.into()],
        ..Default::default()
    }]
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    let out = aws
        .ecs
        .describe_capacity_providers()
        .capacity_providers(&d.name)
        .include(aws_sdk_ecs::types::CapacityProviderField::Tags)
        .send()
        .await
        .aws("ecs:DescribeCapacityProviders")?;
    // One being deleted is as good as gone (its name is free once it is INACTIVE: see `apply`).
    let deleting = |c: &aws_sdk_ecs::types::CapacityProvider| c.update_status == Some(CapacityProviderUpdateStatus::DeleteInProgress);
    let Some(cp) = out.capacity_providers.unwrap_or_default().into_iter().find(|c| c.status.as_ref().map(|s| s.as_str()) == Some("ACTIVE") && !deleting(c))
    else {
        return Ok(None);
    };
    let asg = cp.auto_scaling_group_provider.as_ref();
    let scaling =
        asg.and_then(|a| a.managed_scaling.as_ref()).and_then(|m| m.status.as_ref()).map(|s| s.as_str().to_string()).unwrap_or_else(|| "DISABLED".into());
    let tags = cp.tags.unwrap_or_default();
    let arn = cp.capacity_provider_arn.unwrap_or_default();
    let fields = [
        ("auto_scaling_group", json!(asg.map(|a| a.auto_scaling_group_arn.clone()).unwrap_or_default())),
        ("managed_scaling", json!(scaling)),
        ("tags", super::live_tags(tags.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())))),
    ];
    Ok(Some(Live { id: arn.clone(), fields: crate::plan::fields(fields), outputs: outputs([("arn", arn), ("name", d.name.clone())]) }))
}

fn scaling(fields: &Fields) -> ManagedScaling {
    let on = field(fields, "managed_scaling") == "ENABLED";
    ManagedScaling::builder().status(if on { ManagedScalingStatus::Enabled } else { ManagedScalingStatus::Disabled }).target_capacity(100).build()
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields, waiting: super::Note<'_>) -> Result<Outputs> {
    let name = &c.desired.name;
    if let (Some(live), true) = (&c.live, c.action.in_place()) {
        if super::changed(c, "managed_scaling") {
            aws.ecs
                .update_capacity_provider()
                .name(name)
                .auto_scaling_group_provider(AutoScalingGroupProviderUpdate::builder().managed_scaling(scaling(fields)).build())
                .send()
                .await
                .aws("ecs:UpdateCapacityProvider")?;
        }
        if super::changed(c, "tags") {
            aws.ecs.tag_resource().resource_arn(&live.id).set_tags(Some(ecs_tags(fields))).send().await.aws("ecs:TagResource")?;
        }
        return Ok(live.outputs.clone());
    }
    if c.live.is_some() {
        // Replace: a provider cannot move to another group; the name must be free again.
        delete(aws, c, waiting).await?;
    } else {
        // A provider of this name still being deleted (a destroy just before) keeps the name taken.
        super::until(waiting, &format!("capacity provider {name} left by an earlier deletion is INACTIVE"), || async {
            Ok(!matches!(state(aws, name).await?, Some((_, Some(CapacityProviderUpdateStatus::DeleteInProgress)))))
        })
        .await?;
    }
    let provider = AutoScalingGroupProvider::builder()
        .auto_scaling_group_arn(field(fields, "auto_scaling_group"))
        .managed_scaling(scaling(fields))
        .managed_termination_protection(ManagedTerminationProtection::Disabled)
        .build()
        .expect("group ARN set");
    let out = aws
        .ecs
        .create_capacity_provider()
        .name(name)
        .auto_scaling_group_provider(provider)
        .set_tags(Some(ecs_tags(fields)))
        .send()
        .await
        .aws("ecs:CreateCapacityProvider")?;
    let arn = out.capacity_provider.and_then(|c| c.capacity_provider_arn).unwrap_or_default();
    Ok(outputs([("arn", arn), ("name", name.clone())]))
}

/// AWS deletes a provider asynchronously: DeleteCapacityProvider answers at once, with
/// `updateStatus` DELETE_IN_PROGRESS, or DELETE_FAILED while a cluster still has it; the name and
/// the group stay taken until the provider is INACTIVE (terraform-provider-aws waits the same).
pub async fn delete(aws: &Aws, c: &Change, waiting: super::Note<'_>) -> Result<Outputs> {
    let name = &c.desired.name;
    // A run that stopped after asking need not ask again.
    if !matches!(state(aws, name).await?, Some((_, Some(CapacityProviderUpdateStatus::DeleteInProgress))) | None) {
        super::retry_in_use(waiting, "no cluster has it", || async {
            let out = aws.ecs.delete_capacity_provider().capacity_provider(name).send().await.aws("ecs:DeleteCapacityProvider")?;
            match out.capacity_provider {
                Some(p) if p.update_status == Some(CapacityProviderUpdateStatus::DeleteFailed) => Err(AwsError {
                    kind: ErrorKind::Fatal,
                    operation: "ecs:DeleteCapacityProvider".into(),
                    code: Some("DELETE_FAILED".into()),
                    message: p.update_status_reason.unwrap_or_else(|| "the capacity provider is still in use".into()),
                    hint: None,
                }),
                _ => Ok(()),
            }
        })
        .await?;
    }
    super::until(waiting, &format!("capacity provider {name} is INACTIVE"), || async { Ok(state(aws, name).await?.is_none_or(|(s, _)| s != "ACTIVE")) })
        .await?;
    Ok(Outputs::new())
}

/// The provider's status and update status (None when ECS does not know the name).
async fn state(aws: &Aws, name: &str) -> Result<Option<(String, Option<CapacityProviderUpdateStatus>)>> {
    let out = match aws.ecs.describe_capacity_providers().capacity_providers(name).send().await.aws("ecs:DescribeCapacityProviders") {
        Err(e) if e.is(ErrorKind::NotFound) => return Ok(None),
        other => other?,
    };
    Ok(out.capacity_providers.unwrap_or_default().into_iter().next().map(|p| (p.status.map(|s| s.as_str().to_string()).unwrap_or_default(), p.update_status)))
}
