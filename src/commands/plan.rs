use std::path::PathBuf;

use super::Stack;
use crate::cli::Global;
use crate::error::{Error, Result};
use crate::output::Output;

pub struct Options {
    pub json: bool,
    pub detailed_exitcode: bool,
    /// Creations with every field (tags and defaults), and a no-op plan's warnings.
    pub verbose: bool,
    pub images: Vec<String>,
    /// Where to save the plan for `apply FILE`.
    pub file: Option<PathBuf>,
}

pub async fn run(global: &Global, out: &Output, opts: Options) -> Result<u8> {
    let mut loaded = crate::spec::load(&global.file)?;
    super::override_images(&mut loaded.spec, &opts.images)?;
    let stack = Stack::connect(global, loaded).await?;
    let planned = stack.plan().await;
    let (aws, name) = (&stack.provider.aws, &stack.loaded.spec.stack.name);
    if !opts.json {
        // Before any error too: "key pair does not exist" is read against the region it was asked in.
        super::header(out, aws, name).await;
    }
    let plan = planned?;
    if opts.json {
        let place = super::place(aws, name).await.unwrap_or_else(|| super::place_unasked(aws, name));
        out.plan_json(&plan, &place);
    } else if opts.verbose {
        out.plan_verbose(&plan);
    } else {
        out.plan(&plan);
    }
    if let Some(file) = &opts.file {
        // The plan holds digests of secret values, never the values.
        let text = serde_json::to_string_pretty(&plan).expect("a plan serialises");
        std::fs::write(file, text).map_err(|e| Error::usage(format!("cannot write {}: {e}", file.display()), "choose a writable path for --out"))?;
        out.step(&format!("plan saved to {}; `ecsdeploy apply {}` applies exactly it", file.display(), file.display()));
    }
    Ok(if opts.detailed_exitcode && plan.has_changes() { 2 } else { 0 })
}
