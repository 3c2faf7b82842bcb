//! Issue: day-2 commands — scale, redeploy --force — each a single planned change.

use std::time::Duration;

use aws_sdk_ec2::types::Filter;

use crate::support::{eventually, session, spec_variant, Session};

async fn running_instances(s: &Session) -> usize {
    let out = s.aws.ec2.describe_instances().filters(Filter::builder().name("instance-state-name").values("running").build()).send().await.unwrap();
    out.reservations.unwrap_or_default().iter().map(|r| r.instances().len()).sum()
}

async fn deployed(s: &Session) -> String {
    s.tutorial_prerequisites().await;
    let run = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    run.assert_ok("apply");
    run.live_url()
}

#[tokio::test]
async fn scale_changes_only_the_desired_count_and_capacity_stops_the_instance() {
    let s = session().await;
    let url = deployed(&s).await;

    let before = s.requests().await.len();
    s.ecsdeploy(&["scale", "--desired", "0"]).await.assert_ok("scale to 0");
    assert_eq!(s.changes_since(before).await, ["ecs:UpdateService"]);
    eventually("/docs stops answering", Duration::from_secs(20), || async { s.http_status(&url).await.is_none().then_some(()) }).await;

    let before = s.requests().await.len();
    let up = s.ecsdeploy(&["scale", "iris-app", "--desired", "1"]).await;
    up.assert_ok("scale to 1");
    assert_eq!(s.changes_since(before).await, ["ecs:UpdateService"]);
    assert_eq!(s.http_status(&up.live_url()).await, Some(200));

    // Nothing left running, then everything back.
    let before = s.requests().await.len();
    s.ecsdeploy(&["scale", "--desired", "0", "--capacity"]).await.assert_ok("scale to 0 with capacity");
    assert_eq!(s.changes_since(before).await, ["ecs:UpdateService", "autoscaling:UpdateAutoScalingGroup"]);
    eventually("no running instance", Duration::from_secs(20), || async { (running_instances(&s).await == 0).then_some(()) }).await;
    let up = s.ecsdeploy(&["scale", "--desired", "1", "--capacity"]).await;
    up.assert_ok("scale back up");
    assert_eq!(running_instances(&s).await, 1);
    assert_eq!(s.http_status(&up.live_url()).await, Some(200));
    // A scale is no drift: the spec still says one task and the plan agrees.
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode"]).await.code, 0);

    // Scaled to nothing, the plan shows what differs from the spec and the line that would keep
    // it; a plain apply brings back the instance and then the task.
    s.ecsdeploy(&["scale", "--desired", "0", "--capacity"]).await.assert_ok("scale to 0 with capacity again");
    let plan = s.ecsdeploy(&["plan", "--detailed-exitcode"]).await;
    assert_eq!(plan.code, 2, "{}\n{}", plan.stdout, plan.stderr);
    assert!(plan.stdout.contains("desired_count: 0 → 1"), "{}", plan.stdout);
    assert!(plan.stdout.contains("to keep 0, write `desired_count = 0` at deploy.toml:66:"), "{}", plan.stdout);
    // The group's desired count is managed scaling's (cluster.ec2.managed_scaling): not fought.
    assert!(!plan.stdout.contains("instances.ecs"), "{}", plan.stdout);
    let apply = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    apply.assert_ok("apply after scaling to nothing");
    assert_eq!(s.http_status(&apply.live_url()).await, Some(200));
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode"]).await.code, 0);
}

#[tokio::test]
async fn redeploy_force_replaces_the_task_with_the_same_revision() {
    let s = session().await;
    deployed(&s).await;
    let tasks = |s: &Session| {
        let ecs = s.aws.ecs.clone();
        async move {
            let arns = ecs.list_tasks().cluster("mlds-ecs-workshop").service_name("iris-app").into_paginator().items().send().try_collect().await.unwrap();
            let described = ecs.describe_tasks().cluster("mlds-ecs-workshop").set_tasks(Some(arns)).send().await.unwrap();
            described
                .tasks
                .unwrap_or_default()
                .into_iter()
                .filter(|t| t.last_status.as_deref() == Some("RUNNING"))
                .map(|t| (t.task_arn.unwrap(), t.task_definition_arn.unwrap()))
                .collect::<Vec<_>>()
        }
    };
    let before_tasks = tasks(&s).await;

    let before = s.requests().await.len();
    // Nothing done, and --force lifts it: exit 2, the README's rule for a refusal a flag lifts.
    let dry = s.ecsdeploy(&["redeploy"]).await;
    assert_eq!(dry.code, 2, "redeploy without --force:\n{}\n{}", dry.stdout, dry.stderr);
    assert!(dry.stdout.contains("Nothing changed; pass --force to do it") && dry.stdout.contains("iris-inference:1"), "{}", dry.stdout);
    assert_eq!(s.mutating_since(before).await, Vec::<String>::new());

    let run = s.ecsdeploy(&["redeploy", "--force"]).await;
    run.assert_ok("redeploy --force");
    assert_eq!(s.changes_since(before).await, ["ecs:UpdateService"]);
    let after_tasks = tasks(&s).await;
    assert_eq!(after_tasks.len(), 1);
    assert_ne!(after_tasks[0].0, before_tasks[0].0, "a new task");
    assert_eq!(after_tasks[0].1, before_tasks[0].1, "of the same revision");
    assert_eq!(s.http_status(&run.live_url()).await, Some(200));
}

#[tokio::test]
async fn run_streams_the_pipeline_logs_and_passes_the_exit_code_through() {
    let s = session().await;
    deployed(&s).await;
    let image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-pipeline:latest";
    let lines = ["loading iris.csv from s3://mlds-iris-data", "training: accuracy 0.97", "model uploaded to s3://mlds-iris-data/model.pkl"];
    s.stage(serde_json::json!({"image": image, "exit_code": 0, "run_seconds": 0.6, "logs": lines})).await;
    // The shipped spec's job runs next to its service on the one micro instance.
    let run = s.ecsdeploy(&["run", "iris-pipeline", "--wait"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.stdout.lines().collect::<Vec<_>>(), lines, "the job's lines, in order, on stdout");

    // With the tutorial's 0.5 GB, 512 MiB of service and 512 MiB of job do not fit (982 MiB) and
    // the group runs its maximum: validate says so before anything runs; the run, which under
    // managed scaling would wait in PROVISIONING for an instance that cannot come, says it plainly
    // and takes the task back.
    let tutorial = spec_variant("deploy.toml", "tutorial-memory", |t| t.replace("memory = 448", "memory = 512"));
    let validate = s.ecsdeploy(&["validate", "-f", &tutorial]).await;
    assert!(validate.stderr.contains("job `iris-pipeline` cannot run next to the services (1024 MiB with them)"), "{}", validate.stderr);
    s.ecsdeploy(&["apply", "--auto-approve", "-f", &tutorial]).await.assert_ok("register the tutorial's job size");
    let full = s.ecsdeploy(&["run", "iris-pipeline", "--wait", "-f", &tutorial]).await;
    assert_eq!(full.code, 1, "{}", full.stderr);
    assert!(full.stderr.contains("insufficient memory: the task needs 512 MiB") && full.stderr.contains("scale --desired 0"), "{}", full.stderr);

    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("back to the shipped spec");

    s.stage(serde_json::json!({"image": image, "exit_code": 3, "run_seconds": 0.3, "logs": ["loading iris.csv", "error: access denied"]})).await;
    let run = s.ecsdeploy(&["run", "iris-pipeline", "--wait", "--env", "BUCKET_NAME=other"]).await;
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.ends_with("error: access denied\n"), "{}", run.stdout);

    let detached = s.ecsdeploy(&["run", "iris-pipeline"]).await;
    detached.assert_ok("run without --wait");
    assert!(detached.stderr.contains("started arn:aws:ecs:"), "{}", detached.stderr);

    // An unknown name is bad input, refused before any AWS call, with the names there are.
    let before = s.requests().await.len();
    let unknown = s.ecsdeploy(&["run", "nope", "--wait"]).await;
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(unknown.stderr.contains("the spec has no job or task `nope`"), "{}", unknown.stderr);
    assert!(unknown.stderr.contains("name a job (iris-pipeline) or a task family (iris-pipeline, iris-inference)"), "{}", unknown.stderr);
    assert_eq!(s.requests().await.len(), before, "no AWS call");
}

#[tokio::test]
async fn apply_image_registers_one_revision_and_a_missing_image_fails_before_any_change() {
    let s = session().await;
    deployed(&s).await;
    let uri = s.push_image("iris-inference", "v2").await;

    let before = s.requests().await.len();
    let run = s.ecsdeploy(&["apply", "--auto-approve", "--image", &format!("inference={uri}")]).await;
    run.assert_ok("apply --image");
    assert_eq!(s.changes_since(before).await, ["ecs:RegisterTaskDefinition", "ecs:UpdateService"]);
    let out =
        s.aws.ecs.describe_task_definition().task_definition("iris-inference").include(aws_sdk_ecs::types::TaskDefinitionField::Tags).send().await.unwrap();
    let td = out.task_definition.unwrap();
    assert_eq!(td.revision, 2);
    assert_eq!(td.container_definitions.unwrap()[0].image.as_deref(), Some(uri.as_str()));
    let tags = out.tags.unwrap_or_default();
    assert!(tags.iter().any(|t| t.key() == Some("ecsdeploy:image-digests") && t.value().unwrap_or_default().starts_with("inference=sha256:")), "{tags:?}");
    assert_eq!(s.http_status(&run.live_url()).await, Some(200));

    let missing = uri.replace(":v2", ":v9");
    let before = s.requests().await.len();
    let run = s.ecsdeploy(&["apply", "--auto-approve", "--image", &format!("inference={missing}")]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("is not in ECR") && run.stderr.contains("docker push"), "{}", run.stderr);
    assert_eq!(s.mutating_since(before).await, Vec::<String>::new());

    let bad = s.ecsdeploy(&["apply", "--auto-approve", "--image", "nosuch=repo:1"]).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[tokio::test]
async fn status_and_logs_report_the_running_stack() {
    let s = session().await;
    let url = deployed(&s).await;
    let status = s.ecsdeploy(&["status"]).await;
    status.assert_ok("status");
    for expected in [
        "service iris-app: 1 running / 1 desired / 0 pending",
        "iris-inference:1",
        "PRIMARY COMPLETED",
        &format!("url: {url}"),
        "(t3.micro, provider iris-ec2)",
        "within the free tier",
        // Each task with its status and since when; each event with its time (UTC).
        ": RUNNING since 20",
        "  event 20",
    ] {
        assert!(status.stdout.contains(expected), "`{expected}` missing:\n{}", status.stdout);
    }
    // The spec's own rules are the spec's, though status makes no plan to read their ids.
    assert!(!status.stdout.contains("no longer in the spec"), "{}", status.stdout);
    let logs = s.ecsdeploy(&["logs", "iris-app", "--since", "1h"]).await;
    logs.assert_ok("logs");
    assert!(logs.stdout.contains("Uvicorn running on http://0.0.0.0:80"), "{}", logs.stdout);
    assert_eq!(s.ecsdeploy(&["logs", "nope"]).await.code, 2);
    assert_eq!(s.ecsdeploy(&["logs", "--since", "soon"]).await.code, 2);
    let completions = s.ecsdeploy(&["completions", "bash"]).await;
    assert!(completions.stdout.contains("_ecsdeploy()"), "{}", completions.stdout);
}

#[tokio::test]
async fn no_wait_is_one_update_service_call_and_refused_for_a_missing_service() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let missing = s.ecsdeploy(&["scale", "--desired", "0", "--no-wait"]).await;
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stderr.contains("ecs:UpdateService") && missing.stderr.to_lowercase().contains("not found"), "{}", missing.stderr);

    let applied = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    applied.assert_ok("apply");
    let url = applied.live_url();
    let s = &s;
    let calls = |from: usize| async move { s.requests().await[from..].iter().map(|(svc, a)| format!("{svc}:{a}")).collect::<Vec<_>>() };
    let before = s.requests().await.len();
    s.ecsdeploy(&["scale", "--desired", "0", "--no-wait"]).await.assert_ok("scale --no-wait");
    assert_eq!(calls(before).await, ["ecs:UpdateService"], "one call, no read, no lease");
    eventually("/docs stops answering", Duration::from_secs(20), || async { s.http_status(&url).await.is_none().then_some(()) }).await;

    s.ecsdeploy(&["scale", "--desired", "1"]).await.assert_ok("scale back");
    let deployments = || async {
        s.aws.ecs.describe_services().cluster("mlds-ecs-workshop").services("iris-app").send().await.unwrap().services.unwrap()[0].deployments().len()
    };
    let before = s.requests().await.len();
    let run = s.ecsdeploy(&["redeploy", "--force", "--no-wait"]).await;
    run.assert_ok("redeploy --no-wait");
    assert_eq!(calls(before).await, ["ecs:UpdateService"]);
    assert_eq!(deployments().await, 2, "a new deployment started, not waited for");
}
