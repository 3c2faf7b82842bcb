//! The TOML model of `deploy.toml`. Plain serde types: every table refuses unknown keys so a typo
//! is an error at its line, never a silently ignored setting. Defaults live here, next to the field.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// The whole spec file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub stack: Stack,
    pub cluster: Cluster,
    /// IAM roles tasks assume, by name (the task role of the tutorial: `ecs-iris-tasks`).
    #[serde(default)]
    pub roles: IndexMap<String, Role>,
    /// Task definitions, by family name.
    #[serde(default)]
    pub tasks: IndexMap<String, TaskDef>,
    /// Long-running services, by service name.
    #[serde(default)]
    pub services: IndexMap<String, Service>,
    /// One-off tasks run with `ecsdeploy run NAME` (the iris pipeline).
    #[serde(default)]
    pub jobs: IndexMap<String, Job>,
    /// Security groups referenced by rules. `ecs` (the cluster's instance group) and `alb` (the load
    /// balancer's group, when there is one) always exist; others name groups that already exist.
    #[serde(default)]
    pub security_groups: IndexMap<String, ExistingGroup>,
    /// Inbound rules ecsdeploy owns, on its own groups or on existing ones (MySQL into RDS).
    #[serde(default)]
    pub ingress: Vec<Ingress>,
    pub load_balancer: Option<LoadBalancer>,
    #[serde(default)]
    pub guardrails: Guardrails,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// Tag value `ecsdeploy:stack`; prefix of every name ecsdeploy makes up.
    pub name: String,
    /// Region; when absent, the standard AWS chain decides (AWS_REGION, profile).
    pub region: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    /// Keep the FARGATE and FARGATE_SPOT capacity providers on the cluster (the tutorial does).
    #[serde(default = "yes")]
    pub fargate: bool,
    /// EC2 capacity: an autoscaling group of ECS-optimised instances behind a capacity provider.
    pub ec2: Option<Ec2Capacity>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ec2Capacity {
    /// Absent: the account's own free-tier type, asked at plan time (t2.micro where the account
    /// offers it free, else t3.micro): since 2025-07-15 the free tier depends on the account.
    pub instance_type: Option<String>,
    /// `amazon-linux-2023` (the ECS-optimised AMI AWS recommends, from its public SSM parameter),
    /// `amazon-linux-2` (past end of support), or an `ami-…` id.
    #[serde(default = "default_ami")]
    pub ami: String,
    #[serde(default)]
    pub min: u32,
    #[serde(default = "one")]
    pub max: u32,
    #[serde(default = "one")]
    pub desired: u32,
    /// Name of an existing EC2 key pair for SSH.
    pub key_pair: Option<String>,
    /// CIDRs allowed to SSH (port 22) into the instances.
    #[serde(default)]
    pub ssh_cidrs: Vec<String>,
    /// `"default"` (the default VPC's default subnets) or a list of subnet ids.
    #[serde(default)]
    pub subnets: Subnets,
    /// Managed scaling on the capacity provider.
    #[serde(default = "yes")]
    pub managed_scaling: bool,
    /// The instance role: a role from `[roles]` (the console's `ecsInstanceRole`); its instance
    /// profile has the same name. Absent: the stack's own `<stack>-ecs-instance`.
    pub instance_role: Option<String>,
    /// Names of resources that exist already under other names (adopted with `ecsdeploy init
    /// --from-cluster`). Absent: `<stack>-ecs` (the capacity provider: `<stack>-ec2`).
    pub security_group: Option<String>,
    /// The instances' group description, which EC2 cannot change in place.
    pub security_group_description: Option<String>,
    pub launch_template: Option<String>,
    pub autoscaling_group: Option<String>,
    pub capacity_provider: Option<String>,
    /// The instances' user data. Absent: a script that names the cluster to the ECS agent.
    pub user_data: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Subnets {
    /// Only the word `default` is accepted; validation enforces it.
    Keyword(String),
    List(Vec<String>),
}

impl Default for Subnets {
    fn default() -> Self {
        Subnets::Keyword("default".into())
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Service principals allowed to assume the role: `ecs-tasks` is short for
    /// `ecs-tasks.amazonaws.com`.
    #[serde(default = "default_trust")]
    pub trust: Vec<String>,
    /// AWS managed policy names (`AmazonS3FullAccess`) or policy ARNs.
    #[serde(default)]
    pub managed_policies: Vec<String>,
    /// Inline policies: name → JSON policy document.
    #[serde(default)]
    pub inline_policies: IndexMap<String, String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    Bridge,
    Awsvpc,
    Host,
}

/// `execution_role = "none"`: a task definition without one, as the console makes for EC2.
pub const NO_EXECUTION_ROLE: &str = "none";

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TaskDef {
    #[serde(default = "default_network_mode")]
    pub network_mode: NetworkMode,
    /// CPU units (256 = 0.25 vCPU); `"0.25 vCPU"` as the console writes it is read as 256.
    #[serde(default, deserialize_with = "super::units::de_cpu")]
    pub cpu: Option<u32>,
    /// MiB (512 = 0.5 GB); `"0.5 GB"` or `"512 MiB"` as the console writes it is read as 512.
    #[serde(default, deserialize_with = "super::units::de_memory")]
    pub memory: Option<u32>,
    /// A role from `[roles]`, or an IAM role ARN.
    pub task_role: Option<String>,
    /// A role from `[roles]` or an ARN; absent: the stack's own execution role, made when needed;
    /// [`NO_EXECUTION_ROLE`]: none (EC2 only: the instance's role pulls images and writes logs).
    pub execution_role: Option<String>,
    /// `FARGATE` and/or `EC2`; derived from how services and jobs run it when absent.
    pub requires: Option<Vec<LaunchType>>,
    #[serde(default)]
    pub logs: Logs,
    pub containers: Vec<Container>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Logs {
    /// awslogs into CloudWatch Logs; `false` sends no logs anywhere.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Log group; default `/ecs/<task family>`.
    pub group: Option<String>,
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    #[serde(default = "default_stream_prefix")]
    pub stream_prefix: String,
}

impl Default for Logs {
    fn default() -> Self {
        Logs { enabled: true, group: None, retention_days: default_retention(), stream_prefix: default_stream_prefix() }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Container {
    pub name: String,
    /// Image URI; `${VAR}` lets CI pass the pushed tag.
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entry_point: Option<Vec<String>>,
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    /// Plain values, or `{ value = "…", secret = true }` for values that must never be printed.
    #[serde(default)]
    pub environment: IndexMap<String, EnvValue>,
    /// Injected by ECS from SSM Parameter Store or Secrets Manager: NAME → parameter/secret ARN.
    #[serde(default)]
    pub secrets: IndexMap<String, String>,
    #[serde(default = "yes")]
    pub essential: bool,
    #[serde(default, deserialize_with = "super::units::de_cpu")]
    pub cpu: Option<u32>,
    /// Hard limit, MiB (or `"0.5 GB"`).
    #[serde(default, deserialize_with = "super::units::de_memory")]
    pub memory: Option<u32>,
    /// Soft limit, MiB (or `"0.25 GB"`).
    #[serde(default, deserialize_with = "super::units::de_memory")]
    pub memory_reservation: Option<u32>,
    pub health_check: Option<HealthCheck>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PortMapping {
    pub container: u32,
    /// Bridge mode: 0 or absent = dynamic host port; awsvpc: must equal `container`.
    pub host: Option<u32>,
    #[serde(default = "default_protocol")]
    pub protocol: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum EnvValue {
    Plain(String),
    Marked(MarkedValue),
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MarkedValue {
    pub value: String,
    #[serde(default)]
    pub secret: bool,
}

impl EnvValue {
    pub fn value(&self) -> &str {
        match self {
            EnvValue::Plain(v) => v,
            EnvValue::Marked(m) => &m.value,
        }
    }
    pub fn is_secret(&self) -> bool {
        matches!(self, EnvValue::Marked(MarkedValue { secret: true, .. }))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// As ECS takes it: `["CMD-SHELL", "curl -f http://localhost/ || exit 1"]`.
    pub command: Vec<String>,
    #[serde(default = "default_hc_interval")]
    pub interval: u32,
    #[serde(default = "default_hc_timeout")]
    pub timeout: u32,
    #[serde(default = "default_hc_retries")]
    pub retries: u32,
    #[serde(default)]
    pub start_period: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum LaunchType {
    #[serde(rename = "EC2")]
    Ec2,
    #[serde(rename = "FARGATE")]
    Fargate,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// A task family from `[tasks]`.
    pub task: String,
    #[serde(default = "one")]
    pub desired_count: u32,
    /// `ec2` (the cluster's own capacity provider), `FARGATE` or `FARGATE_SPOT`. Default: `ec2`
    /// when the cluster has EC2 capacity.
    pub capacity_provider: Option<String>,
    /// Alternative to `capacity_provider`.
    pub launch_type: Option<LaunchType>,
    /// Seconds ECS ignores failing load-balancer health checks after a task starts.
    pub health_check_grace_period: Option<u32>,
    #[serde(default)]
    pub deployment: Deployment,
    /// Attach to the stack's `[load_balancer]`.
    pub load_balancer: Option<ServiceLoadBalancer>,
    /// awsvpc only.
    pub network: Option<ServiceNetwork>,
    #[serde(default)]
    pub verify: Verify,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Deployment {
    /// Absent: 100, or 0 when a static host port on one instance makes a rolling deploy impossible.
    pub minimum_healthy_percent: Option<u32>,
    /// Absent: 200, or 100 in the same case.
    pub maximum_percent: Option<u32>,
    #[serde(default = "yes")]
    pub circuit_breaker: bool,
    #[serde(default = "yes")]
    pub rollback: bool,
    /// Task-definition revisions kept per family; older unused ones are deregistered.
    #[serde(default = "default_keep_revisions")]
    pub keep_revisions: u32,
    /// No progress for this long fails the wait (`90s`, `5m`). Progress is any task moving through
    /// PROVISIONING → PENDING → RUNNING, a target's health changing, an instance joining.
    #[serde(default = "default_progress_timeout")]
    pub progress_timeout: String,
    /// Overall deadline of the wait.
    #[serde(default = "default_deadline")]
    pub deadline: String,
}

impl Default for Deployment {
    fn default() -> Self {
        Deployment {
            minimum_healthy_percent: None,
            maximum_percent: None,
            circuit_breaker: true,
            rollback: true,
            keep_revisions: default_keep_revisions(),
            progress_timeout: default_progress_timeout(),
            deadline: default_deadline(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceLoadBalancer {
    pub container: String,
    pub port: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetwork {
    #[serde(default)]
    pub subnets: Subnets,
    /// Group names from `[security_groups]`, or `ecs` / `alb`.
    #[serde(default = "default_service_groups")]
    pub security_groups: Vec<String>,
    /// A public address on the task's interface: Fargate's default (in public subnets it is how the
    /// task reaches ECR); AWS refuses it for the EC2 launch type and EC2 capacity providers.
    pub assign_public_ip: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Verify {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_verify_path")]
    pub path: String,
    #[serde(default = "default_verify_expect")]
    pub expect: u16,
    #[serde(default = "default_verify_timeout")]
    pub timeout: String,
}

impl Default for Verify {
    fn default() -> Self {
        Verify { enabled: true, path: default_verify_path(), expect: default_verify_expect(), timeout: default_verify_timeout() }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// A task family from `[tasks]`.
    pub task: String,
    pub capacity_provider: Option<String>,
    pub launch_type: Option<LaunchType>,
    /// Overrides the container command for this job.
    pub command: Option<Vec<String>>,
    pub network: Option<ServiceNetwork>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExistingGroup {
    /// The group's name (`mlds423-rds-access`) or id (`sg-…`); ecsdeploy never creates or deletes it,
    /// only the rules it owns on it.
    pub existing: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Ingress {
    /// The group receiving the rule: `ecs`, `alb`, or a name from `[security_groups]`.
    pub group: String,
    /// A single port, or use `from_port`/`to_port`.
    pub port: Option<u32>,
    pub from_port: Option<u32>,
    pub to_port: Option<u32>,
    #[serde(default = "default_protocol")]
    pub protocol: String,
    /// Source CIDR.
    pub cidr: Option<String>,
    /// Source group: `ecs`, `alb`, or a name from `[security_groups]`.
    pub source_group: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancer {
    pub name: String,
    #[serde(default = "default_listener_port")]
    pub listener_port: u32,
    /// CIDRs allowed to reach the listener.
    #[serde(default = "default_anywhere")]
    pub allow_cidrs: Vec<String>,
    #[serde(default)]
    pub subnets: Subnets,
    #[serde(default)]
    pub target_group: TargetGroup,
    /// The load balancer's own group, when it exists under another name (adopted). Absent:
    /// `<stack>-alb`.
    pub security_group: Option<String>,
    pub security_group_description: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TargetGroup {
    /// Default: the load balancer's name.
    pub name: Option<String>,
    #[serde(default = "default_hc_path")]
    pub health_check_path: String,
    /// Seconds; short so deploys on a tiny stack don't wait 5 minutes for draining.
    #[serde(default = "default_dereg_delay")]
    pub deregistration_delay: u32,
    /// Seconds between health checks, and the passes that make a target healthy: 10 s × 2 counts
    /// a new task healthy in 20 s, where AWS's defaults (30 s × 5) take 150 s on every deploy.
    #[serde(default = "default_hc_interval_lb")]
    pub health_check_interval: u32,
    #[serde(default = "default_healthy_threshold")]
    pub healthy_threshold: u32,
}

impl Default for TargetGroup {
    fn default() -> Self {
        TargetGroup {
            name: None,
            health_check_path: default_hc_path(),
            deregistration_delay: default_dereg_delay(),
            health_check_interval: default_hc_interval_lb(),
            healthy_threshold: default_healthy_threshold(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Guardrails {
    /// Warn in plan and refuse in apply (without `--allow-cost`) what leaves the AWS free tier.
    #[serde(default = "yes")]
    pub free_tier: bool,
}

impl Default for Guardrails {
    fn default() -> Self {
        Guardrails { free_tier: true }
    }
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_ami() -> String {
    "amazon-linux-2023".into()
}
fn default_trust() -> Vec<String> {
    vec!["ecs-tasks".into()]
}
fn default_network_mode() -> NetworkMode {
    NetworkMode::Bridge
}
fn default_retention() -> u32 {
    7
}
fn default_stream_prefix() -> String {
    "ecs".into()
}
fn default_protocol() -> String {
    "tcp".into()
}
fn default_hc_interval() -> u32 {
    30
}
fn default_hc_timeout() -> u32 {
    5
}
fn default_hc_retries() -> u32 {
    3
}
fn default_keep_revisions() -> u32 {
    5
}
// On AWS one step can take minutes without a visible change: managed scaling deciding and an
// instance booting (3-4 min), an ML image's first pull on a micro instance (up to 2 min), a target's
// default health checks (5 × 30 s). A whole first deploy takes about 10 minutes.
fn default_progress_timeout() -> String {
    "5m".into()
}
fn default_deadline() -> String {
    "20m".into()
}
fn default_service_groups() -> Vec<String> {
    vec!["ecs".into()]
}
fn default_verify_path() -> String {
    "/docs".into()
}
fn default_verify_expect() -> u16 {
    200
}
fn default_verify_timeout() -> String {
    "2m".into()
}
fn default_listener_port() -> u32 {
    80
}
fn default_anywhere() -> Vec<String> {
    vec!["0.0.0.0/0".into()]
}
fn default_hc_path() -> String {
    "/".into()
}
fn default_dereg_delay() -> u32 {
    10
}
fn default_hc_interval_lb() -> u32 {
    10
}
fn default_healthy_threshold() -> u32 {
    2
}
