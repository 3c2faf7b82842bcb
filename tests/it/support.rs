//! Test support: one local AWS world per test binary (moto + the ECS control-plane simulator, run
//! by `scripts/world`), reset before each test that takes it, and a ready `Aws` context for it.
//!
//! Tests that share the world hold its lock for their whole run; under `cargo nextest` every test
//! is its own process, so each gets its own world and they run in parallel.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_ecs::config::Credentials;
use aws_sdk_ecs::types::{ContainerDefinition, NetworkMode, PortMapping};
use ecsdeploy::aws::Aws;

/// The running world process and its endpoint.
pub struct World {
    pub endpoint: String,
    pub started_in: Duration,
    _child: Child,
}

static WORLD: OnceLock<World> = OnceLock::new();
static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A test's exclusive use of the world, reset to empty when taken.
pub struct Session {
    pub world: &'static World,
    pub aws: Aws,
    pub http: reqwest::Client,
    _lock: tokio::sync::MutexGuard<'static, ()>,
}

fn start() -> World {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let t0 = Instant::now();
    // stdin stays open as long as this process lives: the world exits when we do, even on a crash.
    let mut child = Command::new(root.join("scripts/world"))
        .arg("--exit-on-stdin-eof")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("ECSDEPLOY_WORLD_LOG").is_some() { Stdio::inherit() } else { Stdio::null() })
        .spawn()
        .expect("start scripts/world (run scripts/world-setup once if this fails)");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read the world's first line");
    let endpoint = line.trim().strip_prefix("AWS_ENDPOINT_URL=").unwrap_or_else(|| panic!("world did not start: {line:?}")).to_string();
    // Keep the pipe open for the life of this process; leak the handle deliberately.
    std::mem::forget(child.stdin.take());
    World { endpoint, started_in: t0.elapsed(), _child: child }
}

/// A call made by hand (as someone in the console or a script would), retried while AWS
/// propagates what it needs, as a person would, with ecsdeploy's own bounds: a new security
/// group, ECS's service-linked role on the account's first cluster.
pub async fn by_hand<T, E, F, Fut>(operation: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<
        Output = Result<T, aws_smithy_runtime_api::client::result::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>>,
    >,
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    use ecsdeploy::aws::AwsResultExt;
    ecsdeploy::aws::retry_propagation(|| {
        let call = call();
        async move { call.await.aws(operation) }
    })
    .await
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Take the world for this test: started on first use, reset to empty.
pub async fn session() -> Session {
    let lock = LOCK.lock().await;
    let world = WORLD.get_or_init(start);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let reset = http.post(format!("{}/_sim/reset", world.endpoint)).send().await.expect("reset the world");
    assert!(reset.status().is_success(), "reset failed: {}", reset.status());
    Session { world, aws: aws_for(&world.endpoint).await, http, _lock: lock }
}

/// An `Aws` context pointing at the world, with the static credentials moto accepts.
pub async fn aws_for(endpoint: &str) -> Aws {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "local-world"))
        .load()
        .await;
    Aws::from_config(config)
}

impl Session {
    /// Stage how containers of `image` behave (exit code, /docs status, log lines).
    pub async fn stage(&self, body: serde_json::Value) {
        let r = self
            .http
            .post(format!("{}/_sim/stage", self.world.endpoint))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "stage failed: {}", r.text().await.unwrap_or_default());
    }

    /// Change the world's settings (`account_plan`, `timing`, `time_scale`, `switches`) for this
    /// test; the next reset restores the defaults.
    pub async fn config(&self, body: serde_json::Value) {
        let r = self
            .http
            .post(format!("{}/_sim/config", self.world.endpoint))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "config failed: {}", r.text().await.unwrap_or_default());
    }

    /// The world's own timeline since the reset: `{"t", "event", "id", "detail"}` in order.
    pub async fn timeline(&self) -> Vec<serde_json::Value> {
        let text = self.http.get(format!("{}/_sim/timeline", self.world.endpoint)).send().await.unwrap().text().await.unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// The AWS requests the world received since the reset: (service, action).
    pub async fn requests(&self) -> Vec<(String, String)> {
        let text = self.http.get(format!("{}/_sim/requests", self.world.endpoint)).send().await.unwrap().text().await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_array().unwrap().iter().map(|r| (r["service"].as_str().unwrap_or("").to_string(), r["action"].as_str().unwrap_or("").to_string())).collect()
    }

    /// The AWS error answers the world gave since the reset: (action, code), in order.
    pub async fn refusals(&self) -> Vec<(String, String)> {
        let text = self.http.get(format!("{}/_sim/requests", self.world.endpoint)).send().await.unwrap().text().await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_array().unwrap().iter().filter_map(|r| Some((r["action"].as_str()?.to_string(), r["code"].as_str()?.to_string()))).collect()
    }

    /// Make `repo:tag` exist in ECR, as `docker push` would. Returns the image URI.
    pub async fn push_image(&self, repo: &str, tag: &str) -> String {
        let ecr = &self.aws.ecr;
        let uri = match ecr.create_repository().repository_name(repo).send().await {
            Ok(out) => out.repository.and_then(|r| r.repository_uri).unwrap(),
            Err(_) => ecr.describe_repositories().repository_names(repo).send().await.unwrap().repositories.unwrap()[0].repository_uri.clone().unwrap(),
        };
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                       "digest": format!("sha256:{:064x}", tag.len() as u64 * 7919 + repo.len() as u64)},
            "layers": []
        });
        ecr.put_image().repository_name(repo).image_tag(tag).image_manifest(manifest.to_string()).send().await.unwrap();
        format!("{uri}:{tag}")
    }

    /// Register a bridge-mode task definition like the tutorial's iris-inference (host 80 → 80).
    pub async fn register_web(&self, family: &str, image: &str, memory: i32) -> String {
        let container = ContainerDefinition::builder()
            .name("inference")
            .image(image)
            .essential(true)
            .port_mappings(PortMapping::builder().container_port(80).host_port(80).build())
            .build();
        let out = self
            .aws
            .ecs
            .register_task_definition()
            .family(family)
            .network_mode(NetworkMode::Bridge)
            .cpu("256")
            .memory(memory.to_string())
            .container_definitions(container)
            .send()
            .await
            .unwrap();
        out.task_definition.unwrap().task_definition_arn.unwrap()
    }

    /// The ECS-optimised Amazon Linux 2023 AMI AWS recommends for `arch` (`""` or `"/arm64"`).
    pub async fn ecs_ami(&self, arch: &str) -> String {
        let name = format!("/aws/service/ecs/optimized-ami/amazon-linux-2023{arch}/recommended/image_id");
        self.aws.ssm.get_parameter().name(name).send().await.unwrap().parameter.unwrap().value.unwrap()
    }

    /// The cluster's only container instance, as ECS describes it.
    pub async fn container_instance(&self, cluster: &str) -> aws_sdk_ecs::types::ContainerInstance {
        let ecs = &self.aws.ecs;
        let arns = ecs.list_container_instances().cluster(cluster).into_paginator().items().send().try_collect().await.unwrap();
        assert_eq!(arns.len(), 1, "one container instance in {cluster}");
        ecs.describe_container_instances().cluster(cluster).set_container_instances(Some(arns)).send().await.unwrap().container_instances.unwrap().remove(0)
    }

    /// The tutorial's EC2 capacity built straight through the SDK: a cluster, a launch template
    /// whose user data names it, and an autoscaling group of one free-tier t3.micro (no capacity
    /// provider: tasks run with the EC2 launch type). Returns the instance's public IP once its
    /// container instance has registered.
    pub async fn tutorial_capacity(&self, cluster: &str) -> String {
        let aws = &self.aws;
        by_hand("ecs:CreateCluster", || aws.ecs.create_cluster().cluster_name(cluster).send()).await;
        let ami = self.ecs_ami("").await;
        let user_data = aws_smithy_types::base64::encode(format!("#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config\n"));
        // As the tutorial's last step does: HTTP open to the VPN (security groups are enforced).
        let group = aws.ec2.create_security_group().group_name(format!("{cluster}-web")).description("web").send().await.unwrap().group_id.unwrap();
        self.allow_by_hand(&group, 80, "165.124.160.0/21").await;
        aws.ec2
            .create_launch_template()
            .launch_template_name(format!("{cluster}-lt"))
            .launch_template_data(
                aws_sdk_ec2::types::RequestLaunchTemplateData::builder()
                    .image_id(ami)
                    .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                    .security_group_ids(group)
                    .user_data(user_data)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let subnets = aws
            .ec2
            .describe_subnets()
            .filters(aws_sdk_ec2::types::Filter::builder().name("default-for-az").values("true").build())
            .send()
            .await
            .unwrap()
            .subnets
            .unwrap_or_default();
        let zone_ids: Vec<String> = subnets.iter().filter_map(|s| s.subnet_id.clone()).collect();
        aws.autoscaling
            .create_auto_scaling_group()
            .auto_scaling_group_name(format!("{cluster}-asg"))
            .launch_template(
                aws_sdk_autoscaling::types::LaunchTemplateSpecification::builder().launch_template_name(format!("{cluster}-lt")).version("$Latest").build(),
            )
            .min_size(0)
            .max_size(1)
            .desired_capacity(1)
            .vpc_zone_identifier(zone_ids.join(","))
            .send()
            .await
            .unwrap();
        let instance = eventually("a container instance registers", Duration::from_secs(30), || async {
            let arns = aws.ecs.list_container_instances().cluster(cluster).send().await.ok()?.container_instance_arns?;
            let arn = arns.first()?.clone();
            let ci = aws.ecs.describe_container_instances().cluster(cluster).container_instances(arn).send().await.ok()?;
            ci.container_instances?.first()?.ec2_instance_id.clone()
        })
        .await;
        let reservations = aws.ec2.describe_instances().instance_ids(instance).send().await.unwrap().reservations.unwrap();
        reservations[0].instances.as_ref().unwrap()[0].public_ip_address.clone().expect("a public IP")
    }
}

/// A copy of a spec of the repository (`deploy.toml`, `examples/…`) with `edit` applied, in a
/// scratch directory of this test; returns its path for `-f`.
pub fn spec_variant(base: &str, name: &str, edit: impl Fn(String) -> String) -> String {
    let text = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(base)).unwrap();
    let dir = std::env::temp_dir().join(format!("ecsdeploy-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("deploy.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path.to_str().unwrap().to_string()
}

/// Poll `probe` (tight at first, then backing off) until it yields a value or `limit` passes.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(50);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting until {what}");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// The ecsdeploy binary, from the repository root (so `deploy.toml` and `examples/` resolve),
/// non-interactive, against `endpoint` with the world's static credentials and nothing of the
/// developer's own AWS configuration.
fn command(endpoint: &str, args: &[&str]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_ecsdeploy"));
    c.args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AWS_ENDPOINT_URL", endpoint)
        // "What is my address" from the world too (its caller_address setting).
        .env("ECSDEPLOY_CHECKIP_URL", format!("{endpoint}/checkip"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

/// What a run of the ecsdeploy binary printed and returned.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Session {
    /// Run the real binary against this world, from the repository root (so `deploy.toml` and
    /// `examples/` resolve), non-interactively.
    pub async fn ecsdeploy(&self, args: &[&str]) -> Run {
        self.ecsdeploy_with_env(args, &[]).await
    }

    /// As [`Session::ecsdeploy`], with extra environment variables (`IMAGE_TAG`, say).
    pub async fn ecsdeploy_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.ecsdeploy_at(&self.world.endpoint, args, env).await
    }

    /// Run the binary against `endpoint` (the world, or a fault proxy in front of it).
    pub async fn ecsdeploy_at(&self, endpoint: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
        let out = command(endpoint, args).envs(env.iter().copied()).output().await.expect("run ecsdeploy");
        Run { code: out.status.code().unwrap_or(-1), stdout: String::from_utf8_lossy(&out.stdout).into(), stderr: String::from_utf8_lossy(&out.stderr).into() }
    }

    /// The HTTP status `url` answers with, or none when nothing answers.
    pub async fn http_status(&self, url: &str) -> Option<u16> {
        self.http.get(url).timeout(Duration::from_secs(5)).send().await.ok().map(|r| r.status().as_u16())
    }

    /// The binary started against this world, for a test that controls the process itself.
    pub fn ecsdeploy_command(&self, args: &[&str]) -> tokio::process::Command {
        command(&self.world.endpoint, args)
    }

    /// The mutating AWS calls since `from` (an index into the request log).
    pub async fn mutating_since(&self, from: usize) -> Vec<String> {
        self.requests().await[from..]
            .iter()
            .filter(|(_, action)| !["Describe", "List", "Get"].iter().any(|p| action.starts_with(p)))
            .map(|(service, action)| format!("{service}:{action}"))
            .collect()
    }

    /// An inbound rule added by hand (out of band, untagged), as someone in the console would.
    pub async fn allow_by_hand(&self, group: &str, port: i32, cidr: &str) {
        use aws_sdk_ec2::types::{IpPermission, IpRange};
        let rule = IpPermission::builder().ip_protocol("tcp").from_port(port).to_port(port).ip_ranges(IpRange::builder().cidr_ip(cidr).build()).build();
        by_hand("ec2:AuthorizeSecurityGroupIngress", || self.aws.ec2.authorize_security_group_ingress().group_id(group).ip_permissions(rule.clone()).send())
            .await;
    }

    /// The mutating calls since `from` that changed the stack, once the stack's lease (taken
    /// first, released last, by every run that changes something) is set aside.
    pub async fn changes_since(&self, from: usize) -> Vec<String> {
        let calls = self.mutating_since(from).await;
        assert_eq!(calls.first().map(String::as_str), Some("logs:CreateLogGroup"), "the lease is taken first: {calls:?}");
        assert_eq!(calls.last().map(String::as_str), Some("logs:DeleteLogGroup"), "the lease is released last: {calls:?}");
        calls[1..calls.len() - 1].to_vec()
    }

    /// What the console tutorial assumes already exists: the SSH key pair, the RDS group, and
    /// the images pushed to ECR. Returns the RDS group's id.
    pub async fn tutorial_prerequisites(&self) -> String {
        self.aws.ec2.create_key_pair().key_name("mlds-ecs-key").send().await.unwrap();
        let out = self.aws.ec2.create_security_group().group_name("mlds423-rds-access").description("RDS access").send().await.unwrap();
        self.push_image("iris-inference", "latest").await;
        self.push_image("iris-pipeline", "latest").await;
        out.group_id.unwrap()
    }
}

impl Run {
    /// The URL `apply` (or scale, redeploy) printed for the iris service.
    pub fn live_url(&self) -> String {
        let line =
            self.stdout.lines().find(|l| l.starts_with("iris-app is live: ")).unwrap_or_else(|| panic!("no URL printed:\n{}\n{}", self.stdout, self.stderr));
        line.trim_start_matches("iris-app is live: ").to_string()
    }

    pub fn assert_ok(&self, what: &str) -> &Self {
        assert_eq!(self.code, 0, "{what} failed:\n{}\n{}", self.stdout, self.stderr);
        self
    }
}

/// A fault-injecting proxy (world/ecsworld/proxy.py) in front of the world, for one test.
pub struct Proxy {
    pub url: String,
    http: reqwest::Client,
    _child: tokio::process::Child,
}

impl Session {
    pub async fn proxy(&self) -> Proxy {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let venv = std::env::var_os("ECSDEPLOY_VENV").map(PathBuf::from).unwrap_or_else(|| root.join(".venv"));
        let mut child = tokio::process::Command::new(venv.join("bin/python"))
            .args(["-m", "ecsworld.proxy", "--upstream", &self.world.endpoint, "--exit-on-stdin-eof"])
            .env("PYTHONPATH", root.join("world"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the fault proxy");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        tokio::io::AsyncBufReadExt::read_line(&mut tokio::io::BufReader::new(stdout), &mut line).await.unwrap();
        let url = line.trim().strip_prefix("PROXY_URL=").unwrap_or_else(|| panic!("proxy did not start: {line:?}")).to_string();
        Proxy { url, http: self.http.clone(), _child: child }
    }
}

impl Proxy {
    /// Set faults: `{"throttle_rate": 0.3, "fail_after_mutations": 5, "seed": 1, …}`.
    pub async fn faults(&self, config: serde_json::Value) {
        let r = self.http.post(format!("{}/_proxy/config", self.url)).header("content-type", "application/json").body(config.to_string()).send().await.unwrap();
        assert!(r.status().is_success(), "proxy config: {}", r.text().await.unwrap_or_default());
    }

    pub async fn reset(&self) {
        self.http.post(format!("{}/_proxy/reset", self.url)).send().await.unwrap();
    }

    /// (service, action, injected) of every AWS request since the last reset.
    pub async fn log(&self) -> Vec<(String, String, Option<String>)> {
        let text = self.http.get(format!("{}/_proxy/log", self.url)).send().await.unwrap().text().await.unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (e["service"].as_str().unwrap_or("").to_string(), e["action"].as_str().unwrap_or("").to_string(), e["injected"].as_str().map(String::from))
            })
            .collect()
    }
}
