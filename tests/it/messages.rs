//! Issue 16: messages that misled. Each says what happened and what to do, in the user's words;
//! bad input is refused before any AWS call.

use std::net::TcpListener;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::{eventually, session, Session};

/// The binary from the repository root, against an endpoint that records connections (none may
/// come), with static credentials and nothing of the developer's AWS configuration.
fn offline(args: &[&str]) -> (Output, bool) {
    let trap = TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ecsdeploy"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", format!("http://{}", trap.local_addr().unwrap()))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    (out, trap.accept().is_ok())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into()
}

#[test]
fn apply_of_a_spec_file_says_it_is_a_spec_and_suggests_f() {
    let (out, called) = offline(&["apply", "deploy.toml"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("deploy.toml is a spec, not a saved plan"), "{err}");
    assert!(err.contains("to apply this spec, name it with -f: `ecsdeploy apply -f deploy.toml`"), "{err}");
    assert!(!err.contains("expected value at line 1"), "{err}");
    assert!(!called, "no AWS call");
}

#[test]
fn init_writes_where_f_says_when_o_is_absent() {
    let dir = std::env::temp_dir().join(format!("ecsdeploy-messages-init-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("x.toml");
    std::fs::write(&file, "# mine\n").unwrap();
    // `-f x.toml` names the file init writes: an existing one is kept, before any AWS call.
    let (out, called) = offline(&["init", "--from-cluster", "mlds-ecs-workshop", "-f", file.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{} exists already", file.display())), "{err}");
    assert!(!called, "no AWS call");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# mine\n");
}

#[test]
fn run_and_logs_of_an_unknown_name_list_the_names_there_are() {
    let (out, called) = offline(&["run", "nosuch"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the spec has no job or task `nosuch`"), "{err}");
    assert!(err.contains("name a job (iris-pipeline) or a task family (iris-pipeline, iris-inference)"), "{err}");
    assert!(!called, "no AWS call");

    let (out, called) = offline(&["logs", "nosuch"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the spec has no service, job, task family or task id `nosuch`"), "{err}");
    assert!(err.contains("name a service (iris-app), a job (iris-pipeline)") && err.contains("a task id as `ecsdeploy run` prints it"), "{err}");
    assert!(!called, "no AWS call");
}

/// The tutorial's helper scripts use boto3, which reads AWS_DEFAULT_REGION, not AWS_REGION.
#[test]
fn the_readme_local_world_exports_both_region_variables() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("## The local AWS world").nth(1).expect("the section").split("\n## ").next().unwrap();
    let export = section.lines().find(|l| l.starts_with("export AWS_ENDPOINT_URL")).expect("the export line");
    assert!(export.contains("AWS_REGION=us-east-1") && export.contains("AWS_DEFAULT_REGION=us-east-1"), "{export}");
}

/// `ecsdeploy ARGS` on a terminal (`script` gives it one), answering `answer` to its prompt.
pub(crate) async fn on_a_terminal(s: &Session, args: &str, answer: &str) -> (Option<i32>, String) {
    use tokio::io::AsyncWriteExt;
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_ecsdeploy"));
    let mut child = tokio::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ENDPOINT_URL", &s.world.endpoint)
        .env("ECSDEPLOY_CHECKIP_URL", format!("{}/checkip", s.world.endpoint))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(answer.as_bytes()).await.unwrap();
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output()).await.expect("ecsdeploy answered").unwrap();
    drop(stdin);
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into())
}

#[tokio::test]
async fn a_declined_prompt_is_said_not_an_error() {
    let s = session().await;
    // An error names its resource once (it read `key_pair.…: key_pair.…: …`).
    let missing = s.ecsdeploy(&["plan"]).await;
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    let line = missing.stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_else(|| panic!("{}", missing.stderr));
    let (address, rest) = line.trim_start_matches("error: ").split_once(": ").unwrap();
    assert!(address.contains('.') && !rest.contains(address), "{line}");

    s.tutorial_prerequisites().await;
    let before = s.requests().await.len();
    let (code, text) = on_a_terminal(&s, "apply", "n\n").await;
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("Apply these changes? [y/N]") && text.contains("Nothing applied: you answered no"), "{text}");
    assert!(!text.contains("error:"), "{text}");
    assert!(s.mutating_since(before).await.is_empty(), "nothing applied");
}

#[tokio::test]
async fn after_a_deploy_each_message_says_what_happened_and_what_to_do() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply");

    // apply --image: not "matches the spec"; what the next plain apply does, and how to keep it.
    let uri = s.push_image("iris-inference", "v2").await;
    let ci = s.ecsdeploy(&["apply", "--auto-approve", "--image", &format!("inference={uri}")]).await;
    ci.assert_ok("apply --image");
    assert!(!ci.stdout.contains("now matches the spec"), "{}", ci.stdout);
    assert!(ci.stdout.contains(&format!("matches the spec with --image inference={uri}")), "{}", ci.stdout);
    assert!(
        ci.stdout.contains("iris-inference:latest at deploy.toml:60:9: the next plain `ecsdeploy apply` (without --image) deploys that image again"),
        "{}",
        ci.stdout
    );
    assert!(ci.stdout.contains(&format!("To keep {uri}, make it the spec's image of `inference` there")), "{}", ci.stdout);

    // logs of the task id `run` prints.
    let pipeline = "123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-pipeline:latest";
    s.stage(serde_json::json!({"image": pipeline, "exit_code": 0, "run_seconds": 0.3, "logs": ["training: accuracy 0.97"]})).await;
    let started = s.ecsdeploy(&["run", "iris-pipeline"]).await;
    started.assert_ok("run");
    let arn = started.stderr.lines().find_map(|l| l.strip_prefix("==> started ")).unwrap_or_else(|| panic!("{}", started.stderr)).to_string();
    let id = arn.rsplit('/').next().unwrap().to_string();
    for name in [&id, &arn] {
        let logs = eventually("the task's lines", Duration::from_secs(30), || async {
            let logs = s.ecsdeploy(&["logs", name, "--since", "1h"]).await;
            (logs.code == 0 && logs.stdout.contains("training: accuracy 0.97")).then_some(logs)
        })
        .await;
        assert!(!logs.stderr.contains("has no logs"), "{}", logs.stderr);
    }

    // A job that never ran: ECS's reason and the remedy, not `doctor` (which looks at services).
    s.aws
        .ecr
        .batch_delete_image()
        .repository_name("iris-pipeline")
        .image_ids(aws_sdk_ecr::types::ImageIdentifier::builder().image_tag("latest").build())
        .send()
        .await
        .unwrap();
    let failed = s.ecsdeploy(&["run", "iris-pipeline", "--wait"]).await;
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(failed.stderr.contains("the task stopped before its container ran: CannotPullContainerError"), "{}", failed.stderr);
    assert!(failed.stderr.contains("an image it cannot pull (push it, or fix the tag in the spec)"), "{}", failed.stderr);
    assert!(!failed.stderr.contains("doctor"), "{}", failed.stderr);

    // init without --job names the one-off task family it left out.
    s.register_web("iris-batch", pipeline, 256).await;
    let file = crate::adopt::scratch("messages-init");
    let init = s.ecsdeploy(&["init", "--from-cluster", "mlds-ecs-workshop", "-o", file.to_str().unwrap()]).await;
    init.assert_ok("init");
    assert!(init.stderr.contains("note: not written: task definition families that no service of `mlds-ecs-workshop` runs: iris-batch"), "{}", init.stderr);
    assert!(init.stderr.contains("`ecsdeploy init --from-cluster mlds-ecs-workshop --job FAMILY`"), "{}", init.stderr);

    // A crash-looping service: each task's fate, exit code and reason, and when events happened.
    s.stage(serde_json::json!({"image": uri, "exit_code": 1, "run_seconds": 0.2})).await;
    s.ecsdeploy(&["redeploy", "--force", "--no-wait"]).await.assert_ok("redeploy into the crash");
    let status = eventually("a task of the service stopped with exit code 1", Duration::from_secs(60), || async {
        let status = s.ecsdeploy(&["status"]).await;
        (status.code == 0 && status.stdout.contains("exited 1")).then_some(status)
    })
    .await;
    for expected in [": STOPPED at 20", "(inference exited 1; Essential container in task exited)", "  event 20"] {
        assert!(status.stdout.contains(expected), "`{expected}` missing:\n{}", status.stdout);
    }
}

/// A wait says where it stands: in a log, lines of their own with the time of day; on a terminal,
/// one line drawn in place (cleared and rewritten), which the next line replaces.
#[tokio::test]
async fn a_wait_is_a_line_drawn_in_place_on_a_terminal_and_timestamped_lines_in_a_log() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply");
    let log = s.ecsdeploy(&["destroy", "--auto-approve"]).await;
    log.assert_ok("destroy, its output a log");
    let waiting = log.stderr.lines().find(|l| l.contains("capacity_provider.iris-ec2: waiting until")).unwrap_or_else(|| panic!("{}", log.stderr));
    let stamp = waiting.split(']').next().unwrap();
    assert!(stamp.len() == 10 && stamp.starts_with('[') && stamp.ends_with('Z') && stamp[1..9].chars().filter(|c| *c == ':').count() == 2, "{waiting}");
    assert!(!log.stderr.contains('\r'), "nothing drawn in place in a log");

    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply again");
    let (code, text) = on_a_terminal(&s, "destroy --auto-approve", "").await;
    assert_eq!(code, Some(0), "{text}");
    let drawn: Vec<&str> = text.split("\r\u{1b}[2K").skip(1).collect();
    assert!(drawn.iter().any(|d| d.starts_with("    capacity_provider.iris-ec2: waiting until")), "drawn in place:\n{text:?}");
    assert!(!text.lines().any(|l| l.starts_with('[') && l.contains("waiting until")), "no log lines on a terminal:\n{text}");
}
