use serde_json::json;

use super::{rollout, Stack};
use crate::cli::Global;
use crate::error::Result;
use crate::output::Output;
use crate::plan::{fields, Fields};
use crate::resource::service;

/// A new deployment of the running revision, through the engine; then wait and verify.
pub async fn run(global: &Global, out: &Output, name: Option<String>, force: bool) -> Result<u8> {
    let stack = Stack::open(global).await?;
    let name = stack.service(name)?;
    let desired = stack.desired(&service::address(&name))?;
    if !force {
        let plan = stack.plan_only(vec![desired.narrowed(Fields::new())]).await?;
        let current = plan.changes[0].live.as_ref().and_then(|l| l.fields["task_definition"].as_str().map(String::from));
        out.explain_redeploy(&name, current.as_deref());
        return Ok(0);
    }
    let plan = stack.plan_only(vec![desired.narrowed(fields([(service::FORCE, json!(true))]))]).await?;
    rollout::execute_and_follow(&stack, out, &plan).await?;
    Ok(0)
}
