//! Issue: the second half of the stack — task definitions, the service, the load balancer,
//! following the deployment and proving `/docs` answers; failures diagnosed and rolled back.

use std::path::PathBuf;

use crate::support::{session, spec_variant, Run, Session};

const CLUSTER: &str = "mlds-ecs-workshop";

/// deploy.toml with text replacements and quick timeouts, written where the test can pass it.
fn variant(name: &str, edits: &[(&str, &str)]) -> PathBuf {
    PathBuf::from(spec_variant("deploy.toml", name, |mut text| {
        for (from, to) in edits {
            assert!(text.contains(from), "deploy.toml has no `{from}`");
            text = text.replacen(from, to, 1);
        }
        text.push_str("\n[services.iris-app.deployment]\nprogress_timeout = \"30s\"\n");
        text.replace("[services.iris-app.verify]\n", "[services.iris-app.verify]\ntimeout = \"5s\"\n")
    }))
}

async fn ready(s: &Session) {
    s.tutorial_prerequisites().await;
}

async fn running_revision(s: &Session) -> String {
    running_revision_of(s, CLUSTER).await
}

async fn running_revision_of(s: &Session, cluster: &str) -> String {
    let svc = s.aws.ecs.describe_services().cluster(cluster).services("iris-app").send().await.unwrap().services.unwrap().remove(0);
    svc.task_definition.unwrap()
}

async fn revisions(s: &Session, family: &str) -> usize {
    s.aws.ecs.list_task_definitions().family_prefix(family).into_paginator().items().send().try_collect().await.unwrap().len()
}

#[tokio::test]
async fn apply_deploys_the_service_and_proves_docs_answers() {
    let s = session().await;
    ready(&s).await;
    let plan = s.ecsdeploy(&["plan"]).await;
    assert!(plan.stdout.contains("cannot do a rolling deploy"), "static host port on one instance is called out:\n{}", plan.stdout);

    let run = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    run.assert_ok("apply");
    let url = run.live_url();
    assert!(url.starts_with("http://127.") && url.ends_with("/docs"), "{url}");
    assert_eq!(s.http_status(&url).await, Some(200));
    let svc = s.aws.ecs.describe_services().cluster(CLUSTER).services("iris-app").send().await.unwrap().services.unwrap().remove(0);
    let deployments = svc.deployments.unwrap();
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0].rollout_state.as_ref().map(|r| r.as_str()), Some("COMPLETED"));
    let dc = svc.deployment_configuration.unwrap();
    assert_eq!((dc.minimum_healthy_percent, dc.maximum_percent), (Some(0), Some(100)));
    assert!(dc.deployment_circuit_breaker.is_some_and(|b| b.enable && b.rollback));

    // The task definition as the tutorial sets it: bridge, 256/512, host 80 → 80, the task role.
    let td = s.aws.ecs.describe_task_definition().task_definition("iris-inference").send().await.unwrap().task_definition.unwrap();
    assert_eq!(td.network_mode.unwrap().as_str(), "bridge");
    assert_eq!((td.cpu.as_deref(), td.memory.as_deref()), (Some("256"), Some("512")));
    assert!(td.task_role_arn.unwrap().ends_with(":role/ecs-iris-tasks"));
    let c = &td.container_definitions.unwrap()[0];
    let pm = &c.port_mappings.as_ref().unwrap()[0];
    assert_eq!((pm.container_port, pm.host_port), (Some(80), Some(80)));
    assert_eq!(c.log_configuration.as_ref().unwrap().options.as_ref().unwrap()["awslogs-group"], "/ecs/iris-inference");

    // Second apply: nothing to do, not one mutating call, no new revision.
    let before = s.requests().await.len();
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("second apply");
    assert_eq!(s.mutating_since(before).await, Vec::<String>::new());
    assert_eq!(revisions(&s, "iris-inference").await, 1);
}

#[tokio::test]
async fn an_environment_change_is_one_revision_and_one_service_update() {
    let s = session().await;
    ready(&s).await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply");
    let first = running_revision(&s).await;

    let spec = variant(
        "env",
        &[(
            "port_mappings = [{ container = 80, host = 80 }]\nenvironment = { BUCKET_NAME = \"${BUCKET_NAME:-mlds-iris-data}\" }",
            "port_mappings = [{ container = 80, host = 80 }]\nenvironment = { BUCKET_NAME = \"another-bucket\" }",
        )],
    );
    let plan = s.ecsdeploy(&["plan", "-f", spec.to_str().unwrap()]).await;
    assert!(plan.stdout.contains("~ task_definition.iris-inference") && plan.stdout.contains("another-bucket"), "{}", plan.stdout);
    let before = s.requests().await.len();
    let run = s.ecsdeploy(&["apply", "--auto-approve", "-f", spec.to_str().unwrap()]).await;
    run.assert_ok("apply of the new environment");
    assert_eq!(s.changes_since(before).await, ["ecs:RegisterTaskDefinition", "ecs:UpdateService"]);
    let second = running_revision(&s).await;
    assert_ne!(first, second);
    assert!(second.ends_with("iris-inference:2"), "{second}");
    // The redeploy on the one instance with host port 80 completed and answers.
    assert_eq!(s.http_status(&run.live_url()).await, Some(200));
}

#[tokio::test]
async fn the_alb_example_answers_through_the_load_balancer() {
    let s = session().await;
    ready(&s).await;
    let run = s.ecsdeploy(&["apply", "--auto-approve", "-f", "examples/iris-alb.toml"]).await;
    run.assert_ok("apply of the ALB example");
    let url = run.live_url();
    let dns = s.aws.elbv2.describe_load_balancers().names("iris-alb").send().await.unwrap().load_balancers.unwrap()[0].dns_name.clone().unwrap();
    assert_eq!(url, format!("http://{dns}/docs"));
    assert_eq!(s.http_status(&url).await, Some(200));
    let tg = s.aws.elbv2.describe_target_groups().names("iris-alb").send().await.unwrap().target_groups.unwrap().remove(0);
    assert_eq!((tg.health_check_path.as_deref(), tg.target_type.as_ref().map(|t| t.as_str())), (Some("/"), Some("instance")));
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", "examples/iris-alb.toml"]).await.code, 0);

    // A new revision rolls on the one micro instance: the old and the new task fit side by side
    // (2 × 448 MiB of 982), and the load balancer answers after it.
    let rolled = s.ecsdeploy_with_env(&["apply", "--auto-approve", "-f", "examples/iris-alb.toml"], &[("BUCKET_NAME", "other-bucket")]).await;
    rolled.assert_ok("roll a new revision behind the load balancer");
    assert!(running_revision_of(&s, "iris-alb").await.ends_with(":2"), "the new revision runs");
    assert_eq!(s.http_status(&url).await, Some(200));
}

/// Deploy a good revision, then a bad one: apply must fail with `diagnosis`, roll back, and the
/// good revision must answer again.
async fn fails_and_rolls_back(s: &Session, spec: PathBuf, env: &[(&str, &str)], diagnosis: &str) -> Run {
    let good = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    good.assert_ok("good apply");
    let first = running_revision(s).await;
    let args = ["apply", "--auto-approve", "-f", spec.to_str().unwrap()];
    let started = std::time::Instant::now();
    let bad = s.ecsdeploy_with_env(&args, env).await;
    assert_eq!(bad.code, 1, "bad apply must fail:\n{}\n{}", bad.stdout, bad.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "failure took {:?}", started.elapsed());
    assert!(bad.stderr.contains(diagnosis), "diagnosis `{diagnosis}` missing:\n{}", bad.stderr);
    assert!(bad.stderr.contains("rolled back to"), "{}", bad.stderr);
    assert_eq!(running_revision(s).await, first, "the service runs the previous revision again");
    let url = good.live_url();
    crate::support::eventually("the previous revision answers again", std::time::Duration::from_secs(20), || async {
        (s.http_status(&url).await == Some(200)).then_some(())
    })
    .await;
    bad
}

#[tokio::test]
async fn a_missing_image_stops_the_plan_and_one_that_expired_since_is_diagnosed() {
    let s = session().await;
    ready(&s).await;
    let good = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    good.assert_ok("good apply");

    // A typo in IMAGE_TAG: found at plan time, with the tags the repository has; nothing stops.
    let before = s.requests().await.len();
    let typo = [("IMAGE_TAG", "not-pushed")];
    let plan = s.ecsdeploy_with_env(&["plan"], &typo).await;
    assert_eq!(plan.code, 1, "{}", plan.stderr);
    let said = "iris-inference:not-pushed is not in ECR (repository `iris-inference`: its most recent tags: latest)";
    assert!(plan.stderr.contains(said), "{}", plan.stderr);
    let apply = s.ecsdeploy_with_env(&["apply", "--auto-approve"], &typo).await;
    assert!(apply.code == 1 && apply.stderr.contains(said), "{}", apply.stderr);
    assert_eq!(s.mutating_since(before).await, Vec::<String>::new(), "nothing changed, nothing stopped");
    assert_eq!(s.http_status(&good.live_url()).await, Some(200));

    // An image deployed once and deleted from ECR since (a lifecycle policy): the next deployment
    // cannot pull it, and doctor says why.
    let expiring = [("IMAGE_TAG", "expiring")];
    s.push_image("iris-inference", "expiring").await;
    s.push_image("iris-pipeline", "expiring").await;
    s.ecsdeploy_with_env(&["apply", "--auto-approve"], &expiring).await.assert_ok("apply the image that will expire");
    let gone = aws_sdk_ecr::types::ImageIdentifier::builder().image_tag("expiring").build();
    s.aws.ecr.batch_delete_image().repository_name("iris-inference").image_ids(gone).send().await.unwrap();
    let redeploy = s.ecsdeploy_with_env(&["redeploy", "--force"], &expiring).await;
    assert_eq!(redeploy.code, 1, "{}", redeploy.stderr);
    assert!(redeploy.stderr.contains("CannotPullContainerError"), "{}", redeploy.stderr);
    let doctor = s.ecsdeploy_with_env(&["doctor"], &expiring).await;
    for e in ["CannotPullContainerError", "push it to ECR"] {
        assert!(doctor.stdout.contains(e), "`{e}` missing:\n{}", doctor.stdout);
    }
}

#[tokio::test]
async fn an_app_exiting_1_fails_with_its_exit_code_and_logs() {
    let s = session().await;
    ready(&s).await;
    let image = s.push_image("iris-inference", "crash").await;
    s.push_image("iris-pipeline", "crash").await;
    s.stage(serde_json::json!({"image": image, "exit_code": 1, "run_seconds": 0.3, "logs": ["Traceback (most recent call last):", "KeyError: 'BUCKET_NAME'"]}))
        .await;
    let bad = fails_and_rolls_back(&s, variant("crash", &[]), &[("IMAGE_TAG", "crash")], "Essential container in task exited").await;
    assert!(bad.stderr.contains("inference exited 1"), "{}", bad.stderr);
    assert!(bad.stderr.contains("KeyError: 'BUCKET_NAME'"), "the app's last log lines are shown:\n{}", bad.stderr);
}

#[tokio::test]
async fn a_task_too_big_for_the_instance_fails_as_unplaceable() {
    let s = session().await;
    ready(&s).await;
    let spec = variant(
        "big",
        &[(
            "[tasks.iris-inference]\nnetwork_mode = \"bridge\"\ncpu = 256\nmemory = 512",
            "[tasks.iris-inference]\nnetwork_mode = \"bridge\"\ncpu = 256\nmemory = 2048",
        )],
    );
    // Under managed scaling the task waits for an instance; with the group at its maximum none
    // can come, which ecsdeploy says within seconds rather than wait for it.
    fails_and_rolls_back(&s, spec, &[], "insufficient memory: the task needs 2048 MiB and the group's instances offer 982 MiB").await;
}

#[tokio::test]
async fn docs_answering_500_fails_verification_and_rolls_back() {
    let s = session().await;
    ready(&s).await;
    let image = s.push_image("iris-inference", "broken").await;
    s.push_image("iris-pipeline", "broken").await;
    s.stage(serde_json::json!({"image": image, "docs_status": 500})).await;
    let bad = fails_and_rolls_back(&s, variant("docs500", &[]), &[("IMAGE_TAG", "broken")], "answered 500").await;
    // Not silence while it verifies: each answer is said as it comes.
    assert!(bad.stderr.contains("answered 500 Internal Server Error, expecting 200 ("), "{}", bad.stderr);
}

#[tokio::test]
async fn secret_values_never_appear_in_any_output() {
    let s = session().await;
    ready(&s).await;
    const SECRET: &str = "hunter2-s3cr3t-value";
    const ROTATED: &str = "rotated-s3cr3t-value";
    // File names say nothing of the value: a path is printed.
    let with = |file: &str, value: &str| {
        variant(file, &[(
        "environment = { BUCKET_NAME = \"${BUCKET_NAME:-mlds-iris-data}\" }\n\n[services",
        &format!("environment = {{ BUCKET_NAME = \"${{BUCKET_NAME:-mlds-iris-data}}\", DB_PASSWORD = {{ value = \"{value}\", secret = true }} }}\nsecrets = {{ API_KEY = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:iris-api-key\" }}\n\n[services"),
    )])
    };
    let (first, second) = (with("secret-first", SECRET), with("secret-rotated", ROTATED));
    let mut outputs = Vec::new();
    for args in [
        vec!["validate", "-f", first.to_str().unwrap()],
        vec!["plan", "-f", first.to_str().unwrap()],
        vec!["plan", "--json", "-f", first.to_str().unwrap()],
        vec!["apply", "--auto-approve", "-f", first.to_str().unwrap()],
        vec!["status", "-f", first.to_str().unwrap()],
        vec!["plan", "-f", second.to_str().unwrap()],
        vec!["plan", "--json", "-f", second.to_str().unwrap()],
        vec!["apply", "--auto-approve", "-f", second.to_str().unwrap()],
        vec!["logs", "iris-app", "--since", "1h", "-f", second.to_str().unwrap()],
    ] {
        let run = s.ecsdeploy(&args).await;
        assert!(run.code == 0, "{args:?}: {}\n{}", run.stdout, run.stderr);
        outputs.push(format!("{}{}", run.stdout, run.stderr));
    }
    for (i, o) in outputs.iter().enumerate() {
        assert!(!o.contains(SECRET) && !o.contains(ROTATED), "a secret value was printed by command #{i}:\n{o}");
    }
    // The change is still visible: as a digest.
    assert!(outputs[5].contains("DB_PASSWORD") && outputs[5].contains("sha256:"), "{}", outputs[5]);
    // And the task definition did get the real value (ECS needs it).
    let td = s.aws.ecs.describe_task_definition().task_definition("iris-inference").send().await.unwrap().task_definition.unwrap();
    let env = td.container_definitions.unwrap()[0].environment.clone().unwrap_or_default();
    assert!(env.iter().any(|kv| kv.name.as_deref() == Some("DB_PASSWORD") && kv.value.as_deref() == Some(ROTATED)));
}

#[tokio::test]
async fn doctor_names_the_cause_of_each_staged_failure() {
    let s = session().await;
    ready(&s).await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("good apply");
    let healthy = s.ecsdeploy(&["doctor"]).await;
    assert_eq!(healthy.code, 0, "{}", healthy.stdout);
    assert!(healthy.stdout.contains("nothing wrong found"));

    let crash = s.push_image("iris-inference", "crash").await;
    s.push_image("iris-pipeline", "crash").await;
    s.stage(serde_json::json!({"image": crash, "exit_code": 1, "run_seconds": 0.3, "logs": ["KeyError: 'BUCKET_NAME'"]})).await;
    let broken = s.push_image("iris-inference", "broken").await;
    s.push_image("iris-pipeline", "broken").await;
    s.stage(serde_json::json!({"image": broken, "docs_status": 500})).await;
    let big = variant(
        "doctor-big",
        &[(
            "[tasks.iris-inference]\nnetwork_mode = \"bridge\"\ncpu = 256\nmemory = 512",
            "[tasks.iris-inference]\nnetwork_mode = \"bridge\"\ncpu = 256\nmemory = 2048",
        )],
    );
    // (what, environment, spec, what doctor must say)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, PathBuf, &'a [&'a str]);
    let cases: [Case; 3] = [
        (
            "app exits 1",
            vec![("IMAGE_TAG", "crash")],
            variant("doctor-crash", &[]),
            &["Essential container in task exited (exit code 1)", "KeyError: 'BUCKET_NAME'"],
        ),
        ("/docs answers 500", vec![("IMAGE_TAG", "broken")], variant("doctor-500", &[]), &["answers 500", "read its logs"]),
        ("too much memory", vec![], big, &["waits for capacity that cannot come", "memory = 2048 does not fit the instance"]),
    ];
    for (what, env, spec, expected) in cases {
        let bad = s.ecsdeploy_with_env(&["apply", "--auto-approve", "--no-rollback", "-f", spec.to_str().unwrap()], &env).await;
        assert_eq!(bad.code, 1, "{what}: the apply fails:\n{}", bad.stderr);
        let doctor = s.ecsdeploy_with_env(&["doctor", "-f", spec.to_str().unwrap()], &env).await;
        assert_eq!(doctor.code, 1, "{what}:\n{}", doctor.stdout);
        for e in expected {
            assert!(doctor.stdout.contains(e), "{what}: `{e}` missing:\n{}", doctor.stdout);
        }
    }
}

#[tokio::test]
async fn old_revisions_beyond_keep_revisions_are_deregistered_but_never_one_in_use() {
    let s = session().await;
    ready(&s).await;
    let env_line = "port_mappings = [{ container = 80, host = 80 }]\nenvironment = { BUCKET_NAME = \"${BUCKET_NAME:-mlds-iris-data}\" }";
    let spec = |bucket: &str| {
        let p = variant(
            &format!("keep-{bucket}"),
            &[(env_line, &format!("port_mappings = [{{ container = 80, host = 80 }}]\nenvironment = {{ BUCKET_NAME = \"{bucket}\" }}"))],
        );
        // Keep one revision besides what services use.
        let text = std::fs::read_to_string(&p).unwrap().replace("[services.iris-app.deployment]\n", "[services.iris-app.deployment]\nkeep_revisions = 1\n");
        std::fs::write(&p, text).unwrap();
        p
    };
    for bucket in ["one", "two", "three"] {
        let p = spec(bucket);
        s.ecsdeploy(&["apply", "--auto-approve", "-f", p.to_str().unwrap()]).await.assert_ok(bucket);
    }
    let list = |status: aws_sdk_ecs::types::TaskDefinitionStatus| {
        let ecs = s.aws.ecs.clone();
        async move {
            let arns = ecs.list_task_definitions().family_prefix("iris-inference").status(status).into_paginator().items().send().try_collect().await.unwrap();
            arns.into_iter().map(|a| a.rsplit(':').next().unwrap().to_string()).collect::<std::collections::BTreeSet<_>>()
        }
    };
    // Revision 3 is new and runs; 2 was in use when 3 was registered; 1 is gone.
    assert_eq!(list(aws_sdk_ecs::types::TaskDefinitionStatus::Active).await, ["2".to_string(), "3".to_string()].into());
    assert_eq!(list(aws_sdk_ecs::types::TaskDefinitionStatus::Inactive).await, ["1".to_string()].into());
}
