//! One file per command; each is thin and hands the work to the library.

mod validate;

use crate::cli::{Cli, Command};
use crate::error::Result;

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Validate => validate::run(&cli.file),
    }
}
