use crate::aws::Aws;
use crate::cli::Global;
use crate::engine;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::resource::{inventory, AwsProvider};

/// Delete what the stack owns (found by its tag, whatever the spec now says), dependents first,
/// through the engine. With `--stack` no spec is read.
pub async fn run(global: &Global, out: &Output, auto_approve: bool, logs: bool, stack: Option<String>) -> Result<u8> {
    let (name, region) = match stack {
        Some(name) if crate::spec::is_stack_name(&name) => (name, None),
        Some(name) => {
            return Err(Error::usage(format!("`{name}` is not a stack name"), "stack names are 1-32 letters, digits and hyphens, starting with a letter"))
        }
        None => {
            let loaded = crate::spec::load(&global.file)?;
            (loaded.spec.stack.name, loaded.spec.stack.region)
        }
    };
    let aws = Aws::connect(&super::target(global, region)?).await?;
    let plan = super::with_identity(&aws, async { inventory::teardown(&aws, &name, !logs).await.map_err(super::resource_error) }).await?;
    super::header(out, &aws, &name).await;
    if !plan.has_changes() {
        out.nothing_to_destroy(&plan);
        return Ok(0);
    }
    out.plan(&plan);
    if !auto_approve && !out.confirm(&format!("Destroy stack `{name}`?"), "destroy")? {
        out.declined("Nothing destroyed: you answered no (answer y, or pass --auto-approve, to destroy).");
        return Ok(2);
    }
    let provider = AwsProvider::for_stack(aws.clone(), &name);
    let report = super::locked(&aws, &name, async {
        let report = engine::execute(&provider, &plan, &|e| out.progress(&e)).await;
        super::apply::failed(&report)?;
        Ok(report)
    })
    .await?;
    out.destroyed(&report, &plan);
    Ok(0)
}
