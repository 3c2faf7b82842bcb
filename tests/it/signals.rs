//! Issue: Ctrl-C (SIGINT) and SIGTERM leave things clean. The first stops new changes, lets those
//! in flight finish, releases the lease and says how to resume (exit 130); a second exits at once.
//! The next apply always finishes the job.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::{session, Session};

/// Start `apply`, send `signals` SIGINTs once a stderr line contains `at`; (exit code, stderr, how
/// long the process took after the first signal).
async fn interrupt_apply(s: &Session, at: &str, signals: usize) -> (i32, String, Duration) {
    let mut child = s.ecsdeploy_command(&["apply", "--auto-approve"]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id().unwrap().to_string();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let mut sent = None;
    let reading = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if sent.is_none() && line.contains(at) {
                for _ in 0..signals {
                    std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                sent = Some(Instant::now());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(240), reading).await.expect("apply ended");
    let code = child.wait().await.unwrap().code().unwrap_or(-1);
    let took = sent.unwrap_or_else(|| panic!("never saw `{at}`:\n{seen}")).elapsed();
    (code, seen, took)
}

async fn lease_held(s: &Session) -> bool {
    let groups = s.aws.logs.describe_log_groups().log_group_name_prefix("/ecsdeploy/lease/iris").send().await.unwrap();
    !groups.log_groups().is_empty()
}

/// The next plain apply finishes what the interrupted one left, and the service answers.
async fn next_apply_finishes(s: &Session) {
    let apply = s.ecsdeploy(&["apply", "--auto-approve"]).await;
    apply.assert_ok("the next apply");
    assert_eq!(s.http_status(&apply.live_url()).await, Some(200));
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode"]).await.code, 0, "nothing left to do");
}

#[tokio::test]
async fn ctrl_c_while_resources_are_created_finishes_those_in_flight_and_releases_the_lease() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let (code, stderr, _) = interrupt_apply(&s, "instances.ecs: creating", 1).await;
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("interrupted: no new change starts"), "said at once:\n{stderr}");
    let summary = stderr.lines().find(|l| l.starts_with("interrupted: in flight and finished:")).unwrap_or_else(|| panic!("what was in flight:\n{stderr}"));
    assert!(summary.contains("instances.ecs") && summary.contains("change(s) not started"), "{summary}");
    assert!(stderr.contains("= to resume: ecsdeploy apply --auto-approve"), "{stderr}");
    let after = stderr.split("interrupted: no new change starts").nth(1).unwrap();
    assert!(!after.contains("creating…"), "no change started after Ctrl-C:\n{stderr}");
    assert!(!lease_held(&s).await, "the lease is released");
    next_apply_finishes(&s).await;
}

#[tokio::test]
async fn ctrl_c_during_the_deployment_wait_leaves_ecs_deploying_and_the_next_apply_follows_it() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let (code, stderr, took) = interrupt_apply(&s, "waiting for `iris-app` deployment", 1).await;
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("the deployment of `iris-app` goes on in ECS; nothing was rolled back"), "{stderr}");
    assert!(took < Duration::from_secs(10), "a wait stops at once, took {took:?}");
    assert!(!lease_held(&s).await, "the lease is released");
    next_apply_finishes(&s).await;
}

#[tokio::test]
async fn a_second_ctrl_c_exits_at_once_and_the_next_apply_still_finishes() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    let (code, stderr, took) = interrupt_apply(&s, "instances.ecs: creating", 2).await;
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("interrupted again: exiting now"), "{stderr}");
    assert!(took < Duration::from_secs(2), "exits at once, took {took:?}");
    // Its lease is left behind; a run on the same machine sees its holder is gone and goes on.
    next_apply_finishes(&s).await;
}
