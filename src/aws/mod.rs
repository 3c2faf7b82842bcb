//! The AWS context: one `SdkConfig` from the standard chain (env, profiles, SSO, instance and
//! container roles; `AWS_ENDPOINT_URL` honoured as by every SDK), and every client built from it.

mod error;

pub use error::{AwsError, AwsResultExt, ErrorKind};

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// How long the run's first call (who am I) may take before ecsdeploy says AWS is unreachable.
pub const REACH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(12);

/// Attempts per AWS call (the first and up to 7 retries, with exponential backoff and jitter).
pub const MAX_ATTEMPTS: u32 = 8;

/// What the command line and the spec say about where to connect.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub profile: Option<String>,
    /// `--region` wins over the spec's `stack.region`, which wins over the chain.
    pub region: Option<String>,
}

/// All clients ecsdeploy uses, sharing one configuration (credentials, region, retries, endpoint).
#[derive(Clone, Debug)]
pub struct Aws {
    pub config: SdkConfig,
    pub ecs: aws_sdk_ecs::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub iam: aws_sdk_iam::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sts: aws_sdk_sts::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub freetier: aws_sdk_freetier::Client,
    /// The Resource Groups Tagging API: what the stack owns, found by its tag.
    pub tagging: aws_sdk_resourcegroupstagging::Client,
    /// The caller's account, asked once per run (see [`Aws::account_id`]).
    identity: std::sync::Arc<tokio::sync::OnceCell<Result<String, AwsError>>>,
}

impl Aws {
    /// Load the configuration from the standard chain. Fails, without any AWS call, when no region
    /// can be found.
    pub async fn connect(target: &Target) -> Result<Aws, AwsError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        // Standard retry mode, with more attempts than the SDK's 3: an apply makes dozens of
        // calls and must ride out throttling. AWS_MAX_ATTEMPTS still wins when set.
        if std::env::var_os("AWS_MAX_ATTEMPTS").is_none() {
            loader = loader.retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
        }
        if let Some(p) = &target.profile {
            loader = loader.profile_name(p);
        }
        if plain_http_only(target) {
            loader = loader.http_client(without_trust_store());
        }
        if let Some(r) = &target.region {
            loader = loader.region(Region::new(r.clone()));
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(AwsError::usage("no AWS region is configured", "set stack.region in the spec, pass --region, or export AWS_REGION=us-east-1"));
        }
        Ok(Aws::from_config(config))
    }

    /// Every client from one configuration; tests use this with their own `SdkConfig`.
    pub fn from_config(config: SdkConfig) -> Aws {
        Aws {
            ecs: aws_sdk_ecs::Client::new(&config),
            ecr: aws_sdk_ecr::Client::new(&config),
            ec2: aws_sdk_ec2::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            autoscaling: aws_sdk_autoscaling::Client::new(&config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            // The Free Tier API lives in us-east-1 only, whatever region the stack is in.
            freetier: aws_sdk_freetier::Client::from_conf(aws_sdk_freetier::config::Builder::from(&config).region(Region::new("us-east-1")).build()),
            tagging: aws_sdk_resourcegroupstagging::Client::new(&config),
            identity: Default::default(),
            config,
        }
    }

    pub fn region(&self) -> &str {
        self.config.region().map(Region::as_ref).unwrap_or("")
    }

    /// The account the credentials belong to, asked once per run. Commands ask it alongside
    /// their first reads (not before them), and report its failure first: credential problems
    /// surface here with a clear remedy.
    /// Without an answer within [`REACH_TIMEOUT`] (no network, a wrong endpoint, a server not
    /// running) the run stops, naming the endpoint, instead of retrying for a minute.
    pub async fn account_id(&self) -> Result<String, AwsError> {
        self.identity
            .get_or_init(|| async {
                let asked = tokio::time::timeout(REACH_TIMEOUT, self.sts.get_caller_identity().send()).await;
                let out = match asked.map(|r| r.aws("sts:GetCallerIdentity")) {
                    Err(_) => return Err(self.unreachable(&format!("no answer within {}s", REACH_TIMEOUT.as_secs()))),
                    Ok(Err(e)) if e.is(ErrorKind::Retryable) => return Err(self.unreachable(&e.message)),
                    Ok(r) => r?,
                };
                Ok(out.account.unwrap_or_default())
            })
            .await
            .clone()
    }

    /// AWS (or the endpoint standing in for it) cannot be reached: which address, and what to check.
    fn unreachable(&self, why: &str) -> AwsError {
        let (endpoint, hint) = match self.config.endpoint_url() {
            Some(url) => (url.to_string(), format!("AWS_ENDPOINT_URL is {url}: is that server running and reachable from here?")),
            None => (
                format!("https://sts.{}.amazonaws.com", self.region()),
                "check this machine's network connection (VPN, HTTPS_PROXY) and that the region exists".to_string(),
            ),
        };
        AwsError {
            kind: ErrorKind::Fatal,
            operation: "sts:GetCallerIdentity".into(),
            code: None,
            message: format!("cannot reach AWS at {endpoint}: {why}"),
            hint: Some(hint),
        }
    }
}

/// Whether no call of this run can use TLS: every service goes to one plain-http endpoint (the
/// local AWS world, LocalStack) and the credentials are static keys (no SSO or STS over HTTPS).
fn plain_http_only(target: &Target) -> bool {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let per_service = std::env::vars().any(|(k, _)| k.starts_with("AWS_ENDPOINT_URL_"));
    var("AWS_ENDPOINT_URL").is_some_and(|u| u.starts_with("http://"))
        && !per_service
        && var("AWS_ACCESS_KEY_ID").is_some()
        && var("AWS_SECRET_ACCESS_KEY").is_some()
        && target.profile.is_none()
}

/// The SDK's HTTP client without the system's trust store: loading it reads every certificate
/// file of the machine, the largest part of start-up, for connections that never use TLS.
fn without_trust_store() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
    let context = TlsContext::builder().with_trust_store(TrustStore::empty()).build().expect("an empty trust store is valid");
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc)).tls_context(context).build_https()
}

/// How long an operation is retried while AWS propagates what it needs: terraform-provider-aws's
/// `propagationTimeout` for IAM and EC2 is two minutes.
pub const PROPAGATION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// Retry an operation while AWS is still propagating something just made (a role or instance
/// profile, a security group, a listener's target group, ECS's service-linked role; see
/// [`AwsError::is_propagation`]), for up to [`PROPAGATION_TIMEOUT`]. Any other answer returns.
pub async fn retry_propagation<T, F, Fut>(mut op: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(250);
    loop {
        match op().await {
            Err(e) if e.is_propagation() && start.elapsed() < PROPAGATION_TIMEOUT => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
            }
            other => return other,
        }
    }
}
