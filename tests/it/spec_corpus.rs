//! Every example validates; every bad spec in tests/specs/bad fails with exit 2, naming the line
//! and the problem, without opening a single network connection.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run `ecsdeploy validate -f FILE` with AWS pointed at a listener that records connections.
fn validate(file: &Path, endpoint: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ecsdeploy"))
        .args(["validate", "-f"])
        .arg(file)
        .current_dir(root())
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env_remove("ECSDEPLOY_TEST_UNSET_VAR")
        .output()
        .expect("run ecsdeploy")
}

fn trap() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.set_nonblocking(true).unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (l, url)
}

fn assert_no_connection(l: &TcpListener) {
    assert!(l.accept().is_err(), "validate opened a network connection");
}

#[test]
fn deploy_toml_and_every_example_validate() {
    let (trap, url) = trap();
    let mut files = vec![root().join("deploy.toml")];
    files.extend(std::fs::read_dir(root().join("examples")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "toml")));
    assert!(files.len() >= 4, "deploy.toml and at least three examples");
    for f in &files {
        let out = validate(f, &url);
        assert_eq!(out.status.code(), Some(0), "{}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("is valid"));
    }
    assert_no_connection(&trap);
}

#[test]
fn bad_specs_exit_2_naming_line_and_problem() {
    let (trap, url) = trap();
    let dir = root().join("tests/specs/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 25, "the corpus has {} cases", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        // First line: `# expect: LINE: message fragment`.
        let header = text.lines().next().and_then(|l| l.strip_prefix("# expect: ")).expect("expect header");
        let (line, fragment) = header.split_once(": ").unwrap();
        let out = validate(f, &url);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let place = format!("{}:{line}:", f.display());
        if out.status.code() != Some(2) || !stderr.contains(&place) || !stderr.contains(fragment) || !stderr.contains("hint:") {
            failures.push(format!("{}: exit {:?}, wanted `{place}` and `{fragment}`, got:\n{stderr}", f.display(), out.status.code()));
        }
        assert!(!stderr.contains("panicked"), "{}: panic", f.display());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_no_connection(&trap);
}

#[test]
fn missing_file_is_a_clear_error() {
    let (_trap, url) = trap();
    let out = validate(Path::new("no-such-spec.toml"), &url);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the spec"));
}

#[test]
fn secret_values_never_appear_in_diagnostics() {
    let (_trap, url) = trap();
    let dir = std::env::temp_dir().join(format!("ecsdeploy-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("deploy.toml");
    // A spec error on the same line as a secret value: the rendered line must not show it.
    std::fs::write(
        &f,
        r#"[stack]
name = "s"
[cluster]
name = "c"
[cluster.ec2]
[tasks.t]
memory = 512
[[tasks.t.containers]]
name = "app"
image = "repo/app:1"
environment = { DB_PASSWORD = { value = "s3cr3t-value", secret = true }, BAD = 1 }
"#,
    )
    .unwrap();
    let out = validate(&f, &url);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr.contains("s3cr3t-value"), "secret printed:\n{stderr}");
}
