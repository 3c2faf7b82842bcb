//! Issue: networks as AWS enforces them. The world drops what security groups do not allow;
//! ecsdeploy verifies from where it stands and says so honestly when it cannot see.

use crate::support::{session, spec_variant};

const OUTSIDE: &str = "203.0.113.7";

#[tokio::test]
async fn a_deploy_this_machine_cannot_reach_is_healthy_by_ecs_and_never_rolled_back() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    // A student off the VPN (or a CI runner): port 80 is open to the VPN only.
    s.config(serde_json::json!({"caller_address": OUTSIDE})).await;
    let apply = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    apply.assert_ok("apply from outside the rules");
    assert!(apply.stderr.contains("iris-app is healthy by ECS (its deployment completed)"), "{}", apply.stderr);
    assert!(apply.stderr.contains(&format!("this machine ({OUTSIDE}) is not allowed to reach port 80")), "{}", apply.stderr);
    assert!(apply.stderr.contains("allows tcp 80 from 165.124.160.0/21"), "the rules in the way are named:\n{}", apply.stderr);
    assert!(!apply.stderr.contains("rolling"), "a healthy deployment is never rolled back:\n{}", apply.stderr);
    assert!(apply.stdout.contains("iris-app is deployed (not verified from here): http://"), "{}", apply.stdout);
    let doctor = s.ecsdeploy(&["doctor"]).await;
    assert_eq!(doctor.code, 1, "{}", doctor.stdout);
    assert!(doctor.stdout.contains(&format!("this machine ({OUTSIDE}) is not allowed to reach")) && doctor.stdout.contains("/32"), "{}", doctor.stdout);

    // Back on the VPN: the same stack is verified by GET /docs.
    s.config(serde_json::json!({"caller_address": "165.124.160.10"})).await;
    let redeploy = s.ecsdeploy(&["redeploy", "--force"]).await;
    redeploy.assert_ok("redeploy from the VPN");
    assert_eq!(s.http_status(&redeploy.live_url()).await, Some(200));
}

#[tokio::test]
async fn without_the_tutorials_http_rule_the_deploy_says_why_docs_cannot_answer() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let no_http = spec_variant("deploy.toml", "no-http-rule", |t| {
        t.replace("[[ingress]]\ngroup = \"ecs\"\nport = 80\ncidr = \"165.124.160.0/21\"\ndescription = \"HTTP from the NU VPN\"\n", "")
    });
    let apply = s.ecsdeploy(&["apply", "--auto-approve", "-f", &no_http]).await;
    apply.assert_ok("apply without the HTTP rule");
    assert!(apply.stderr.contains("is not allowed to reach port 80"), "{}", apply.stderr);
    assert!(!apply.stderr.contains("allows tcp 80"), "no rule opens port 80:\n{}", apply.stderr);
}

#[tokio::test]
async fn the_fargate_example_serves_docs_through_its_load_balancer_end_to_end() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let f = "examples/fargate.toml";
    let apply = s.ecsdeploy(&["apply", "--auto-approve", "--allow-cost", "-f", f]).await;
    apply.assert_ok("apply the Fargate example");
    let url = apply.live_url();
    let dns = s.aws.elbv2.describe_load_balancers().names("iris-fargate").send().await.unwrap().load_balancers.unwrap()[0].dns_name.clone().unwrap();
    assert_eq!(url, format!("http://{dns}/docs"), "through the load balancer");
    assert_eq!(s.http_status(&url).await, Some(200));
    let tg = s.aws.elbv2.describe_target_groups().names("iris-fargate").send().await.unwrap().target_groups.unwrap().remove(0);
    assert_eq!(tg.target_type.as_ref().map(|t| t.as_str()), Some("ip"), "awsvpc tasks are ip targets");
    let health = s.aws.elbv2.describe_target_health().target_group_arn(tg.target_group_arn.unwrap()).send().await.unwrap();
    let states: Vec<String> =
        health.target_health_descriptions().iter().filter_map(|d| d.target_health.as_ref()?.state.as_ref().map(|x| x.as_str().to_string())).collect();
    assert_eq!(states, ["healthy"]);
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", f]).await.code, 0);
    s.ecsdeploy(&["redeploy", "--force", "-f", f]).await.assert_ok("redeploy --force on Fargate");
    s.ecsdeploy(&["scale", "--desired", "0", "-f", f]).await.assert_ok("scale to 0 on Fargate");
    s.ecsdeploy(&["destroy", "--auto-approve", "--logs", "-f", f]).await.assert_ok("destroy the Fargate example");
    assert_eq!(crate::teardown::stack_tagged(&s, "iris-fargate").await, Vec::<String>::new());
}

#[tokio::test]
async fn targets_whose_group_keeps_the_load_balancer_out_fail_the_deploy_with_that_diagnosis() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let f = "examples/iris-alb.toml";
    s.ecsdeploy(&["apply", "--auto-approve", "-f", f]).await.assert_ok("apply the ALB example");
    // Someone removes the rule that lets the load balancer reach the tasks' ports.
    let group = s.aws.ec2.describe_security_groups().group_names("iris-alb-ecs").send().await.unwrap().security_groups.unwrap().remove(0);
    let rules = s
        .aws
        .ec2
        .describe_security_group_rules()
        .filters(aws_sdk_ec2::types::Filter::builder().name("group-id").values(group.group_id.clone().unwrap()).build());
    let from_alb: Vec<String> = rules
        .send()
        .await
        .unwrap()
        .security_group_rules
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.referenced_group_info.is_some() && r.is_egress != Some(true))
        .filter_map(|r| r.security_group_rule_id)
        .collect();
    assert_eq!(from_alb.len(), 1, "ecsdeploy made one rule from the load balancer");
    s.aws.ec2.revoke_security_group_ingress().group_id(group.group_id.unwrap()).set_security_group_rule_ids(Some(from_alb)).send().await.unwrap();

    let redeploy = s.ecsdeploy(&["redeploy", "--force", "-f", f]).await;
    assert_eq!(redeploy.code, 1, "{}", redeploy.stderr);
    assert!(redeploy.stderr.contains("failed ELB health checks"), "{}", redeploy.stderr);
    assert!(redeploy.stderr.contains("security group must let the load balancer's group in"), "the cause, not the exit code:\n{}", redeploy.stderr);
    // And apply puts the rule back.
    let plan = s.ecsdeploy(&["plan", "-f", f]).await;
    assert!(plan.stdout.contains("~ ingress.ecs"), "{}", plan.stdout);
}

#[tokio::test]
async fn a_load_balancer_in_one_availability_zone_is_refused_at_plan() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let ec2 = &s.aws.ec2;
    let default = ec2.describe_subnets().filters(aws_sdk_ec2::types::Filter::builder().name("default-for-az").values("true").build()).send().await.unwrap();
    let first = default.subnets().iter().find(|x| x.availability_zone() == Some("us-east-1a")).unwrap();
    let vpc = first.vpc_id.clone().unwrap();
    let second = ec2.create_subnet().vpc_id(vpc).cidr_block("172.31.200.0/24").availability_zone("us-east-1a").send().await.unwrap().subnet.unwrap();
    let (a, b) = (first.subnet_id.clone().unwrap(), second.subnet_id.unwrap());
    let one_zone = spec_variant("examples/iris-alb.toml", "one-zone", |t| {
        t.replace("listener_port = 80\n", &format!("listener_port = 80\nsubnets = [\"{a}\", \"{b}\"]\n"))
    });
    let before = s.requests().await.len();
    let plan = s.ecsdeploy(&["plan", "-f", &one_zone]).await;
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    assert!(plan.stderr.contains("are all in us-east-1a") && plan.stderr.contains("two Availability Zones"), "{}", plan.stderr);
    assert_eq!(s.mutating_since(before).await, Vec::<String>::new());
}
