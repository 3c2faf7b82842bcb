use std::process::ExitCode;

use clap::Parser;

use ecsdeploy::{cli::Cli, commands, output};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match commands::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            output::error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}
