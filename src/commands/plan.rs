use super::Stack;
use crate::cli::Global;
use crate::error::Result;
use crate::output::Output;

pub async fn run(global: &Global, out: &Output, json: bool, detailed_exitcode: bool, images: &[String]) -> Result<u8> {
    let mut loaded = crate::spec::load(&global.file)?;
    super::override_images(&mut loaded.spec, images)?;
    let stack = Stack::connect(global, loaded).await?;
    let plan = stack.plan().await?;
    if json {
        out.plan_json(&plan);
    } else {
        out.plan(&plan);
    }
    Ok(if detailed_exitcode && plan.has_changes() { 2 } else { 0 })
}
