//! Bad flags, missing credentials, bad regions, an unreachable endpoint: one clear message with
//! the remedy, the right exit code, no panic and no debug dump.

use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let home = std::env::temp_dir().join(format!("ecsdeploy-empty-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    Command::new(env!("CARGO_BIN_EXE_ecsdeploy"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("HOME", &home)
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // No instance metadata service to wait for on a developer machine or in CI.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn clean(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    for dump in ["panicked", "DispatchFailure(", "ServiceError {", "source:", "RUST_BACKTRACE"] {
        assert!(!stderr.contains(dump), "raw dump `{dump}` in:\n{stderr}");
    }
    stderr
}

#[test]
fn bad_flags_exit_2() {
    let out = run(&["plan", "--bogus"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(clean(&out).contains("unexpected argument '--bogus'"));
    let out = run(&["scale", "--desired", "minus-one"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["apply", "--image", "nonsense"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(clean(&out).contains("is not CONTAINER=URI"));
}

#[test]
fn missing_credentials_say_how_to_configure_them() {
    let out = run(&["plan"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = clean(&out);
    assert!(stderr.contains("no usable AWS credentials") && stderr.contains("aws configure"), "{stderr}");
}

#[test]
fn a_malformed_region_is_refused_before_any_call() {
    let out = run(&["plan", "--region", "mars"], &[("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "y")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(clean(&out).contains("`mars` is not an AWS region name"));
}

#[test]
fn an_unreachable_endpoint_is_named_with_what_to_check_within_15_seconds() {
    // The SDK's own retries (8 attempts) would take about a minute of silence.
    let start = std::time::Instant::now();
    let out = run(&["plan"], &[("AWS_ACCESS_KEY_ID", "x"), ("AWS_SECRET_ACCESS_KEY", "y"), ("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
    assert!(start.elapsed() < std::time::Duration::from_secs(15), "took {:?}", start.elapsed());
    assert_eq!(out.status.code(), Some(1));
    let stderr = clean(&out);
    assert!(stderr.contains("cannot reach AWS at http://127.0.0.1:9") && stderr.contains("is that server running"), "{stderr}");
}

#[test]
fn a_missing_spec_and_a_missing_service_are_usage_errors() {
    let out = run(&["plan", "-f", "nope.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(clean(&out).contains("cannot read the spec"));
    let out = run(&["logs", "nope"], &[]);
    assert_eq!(out.status.code(), Some(2));
}
