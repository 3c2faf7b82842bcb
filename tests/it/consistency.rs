//! Issue: eventual consistency and slow deletions. The world propagates, pages and deletes as
//! AWS does (its `consistency`, `deletion` and `pagination` modules, all on); every run here
//! must converge anyway, and the request log shows which of AWS's answers it met and survived.

use crate::support::{session, Session};
use crate::teardown::stack_tagged;

/// How many live resources of each kind the stack has: one each, whatever was retried.
async fn one_of_each(s: &Session, cluster: &str, group: &str, provider: &str, service: &str) {
    let groups = s.aws.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(group).send().await.unwrap();
    assert_eq!(groups.auto_scaling_groups().len(), 1, "one group {group}");
    let clusters = s.aws.ecs.describe_clusters().clusters(cluster).send().await.unwrap();
    assert_eq!(clusters.clusters().iter().filter(|c| c.status() == Some("ACTIVE")).count(), 1, "one cluster {cluster}");
    let providers = s.aws.ecs.describe_capacity_providers().capacity_providers(provider).send().await.unwrap();
    assert_eq!(providers.capacity_providers().iter().filter(|p| p.status().map(|s| s.as_str()) == Some("ACTIVE")).count(), 1, "one provider");
    let services = s.aws.ecs.describe_services().cluster(cluster).services(service).send().await.unwrap();
    assert_eq!(services.services().iter().filter(|x| x.status() == Some("ACTIVE")).count(), 1, "one service {service}");
    let created: Vec<_> = s.requests().await.into_iter().filter(|(_, a)| a == "CreateAutoScalingGroup").collect();
    assert!(!created.is_empty());
}

#[tokio::test]
async fn apply_destroy_apply_destroy_back_to_back_on_a_fresh_account() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    for round in 1..=2 {
        let apply = s.ecsdeploy(&["apply", "--auto-approve"]).await;
        apply.assert_ok(&format!("apply, round {round}"));
        assert_eq!(s.http_status(&apply.live_url()).await, Some(200));
        one_of_each(&s, "mlds-ecs-workshop", "iris-ecs", "iris-ec2", "iris-app").await;
        let destroy = s.ecsdeploy(&["destroy", "--auto-approve", "--logs"]).await;
        destroy.assert_ok(&format!("destroy, round {round}"));
        assert_eq!(stack_tagged(&s, "iris").await, Vec::<String>::new(), "round {round}:\n{}", destroy.stderr);
        // The provider is deleted asynchronously: refused while the cluster still had it, then waited for.
        assert!(destroy.stderr.contains("capacity_provider.iris-ec2: waiting until"), "says what it waits on:\n{}", destroy.stderr);
    }
    let refusals = s.refusals().await;
    // The account's first cluster met ECS's service-linked role while it propagated, once.
    let first_use: Vec<_> = refusals.iter().filter(|(a, c)| a == "CreateCluster" && c == "InvalidParameterException").collect();
    assert!(!first_use.is_empty(), "{refusals:?}");
    let created = s.requests().await.into_iter().filter(|(_, a)| a == "CreateCluster").count();
    assert_eq!(created - first_use.len(), 2, "one cluster made per apply: {refusals:?}");
}

#[tokio::test]
async fn the_alb_example_converges_through_the_listener_lag_and_a_target_group_still_in_use() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let proxy = s.proxy().await;
    let tg = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/iris-alb/0123456789abcdef";
    proxy
        .faults(serde_json::json!({"answers": [
            answer("CreateService", 400, "InvalidParameterException",
                &format!("The target group with targetGroupArn {tg} does not have an associated load balancer.")),
            answer("DeleteTargetGroup", 400, "ResourceInUse", &format!("Target group '{tg}' is currently in use by a listener or a rule")),
        ]}))
        .await;
    let apply = s.ecsdeploy_at(&proxy.url, &["apply", "--auto-approve", "-f", "examples/iris-alb.toml"], &[]).await;
    apply.assert_ok("apply the ALB example");
    assert_eq!(s.http_status(&apply.live_url()).await, Some(200));
    let destroy = s.ecsdeploy_at(&proxy.url, &["destroy", "--auto-approve", "--logs", "-f", "examples/iris-alb.toml"], &[]).await;
    destroy.assert_ok("destroy the ALB example");
    assert_eq!(stack_tagged(&s, "iris-alb").await, Vec::<String>::new());
    assert!(destroy.stderr.contains("target_group.iris-alb: waiting until no listener forwards to it"), "says what it waits on:\n{}", destroy.stderr);
    let answered = proxy.log().await.into_iter().filter(|(_, _, injected)| injected.as_deref() == Some("answer")).count();
    assert_eq!(answered, 2);
}

#[tokio::test]
async fn destroy_finishes_after_the_key_pair_and_the_rds_group_were_deleted_by_hand() {
    let s = session().await;
    let rds = s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply");
    s.aws.ec2.delete_key_pair().key_name("mlds-ecs-key").send().await.unwrap();
    s.aws.ec2.delete_security_group().group_id(&rds).send().await.unwrap();
    let destroy = s.ecsdeploy(&["destroy", "--auto-approve", "--logs"]).await;
    destroy.assert_ok("destroy without the prerequisites");
    assert_eq!(stack_tagged(&s, "iris").await, Vec::<String>::new());
    let again = s.ecsdeploy(&["destroy", "--auto-approve"]).await;
    again.assert_ok("destroy again");
    assert!(again.stdout.contains("Nothing to destroy"), "{}", again.stdout);
}

#[tokio::test]
async fn with_pages_of_one_item_plan_init_logs_and_destroy_see_everything() {
    let s = session().await;
    s.config(serde_json::json!({"page_size": 1})).await;
    let image = format!("{}.dkr.ecr.us-east-1.amazonaws.com/iris-inference:latest", "123456789012");
    let lines: Vec<String> = (1..=5).map(|i| format!("line {i} of the app")).collect();
    s.stage(serde_json::json!({"image": image, "logs": lines})).await;
    s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply with pages of one");
    let plan = s.ecsdeploy(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(plan.code, 0, "every role policy, rule and subnet was read:\n{}\n{}", plan.stdout, plan.stderr);
    let logs = s.ecsdeploy(&["logs", "iris-app", "--since", "1h"]).await;
    logs.assert_ok("logs");
    for line in &lines {
        assert!(logs.stdout.contains(line.as_str()), "{line} missing:\n{}", logs.stdout);
    }
    let out = crate::adopt::scratch("paged-init");
    s.ecsdeploy(&["init", "--from-cluster", "mlds-ecs-workshop", "-o", out.to_str().unwrap()]).await.assert_ok("init");
    let adopted = std::fs::read_to_string(&out).unwrap();
    assert!(adopted.contains("iris-app") && adopted.contains("3306"), "the service and the RDS rule:\n{adopted}");
    s.ecsdeploy(&["destroy", "--auto-approve", "--logs"]).await.assert_ok("destroy with pages of one");
    assert_eq!(stack_tagged(&s, "iris").await, Vec::<String>::new());
}

/// One scripted answer of the proxy: `action` refused once with AWS's `code` and `message`.
fn answer(action: &str, status: u16, code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({"action": action, "status": status, "code": code, "message": message})
}

/// Every propagation and in-use answer the issue names, each given once to the operation AWS
/// gives it to (texts from AWS and terraform-provider-aws; see the world's README): apply and
/// destroy converge anyway, and nothing is duplicated or left behind.
#[tokio::test]
async fn each_named_propagation_and_in_use_answer_is_survived() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let pipeline = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-pipeline:latest";
    s.stage(serde_json::json!({"image": pipeline, "exit_code": 0, "run_seconds": 0.3})).await;
    let proxy = s.proxy().await;
    let slr = "Unable to assume the service linked role. Please verify that the ECS service linked role exists.";
    proxy
        .faults(serde_json::json!({"answers": [
            answer("CreateCluster", 400, "InvalidParameterException", slr),
            answer("AddRoleToInstanceProfile", 404, "NoSuchEntity", "The role with name iris-ecs-instance cannot be found."),
            answer("AuthorizeSecurityGroupIngress", 400, "InvalidGroup.NotFound", "The security group 'sg-0123456789abcdef0' does not exist"),
            answer("CreateAutoScalingGroup", 400, "ValidationError",
                "You must use a valid fully-formed launch template. Value (iris-ecs-instance) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"),
            answer("PutClusterCapacityProviders", 400, "UpdateInProgressException", "The cluster capacity providers are being updated. Try again later."),
            answer("CreateService", 400, "InvalidParameterException", "Unable to Start a service that is still Draining."),
            answer("RunTask", 400, "InvalidParameterException", slr),
        ]}))
        .await;
    s.ecsdeploy_at(&proxy.url, &["apply", "--auto-approve"], &[]).await.assert_ok("apply through every propagation answer");
    s.ecsdeploy_at(&proxy.url, &["run", "iris-pipeline"], &[]).await.assert_ok("run through ECS's new service-linked role");
    one_of_each(&s, "mlds-ecs-workshop", "iris-ecs", "iris-ec2", "iris-app").await;

    proxy
        .faults(serde_json::json!({"answers": [
            answer("PutClusterCapacityProviders", 400, "ResourceInUseException", "The specified capacity provider is in use and cannot be removed."),
            answer("DeleteAutoScalingGroup", 400, "ScalingActivityInProgress", "You cannot delete an AutoScalingGroup while there are scaling activities in progress for that group."),
            answer("DeleteCluster", 400, "ClusterContainsContainerInstancesException", "The Cluster cannot be deleted while Container Instances are active or draining."),
            answer("DeleteSecurityGroup", 400, "DependencyViolation", "resource sg-0123456789abcdef0 has a dependent object"),
            answer("DeleteRole", 409, "DeleteConflict", "Cannot delete entity, must remove roles from instance profile first."),
        ]}))
        .await;
    s.ecsdeploy_at(&proxy.url, &["destroy", "--auto-approve", "--logs"], &[]).await.assert_ok("destroy through every in-use answer");
    assert_eq!(stack_tagged(&s, "iris").await, Vec::<String>::new());
    let answered = proxy.log().await.into_iter().filter(|(_, _, injected)| injected.as_deref() == Some("answer")).count();
    assert_eq!(answered, 12, "every scripted answer was given once");
}
