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
