//! Issue: `destroy` removes exactly what the stack owns, in a safe order, and finishes after an
//! interruption.

use std::time::Duration;

use aws_sdk_ec2::types::Filter;

use crate::support::{by_hand, eventually, session, Session};

const TAG: &str = "ecsdeploy:stack";

/// Every resource that still carries `ecsdeploy:stack = <stack>`, as `kind:name`: read from each
/// service directly (every page), not through the Tagging API ecsdeploy uses.
pub async fn stack_tagged(s: &Session, stack: &str) -> Vec<String> {
    let ours = |k: Option<&str>, v: Option<&str>| k == Some(TAG) && v == Some(stack);
    let tag_filter = || Filter::builder().name(format!("tag:{TAG}")).values(stack).build();
    let mut found = Vec::new();
    let groups = s.aws.ec2.describe_security_groups().filters(tag_filter()).into_paginator().items().send().try_collect().await.unwrap();
    found.extend(groups.into_iter().map(|g| format!("security_group:{}", g.group_name.unwrap_or_default())));
    let rules = s.aws.ec2.describe_security_group_rules().into_paginator().items().send().try_collect().await.unwrap();
    found.extend(
        rules
            .into_iter()
            .filter(|r| r.tags().iter().any(|t| ours(t.key(), t.value())))
            .map(|r| format!("rule:{}", r.security_group_rule_id.unwrap_or_default())),
    );
    for role in s.aws.iam.list_roles().into_paginator().items().send().try_collect().await.unwrap() {
        let tags = s.aws.iam.list_role_tags().role_name(&role.role_name).into_paginator().items().send().try_collect().await.unwrap();
        if tags.iter().any(|t| ours(Some(&t.key), Some(&t.value))) {
            found.push(format!("role:{}", role.role_name));
        }
    }
    for p in s.aws.iam.list_instance_profiles().into_paginator().items().send().try_collect().await.unwrap() {
        let profile = s.aws.iam.get_instance_profile().instance_profile_name(&p.instance_profile_name).send().await.unwrap().instance_profile.unwrap();
        if profile.tags().iter().any(|t| ours(Some(&t.key), Some(&t.value))) {
            found.push(format!("instance_profile:{}", p.instance_profile_name));
        }
    }
    let lts = s.aws.ec2.describe_launch_templates().filters(tag_filter()).into_paginator().items().send().try_collect().await.unwrap();
    found.extend(lts.into_iter().map(|l| format!("launch_template:{}", l.launch_template_name.unwrap_or_default())));
    for g in s.aws.autoscaling.describe_auto_scaling_groups().into_paginator().items().send().try_collect().await.unwrap() {
        if g.tags().iter().any(|t| ours(t.key(), t.value())) {
            found.push(format!("autoscaling_group:{}", g.auto_scaling_group_name.unwrap_or_default()));
        }
    }
    for cluster in s.aws.ecs.list_clusters().into_paginator().items().send().try_collect().await.unwrap() {
        let described = s.aws.ecs.describe_clusters().clusters(&cluster).include(aws_sdk_ecs::types::ClusterField::Tags).send().await.unwrap();
        for c in described.clusters.unwrap_or_default().into_iter().filter(|c| c.status.as_deref() == Some("ACTIVE")) {
            if c.tags().iter().any(|t| ours(t.key(), t.value())) {
                found.push(format!("cluster:{}", c.cluster_name.clone().unwrap_or_default()));
            }
        }
        for service in s.aws.ecs.list_services().cluster(&cluster).into_paginator().items().send().try_collect().await.unwrap() {
            let described = s.aws.ecs.describe_services().cluster(&cluster).services(service).include(aws_sdk_ecs::types::ServiceField::Tags).send();
            for svc in described.await.unwrap().services.unwrap_or_default().into_iter().filter(|x| x.status.as_deref() == Some("ACTIVE")) {
                if svc.tags().iter().any(|t| ours(t.key(), t.value())) {
                    found.push(format!("service:{}", svc.service_arn.unwrap_or_default()));
                }
            }
        }
    }
    let mut token = None;
    loop {
        let page = s.aws.ecs.describe_capacity_providers().include(aws_sdk_ecs::types::CapacityProviderField::Tags).set_next_token(token).send().await.unwrap();
        for cp in page.capacity_providers() {
            if cp.status.as_ref().map(|s| s.as_str()) == Some("ACTIVE") && cp.tags().iter().any(|t| ours(t.key(), t.value())) {
                found.push(format!("capacity_provider:{}", cp.name.clone().unwrap_or_default()));
            }
        }
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    let tds =
        s.aws.ecs.list_task_definitions().status(aws_sdk_ecs::types::TaskDefinitionStatus::Active).into_paginator().items().send().try_collect().await.unwrap();
    for arn in tds {
        let tags = s.aws.ecs.list_tags_for_resource().resource_arn(&arn).send().await.unwrap().tags.unwrap_or_default();
        if tags.iter().any(|t| ours(t.key(), t.value())) {
            found.push(format!("task_definition:{arn}"));
        }
    }
    for g in s.aws.logs.describe_log_groups().into_paginator().items().send().try_collect().await.unwrap() {
        let arn = g.arn.clone().unwrap_or_default().trim_end_matches(":*").to_string();
        let tags = s.aws.logs.list_tags_for_resource().resource_arn(arn).send().await.unwrap().tags.unwrap_or_default();
        if tags.get(TAG).map(String::as_str) == Some(stack) {
            found.push(format!("log_group:{}", g.log_group_name.unwrap_or_default()));
        }
    }
    let lbs = s.aws.elbv2.describe_load_balancers().into_paginator().items().send().try_collect().await.unwrap();
    let tgs = s.aws.elbv2.describe_target_groups().into_paginator().items().send().try_collect().await.unwrap();
    let arns: Vec<String> = lbs.iter().filter_map(|l| l.load_balancer_arn.clone()).chain(tgs.iter().filter_map(|t| t.target_group_arn.clone())).collect();
    for arn in arns {
        let described = s.aws.elbv2.describe_tags().resource_arns(arn).send().await.unwrap();
        for d in described.tag_descriptions.unwrap_or_default() {
            if d.tags().iter().any(|t| ours(t.key(), t.value())) {
                found.push(format!("elb:{}", d.resource_arn.unwrap_or_default()));
            }
        }
    }
    found
}

async fn group_rules(s: &Session, group: &str) -> usize {
    let out = s.aws.ec2.describe_security_group_rules().filters(Filter::builder().name("group-id").values(group).build()).send().await.unwrap();
    out.security_group_rules.unwrap_or_default().iter().filter(|r| r.is_egress != Some(true)).count()
}

#[tokio::test]
async fn destroy_removes_only_what_the_stack_owns() {
    let s = session().await;
    let rds = s.tutorial_prerequisites().await;
    // Someone's own rule on the RDS group, and untagged look-alikes of stack resources.
    s.allow_by_hand(&rds, 3306, "10.0.0.0/16").await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply");
    let vpc = s.aws.ec2.create_vpc().cidr_block("10.9.0.0/16").send().await.unwrap().vpc.unwrap().vpc_id.unwrap();
    let look_alike = s.aws.ec2.create_security_group().group_name("iris-ecs").description("made by hand").vpc_id(vpc).send().await.unwrap().group_id.unwrap();
    by_hand("ecs:CreateCluster", || s.aws.ecs.create_cluster().cluster_name("mlds-ecs-workshop-by-hand").send()).await;
    s.aws.iam.create_role().role_name("ecs-iris-tasks-by-hand").assume_role_policy_document("{}").send().await.unwrap();
    assert!(stack_tagged(&s, "iris").await.len() > 15);
    assert_eq!(group_rules(&s, &rds).await, 2);

    let plan = s.ecsdeploy(&["destroy"]).await;
    assert_eq!(plan.code, 2, "refuses without --auto-approve off a terminal:\n{}", plan.stderr);
    let run = s.ecsdeploy(&["destroy", "--auto-approve", "--logs"]).await;
    run.assert_ok("destroy");
    assert_eq!(stack_tagged(&s, "iris").await, Vec::<String>::new());

    // Left alone: the RDS group with its other rule, and every untagged look-alike.
    assert_eq!(group_rules(&s, &rds).await, 1);
    assert!(s.aws.ec2.describe_security_groups().group_ids(&look_alike).send().await.is_ok());
    let c = s.aws.ecs.describe_clusters().clusters("mlds-ecs-workshop-by-hand").send().await.unwrap().clusters.unwrap();
    assert_eq!(c[0].status.as_deref(), Some("ACTIVE"));
    assert!(s.aws.iam.get_role().role_name("ecs-iris-tasks-by-hand").send().await.is_ok());

    // Nothing left: a second destroy has nothing to do.
    let again = s.ecsdeploy(&["destroy", "--auto-approve", "--logs"]).await;
    again.assert_ok("second destroy");
    assert!(again.stdout.contains("Nothing to destroy: stack `iris` owns nothing else"), "{}", again.stdout);
}

#[tokio::test]
async fn destroy_interrupted_half_way_completes_when_run_again() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply");
    let before = s.requests().await.len();

    // Kill the process as soon as it has made its first deletions.
    let mut child =
        s.ecsdeploy_command(&["destroy", "--auto-approve", "--logs"]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    eventually("destroy has started deleting", Duration::from_secs(20), || async { (s.mutating_since(before).await.len() >= 2).then_some(()) }).await;
    child.kill().await.unwrap();
    let deleted = s.mutating_since(before).await.len();
    let left = stack_tagged(&s, "iris").await;
    assert!(!left.is_empty(), "interrupted before the end ({deleted} calls made)");

    s.ecsdeploy(&["destroy", "--auto-approve", "--logs"]).await.assert_ok("destroy again");
    assert_eq!(stack_tagged(&s, "iris").await, Vec::<String>::new());
}
