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
