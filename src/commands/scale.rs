use serde_json::json;

use super::{rollout, Stack};
use crate::cli::Global;
use crate::error::{Error, Result};
use crate::output::Output;
use crate::plan::fields;
use crate::resource::{instances, service};
use crate::spec;

/// One field of the service (and, with `capacity`, the group's size), through the engine.
pub async fn run(global: &Global, out: &Output, name: Option<String>, desired: u32, capacity: bool, follow: bool) -> Result<u8> {
    let stack = Stack::connect(global, spec::load(&global.file)?).await?;
    let name = stack.service(name)?;
    let mut svc = stack.desired(&service::address(&name))?.narrowed(fields([("desired_count", json!(desired))]));
    if !follow && !capacity {
        stack.apply_unread(out, svc, "desired count (--no-wait: ECS scales in the background)").await?;
        return Ok(0);
    }
    let mut changes = vec![];
    if capacity {
        let Some(ec2) = &stack.loaded.spec.cluster.ec2 else {
            return Err(Error::usage("--capacity needs EC2 capacity", "the spec has no [cluster.ec2]; scale the service alone"));
        };
        // Set the group now rather than wait for managed scaling: scaled to 0, its instances stop
        // (and stay stopped: with no task, ECS needs none); back up, one boots before the tasks.
        let count = if desired == 0 { 0 } else { ec2.desired.clamp(1, ec2.max) };
        let mut group = stack.desired(instances::ADDRESS)?.narrowed(fields([("desired", json!(count)), ("min", json!(ec2.min.min(count)))]));
        // Down: tasks stop before their instance goes. Up: the instance comes before the tasks.
        if desired == 0 {
            group.depends_on.push(svc.address.clone());
        } else {
            svc.depends_on.push(group.address.clone());
        }
        changes.push(group);
    }
    changes.push(svc);
    let plan = stack.plan_only(changes).await;
    super::header(out, &stack.provider.aws, &stack.loaded.spec.stack.name).await;
    let plan = plan?;
    out.plan(&plan);
    if !plan.has_changes() {
        return Ok(0);
    }
    rollout::execute_and_follow(&stack, out, &plan, follow).await?;
    Ok(0)
}
