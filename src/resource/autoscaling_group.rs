//! The autoscaling group of the cluster's instances (max 1 t2.micro in the tutorial), in the
//! default subnets. Creating or changing it waits until an instance has joined the cluster.

use std::time::{Duration, Instant};

use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
use serde_json::json;

use super::{cluster, field, launch_template, outputs, own_tags, stack_name, tag_pairs, vpc, Result};
use crate::aws::{retry_propagation, Aws, AwsResultExt};
use crate::engine::Failure;
use crate::plan::{reference, Change, Desired, Fields, Live, Outputs};
use crate::spec::Spec;

pub const KIND: &str = "autoscaling_group";
pub const ADDRESS: &str = "autoscaling_group.ecs";

/// How long an instance may take to boot and register with ECS (a few minutes on AWS).
const REGISTER_TIMEOUT: Duration = Duration::from_secs(600);

/// The group's name: the spec's (an adopted group) or `<stack>-ecs`.
pub fn name(spec: &Spec) -> String {
    spec.cluster.ec2.as_ref().and_then(|e| e.autoscaling_group.clone()).unwrap_or_else(|| stack_name(spec, "ecs"))
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let Some(ec2) = &spec.cluster.ec2 else { return vec![] };
    let subnets = vpc::subnets(&ec2.subnets);
    let mut fields = vec![
        ("min", json!(ec2.min)),
        ("max", json!(ec2.max)),
        ("subnets", subnets),
        ("launch_template", reference(launch_template::ADDRESS, "id")),
        ("tags", own_tags(&spec.stack.name, ADDRESS)),
    ];
    // With managed scaling ECS moves the desired count itself; comparing it would undo ECS.
    if !ec2.managed_scaling {
        fields.push(("desired", json!(ec2.desired)));
    }
    vec![Desired {
        address: ADDRESS.into(),
        kind: KIND.into(),
        name: name(spec),
        fields: crate::plan::fields(fields),
        // The cluster must exist before instances boot and try to join it.
        depends_on: vec![launch_template::ADDRESS.into(), vpc::ADDRESS.into(), cluster::address(spec)],
        meta: [("cluster".to_string(), spec.cluster.name.clone()), ("desired".to_string(), ec2.desired.to_string())].into(),
        ..Default::default()
    }]
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    let out = aws.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(&d.name).send().await.aws("autoscaling:DescribeAutoScalingGroups")?;
    let Some(g) = out.auto_scaling_groups.unwrap_or_default().into_iter().next() else { return Ok(None) };
    let mut subnets: Vec<&str> = g.vpc_zone_identifier.as_deref().unwrap_or_default().split(',').filter(|s| !s.is_empty()).collect();
    subnets.sort();
    let tags = g.tags.clone().unwrap_or_default();
    let lt = g.launch_template.as_ref().and_then(|l| l.launch_template_id.clone()).unwrap_or_default();
    let lt_name = g.launch_template.as_ref().and_then(|l| l.launch_template_name.clone()).unwrap_or_default();
    let fields = [
        ("min", json!(g.min_size.unwrap_or(0))),
        ("max", json!(g.max_size.unwrap_or(0))),
        ("desired", json!(g.desired_capacity.unwrap_or(0))),
        ("subnets", json!(subnets.join(","))),
        ("launch_template", json!(lt)),
        ("tags", super::live_tags(tags.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())))),
    ];
    let arn = g.auto_scaling_group_arn.unwrap_or_default();
    Ok(Some(Live {
        id: d.name.clone(),
        fields: crate::plan::fields(fields),
        outputs: outputs([("arn", arn), ("name", d.name.clone()), ("launch_template_name", lt_name)]),
    }))
}

fn int(fields: &Fields, name: &str) -> Option<i32> {
    fields.get(name).and_then(|v| v.as_i64()).map(|v| v as i32)
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields) -> Result<Outputs> {
    let name = &c.desired.name;
    let template = LaunchTemplateSpecification::builder().launch_template_id(field(fields, "launch_template")).version("$Default").build();
    let tags: Vec<Tag> = tag_pairs(fields)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).propagate_at_launch(true).resource_id(name).resource_type("auto-scaling-group").build())
        .collect();
    let desired: i32 = int(fields, "desired").unwrap_or_else(|| c.desired.meta["desired"].parse().unwrap_or(1));
    match &c.live {
        None => {
            retry_propagation(|| async {
                aws.autoscaling.create_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .launch_template(template.clone())
                    .min_size(int(fields, "min").unwrap_or(0))
                    .max_size(int(fields, "max").unwrap_or(1))
                    .desired_capacity(desired)
                    .vpc_zone_identifier(field(fields, "subnets"))
                    .set_tags(Some(tags.clone()))
                    .send().await.aws("autoscaling:CreateAutoScalingGroup")
            }).await?;
        }
        Some(_) => {
            let touched = |f: &str| super::changed(c, f);
            if ["min", "max", "desired", "subnets", "launch_template"].iter().any(|f| touched(f)) {
                let mut req = aws.autoscaling.update_auto_scaling_group().auto_scaling_group_name(name);
                if touched("min") { req = req.min_size(int(fields, "min").unwrap_or(0)); }
                if touched("max") { req = req.max_size(int(fields, "max").unwrap_or(1)); }
                if touched("desired") { req = req.desired_capacity(desired); }
                if touched("subnets") { req = req.vpc_zone_identifier(field(fields, "subnets")); }
                if touched("launch_template") { req = req.launch_template(template); }
                req.send().await.aws("autoscaling:UpdateAutoScalingGroup")?;
            }
            if touched("tags") {
                aws.autoscaling.create_or_update_tags().set_tags(Some(tags)).send().await.aws("autoscaling:CreateOrUpdateTags")?;
            }
        }
    }
    // Instances to come must join the cluster before anything is placed on them.
    if desired > 0 {
        wait_for_instance(aws, &c.desired.meta["cluster"], name).await?;
    }
    let arn = match &c.live {
        Some(l) => l.outputs["arn"].clone(),
        None => observe(aws, &c.desired).await?.map(|l| l.outputs["arn"].clone()).unwrap_or_default(),
    };
    Ok(outputs([("arn", arn), ("name", name.clone())]))
}

/// Until the cluster has an ACTIVE container instance; on timeout, say which step failed.
async fn wait_for_instance(aws: &Aws, cluster: &str, group: &str) -> Result<()> {
    let deadline = Instant::now() + REGISTER_TIMEOUT;
    let mut pause = Duration::from_millis(250);
    loop {
        let out = aws.ecs.list_container_instances().cluster(cluster).status(aws_sdk_ecs::types::ContainerInstanceStatus::Active).send().await.aws("ecs:ListContainerInstances")?;
        if !out.container_instance_arns.unwrap_or_default().is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(super::Error::Other(diagnose(aws, cluster, group).await));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(10));
    }
}

async fn diagnose(aws: &Aws, cluster: &str, group: &str) -> Failure {
    let out = aws.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await;
    let instances: Vec<String> = out.ok().and_then(|o| o.auto_scaling_groups).unwrap_or_default().into_iter()
        .flat_map(|g| g.instances.unwrap_or_default()).filter_map(|i| i.instance_id).collect();
    let minutes = REGISTER_TIMEOUT.as_secs() / 60;
    if instances.is_empty() {
        Failure::new(
            format!("group {group} launched no instance in {minutes} minutes"),
            format!("look at the group's activity history (`aws autoscaling describe-scaling-activities --auto-scaling-group-name {group}`): usually the AMI, the instance type or the instance profile"),
        )
    } else {
        Failure::new(
            format!("instance {} runs but has not joined cluster {cluster} in {minutes} minutes", instances.join(", ")),
            format!("check that the instance profile's role has AmazonEC2ContainerServiceforEC2Role, that the user data sets ECS_CLUSTER={cluster}, and that the AMI is ECS-optimised (cluster.ec2.ami)"),
        )
    }
}

/// Delete the group with its instances, and wait until it is gone (its instances leave the
/// cluster, which can then be deleted).
pub async fn delete(aws: &Aws, c: &Change) -> Result<Outputs> {
    aws.autoscaling.delete_auto_scaling_group().auto_scaling_group_name(&c.desired.name).force_delete(true).send().await.aws("autoscaling:DeleteAutoScalingGroup")?;
    super::until("the group and its instances are gone", || async {
        let out = aws.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(&c.desired.name).send().await.aws("autoscaling:DescribeAutoScalingGroups")?;
        Ok(out.auto_scaling_groups.unwrap_or_default().is_empty())
    }).await?;
    Ok(Outputs::new())
}
