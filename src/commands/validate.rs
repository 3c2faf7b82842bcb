use std::path::Path;

use crate::error::Result;
use crate::{output, spec};

pub fn run(file: &Path) -> Result<()> {
    let loaded = spec::load(file)?;
    output::spec_warnings(&loaded);
    output::validated(&loaded);
    Ok(())
}
