use std::collections::HashMap;

use super::Stack;
use crate::cli::Global;
use crate::engine::{self, Report};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::plan::{Action, Change, Plan};
use crate::spec;

pub struct Options {
    /// A plan saved by `plan --out`.
    pub plan_file: Option<std::path::PathBuf>,
    pub auto_approve: bool,
    pub allow_cost: bool,
    pub no_rollback: bool,
    /// `CONTAINER=URI` overrides from CI.
    pub images: Vec<String>,
}

pub async fn run(global: &Global, out: &Output, opts: Options) -> Result<u8> {
    let Options { plan_file, auto_approve, allow_cost, no_rollback, images } = opts;
    let mut loaded = spec::load(&global.file)?;
    // What the spec itself says of each overridden image, and where: the next plain apply goes back to it.
    let spec_images = |loaded: &spec::Loaded| -> HashMap<String, (String, String)> {
        let mut at = HashMap::new();
        for (family, t) in &loaded.spec.tasks {
            for (i, c) in t.containers.iter().enumerate() {
                let path = spec::KeyPath::root().key("tasks").key(family.as_str()).key("containers").index(i).key("image");
                at.insert(c.name.clone(), (c.image.clone(), loaded.place(&path)));
            }
        }
        at
    };
    let written = if images.is_empty() { HashMap::new() } else { spec_images(&loaded) };
    let overrides = super::override_images(&mut loaded.spec, &images)?;
    let kept_by_flag: Vec<Override> = overrides
        .iter()
        .filter_map(|(container, uri)| {
            let (image, place) = written.get(container)?;
            (image != uri).then(|| Override { container: container.clone(), uri: uri.clone(), spec_image: image.clone(), place: place.clone() })
        })
        .collect();
    // Guardrails come from the spec alone: refuse before any AWS call.
    let costly: Vec<String> = loaded.warnings.iter().filter(|w| w.cost).map(|w| w.message.clone()).collect();
    if !costly.is_empty() && !allow_cost {
        return Err(Error::usage(
            format!("refusing to leave the AWS free tier: {}", costly.join("; ")),
            "pass --allow-cost to accept the charges, or change the spec (guardrails.free_tier = false silences this)",
        ));
    }
    // A file that is no saved plan is bad input: refused before any AWS call.
    let saved = plan_file.as_deref().map(|f| read_saved(f).map(|p| (f, p))).transpose()?;
    let stack = Stack::connect(global, loaded).await?;
    // Planning looks every image up in ECR first: one that is missing stops it here.
    let planned = match saved {
        Some((file, saved)) => saved_plan(&stack, file, saved).await,
        None => stack.plan().await,
    };
    super::header(out, &stack.provider.aws, &stack.loaded.spec.stack.name).await;
    let plan = planned?;
    for (container, uri) in &overrides {
        if let Some(d) = stack.provider.digests.lock().expect("digests lock").get(uri) {
            out.step(&format!("{container}: {uri} is {d}"));
        }
    }
    out.plan(&plan);
    if !plan.has_changes() {
        return Ok(0);
    }
    if let Some(w) = stack.cost_refusal(&plan).filter(|_| !allow_cost) {
        return Err(Error::usage(
            format!("refusing to leave the AWS free tier: {w}"),
            "pass --allow-cost to accept the charges, or remove cluster.ec2.instance_type to use the account's free-tier type",
        ));
    }
    if !auto_approve && !out.confirm("Apply these changes?", "apply")? {
        // The person's own answer is no error; exit 2 as for any refusal a flag lifts.
        out.declined("Nothing applied: you answered no (answer y, or pass --auto-approve, to apply).");
        return Ok(2);
    }
    let report = stack
        .locked(async {
            // Under the lease, the plan must still be true: another run may have finished meanwhile.
            still_current(&stack, &plan).await?;
            let report = engine::execute(&stack.provider, &plan, &|e| out.progress(&e)).await;
            failed(&report)?;
            super::rollout::follow(&stack, out, &plan, &report, no_rollback).await?;
            Ok(report)
        })
        .await?;
    // Prove convergence: a fresh look must find nothing left to do. AWS's reads may lag its
    // writes for a moment (tags, rules, the tagging index), so a difference is looked at again
    // before it is believed.
    let mut after = stack.plan().await?;
    let settle = std::time::Instant::now();
    while after.has_changes() && settle.elapsed() < READ_LAG {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        after = stack.plan().await?;
    }
    if after.has_changes() {
        out.plan(&after);
        return Err(Error::Failed {
            message: "apply finished but AWS still differs from the spec (see the plan above)".into(),
            hint: Some("run apply again; if the same change persists, something outside ecsdeploy is changing it".into()),
        });
    }
    out.applied(&report, &after, &kept_by_flag);
    Ok(0)
}

/// An image `--image` deployed that the spec does not name (so a plain apply would undo it).
pub struct Override {
    pub container: String,
    pub uri: String,
    /// The spec's image for the container, and where it is written (`file:line:column`).
    pub spec_image: String,
    pub place: String,
}

/// How long the convergence check lets AWS's reads catch up with the writes just made.
const READ_LAG: std::time::Duration = std::time::Duration::from_secs(15);

/// An error naming the first failure when any change failed; when the run was interrupted, what
/// it left and the command that resumes.
pub(super) fn failed(report: &Report) -> Result<()> {
    if let Some(stopped) = &report.stopped {
        let mut said = Vec::new();
        if !stopped.finished.is_empty() {
            said.push(format!("in flight and finished: {}", stopped.finished.join(", ")));
        }
        if !stopped.abandoned.is_empty() {
            said.push(format!("in flight and left unfinished: {}", stopped.abandoned.join(", ")));
        }
        said.push(format!("{} change(s) not started", stopped.not_started));
        return Err(super::interrupted(said.join("; ")));
    }
    if report.ok() {
        return Ok(());
    }
    let (address, first) = report.failed.first().cloned().unwrap_or_default();
    Err(Error::Failed {
        message: format!("{} change(s) failed, {} skipped; first: {address}: {}", report.failed.len(), report.skipped.len(), first.message),
        hint: first.hint.or(Some("fix the cause and run the command again: it continues where this one stopped".into())),
    })
}

/// A plan saved by `plan --out`. A spec given in its place (`apply deploy.toml`) is named as one,
/// with the flag that applies it.
fn read_saved(file: &std::path::Path) -> Result<Plan> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Error::usage(format!("cannot read {}: {e}", file.display()), "pass a file written by `ecsdeploy plan --out`"))?;
    serde_json::from_str(&text).map_err(|e| {
        if toml::from_str::<toml::Table>(&text).is_ok() {
            Error::usage(
                format!("{0} is a spec, not a saved plan (`apply FILE` applies a plan written by `ecsdeploy plan --out FILE`)", file.display()),
                format!("to apply this spec, name it with -f: `ecsdeploy apply -f {}`", file.display()),
            )
        } else {
            Error::usage(format!("{} is not a saved plan: {e}", file.display()), "pass a file written by `ecsdeploy plan --out`")
        }
    })
}

/// A saved plan, still true: made from this spec, and AWS unchanged since (re-observed now).
async fn saved_plan(stack: &Stack, file: &std::path::Path, saved: Plan) -> Result<Plan> {
    let fresh = stack.plan().await?;
    let desired = |p: &Plan| {
        let mut d: Vec<_> = p.changes.iter().filter(|c| c.action != Action::Delete).map(|c| c.desired.clone()).collect();
        d.sort_by(|a, b| a.address.cmp(&b.address));
        d
    };
    if saved.stack != stack.loaded.spec.stack.name || desired(&saved) != desired(&fresh) {
        return Err(Error::Failed {
            message: format!("{} was made from another spec (or the spec changed since)", file.display()),
            hint: Some("run `ecsdeploy plan --out` again".into()),
        });
    }
    unchanged(&saved, &fresh)?;
    Ok(saved)
}

/// Re-plan now; refuse when any change is no longer the same.
async fn still_current(stack: &Stack, plan: &Plan) -> Result<()> {
    unchanged(plan, &stack.plan().await?)
}

/// Whether `fresh` plans exactly what `plan` does.
fn unchanged(plan: &Plan, fresh: &Plan) -> Result<()> {
    // A deployment ECS finished meanwhile is no reason to refuse: following it is then quick.
    let settled = |c: &Change| c.fields.iter().filter(|f| f.field != "rollout").cloned().collect::<Vec<_>>();
    let same = |a: &Change, b: &Change| settled(a) == settled(b) && (a.action == b.action || settled(a).is_empty());
    let now: HashMap<&str, &Change> = fresh.changes.iter().map(|c| (c.address.as_str(), c)).collect();
    let before: HashMap<&str, &Change> = plan.changes.iter().map(|c| (c.address.as_str(), c)).collect();
    let mut moved: Vec<&str> = plan
        .changes
        .iter()
        .filter(|a| a.action.mutates() && (a.fields.is_empty() || !settled(a).is_empty()))
        .filter(|a| now.get(a.address.as_str()).is_none_or(|b| !same(a, b)))
        .map(|a| a.address.as_str())
        .collect();
    // Something new to change (a resource tagged meanwhile, say) is a change too.
    moved.extend(fresh.changes.iter().filter(|b| b.action.mutates() && !before.contains_key(b.address.as_str())).map(|b| b.address.as_str()));
    if moved.is_empty() {
        return Ok(());
    }
    Err(Error::Failed {
        message: format!("AWS changed since the plan was made ({}); nothing was applied", moved.join(", ")),
        hint: Some("run plan again and review it (another ecsdeploy run, or a change by hand)".into()),
    })
}
