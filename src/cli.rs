//! Command-line types only; the commands live in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "ecsdeploy", version, about = "Declarative deployer for Amazon ECS: one TOML spec, a plan, a verified deploy")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The spec file.
    #[arg(short = 'f', long = "file", global = true, default_value = "deploy.toml", env = "ECSDEPLOY_FILE")]
    pub file: PathBuf,

    /// AWS profile from ~/.aws/config (default: the standard chain).
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,

    /// AWS region (default: stack.region in the spec, then the standard chain).
    #[arg(long, global = true)]
    pub region: Option<String>,

    /// No colour in output (also: NO_COLOR in the environment).
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec: syntax, references, combinations ECS would refuse, free-tier guardrails.
    /// Makes no AWS call.
    Validate,
    /// Write the spec of a cluster that already exists (built in the console): its capacity,
    /// roles, task definitions, services and rules, as they are. Reads only. `plan` on the file
    /// then shows them as adopted, and `apply` tags them.
    Init {
        /// The cluster to read.
        #[arg(long = "from-cluster", value_name = "CLUSTER")]
        from_cluster: String,
        /// Only these services (repeatable; default: all of the cluster's).
        #[arg(long = "service", value_name = "NAME")]
        services: Vec<String>,
        /// A task definition family run as a one-off task (the iris pipeline), written as a
        /// [jobs] entry (repeatable). Families tagged with the stack are found by themselves.
        #[arg(long = "job", value_name = "FAMILY")]
        jobs: Vec<String>,
        /// Where to write the spec (default: the spec file, -f, so later commands read it).
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
        /// Overwrite the output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Show what apply would change, and why. Makes only read calls.
    Plan {
        /// Print the plan as JSON (stable shape, see the README).
        #[arg(long)]
        json: bool,
        /// Exit 0 when there is nothing to change, 2 when there is (1 on error), for CI.
        #[arg(long)]
        detailed_exitcode: bool,
        /// Show every field of what is created (tags, defaults) and a no-op plan's warnings.
        #[arg(short, long)]
        verbose: bool,
        /// Plan as if this image were deployed for a container (what `apply --image` would do).
        #[arg(long = "image", value_name = "CONTAINER=URI")]
        images: Vec<String>,
        /// Save the plan for `apply FILE`, which refuses it if AWS changed in between.
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Make AWS match the spec, then re-plan to prove nothing is left to change.
    Apply {
        /// A plan saved by `plan --out`: apply exactly it, or refuse if AWS changed since.
        plan_file: Option<std::path::PathBuf>,
        /// Do not ask for confirmation (required when not on a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// Allow what leaves the AWS free tier (bigger instances, Fargate, load balancers).
        #[arg(long)]
        allow_cost: bool,
        /// Keep a failed deployment in place instead of rolling back to the previous revision.
        #[arg(long)]
        no_rollback: bool,
        /// Deploy this image for a container (CI after a push), checked in ECR first (repeatable).
        #[arg(long = "image", value_name = "CONTAINER=URI")]
        images: Vec<String>,
    },
    /// Delete everything tagged with this stack, whatever the spec now says, dependents first;
    /// never an untagged resource or another stack's. Safe to run again after an interruption.
    Destroy {
        /// Do not ask for confirmation (required when not on a terminal).
        #[arg(long)]
        auto_approve: bool,
        /// Also delete the CloudWatch log groups (kept by default: they hold the history).
        #[arg(long)]
        logs: bool,
        /// The stack to destroy, without a spec (everything tagged `ecsdeploy:stack = NAME` in the
        /// region); by default the spec's stack.
        #[arg(long, value_name = "NAME")]
        stack: Option<String>,
    },
    /// Change a service's desired count only (and, with --capacity, the instances behind it).
    Scale {
        /// The service (may be left out when the spec has one).
        service: Option<String>,
        /// Tasks to run.
        #[arg(long)]
        desired: u32,
        /// Also size the autoscaling group: 0 instances with --desired 0 (nothing left to pay
        /// for), the spec's count otherwise.
        #[arg(long)]
        capacity: bool,
        /// Return once ECS accepted the change, without waiting for the tasks (or verifying).
        #[arg(long)]
        no_wait: bool,
    },
    /// Run a one-off task (a [jobs.*] entry such as the iris pipeline) on the cluster.
    Run {
        /// The job (or a task family).
        name: String,
        /// Stream the task's logs until it stops, and exit with its container's exit code.
        #[arg(long)]
        wait: bool,
        /// Environment override for the job's container (repeatable).
        #[arg(long = "env", value_name = "NAME=VALUE")]
        env: Vec<String>,
    },
    /// Services (desired/running/pending, deployment, events, targets, URL), the cluster's
    /// instances, and the estimated monthly cost against the free tier. Read calls only.
    Status,
    /// Print the CloudWatch log lines of a service, job or task.
    Logs {
        /// Service, job or task family (may be left out when the spec has one service).
        name: Option<String>,
        /// Keep printing new lines until interrupted.
        #[arg(long)]
        follow: bool,
        /// How far back to start.
        #[arg(long, default_value = "10m")]
        since: String,
    },
    /// Explain why a service's /docs is not answering: capacity, the task, the app's logs, the
    /// security group, target health, the URL; each problem with its fix in the spec.
    Doctor {
        /// The service (may be left out when the spec has one).
        service: Option<String>,
    },
    /// Print a completion script for a shell (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Start a new deployment of the service's current revision (an image tag re-pushed), then
    /// wait and verify like apply.
    Redeploy {
        /// The service (may be left out when the spec has one).
        service: Option<String>,
        /// Do it; without it, say what would happen and change nothing.
        #[arg(long)]
        force: bool,
        /// Return once ECS accepted the new deployment, without waiting for it (or verifying).
        #[arg(long)]
        no_wait: bool,
    },
}
