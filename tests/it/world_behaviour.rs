//! The local AWS world behaves like the ECS semantics it imitates, seen only through the real AWS
//! SDK: services reach their desired count, force-new-deployment replaces tasks, `/docs` answers
//! only while a task runs, staged failures look the way ECS reports them. Also checks the error
//! classification of `ecsdeploy::aws` against real wire-protocol errors.

use std::time::Duration;

use aws_sdk_ecs::types::{ContainerDefinition, DeploymentConfiguration, NetworkMode, Task};
use ecsdeploy::aws::{AwsResultExt, ErrorKind};

use crate::support::{by_hand, eventually, session, Session};

const WAIT: Duration = Duration::from_secs(30);

async fn create_service(s: &Session, cluster: &str, name: &str, task_def: &str, desired: i32) {
    s.aws
        .ecs
        .create_service()
        .cluster(cluster)
        .service_name(name)
        .task_definition(task_def)
        .desired_count(desired)
        // A static host port on one instance: the old task must stop before the new one starts.
        .deployment_configuration(DeploymentConfiguration::builder().minimum_healthy_percent(0).maximum_percent(100).build())
        .send()
        .await
        .unwrap();
}

/// Wait until the service runs `n` tasks and its only deployment is COMPLETED.
async fn steady(s: &Session, cluster: &str, name: &str, n: i32) -> aws_sdk_ecs::types::Service {
    eventually(&format!("{name} runs {n} task(s) with a completed deployment"), WAIT, || async {
        let out = s.aws.ecs.describe_services().cluster(cluster).services(name).send().await.ok()?;
        let svc = out.services?.into_iter().next()?;
        let deployments = svc.deployments.clone().unwrap_or_default();
        let done = deployments.len() == 1 && deployments[0].rollout_state.as_ref().map(|r| r.as_str()) == Some("COMPLETED");
        (svc.running_count == n && svc.pending_count == 0 && done).then_some(svc)
    })
    .await
}

async fn running_tasks(s: &Session, cluster: &str, service: &str) -> Vec<Task> {
    let arns = s.aws.ecs.list_tasks().cluster(cluster).service_name(service).into_paginator().items().send().try_collect().await.unwrap();
    if arns.is_empty() {
        return vec![];
    }
    let out = s.aws.ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await.unwrap();
    out.tasks.unwrap_or_default().into_iter().filter(|t| t.last_status.as_deref() == Some("RUNNING")).collect()
}

async fn docs_status(s: &Session, url: &str) -> Option<u16> {
    s.http.get(url).timeout(Duration::from_secs(2)).send().await.ok().map(|r| r.status().as_u16())
}

#[tokio::test]
async fn world_starts_quickly_and_resets_to_empty() {
    let s = session().await;
    assert!(s.world.started_in < Duration::from_secs(5), "world took {:?} to start", s.world.started_in);
    by_hand("ecs:CreateCluster", || s.aws.ecs.create_cluster().cluster_name("leftover").send()).await;
    assert!(s.requests().await.contains(&("ecs".into(), "CreateCluster".into())), "the request log records calls");
    drop(s);
    let s = session().await;
    let clusters = s.aws.ecs.list_clusters().into_paginator().items().send().try_collect().await.unwrap();
    assert!(clusters.is_empty(), "reset left {clusters:?}");
}

#[tokio::test]
async fn service_reaches_desired_count_and_docs_follow_the_task() {
    let s = session().await;
    let ip = s.tutorial_capacity("mlds-ecs-workshop").await;
    assert!(ip.starts_with("127."), "public IP {ip} is not a loopback address");
    let image = s.push_image("iris-inference", "latest").await;
    let td = s.register_web("iris-inference", &image, 512).await;
    let url = format!("http://{ip}:80/docs");
    assert_eq!(docs_status(&s, &url).await, None, "/docs answers before any task runs");

    create_service(&s, "mlds-ecs-workshop", "iris-app", &td, 1).await;
    let svc = steady(&s, "mlds-ecs-workshop", "iris-app", 1).await;
    assert_eq!(svc.desired_count, 1);
    let events: Vec<String> = svc.events.unwrap_or_default().into_iter().filter_map(|e| e.message).collect();
    assert!(events.iter().any(|e| e.contains("has reached a steady state")), "events: {events:?}");
    assert_eq!(docs_status(&s, &url).await, Some(200));

    // Scale to zero: the task stops and /docs stops answering.
    s.aws.ecs.update_service().cluster("mlds-ecs-workshop").service("iris-app").desired_count(0).send().await.unwrap();
    steady(&s, "mlds-ecs-workshop", "iris-app", 0).await;
    eventually("/docs stops answering", WAIT, || async { docs_status(&s, &url).await.is_none().then_some(()) }).await;

    // And back up.
    s.aws.ecs.update_service().cluster("mlds-ecs-workshop").service("iris-app").desired_count(1).send().await.unwrap();
    steady(&s, "mlds-ecs-workshop", "iris-app", 1).await;
    eventually("/docs answers again", WAIT, || async { (docs_status(&s, &url).await == Some(200)).then_some(()) }).await;
}

#[tokio::test]
async fn force_new_deployment_replaces_the_task_with_the_same_revision() {
    let s = session().await;
    let ip = s.tutorial_capacity("demo").await;
    let image = s.push_image("iris-inference", "latest").await;
    let td = s.register_web("iris-inference", &image, 512).await;
    create_service(&s, "demo", "iris-app", &td, 1).await;
    steady(&s, "demo", "iris-app", 1).await;
    let before = running_tasks(&s, "demo", "iris-app").await;
    assert_eq!(before.len(), 1);

    let out = s.aws.ecs.update_service().cluster("demo").service("iris-app").force_new_deployment(true).send().await.unwrap();
    let deployment = out.service.unwrap().deployments.unwrap()[0].id.clone().unwrap();
    let svc = steady(&s, "demo", "iris-app", 1).await;
    assert_eq!(svc.deployments.unwrap()[0].id.as_deref(), Some(deployment.as_str()), "the new deployment completed");
    let after = running_tasks(&s, "demo", "iris-app").await;
    assert_eq!(after.len(), 1);
    assert_ne!(after[0].task_arn, before[0].task_arn, "the task was replaced");
    assert_eq!(after[0].task_definition_arn.as_deref(), Some(td.as_str()), "same revision");
    assert_eq!(docs_status(&s, &format!("http://{ip}:80/docs")).await, Some(200));
}

#[tokio::test]
async fn staged_failures_look_like_ecs_reports_them() {
    let s = session().await;
    s.tutorial_capacity("demo").await;

    // Image not in ECR → CannotPullContainerError.
    let missing = format!("{}:nope", s.push_image("iris-inference", "latest").await.rsplit_once(':').unwrap().0);
    let td = s.register_web("missing-image", &missing, 512).await;
    create_service(&s, "demo", "pull", &td, 1).await;
    let reason = stopped_reason(&s, "demo", "pull").await;
    assert!(reason.starts_with("CannotPullContainerError"), "{reason}");
    s.aws.ecs.delete_service().cluster("demo").service("pull").force(true).send().await.unwrap();

    // The app exits 1 → essential container exited, exit code 1.
    let crashing = s.push_image("crashing", "v1").await;
    s.stage(serde_json::json!({"image": crashing, "exit_code": 1, "run_seconds": 0.2, "logs": ["Traceback: boom"]})).await;
    let td = s.register_web("crashing", &crashing, 512).await;
    create_service(&s, "demo", "crash", &td, 1).await;
    let reason = stopped_reason(&s, "demo", "crash").await;
    assert!(reason.contains("Essential container in task exited"), "{reason}");
    s.aws.ecs.delete_service().cluster("demo").service("crash").force(true).send().await.unwrap();

    // 2 GiB on a t2.micro → ECS cannot place the task and says why in an event.
    let image = s.push_image("big", "v1").await;
    let td = s.register_web("big", &image, 2048).await;
    create_service(&s, "demo", "big", &td, 1).await;
    let event = eventually("a placement failure event", WAIT, || async {
        let svc = s.aws.ecs.describe_services().cluster("demo").services("big").send().await.ok()?.services?.pop()?;
        svc.events?.into_iter().filter_map(|e| e.message).find(|m| m.contains("unable to place a task"))
    })
    .await;
    assert!(event.contains("insufficient memory"), "{event}");
}

/// The stoppedReason of the first stopped task of a service.
async fn stopped_reason(s: &Session, cluster: &str, service: &str) -> String {
    eventually(&format!("a task of {service} stops"), WAIT, || async {
        let arns = s
            .aws
            .ecs
            .list_tasks()
            .cluster(cluster)
            .service_name(service)
            .desired_status(aws_sdk_ecs::types::DesiredStatus::Stopped)
            .send()
            .await
            .ok()?
            .task_arns?;
        let tasks = s.aws.ecs.describe_tasks().cluster(cluster).set_tasks(Some(arns)).send().await.ok()?.tasks?;
        tasks.into_iter().find(|t| t.last_status.as_deref() == Some("STOPPED"))?.stopped_reason
    })
    .await
}

#[tokio::test]
async fn one_off_task_logs_reach_cloudwatch() {
    let s = session().await;
    s.tutorial_capacity("demo").await;
    let image = s.push_image("iris-pipeline", "latest").await;
    s.stage(serde_json::json!({"image": image, "exit_code": 0, "run_seconds": 0.3, "logs": ["loading iris", "training", "uploaded model"]})).await;
    s.aws.logs.create_log_group().log_group_name("/ecs/iris-pipeline").send().await.unwrap();
    let logging = aws_sdk_ecs::types::LogConfiguration::builder()
        .log_driver(aws_sdk_ecs::types::LogDriver::Awslogs)
        .options("awslogs-group", "/ecs/iris-pipeline")
        .options("awslogs-region", "us-east-1")
        .options("awslogs-stream-prefix", "ecs")
        .build()
        .unwrap();
    let container = ContainerDefinition::builder().name("pipeline").image(&image).essential(true).log_configuration(logging).build();
    let td = s
        .aws
        .ecs
        .register_task_definition()
        .family("iris-pipeline")
        .network_mode(NetworkMode::Bridge)
        .cpu("256")
        .memory("512")
        .container_definitions(container)
        .send()
        .await
        .unwrap()
        .task_definition
        .unwrap()
        .task_definition_arn
        .unwrap();
    let run = s.aws.ecs.run_task().cluster("demo").task_definition(&td).send().await.unwrap();
    let task = run.tasks.unwrap()[0].task_arn.clone().unwrap();
    let id = task.rsplit('/').next().unwrap().to_string();
    let stopped = eventually("the job stops", WAIT, || async {
        let t = s.aws.ecs.describe_tasks().cluster("demo").tasks(&task).send().await.ok()?.tasks?.pop()?;
        (t.last_status.as_deref() == Some("STOPPED")).then_some(t)
    })
    .await;
    assert_eq!(stopped.containers.unwrap()[0].exit_code, Some(0));
    // Page after page (the world pages as AWS does), until the token comes back unchanged.
    let (mut lines, mut token) = (Vec::new(), None);
    loop {
        let read = s.aws.logs.get_log_events().log_group_name("/ecs/iris-pipeline").log_stream_name(format!("ecs/pipeline/{id}")).start_from_head(true);
        let page = read.set_next_token(token.clone()).send().await.unwrap();
        lines.extend(page.events.unwrap_or_default().into_iter().filter_map(|e| e.message));
        if page.next_forward_token == token {
            break;
        }
        token = page.next_forward_token;
    }
    assert_eq!(lines, ["loading iris", "training", "uploaded model"]);
}

#[tokio::test]
async fn aws_errors_are_classified_from_the_wire() {
    let s = session().await;
    let missing = s.aws.iam.get_role().role_name("no-such-role").send().await.aws("iam:GetRole").unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound, "{missing:?}");

    s.aws.iam.create_role().role_name("dup").assume_role_policy_document("{}").send().await.unwrap();
    let dup = s.aws.iam.create_role().role_name("dup").assume_role_policy_document("{}").send().await.aws("iam:CreateRole").unwrap_err();
    assert_eq!(dup.kind, ErrorKind::AlreadyExists, "{dup:?}");

    s.aws.ec2.create_security_group().group_name("dup-group").description("d").send().await.unwrap();
    let dup = s.aws.ec2.create_security_group().group_name("dup-group").description("d").send().await.aws("ec2:CreateSecurityGroup").unwrap_err();
    assert_eq!(dup.kind, ErrorKind::AlreadyExists, "{dup:?}");

    let svc = s.aws.ecs.describe_services().cluster("nope").services("x").send().await.aws("ecs:DescribeServices").unwrap_err();
    assert_eq!(svc.kind, ErrorKind::NotFound, "{svc:?}");

    let asg = s.aws.autoscaling.update_auto_scaling_group().auto_scaling_group_name("nope").max_size(1).send().await.aws("autoscaling:UpdateAutoScalingGroup");
    if let Err(e) = asg {
        assert!(matches!(e.kind, ErrorKind::NotFound | ErrorKind::Fatal), "{e:?}");
    }

    // Nothing listens here: a connection failure is retryable and says what to check.
    let dead = crate::support::aws_for("http://127.0.0.1:9").await;
    let e = dead.ecs.list_clusters().send().await.aws("ecs:ListClusters").unwrap_err();
    assert_eq!(e.kind, ErrorKind::Retryable, "{e:?}");
}
