//! Command-line types only; the commands live in `commands/`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "ecsdeploy", version, about = "Declarative deployer for Amazon ECS: one TOML spec, a plan, a verified deploy")]
pub struct Cli {
    /// The spec file.
    #[arg(short = 'f', long = "file", global = true, default_value = "deploy.toml", env = "ECSDEPLOY_FILE")]
    pub file: PathBuf,

    /// AWS profile from ~/.aws/config (default: the standard chain).
    #[arg(long, global = true, env = "AWS_PROFILE")]
    pub profile: Option<String>,

    /// AWS region (default: stack.region in the spec, then the standard chain).
    #[arg(long, global = true)]
    pub region: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the spec: syntax, references, combinations ECS would refuse, free-tier guardrails.
    /// Makes no AWS call.
    Validate,
}
