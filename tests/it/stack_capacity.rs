//! Issue: plan/apply of the first half of the stack (IAM, security groups, cluster capacity) from
//! an empty world, idempotence counted in AWS calls, and drift repaired.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{Filter, IpPermission, IpRange};

use crate::support::{session, Session};

const CLUSTER: &str = "mlds-ecs-workshop";

async fn ingress_rules(s: &Session, group_id: &str) -> BTreeSet<String> {
    let out = s.aws.ec2.describe_security_group_rules().filters(Filter::builder().name("group-id").values(group_id).build()).send().await.unwrap();
    out.security_group_rules
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.is_egress != Some(true))
        .map(|r| {
            let source = r.cidr_ipv4.clone().or(r.referenced_group_info.as_ref().and_then(|g| g.group_id.clone())).unwrap_or_default();
            format!("{} {}-{} {}", r.ip_protocol.unwrap_or_default(), r.from_port.unwrap_or(-1), r.to_port.unwrap_or(-1), source)
        })
        .collect()
}

async fn group_id(s: &Session, name: &str) -> String {
    let out = s.aws.ec2.describe_security_groups().filters(Filter::builder().name("group-name").values(name).build()).send().await.unwrap();
    out.security_groups.unwrap()[0].group_id.clone().unwrap()
}

#[tokio::test]
async fn apply_from_empty_builds_the_tutorial_capacity_and_is_idempotent() {
    let s = session().await;
    let rds = s.tutorial_prerequisites().await;

    let plan = s.ecsdeploy(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(plan.code, 2, "changes pending:\n{}{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("+ iam_role.ecs-iris-tasks"), "{}", plan.stdout);

    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply");

    // IAM: the task role as in the tutorial, the instance role behind its profile.
    let role = s.aws.iam.get_role().role_name("ecs-iris-tasks").send().await.unwrap().role.unwrap();
    let trust = percent_encoding::percent_decode_str(role.assume_role_policy_document.as_deref().unwrap()).decode_utf8_lossy().to_string();
    assert!(trust.contains("ecs-tasks.amazonaws.com"), "{trust}");
    let attached = s.aws.iam.list_attached_role_policies().role_name("ecs-iris-tasks").into_paginator().items().send().try_collect().await.unwrap();
    assert_eq!(attached.iter().filter_map(|p| p.policy_name.clone()).collect::<Vec<_>>(), ["AmazonS3FullAccess"]);
    let profile = s.aws.iam.get_instance_profile().instance_profile_name("iris-ecs-instance").send().await.unwrap().instance_profile.unwrap();
    assert_eq!(profile.roles[0].role_name, "iris-ecs-instance");
    let instance_policies = s.aws.iam.list_attached_role_policies().role_name("iris-ecs-instance").into_paginator().items().send().try_collect().await.unwrap();
    assert_eq!(instance_policies[0].policy_name.as_deref(), Some("AmazonEC2ContainerServiceforEC2Role"));

    // Security groups: exactly the tutorial's rules.
    let ecs = group_id(&s, "iris-ecs").await;
    assert_eq!(ingress_rules(&s, &ecs).await, BTreeSet::from(["tcp 22-22 165.124.160.0/21".to_string(), "tcp 80-80 165.124.160.0/21".to_string()]));
    assert_eq!(ingress_rules(&s, &rds).await, BTreeSet::from([format!("tcp 3306-3306 {ecs}")]));

    // Capacity: the account's free-tier type (a new account: t3.micro) from the ECS-optimised
    // AMI AWS recommends, max 1, user data naming the cluster.
    let versions = s.aws.ec2.describe_launch_template_versions().launch_template_name("iris-ecs").versions("$Default").send().await.unwrap();
    let data = versions.launch_template_versions.unwrap()[0].launch_template_data.clone().unwrap();
    assert_eq!(data.instance_type.unwrap().as_str(), "t3.micro");
    assert_eq!(data.key_name.as_deref(), Some("mlds-ecs-key"));
    let user_data = String::from_utf8(aws_smithy_types::base64::decode(data.user_data.unwrap()).unwrap()).unwrap();
    assert!(user_data.contains(&format!("ECS_CLUSTER={CLUSTER}")), "{user_data}");
    let image = s.aws.ec2.describe_images().image_ids(data.image_id.unwrap()).send().await.unwrap().images.unwrap()[0].name.clone().unwrap();
    assert!(image.starts_with("al2023-ami-ecs-hvm-") && image.ends_with("-x86_64"), "{image}");
    let asg =
        s.aws.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("iris-ecs").send().await.unwrap().auto_scaling_groups.unwrap().remove(0);
    assert_eq!((asg.min_size, asg.max_size, asg.desired_capacity), (Some(0), Some(1), Some(1)));
    let cluster = s.aws.ecs.describe_clusters().clusters(CLUSTER).send().await.unwrap().clusters.unwrap().remove(0);
    let providers: BTreeSet<String> = cluster.capacity_providers.unwrap_or_default().into_iter().collect();
    assert_eq!(providers, BTreeSet::from(["iris-ec2".to_string(), "FARGATE".to_string(), "FARGATE_SPOT".to_string()]));
    assert_eq!(cluster.default_capacity_provider_strategy.unwrap()[0].capacity_provider, "iris-ec2");
    // Apply waits for a registered container instance.
    let ci = s.container_instance(CLUSTER).await;
    assert_eq!(ci.capacity_provider_name.as_deref(), Some("iris-ec2"), "the instance registered with the stack's provider");

    // Every resource it made carries the stack's tags.
    let tags = s.aws.ec2.describe_security_groups().group_ids(&ecs).send().await.unwrap().security_groups.unwrap()[0].tags.clone().unwrap_or_default();
    assert!(tags.iter().any(|t| t.key.as_deref() == Some("ecsdeploy:stack") && t.value.as_deref() == Some("iris")));

    // A second plan finds nothing; a second apply makes no mutating call at all.
    let again = s.ecsdeploy(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(again.stdout.contains("No changes"));
    let before = s.requests().await.len();
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("second apply");
    assert_eq!(s.mutating_since(before).await, Vec::<String>::new());
}

#[tokio::test]
async fn drift_is_shown_exactly_and_repaired() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply");
    let ecs = group_id(&s, "iris-ecs").await;

    // Out of band: a rule added, a rule removed, max size raised, a policy detached.
    s.allow_by_hand(&ecs, 8080, "0.0.0.0/0").await;
    s.aws
        .ec2
        .revoke_security_group_ingress()
        .group_id(&ecs)
        .ip_permissions(
            IpPermission::builder().ip_protocol("tcp").from_port(22).to_port(22).ip_ranges(IpRange::builder().cidr_ip("165.124.160.0/21").build()).build(),
        )
        .send()
        .await
        .unwrap();
    s.aws.autoscaling.update_auto_scaling_group().auto_scaling_group_name("iris-ecs").max_size(3).send().await.unwrap();
    s.aws.iam.detach_role_policy().role_name("ecs-iris-tasks").policy_arn("arn:aws:iam::aws:policy/AmazonS3FullAccess").send().await.unwrap();

    let plan = s.ecsdeploy(&["plan", "--json"]).await;
    plan.assert_ok("plan --json");
    let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
    let changed: Vec<(&str, &str)> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "no_op" && c["action"] != "read")
        .map(|c| (c["address"].as_str().unwrap(), c["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        changed.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([("ingress.ecs", "update"), ("autoscaling_group.ecs", "update"), ("iam_role.ecs-iris-tasks", "update"),])
    );
    let field = |address: &str, name: &str| -> serde_json::Value {
        let c = doc["changes"].as_array().unwrap().iter().find(|c| c["address"] == address).unwrap();
        let fields = c["fields"].as_array().unwrap();
        assert_eq!(fields.len(), 1, "only `{name}` differs on {address}: {fields:?}");
        fields[0].clone()
    };
    let max = field("autoscaling_group.ecs", "max");
    assert_eq!((max["before"].clone(), max["after"].clone()), (serde_json::json!(3), serde_json::json!(1)));
    let policies = field("iam_role.ecs-iris-tasks", "managed_policies");
    assert_eq!((policies["before"].clone(), policies["after"].clone()), (serde_json::json!([]), serde_json::json!(["AmazonS3FullAccess"])));
    let rules = field("ingress.ecs", "rules");
    let ports = |v: &serde_json::Value| v.as_array().unwrap().iter().map(|r| r["from"].as_i64().unwrap()).collect::<BTreeSet<_>>();
    assert_eq!(ports(&rules["before"]), BTreeSet::from([80, 8080]));
    assert_eq!(ports(&rules["after"]), BTreeSet::from([22, 80]));

    // The text plan names the exact rules that go and come.
    let text = s.ecsdeploy(&["plan"]).await;
    assert!(text.stdout.contains("- {\"description\":\"\",\"from\":8080"), "{}", text.stdout);
    assert!(text.stdout.contains("+ {\"description\":\"SSH\",\"from\":22"), "{}", text.stdout);
    assert!(text.stdout.contains("max: 3 → 1"), "{}", text.stdout);

    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("repairing apply");
    assert_eq!(ingress_rules(&s, &ecs).await, BTreeSet::from(["tcp 22-22 165.124.160.0/21".to_string(), "tcp 80-80 165.124.160.0/21".to_string()]));
    let asg =
        s.aws.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("iris-ecs").send().await.unwrap().auto_scaling_groups.unwrap().remove(0);
    assert_eq!(asg.max_size, Some(1));
    let attached = s.aws.iam.list_attached_role_policies().role_name("ecs-iris-tasks").into_paginator().items().send().try_collect().await.unwrap();
    assert_eq!(attached.len(), 1);
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode"]).await.code, 0);
}

#[tokio::test]
async fn rules_others_made_on_an_existing_group_are_left_alone() {
    let s = session().await;
    let rds = s.tutorial_prerequisites().await;
    // Someone's own rule on the RDS group, before and after ecsdeploy arrives.
    s.allow_by_hand(&rds, 3306, "10.0.0.0/16").await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply");
    let rules = ingress_rules(&s, &rds).await;
    assert!(rules.contains("tcp 3306-3306 10.0.0.0/16"), "{rules:?}");
    assert_eq!(rules.len(), 2);
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode"]).await.code, 0);
}

#[tokio::test]
async fn every_command_says_which_account_and_region_it_works_on_and_a_no_op_plan_is_two_lines() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let header = |region: &str| format!("stack `iris`, account 123456789012, region {region}, endpoint {} (not AWS)", s.world.endpoint);
    // The key pair exists in us-east-1 only: the answer is read against the region it was asked in.
    let elsewhere = s.ecsdeploy(&["plan", "--region", "us-west-2"]).await;
    assert_eq!(elsewhere.code, 1, "{}", elsewhere.stderr);
    assert_eq!(elsewhere.stdout.lines().next(), Some(header("us-west-2").as_str()), "{}", elsewhere.stdout);
    assert!(elsewhere.stderr.contains("key pair `mlds-ecs-key` does not exist"), "{}", elsewhere.stderr);

    let json = s.ecsdeploy(&["plan", "--json"]).await;
    json.assert_ok("plan --json");
    let doc: serde_json::Value = serde_json::from_str(&json.stdout).expect("only JSON on stdout");
    assert_eq!((doc["account"].as_str(), doc["region"].as_str()), (Some("123456789012"), Some("us-east-1")));

    let apply = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    apply.assert_ok("apply");
    assert_eq!(apply.stdout.lines().next(), Some(header("us-east-1").as_str()), "{}", apply.stdout);
    let plan = s.ecsdeploy(&["plan"]).await;
    plan.assert_ok("plan");
    let lines: Vec<&str> = plan.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", plan.stdout);
    assert!(lines[1].starts_with("No changes: stack `iris` matches the spec") && lines[1].contains("plan --verbose"), "{}", plan.stdout);
    for args in [&["status"][..], &["scale", "--desired", "1"], &["redeploy", "--force"]] {
        let r = s.ecsdeploy(args).await;
        r.assert_ok(&format!("{args:?}"));
        assert_eq!(r.stdout.lines().next(), Some(header("us-east-1").as_str()), "{args:?}: {}", r.stdout);
    }
    let destroy = s.ecsdeploy(&["destroy", "--auto-approve"]).await;
    destroy.assert_ok("destroy");
    assert_eq!(destroy.stdout.lines().next(), Some(header("us-east-1").as_str()), "{}", destroy.stdout);
}

#[tokio::test]
async fn refusals_make_no_mutating_call() {
    let s = session().await;
    // A missing prerequisite is named, with its remedy.
    let r = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("key pair `mlds-ecs-key` does not exist") && r.stderr.contains("create-key-pair"), "{}", r.stderr);
    assert_eq!(s.mutating_since(0).await, Vec::<String>::new());

    s.tutorial_prerequisites().await;
    let before = s.requests().await.len();
    // Day-2 commands change what exists; they never create it.
    for args in [&["scale", "--desired", "0"][..], &["redeploy", "--force"][..]] {
        let r = s.ecsdeploy(args).await;
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("does not exist yet") && r.stderr.contains("ecsdeploy apply"), "{}", r.stderr);
    }
    // Not on a terminal and no --auto-approve.
    let r = s.ecsdeploy(&["apply"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--auto-approve"), "{}", r.stderr);
    // Beyond the free tier without --allow-cost.
    let r = s.ecsdeploy(&["apply", "--auto-approve", "-f", "examples/fargate.toml"]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--allow-cost"), "{}", r.stderr);
    assert_eq!(s.mutating_since(before).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_saved_plan_applies_exactly_or_is_refused_when_aws_moved() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let dir = std::env::temp_dir().join(format!("ecsdeploy-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plan.json");
    let file = file.to_str().unwrap();

    // Someone changes AWS between plan and apply: refused, nothing applied.
    s.ecsdeploy(&["plan", "--out", file]).await.assert_ok("plan --out");
    s.aws.iam.create_role().role_name("ecs-iris-tasks").assume_role_policy_document("{}").send().await.unwrap();
    let before = s.requests().await.len();
    let stale = s.ecsdeploy(&["apply", file, "--auto-approve"]).await;
    assert_eq!(stale.code, 1, "{}", stale.stderr);
    assert!(stale.stderr.contains("AWS changed since the plan was made (iam_role.ecs-iris-tasks"), "{}", stale.stderr);
    assert_eq!(s.mutating_since(before).await, Vec::<String>::new());

    // A fresh plan applies exactly, and the stack converges.
    s.ecsdeploy(&["plan", "--out", file]).await.assert_ok("plan --out");
    s.ecsdeploy(&["apply", file, "--auto-approve"]).await.assert_ok("apply of the saved plan");
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode"]).await.code, 0);

    // A plan of another spec is refused too.
    let other = s.ecsdeploy(&["apply", file, "--auto-approve", "-f", "examples/minimal.toml"]).await;
    assert_eq!(other.code, 1, "{}", other.stderr);
    assert!(other.stderr.contains("another spec"), "{}", other.stderr);
}

#[tokio::test]
async fn a_second_run_is_refused_while_the_stack_is_leased() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    // A lease held by a live run elsewhere (another machine, not expired).
    let expires = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600).to_string();
    s.aws
        .logs
        .create_log_group()
        .log_group_name("/ecsdeploy/lease/iris")
        .tags("ecsdeploy:stack", "iris")
        .tags("ecsdeploy:lease-owner", "ci-runner-7:4242")
        .tags("ecsdeploy:lease-expires", &expires)
        .send()
        .await
        .unwrap();
    let before = s.requests().await.len();
    let r = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("another ecsdeploy run (ci-runner-7:4242) is changing stack `iris`"), "{}", r.stderr);
    assert_eq!(s.mutating_since(before).await, ["logs:CreateLogGroup"], "only the attempt to take the lease");

    // Expired: taken over, and the run goes ahead.
    s.aws.logs.delete_log_group().log_group_name("/ecsdeploy/lease/iris").send().await.unwrap();
    s.aws
        .logs
        .create_log_group()
        .log_group_name("/ecsdeploy/lease/iris")
        .tags("ecsdeploy:stack", "iris")
        .tags("ecsdeploy:lease-owner", "ci-runner-7:4242")
        .tags("ecsdeploy:lease-expires", "1")
        .send()
        .await
        .unwrap();
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply after the lease expired");
    let groups = s.aws.logs.describe_log_groups().log_group_name_prefix("/ecsdeploy/lease").into_paginator().items().send().try_collect().await.unwrap();
    assert!(groups.is_empty(), "the lease is released");
}
