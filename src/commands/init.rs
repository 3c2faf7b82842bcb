use std::path::PathBuf;

use crate::aws::Aws;
use crate::cli::Global;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::resource::discover;
use crate::spec;

pub struct Options {
    pub cluster: String,
    pub services: Vec<String>,
    pub jobs: Vec<String>,
    /// Absent: the spec file (`-f`, default deploy.toml), which every other command reads.
    pub output: Option<PathBuf>,
    pub force: bool,
}

/// Read a live cluster and write its spec; the file must validate before it takes the place of
/// `output` (and never replaces an existing file without `force`).
pub async fn run(global: &Global, out: &Output, opts: Options) -> Result<u8> {
    let Options { cluster, services, jobs, output, force } = opts;
    let output = output.unwrap_or_else(|| global.file.clone());
    let (cluster, output) = (cluster.as_str(), output.as_path());
    if output.exists() && !force {
        return Err(Error::usage(format!("{} exists already", output.display()), "choose another file with -o, or pass --force to overwrite it"));
    }
    let aws = Aws::connect(&super::target(global, None)?).await?;
    aws.account_id().await?;
    let mut found = discover::discover(&aws, cluster, &services, &jobs).await.map_err(super::resource_error)?;
    // A one-off task (the tutorial's pipeline) belongs to no service: written only with --job,
    // so the families left out are named rather than dropped silently.
    let left_out: Vec<String> =
        discover::active_families(&aws).await.map_err(super::resource_error)?.into_iter().filter(|f| !found.spec.tasks.contains_key(f)).collect();
    if !left_out.is_empty() {
        found.notes.push(format!(
            "not written: task definition families that no service of `{cluster}` runs: {}. A one-off task among them (the tutorial's \
             pipeline) becomes a [jobs] entry with `ecsdeploy init --from-cluster {cluster} --job FAMILY`",
            left_out.join(", ")
        ));
    }
    let title = format!("Stack `{}`: cluster `{cluster}` as it was found, written by `ecsdeploy init --from-cluster {cluster}`.", found.spec.stack.name);
    let text = spec::to_toml(&found.spec, &title, &found.notes);

    // Written beside the target, checked, then moved into place: a bad file never replaces a good one.
    let draft = output.with_extension("toml.draft");
    std::fs::write(&draft, &text).map_err(|e| Error::usage(format!("cannot write {}: {e}", draft.display()), "choose a writable path with -o"))?;
    let checked = spec::load(&draft);
    // Secret values are written as `${NAME}` references: such a spec validates once they are exported.
    let waits_for_secrets = found.spec.tasks.values().flat_map(|t| &t.containers).flat_map(|c| c.environment.values()).any(|v| v.is_secret());
    if let Err(e) = &checked {
        if !waits_for_secrets {
            let _ = std::fs::remove_file(&draft);
            return Err(Error::Failed {
                message: format!("the spec written for `{cluster}` does not validate:\n{}", e.render()),
                hint: Some("this is a bug in ecsdeploy; please report it".into()),
            });
        }
    }
    std::fs::rename(&draft, output).map_err(|e| Error::usage(format!("cannot write {}: {e}", output.display()), "choose a writable path with -o"))?;
    out.initialised(output, &found.spec, &found.notes);
    Ok(0)
}
