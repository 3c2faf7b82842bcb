//! Issue: own what the stack owns. Stacks side by side in one account: every example has names
//! of its own, and a resource another stack owns is never taken over.

use crate::support::{session, spec_variant};

#[tokio::test]
async fn every_example_runs_next_to_the_tutorial_stack_and_none_takes_the_others_over() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let iris = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    iris.assert_ok("apply deploy.toml");
    let alb = s.ecsdeploy(&["apply", "--auto-approve", "-f", "examples/iris-alb.toml"]).await;
    alb.assert_ok("apply the ALB example next to it");
    assert_eq!(s.http_status(&iris.live_url()).await, Some(200));
    assert_eq!(s.http_status(&alb.live_url()).await, Some(200));
    for spec in ["deploy.toml", "examples/iris-alb.toml"] {
        assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", spec]).await.code, 0, "{spec} still matches");
    }
    // The other examples plan only creations of their own.
    for spec in ["examples/fargate.toml", "examples/minimal.toml"] {
        let plan = s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", spec]).await;
        assert_eq!(plan.code, 2, "{spec}: {}", plan.stderr);
        assert!(!plan.stdout.contains("~ ") && !plan.stdout.contains("<- "), "{spec} changes nothing that exists:\n{}", plan.stdout);
    }

    // A spec naming the tutorial stack's role is refused, naming both stacks, before any change.
    let taker = spec_variant("examples/iris-alb.toml", "takeover", |t| t.replace("iris-alb-tasks", "ecs-iris-tasks"));
    let before = s.requests().await.len();
    for args in [&["plan", "-f", &taker][..], &["apply", "--auto-approve", "--allow-cost", "-f", &taker][..]] {
        let r = s.ecsdeploy(args).await;
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("`iam_role.ecs-iris-tasks` (ecs-iris-tasks) belongs to stack `iris`, not `iris-alb`"), "{}", r.stderr);
    }
    assert_eq!(s.mutating_since(before).await, Vec::<String>::new());
    let tags = s.aws.iam.list_role_tags().role_name("ecs-iris-tasks").send().await.unwrap().tags;
    assert!(tags.iter().any(|t| t.key == "ecsdeploy:stack" && t.value == "iris"), "still the tutorial stack's: {tags:?}");
}

#[tokio::test]
async fn a_deployment_an_interrupted_run_left_in_progress_is_not_no_changes() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply");
    // AWS's durations (scaled): a new revision takes seconds to pull and start.
    s.config(serde_json::json!({"timing": "realistic", "time_scale": 0.1})).await;
    let spec = spec_variant("deploy.toml", "interrupted", |t| {
        t.replace("BUCKET_NAME:-mlds-iris-data}\" }\n\n[services", "BUCKET_NAME:-other-bucket}\" }\n\n[services")
    });
    // Ctrl-C while apply waits for the deployment it started (the stack's lease is then left
    // behind, as by a killed CI job: taken over by the next run on this machine).
    let before = s.requests().await.len();
    let mut child =
        s.ecsdeploy_command(&["apply", "--auto-approve", "-f", &spec]).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    crate::support::eventually("apply has started the deployment", std::time::Duration::from_secs(30), || async {
        s.mutating_since(before).await.iter().any(|c| c == "ecs:UpdateService").then_some(())
    })
    .await;
    child.kill().await.unwrap();

    let plan = s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", &spec]).await;
    assert_eq!(plan.code, 2, "a deployment in progress is a change to follow:\n{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("rollout: \"IN_PROGRESS\" → \"COMPLETED\""), "{}", plan.stdout);
    let apply = s.ecsdeploy(&["apply", "--auto-approve", "-f", &spec]).await;
    apply.assert_ok("apply follows the deployment to its end");
    assert!(apply.stderr.contains("waiting for `iris-app` deployment"), "apply followed the deployment:\n{}", apply.stderr);
    assert_eq!(s.http_status(&apply.live_url()).await, Some(200));
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", &spec]).await.code, 0);
}

#[tokio::test]
async fn a_failed_deployment_is_not_no_changes_and_apply_starts_it_again() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let crash = s.push_image("iris-inference", "crash").await;
    s.push_image("iris-pipeline", "crash").await;
    s.stage(serde_json::json!({"image": crash, "exit_code": 1, "run_seconds": 0.2})).await;
    // The circuit breaker stops the deployment, and nothing rolls it back.
    let spec = spec_variant("deploy.toml", "failed", |t| format!("{t}\n[services.iris-app.deployment]\nrollback = false\n"));
    let env = [("IMAGE_TAG", "crash")];
    let first = s.ecsdeploy_with_env(&["apply", "--auto-approve", "--no-rollback", "-f", &spec], &env).await;
    assert_eq!(first.code, 1, "{}", first.stderr);
    crate::support::eventually("the circuit breaker marks the deployment FAILED", std::time::Duration::from_secs(30), || async {
        let svc = s.aws.ecs.describe_services().cluster("mlds-ecs-workshop").services("iris-app").send().await.ok()?.services?.remove(0);
        (svc.deployments()[0].rollout_state.as_ref().map(|r| r.as_str()) == Some("FAILED")).then_some(())
    })
    .await;
    let plan = s.ecsdeploy_with_env(&["plan", "--detailed-exitcode", "-f", &spec], &env).await;
    assert_eq!(plan.code, 2, "a failed deployment is not `No changes`:\n{}", plan.stdout);
    assert!(plan.stdout.contains("rollout: \"FAILED\" → \"COMPLETED\""), "{}", plan.stdout);
    // Fixed in the registry (the same tag, now a working image): apply starts it again.
    s.stage(serde_json::json!({"image": crash, "exit_code": null})).await;
    let again = s.ecsdeploy_with_env(&["apply", "--auto-approve", "-f", &spec], &env).await;
    again.assert_ok("apply starts the failed deployment again");
    assert_eq!(s.http_status(&again.live_url()).await, Some(200));
}

/// The ALB example without its load balancer: the service then answers on the instance's port 80,
/// which the spec opens to the VPN instead.
fn alb_example_without_load_balancer(name: &str) -> String {
    spec_variant("examples/iris-alb.toml", name, |t| {
        let t = t[..t.find("[load_balancer]").expect("the example has a load balancer")].to_string();
        let t = t
            .replace("host = 0 }", "host = 80 }")
            .replace("health_check_grace_period = 10\n", "")
            .replace("load_balancer = { container = \"inference\", port = 80 }\n", "");
        format!("{t}\n[[ingress]]\ngroup = \"ecs\"\nport = 80\ncidr = \"165.124.160.0/21\"\n")
    })
}

#[tokio::test]
async fn what_leaves_the_spec_leaves_aws_in_a_safe_order() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve", "-f", "examples/iris-alb.toml"]).await.assert_ok("apply the ALB example");
    let edited = alb_example_without_load_balancer("no-alb");

    let plan = s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", &edited]).await;
    assert_eq!(plan.code, 2, "deletions are changes:\n{}\n{}", plan.stdout, plan.stderr);
    for gone in ["load_balancer.iris-alb", "target_group.iris-alb", "ingress.alb", "security_group.alb"] {
        let line = plan.stdout.lines().find(|l| l.contains(gone)).unwrap_or_else(|| panic!("{gone} is not planned:\n{}", plan.stdout));
        assert!(line.trim_start().starts_with("- ") && line.contains("no longer in the spec"), "{line}");
    }
    assert!(plan.stdout.contains("4 to delete"), "the summary counts them:\n{}", plan.stdout);
    // Until then they bill, and status says so.
    let status = s.ecsdeploy(&["status", "-f", &edited]).await;
    assert!(status.stdout.contains("no longer in the spec (apply deletes them)") && status.stdout.contains("load_balancer.iris-alb"), "{}", status.stdout);
    assert!(!status.stdout.contains("within the free tier"), "{}", status.stdout);

    let before = s.requests().await.len();
    let apply = s.ecsdeploy(&["apply", "--auto-approve", "-f", &edited]).await;
    apply.assert_ok("apply the edited spec");
    let calls = s.mutating_since(before).await;
    let at = |call: &str| calls.iter().position(|c| c == call).unwrap_or_else(|| panic!("no {call} in {calls:?}"));
    assert!(at("ecs:UpdateService") < at("elasticloadbalancing:DeleteLoadBalancer"), "the service lets go of the target group first: {calls:?}");
    assert!(at("elasticloadbalancing:DeleteLoadBalancer") < at("elasticloadbalancing:DeleteTargetGroup"), "{calls:?}");
    assert!(at("elasticloadbalancing:DeleteLoadBalancer") < at("ec2:DeleteSecurityGroup"), "{calls:?}");
    assert!(s.aws.elbv2.describe_load_balancers().send().await.unwrap().load_balancers().is_empty(), "the load balancer stops billing");
    assert!(s.aws.elbv2.describe_target_groups().send().await.unwrap().target_groups().is_empty());
    assert_eq!(s.http_status(&apply.live_url()).await, Some(200), "the service still answers, on the instance");
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", &edited]).await.code, 0, "nothing left to do");
}

#[tokio::test]
async fn destroy_deletes_what_the_stack_owns_whatever_the_spec_says() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply the tutorial stack");
    s.ecsdeploy(&["apply", "--auto-approve", "-f", "examples/iris-alb.toml"]).await.assert_ok("apply the ALB example");

    // The spec no longer names the load balancer: destroy still finds it by its tag.
    let edited = alb_example_without_load_balancer("destroy-edited");
    s.ecsdeploy(&["destroy", "--auto-approve", "--logs", "-f", &edited]).await.assert_ok("destroy with the edited spec");
    assert_eq!(crate::teardown::stack_tagged(&s, "iris-alb").await, Vec::<String>::new());
    assert!(!crate::teardown::stack_tagged(&s, "iris").await.is_empty(), "the other stack is untouched");

    // Only the stack's name, no spec at all (a file that does not exist is never read).
    let destroy = s.ecsdeploy(&["destroy", "--auto-approve", "--logs", "--stack", "iris", "-f", "no-such-spec.toml", "--region", "us-east-1"]).await;
    destroy.assert_ok("destroy --stack iris");
    assert_eq!(crate::teardown::stack_tagged(&s, "iris").await, Vec::<String>::new(), "{}", destroy.stdout);
    let bad = s.ecsdeploy(&["destroy", "--auto-approve", "--stack", "no such stack"]).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[tokio::test]
async fn a_renamed_service_replaces_the_old_one_which_frees_the_host_port_first() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply");
    let renamed = spec_variant("deploy.toml", "renamed", |t| t.replace("[services.iris-app", "[services.iris-web"));

    let plan = s.ecsdeploy(&["plan", "-f", &renamed]).await;
    assert!(plan.stdout.contains("- service.iris-app") && plan.stdout.contains("+ service.iris-web"), "a rename is a delete and a create:\n{}", plan.stdout);
    let apply = s.ecsdeploy(&["apply", "--auto-approve", "-f", &renamed]).await;
    apply.assert_ok("apply the rename on the one instance");
    let live = apply.stdout.lines().find_map(|l| l.strip_prefix("iris-web is live: ")).unwrap_or_else(|| panic!("{}", apply.stdout)).to_string();
    assert_eq!(s.http_status(&live).await, Some(200));
    let old = s.aws.ecs.describe_services().cluster("mlds-ecs-workshop").services("iris-app").send().await.unwrap();
    assert!(old.services().iter().all(|x| x.status.as_deref() != Some("ACTIVE")), "the old service is gone");
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", &renamed]).await.code, 0);
    // And destroy, from the renamed spec, does not hang on a service the spec no longer names.
    s.ecsdeploy(&["destroy", "--auto-approve", "--logs", "-f", &renamed]).await.assert_ok("destroy");
    assert_eq!(crate::teardown::stack_tagged(&s, "iris").await, Vec::<String>::new());
}
