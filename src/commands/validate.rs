use crate::cli::Global;
use crate::error::Result;
use crate::output::Output;
use crate::spec;

pub fn run(global: &Global, out: &Output) -> Result<u8> {
    let loaded = spec::load(&global.file)?;
    out.spec_warnings(&loaded);
    // What the plan will say of the spec alone (no AWS call): rolling deploys, capacity.
    out.notes(&crate::resource::notes(&loaded.spec));
    out.validated(&loaded);
    Ok(0)
}
