//! Reliability under faults: throttling on every service, and an apply that dies after its k-th
//! change followed by a clean one, for every k.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::Filter;

use crate::support::{session, Session};

/// What a converged stack holds, counted where duplicates or leftovers would show (every page).
async fn inventory(s: &Session) -> Vec<(String, usize)> {
    let groups = s.aws.ec2.describe_security_groups().filters(Filter::builder().name("group-name").values("iris-ecs").build()).send().await.unwrap();
    let services = s.aws.ecs.list_services().cluster("mlds-ecs-workshop").into_paginator().items().send().try_collect().await.unwrap();
    let revisions = |family: &'static str| {
        let ecs = s.aws.ecs.clone();
        async move {
            let mut n = 0;
            for status in [aws_sdk_ecs::types::TaskDefinitionStatus::Active, aws_sdk_ecs::types::TaskDefinitionStatus::Inactive] {
                n += ecs.list_task_definitions().family_prefix(family).status(status).into_paginator().items().send().try_collect().await.unwrap().len();
            }
            n
        }
    };
    let versions = s.aws.ec2.describe_launch_template_versions().launch_template_name("iris-ecs").into_paginator().items().send().try_collect().await.unwrap();
    let groups_asg = s.aws.autoscaling.describe_auto_scaling_groups().into_paginator().items().send().try_collect().await.unwrap();
    let mut providers = 0;
    let mut token = None;
    loop {
        let page = s.aws.ecs.describe_capacity_providers().set_next_token(token).send().await.unwrap();
        providers += page.capacity_providers().iter().filter(|c| !c.name().unwrap_or_default().starts_with("FARGATE")).count();
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    // The stack's roles: ECS's service-linked role (made on the account's first cluster) is AWS's.
    let roles = s.aws.iam.list_roles().into_paginator().items().send().try_collect().await.unwrap();
    let roles = roles.iter().filter(|r| !r.path.starts_with("/aws-service-role/")).count();
    let profiles = s.aws.iam.list_instance_profiles().into_paginator().items().send().try_collect().await.unwrap().len();
    let leases = s.aws.logs.describe_log_groups().log_group_name_prefix("/ecsdeploy/lease").into_paginator().items().send().try_collect().await.unwrap().len();
    let rules = s
        .aws
        .ec2
        .describe_security_group_rules()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .unwrap()
        .iter()
        // The stack's: the default group's own rule (its members reach each other) is AWS's.
        .filter(|r| r.is_egress != Some(true) && r.referenced_group_info.as_ref().and_then(|g| g.group_id.as_ref()) != r.group_id.as_ref())
        .count();
    vec![
        ("security groups named iris-ecs".into(), groups.security_groups.unwrap_or_default().len()),
        ("services".into(), services.len()),
        ("iris-inference revisions".into(), revisions("iris-inference").await),
        ("iris-pipeline revisions".into(), revisions("iris-pipeline").await),
        ("launch template versions".into(), versions.len()),
        ("autoscaling groups".into(), groups_asg.len()),
        ("capacity providers".into(), providers),
        ("roles".into(), roles),
        ("instance profiles".into(), profiles),
        ("leases".into(), leases),
        ("inbound rules".into(), rules),
    ]
}

#[tokio::test]
async fn a_full_apply_converges_under_30_percent_throttling() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let proxy = s.proxy().await;
    proxy.faults(serde_json::json!({"throttle_rate": 0.3, "seed": 7})).await;
    let run = s.ecsdeploy_at(&proxy.url, &["apply", "--auto-approve"], &[]).await;
    run.assert_ok("apply under throttling");
    let log = proxy.log().await;
    // Seeded, but which calls draw a throttle depends on their order under concurrency: assert
    // the rate and the spread, not particular calls.
    let throttled: Vec<&str> = log.iter().filter(|(_, _, i)| i.as_deref() == Some("throttle")).map(|(svc, _, _)| svc.as_str()).collect();
    let services: BTreeSet<&str> = throttled.iter().copied().collect();
    assert!(throttled.len() * 100 >= log.len() * 15, "{} of {} calls throttled", throttled.len(), log.len());
    assert!(services.len() >= 3, "throttling reached only {services:?}");
    // The end state is the fault-free one: nothing left to change, and one of everything.
    proxy.reset().await;
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode"]).await.code, 0);
    let counts = inventory(&s).await;
    for (what, n) in &counts {
        let expected = match what.as_str() {
            "roles" => 3,
            "inbound rules" => 3,
            "leases" => 0,
            _ => 1,
        };
        assert_eq!(*n, expected, "{what}: {counts:?}");
    }
}

#[tokio::test]
async fn an_apply_that_dies_after_any_change_is_finished_by_the_next() {
    let s = session().await;
    // How many changes a full apply makes, fault-free, in a world of its own.
    s.tutorial_prerequisites().await;
    let proxy = s.proxy().await;
    s.ecsdeploy_at(&proxy.url, &["apply", "--auto-approve"], &[]).await.assert_ok("reference apply");
    let total = proxy.log().await.iter().filter(|(_, a, _)| !["Describe", "List", "Get"].iter().any(|p| a.starts_with(p))).count();
    let expected = inventory(&s).await;
    assert!(total > 20, "a full apply makes {total} changes");

    for k in 1..=total {
        let reset = s.http.post(format!("{}/_sim/reset", s.world.endpoint)).send().await.unwrap();
        assert!(reset.status().is_success());
        s.tutorial_prerequisites().await;
        proxy.reset().await;
        proxy.faults(serde_json::json!({"fail_after_mutations": k})).await;
        let dying = s.ecsdeploy_at(&proxy.url, &["apply", "--auto-approve"], &[("AWS_MAX_ATTEMPTS", "2")]).await;
        assert!(dying.code != 0 || k == total, "k={k}: the apply should have died:\n{}", dying.stdout);
        proxy.reset().await;
        let clean = s.ecsdeploy_at(&proxy.url, &["apply", "--auto-approve"], &[]).await;
        assert_eq!(clean.code, 0, "k={k}: the clean apply after dying did not converge:\n{}\n{}", clean.stdout, clean.stderr);
        // The stack's lease is bookkeeping: a run that died holding it leaves it for the next
        // changing run to take over (tested with the lease); everything else must match exactly.
        let without_lease = |v: Vec<(String, usize)>| v.into_iter().filter(|(w, _)| w != "leases").collect::<Vec<_>>();
        assert_eq!(without_lease(inventory(&s).await), without_lease(expected.clone()), "k={k}: duplicates or leftovers");
    }
    eprintln!("resumption sweep: k = 1..={total}, every one converged with no duplicate");
}

#[tokio::test]
async fn a_refused_call_and_expired_credentials_get_one_clear_message() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let proxy = s.proxy().await;
    let clean = |r: &crate::support::Run| {
        for dump in ["panicked", "ServiceError {", "DispatchFailure(", "source:"] {
            assert!(!r.stderr.contains(dump), "raw dump `{dump}`:\n{}", r.stderr);
        }
    };

    proxy.faults(serde_json::json!({"deny": {"action": "CreateRole", "code": "AccessDenied", "message": "User: arn:aws:iam::123456789012:user/student is not authorized to perform: iam:CreateRole"}})).await;
    let denied = s.ecsdeploy_at(&proxy.url, &["apply", "--auto-approve"], &[]).await;
    assert_eq!(denied.code, 1, "{}", denied.stderr);
    clean(&denied);
    assert!(denied.stderr.contains("iam:CreateRole") && denied.stderr.contains("not authorized"), "{}", denied.stderr);
    assert!(denied.stderr.contains("grant the permission"), "{}", denied.stderr);
    // Only what needed the role was skipped; the rest was done, and a permitted run finishes.
    proxy.reset().await;
    s.ecsdeploy_at(&proxy.url, &["apply", "--auto-approve"], &[]).await.assert_ok("apply once permitted");

    proxy.faults(serde_json::json!({"deny": {"action": "GetCallerIdentity", "code": "ExpiredToken", "message": "The security token included in the request is expired"}})).await;
    let expired = s.ecsdeploy_at(&proxy.url, &["plan"], &[]).await;
    assert_eq!(expired.code, 1, "{}", expired.stderr);
    clean(&expired);
    assert!(expired.stderr.contains("expired") && expired.stderr.contains("renew them"), "{}", expired.stderr);
}
