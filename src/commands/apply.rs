use super::Stack;
use crate::cli::Global;
use crate::engine::{self, Report};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::spec;

pub struct Options {
    pub auto_approve: bool,
    pub allow_cost: bool,
    pub no_rollback: bool,
    /// `CONTAINER=URI` overrides from CI.
    pub images: Vec<String>,
}

pub async fn run(global: &Global, out: &Output, opts: Options) -> Result<u8> {
    let Options { auto_approve, allow_cost, no_rollback, images } = opts;
    let mut loaded = spec::load(&global.file)?;
    let overrides = super::override_images(&mut loaded.spec, &images)?;
    // Guardrails come from the spec alone: refuse before any AWS call.
    let costly: Vec<String> = loaded.warnings.iter().filter(|w| w.cost).map(|w| w.message.clone()).collect();
    if !costly.is_empty() && !allow_cost {
        return Err(Error::usage(
            format!("refusing to leave the AWS free tier: {}", costly.join("; ")),
            "pass --allow-cost to accept the charges, or change the spec (guardrails.free_tier = false silences this)",
        ));
    }
    let mut stack = Stack::connect(global, loaded).await?;
    // A CI deploy names images that must exist before anything is registered.
    for (container, uri) in &overrides {
        match crate::resource::ecr::digest(&stack.provider.aws, uri).await {
            Ok(Some(d)) => {
                out.step(&format!("{container}: {uri} is {d}"));
                stack.provider.digests.insert(container.clone(), d);
            }
            Ok(None) => {}
            Err(crate::resource::Error::Aws(a)) => return Err(a.into()),
            Err(crate::resource::Error::Other(f)) => return Err(Error::Failed { message: f.message, hint: f.hint }),
        }
    }
    let plan = stack.plan().await?;
    out.plan(&plan);
    if !plan.has_changes() {
        return Ok(0);
    }
    if !auto_approve && !out.confirm("Apply these changes?")? {
        return Err(Error::usage("nothing applied", "answer y to apply, or pass --auto-approve"));
    }
    let since = super::rollout::now();
    let report = engine::execute(&stack.provider, &plan, &|e| out.progress(&e)).await;
    failed(&report)?;
    super::rollout::follow(&stack, out, &plan, &report, since, no_rollback).await?;
    // Prove convergence: a fresh look must find nothing left to do.
    let after = stack.plan().await?;
    if after.has_changes() {
        out.plan(&after);
        return Err(Error::Failed {
            message: "apply finished but AWS still differs from the spec (see the plan above)".into(),
            hint: Some("run apply again; if the same change persists, something outside ecsdeploy is changing it".into()),
        });
    }
    out.applied(&report, &after);
    Ok(0)
}

/// An error naming the first failure when any change failed.
pub(super) fn failed(report: &Report) -> Result<()> {
    if report.ok() {
        return Ok(());
    }
    let (address, first) = report.failed.first().cloned().unwrap_or_default();
    Err(Error::Failed {
        message: format!("{} change(s) failed, {} skipped; first: {address}: {}", report.failed.len(), report.skipped.len(), first.message),
        hint: first.hint.or(Some("fix the cause and run the command again: it continues where this one stopped".into())),
    })
}
