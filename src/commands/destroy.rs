use super::Stack;
use crate::cli::Global;
use crate::engine;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::plan::teardown;

/// Delete what the stack owns, in reverse dependency order, through the engine.
pub async fn run(global: &Global, out: &Output, auto_approve: bool, logs: bool) -> Result<u8> {
    let stack = Stack::connect(global, crate::spec::load(&global.file)?).await?;
    let observed = stack.observe().await?;
    let keep: &[&str] = if logs { &[] } else { &["log_group"] };
    let plan = teardown(&observed, &stack.loaded.spec.stack.name, keep);
    out.plan(&plan);
    if !plan.has_changes() {
        return Ok(0);
    }
    if !auto_approve && !out.confirm(&format!("Destroy stack `{}`?", plan.stack), "destroy")? {
        return Err(Error::usage("nothing destroyed", "answer y to destroy, or pass --auto-approve"));
    }
    let report = stack
        .locked(async {
            let report = engine::execute(&stack.provider, &plan, &|e| out.progress(&e)).await;
            super::apply::failed(&report)?;
            Ok(report)
        })
        .await?;
    out.destroyed(&report, &plan);
    Ok(0)
}
