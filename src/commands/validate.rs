use crate::cli::Global;
use crate::error::Result;
use crate::output::Output;
use crate::spec;

pub fn run(global: &Global, out: &Output) -> Result<u8> {
    let loaded = spec::load(&global.file)?;
    out.spec_warnings(&loaded);
    out.validated(&loaded);
    Ok(0)
}
