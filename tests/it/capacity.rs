//! Issue: capacity as a real account gives it. The account's own free-tier type (free plan or
//! legacy), capacity in AWS's order (group empty → provider → attached → instances), managed
//! scaling, failed launches that fail fast, and AWS's real durations (the realistic profile).

use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{AutoScalingGroupProvider, CapacityProviderStrategyItem, ManagedScaling, ManagedScalingStatus};
use serde_json::json;

use crate::support::{eventually, session, spec_variant, Session};

/// The launch template's instance type, as EC2 has it.
async fn launched_type(s: &Session, template: &str) -> String {
    let versions = s.aws.ec2.describe_launch_template_versions().launch_template_name(template).versions("$Default").send().await.unwrap();
    versions.launch_template_versions.unwrap()[0].launch_template_data.clone().unwrap().instance_type.unwrap().as_str().to_string()
}

/// The first timeline event called `event` (its time and detail).
fn first<'a>(timeline: &'a [serde_json::Value], event: &str) -> Option<&'a serde_json::Value> {
    timeline.iter().find(|e| e["event"] == event)
}

fn at(timeline: &[serde_json::Value], event: &str) -> f64 {
    first(timeline, event).unwrap_or_else(|| panic!("no `{event}` in the world's timeline: {timeline:?}"))["t"].as_f64().unwrap()
}

#[tokio::test]
async fn a_free_plan_account_gets_its_free_tier_type_and_the_tutorial_stack_serves_docs() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let plan = s.ecsdeploy(&["plan"]).await;
    plan.assert_ok("plan");
    assert!(plan.stdout.contains("instance_type: \"t3.micro\""), "the plan shows the account's free-tier type:\n{}", plan.stdout);

    let apply = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    apply.assert_ok("apply");
    assert_eq!(s.http_status(&apply.live_url()).await, Some(200));
    assert_eq!(launched_type(&s, "iris-ecs").await, "t3.micro");

    // AWS's order, on the world's own clock: the provider was attached before the instance
    // launched, so the instance registered with it.
    let timeline = s.timeline().await;
    let registered = first(&timeline, "instance-registered").expect("an instance registered");
    assert_eq!(registered["detail"]["capacityProviderName"], "iris-ec2", "{registered}");
    let attached = s.requests().await.iter().position(|(_, a)| a == "PutClusterCapacityProviders").expect("the provider is attached");
    let scaled_out = s.requests().await.iter().position(|(_, a)| a == "UpdateAutoScalingGroup").expect("the group is scaled out");
    assert!(attached < scaled_out, "the group gets instances only once its provider is attached");

    let status = s.ecsdeploy(&["status"]).await;
    status.assert_ok("status");
    for expected in ["(t3.micro, provider iris-ec2)", "within the free tier", "t3.micro"] {
        assert!(status.stdout.contains(expected), "`{expected}` in:\n{}", status.stdout);
    }
}

#[tokio::test]
async fn a_legacy_account_keeps_the_tutorials_t2_micro() {
    let s = session().await;
    s.config(json!({"account_plan": "legacy"})).await;
    s.tutorial_prerequisites().await;
    let apply = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    apply.assert_ok("apply");
    assert_eq!(launched_type(&s, "iris-ecs").await, "t2.micro");
    assert_eq!(s.http_status(&apply.live_url()).await, Some(200));
}

#[tokio::test]
async fn a_type_the_account_would_refuse_or_bill_is_refused_before_any_change() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let t2 = spec_variant("deploy.toml", "t2-on-free-plan", |t| t.replace("[cluster.ec2]\n", "[cluster.ec2]\ninstance_type = \"t2.micro\"\n"));
    let before = s.requests().await.len();
    for args in [&["plan", "-f", &t2][..], &["apply", "--auto-approve", "--allow-cost", "-f", &t2][..]] {
        let r = s.ecsdeploy(args).await;
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("t2.micro is not free-tier eligible in this account, which is on the AWS free plan"), "{}", r.stderr);
        assert!(r.stderr.contains("remove cluster.ec2.instance_type") && r.stderr.contains("t3.micro"), "the fix names the eligible types: {}", r.stderr);
    }
    assert_eq!(s.mutating_since(before).await, Vec::<String>::new());

    // On a legacy account t3.small is allowed but billed: the plan says so, apply wants --allow-cost.
    s.config(json!({"account_plan": "legacy"})).await;
    let small = spec_variant("deploy.toml", "t3-small-on-legacy", |t| t.replace("[cluster.ec2]\n", "[cluster.ec2]\ninstance_type = \"t3.small\"\n"));
    let plan = s.ecsdeploy(&["plan", "-f", &small]).await;
    plan.assert_ok("plan");
    assert!(plan.stdout.contains("t3.small is not free-tier eligible in this account (free here: t2.micro)"), "{}", plan.stdout);
    let before = s.requests().await.len();
    let r = s.ecsdeploy(&["apply", "--auto-approve", "-f", &small]).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--allow-cost"), "{}", r.stderr);
    assert_eq!(s.mutating_since(before).await, Vec::<String>::new());
}

#[tokio::test]
async fn an_ami_of_another_architecture_is_refused_at_plan() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let arm = s.ecs_ami("/arm64").await;
    let spec = spec_variant("deploy.toml", "arm-ami", |t| t.replace("[cluster.ec2]\n", &format!("[cluster.ec2]\nami = \"{arm}\"\n")));
    let r = s.ecsdeploy(&["plan", "-f", &spec]).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{arm} is an arm64 image, but the instances (the account's free-tier type) are x86_64")), "{}", r.stderr);
    assert!(r.stderr.contains("ami = \"amazon-linux-2023\""), "the fix: {}", r.stderr);
}

#[tokio::test]
async fn a_failed_launch_fails_fast_with_awss_own_message() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    // Without freetier:GetAccountPlanState the plan cannot tell the account refuses t2.micro:
    // only the launch does, and the group hides it in its scaling activities.
    let proxy = s.proxy().await;
    proxy.faults(json!({"deny": {"action": "GetAccountPlanState", "code": "AccessDeniedException", "status": 400}})).await;
    let t2 = spec_variant("deploy.toml", "t2-launch-fails", |t| t.replace("[cluster.ec2]\n", "[cluster.ec2]\ninstance_type = \"t2.micro\"\n"));
    let started = Instant::now();
    let r = s.ecsdeploy_at(&proxy.url, &["apply", "--auto-approve", "--allow-cost", "-f", &t2], &[]).await;
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("could not launch an instance: The specified instance type is not eligible for Free Tier"), "{}", r.stderr);
    assert!(r.stderr.contains("remove cluster.ec2.instance_type"), "{}", r.stderr);
    // Seconds, not the ten minutes an instance may take to register.
    assert!(started.elapsed() < Duration::from_secs(120), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn an_instance_registered_before_its_provider_existed_is_never_used_by_the_providers_tasks() {
    let s = session().await;
    let cluster = "old-order";
    // The old order, straight through the SDK: the group launches first, the provider comes after.
    s.tutorial_capacity(cluster).await;
    let aws = &s.aws;
    let group = aws
        .autoscaling
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(format!("{cluster}-asg"))
        .send()
        .await
        .unwrap()
        .auto_scaling_groups
        .unwrap()
        .remove(0);
    aws.ecs
        .create_capacity_provider()
        .name("late")
        .auto_scaling_group_provider(
            AutoScalingGroupProvider::builder()
                .auto_scaling_group_arn(group.auto_scaling_group_arn.unwrap())
                .managed_scaling(ManagedScaling::builder().status(ManagedScalingStatus::Disabled).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let strategy = CapacityProviderStrategyItem::builder().capacity_provider("late").weight(1).build().unwrap();
    aws.ecs
        .put_cluster_capacity_providers()
        .cluster(cluster)
        .capacity_providers("late")
        .default_capacity_provider_strategy(strategy.clone())
        .send()
        .await
        .unwrap();
    let td = s.register_web("web", "public.ecr.aws/nginx/nginx:latest", 256).await;
    aws.ecs
        .create_service()
        .cluster(cluster)
        .service_name("web")
        .task_definition(td)
        .desired_count(1)
        .capacity_provider_strategy(strategy)
        .send()
        .await
        .unwrap();

    let event = eventually("ECS says it cannot place the task", Duration::from_secs(30), || async {
        let svc = aws.ecs.describe_services().cluster(cluster).services("web").send().await.ok()?.services?.remove(0);
        svc.events.unwrap_or_default().into_iter().filter_map(|e| e.message).find(|m| m.contains("unable to place a task"))
    })
    .await;
    assert!(event.contains("No Container Instances were found in your capacity provider"), "{event}");
    let ci = s.container_instance(cluster).await;
    assert_eq!(ci.capacity_provider_name, None, "registered before the provider existed: never associated");
    let running = aws.ecs.list_tasks().cluster(cluster).service_name("web").into_paginator().items().send().try_collect().await.unwrap();
    assert!(running.is_empty(), "no task was placed on the unassociated instance");
}

#[tokio::test]
async fn managed_scaling_brings_the_first_instance() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    // No instance asked for: the service's task waits in PROVISIONING until ECS scales out.
    let spec = spec_variant("deploy.toml", "managed-first-instance", |t| t.replace("max = 1\ndesired = 1\n", "max = 1\ndesired = 0\n"));
    let apply = s.ecsdeploy(&["apply", "--auto-approve", "-f", &spec]).await;
    apply.assert_ok("apply");
    assert_eq!(s.http_status(&apply.live_url()).await, Some(200));
    let timeline = s.timeline().await;
    assert!(at(&timeline, "task-created") < at(&timeline, "scale"), "the task waited for capacity: {timeline:?}");
    assert!(at(&timeline, "scale") <= at(&timeline, "instance-launch"), "ECS scaled the group out: {timeline:?}");
    let group =
        s.aws.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names("iris-ecs").send().await.unwrap().auto_scaling_groups.unwrap().remove(0);
    assert!(group.tags().iter().any(|t| t.key.as_deref() == Some("AmazonECSManaged")), "ECS tags the group it manages");
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", &spec]).await.code, 0, "managed scaling's desired count is ECS's, not drift");
}

#[tokio::test]
async fn capacity_to_zero_stops_the_instance_for_good_and_back_to_one_serves_docs() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply");

    s.ecsdeploy(&["scale", "--desired", "0", "--capacity"]).await.assert_ok("scale to 0 with capacity");
    let instances = |s: &Session| {
        let asg = s.aws.autoscaling.clone();
        async move { asg.describe_auto_scaling_groups().auto_scaling_group_names("iris-ecs").send().await.unwrap().auto_scaling_groups.unwrap().remove(0) }
    };
    assert!(instances(&s).await.instances().is_empty(), "the instance stopped");
    // Managed scaling looks again every metric period: with no task it needs no instance.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let group = instances(&s).await;
    assert_eq!((group.desired_capacity, group.instances().len()), (Some(0), 0), "and stays stopped");

    let up = s.ecsdeploy(&["scale", "--desired", "1", "--capacity"]).await;
    up.assert_ok("scale back to 1 with capacity");
    assert_eq!(s.http_status(&up.live_url()).await, Some(200));
}

/// The spec's deployment limits scaled as the world scales AWS's durations: the defaults
/// (5 minutes without progress, 20 minutes in all) must hold on AWS's real timings.
fn scaled_limits(text: String, scale: f64) -> String {
    let progress = (300.0 * scale).ceil() as u64;
    let deadline = (1200.0 * scale).ceil() as u64;
    format!("{text}\n[services.iris-app.deployment]\nprogress_timeout = \"{progress}s\"\ndeadline = \"{deadline}s\"\n")
}

const SCALE: f64 = 0.05;

#[tokio::test]
async fn the_tutorial_stack_applies_on_realistic_timings_without_a_false_stall() {
    let s = session().await;
    s.config(json!({"timing": "realistic", "time_scale": SCALE})).await;
    s.tutorial_prerequisites().await;
    let spec = spec_variant("deploy.toml", "realistic-tutorial", |t| scaled_limits(t, SCALE));
    let apply = s.ecsdeploy(&["apply", "--auto-approve", "-f", &spec]).await;
    apply.assert_ok("apply on realistic timings");
    assert_eq!(s.http_status(&apply.live_url()).await, Some(200));
    // The world kept AWS's order and proportions: a launch and a registration take a minute.
    let timeline = s.timeline().await;
    assert!(at(&timeline, "instance-registered") - at(&timeline, "instance-launch") >= 50.0 * SCALE, "{timeline:?}");
    assert!(at(&timeline, "task-running") - at(&timeline, "task-pulling") >= 20.0 * SCALE, "{timeline:?}");
    // A forced redeploy (the old task stops before the new one binds host port 80) also completes.
    let redeploy = s.ecsdeploy(&["redeploy", "--force", "-f", &spec]).await;
    redeploy.assert_ok("redeploy on realistic timings");
    assert_eq!(s.http_status(&redeploy.live_url()).await, Some(200));
}

#[tokio::test]
async fn the_alb_example_applies_on_realistic_timings_without_a_false_stall() {
    let s = session().await;
    s.config(json!({"timing": "realistic", "time_scale": SCALE})).await;
    s.tutorial_prerequisites().await;
    let spec = spec_variant("examples/iris-alb.toml", "realistic-alb", |t| scaled_limits(t, SCALE));
    let apply = s.ecsdeploy(&["apply", "--auto-approve", "-f", &spec]).await;
    apply.assert_ok("apply of the ALB example on realistic timings");
    let url = apply.stdout.lines().find_map(|l| l.strip_prefix("iris-app is live: ")).expect("a URL").to_string();
    assert_eq!(s.http_status(&url).await, Some(200));
    let timeline = s.timeline().await;
    assert!(at(&timeline, "target-healthy") > at(&timeline, "task-running"), "{timeline:?}");
}
