use serde_json::json;

use super::{rollout, Stack};
use crate::cli::Global;
use crate::error::Result;
use crate::output::Output;
use crate::plan::{fields, Fields};
use crate::resource::service;
use crate::spec;

/// A new deployment of the running revision, through the engine; then wait and verify.
pub async fn run(global: &Global, out: &Output, name: Option<String>, force: bool, follow: bool) -> Result<u8> {
    let stack = Stack::connect(global, spec::load(&global.file)?).await?;
    let name = stack.service(name)?;
    let desired = stack.desired(&service::address(&name))?;
    if !force {
        let plan = stack.plan_only(vec![desired.narrowed(Fields::new())]).await;
        super::header(out, &stack.provider.aws, &stack.loaded.spec.stack.name).await;
        let plan = plan?;
        let current = plan.changes[0].live.as_ref().and_then(|l| l.fields["task_definition"].as_str().map(String::from));
        out.explain_redeploy(&name, current.as_deref());
        // Nothing was done, and --force lifts that: exit 2, as the README's rule says.
        return Ok(2);
    }
    let forced = desired.narrowed(fields([(service::FORCE, json!(true))]));
    if !follow {
        return stack.apply_unread(out, forced, "new deployment of the running revision (--no-wait)").await.map(|_| 0);
    }
    let plan = stack.plan_only(vec![forced]).await;
    super::header(out, &stack.provider.aws, &stack.loaded.spec.stack.name).await;
    let plan = plan?;
    rollout::execute_and_follow(&stack, out, &plan, true).await?;
    Ok(0)
}
