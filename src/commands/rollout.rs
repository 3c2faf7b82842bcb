//! After changes are applied: follow each deployment they started, prove the app answers, and
//! roll a failed service back to its previous revision. Shared by the commands that deploy.

use std::time::Duration;

use serde_json::json;

use super::Stack;
use crate::engine::wait::{wait, Timeouts, WaitFailure};
use crate::engine::{self, verify::verify, Report};
use crate::error::{Error, Result};
use crate::output::Output;
use crate::plan::{resolve, Action, Change, FieldChange, Plan};
use crate::resource::service;
use crate::spec::parse_duration;

/// Execute a planned change under the stack's lease, then (with `and_follow`) follow the
/// deployments it started (day-2 commands: nothing to roll back to).
pub async fn execute_and_follow(stack: &Stack, out: &Output, plan: &Plan, and_follow: bool) -> Result<()> {
    stack
        .locked(async {
            let report = engine::execute(&stack.provider, plan, &|e| out.progress(&e)).await;
            super::apply::failed(&report)?;
            if !and_follow {
                return Ok(());
            }
            follow(stack, out, plan, &report, true).await
        })
        .await
}

/// Wait for and verify every service deployment `report` started; roll back failures unless
/// `no_rollback`.
pub async fn follow(stack: &Stack, out: &Output, plan: &Plan, report: &Report, no_rollback: bool) -> Result<()> {
    for c in plan.changes.iter().filter(|c| c.desired.kind == service::KIND && report.applied.contains(&c.address)) {
        let outputs = &report.outputs[&c.address];
        let Some(deployment) = outputs.get("deployment").filter(|d| !d.is_empty()) else { continue };
        // Interrupted while waiting: ECS goes on with the deployment, and the next run follows it.
        let followed = tokio::select! {
            r = deploy_one(stack, out, &c.desired.name, deployment, since(outputs)) => r,
            _ = crate::interrupt::asked() => {
                return Err(super::interrupted(format!("the deployment of `{}` goes on in ECS; nothing was rolled back", c.desired.name)));
            }
        };
        if let Err(failure) = followed {
            let rolled = match outputs.get("previous_task_definition") {
                Some(prev) if !no_rollback => Some(roll_back(stack, out, c, report, prev).await?),
                _ => None,
            };
            let hint = match rolled {
                Some(prev) => format!("rolled back to {prev}; fix the cause and apply again"),
                None if no_rollback => "nothing was rolled back; fix the cause and run again".into(),
                None => "there was no previous revision to roll back to; fix the cause and apply again".into(),
            };
            return Err(Error::Failed { message: format!("service `{}`: {failure}", c.desired.name), hint: Some(hint) });
        }
    }
    Ok(())
}

/// When the change was made on AWS's clock (see `service::apply`); events from before it are history.
/// Without it (following a deployment an earlier run started), the deployment's own start counts.
fn since(outputs: &crate::plan::Outputs) -> f64 {
    outputs.get("since").and_then(|s| s.parse().ok()).unwrap_or(0.0)
}

/// The spec's limits for waiting on a service's deployment.
fn timeouts(s: &crate::spec::Service) -> Timeouts {
    Timeouts {
        progress: parse_duration(&s.deployment.progress_timeout).unwrap_or(Duration::from_secs(180)),
        deadline: parse_duration(&s.deployment.deadline).unwrap_or(Duration::from_secs(900)),
    }
}

/// Wait for one deployment, then verify the service's URL. The error is the diagnosis.
async fn deploy_one(stack: &Stack, out: &Output, name: &str, deployment: &str, since: f64) -> std::result::Result<(), String> {
    let spec = &stack.loaded.spec;
    let s = &spec.services[name];
    let aws = &stack.provider.aws;
    let cluster = &spec.cluster.name;
    let timeouts = timeouts(s);
    out.step(&format!("waiting for `{name}` deployment {deployment}"));
    let group = crate::resource::autoscaling_group::of(spec);
    let quiet = |s: &str| out.service_waiting(name, &format!("still deploying: {s}"));
    let waited = wait(|| service::snapshot(aws, cluster, name, group.as_deref()), deployment, since, timeouts, &|e| out.service_event(name, e), &quiet).await;
    let snapshot = match waited {
        Ok(s) => s,
        Err(WaitFailure { reason, task }) => return Err(diagnose(aws, reason, task).await),
    };
    // Scaled to zero: nothing should answer, so nothing to verify.
    let desired = snapshot.deployments.iter().find(|d| d.id == deployment).map(|d| d.desired).unwrap_or(0);
    if !s.verify.enabled || desired == 0 {
        return Ok(());
    }

    let door = match service::front_door(aws, spec, name).await {
        Ok(Some(d)) => d,
        Ok(None) => return Err("the deployment completed but the service has no public address to verify".into()),
        Err(e) => return Err(format!("cannot find the service's address: {e}")),
    };
    let url = door.url.clone();
    // From where this machine stands: when the groups in front do not let it in, a GET can only
    // time out, which says nothing about the deployment ECS called healthy.
    if let Some(me) = crate::engine::verify::public_address().await {
        match service::lets_in(aws, &door, me).await {
            Ok(Err(rules)) => {
                out.unverifiable(name, &url, &me.to_string(), door.port, &rules, s.load_balancer.is_some());
                return Ok(());
            }
            Ok(Ok(())) => {}
            Err(e) => return Err(format!("cannot read the security groups in front of {url}: {e}")),
        }
    }
    out.step(&format!("verifying GET {url} answers {}", s.verify.expect));
    let deadline = parse_duration(&s.verify.timeout).unwrap_or(Duration::from_secs(120));
    verify(&url, s.verify.expect, deadline, &|said| out.service_waiting(name, said)).await?;
    out.live(name, &url);
    Ok(())
}

/// The wait's reason, with the stopped task's exit codes and last log lines when there is one.
async fn diagnose(aws: &crate::aws::Aws, reason: String, task: Option<crate::engine::wait::StoppedTask>) -> String {
    let mut diagnosis = reason;
    if let Some(t) = task {
        // ECS stopped it, not the app: its exit code says nothing then.
        if t.reason.contains("ELB health checks") {
            diagnosis.push_str(&format!(
                "\n  the task was stopped by ECS: {}. The load balancer's health checks did not get an answer: the instances' (or tasks') \
                 security group must let the load balancer's group in on the task's port (ecsdeploy adds that rule; `ecsdeploy plan` shows it \
                 if it is missing), and the app must answer the health check path",
                t.reason
            ));
            return diagnosis;
        }
        let codes: Vec<String> = t.exit_codes.iter().filter_map(|(c, code)| code.map(|x| format!("{c} exited {x}"))).collect();
        if !codes.is_empty() {
            diagnosis.push_str(&format!(" ({})", codes.join(", ")));
        }
        let lines = service::last_log_lines(aws, &t, 10).await;
        if !lines.is_empty() {
            diagnosis.push_str("\n  last log lines:\n");
            diagnosis.push_str(&lines.iter().map(|l| format!("    | {l}")).collect::<Vec<_>>().join("\n"));
        }
    }
    diagnosis
}

/// Put the previous revision back through the engine (one planned change), and wait for it.
async fn roll_back(stack: &Stack, out: &Output, c: &Change, report: &Report, previous: &str) -> Result<String> {
    out.step(&format!("rolling `{}` back to {previous}", c.desired.name));
    let mut desired = c.desired.clone();
    desired.fields = desired.fields.iter().map(|(k, v)| (k.clone(), resolve(v, &report.outputs))).collect();
    let current = desired.fields.insert("task_definition".into(), json!(previous));
    desired.depends_on.clear();
    let live = service::observe_live(&stack.provider.aws, &desired)
        .await
        .map_err(|e| Error::Failed { message: format!("rollback of `{}`: {e}", desired.name), hint: None })?;
    let change = Change {
        address: c.address.clone(),
        action: Action::Update,
        reason: "roll back to the previous revision".into(),
        fields: vec![FieldChange { field: "task_definition".into(), before: current, after: Some(json!(previous)) }],
        desired,
        live,
    };
    let plan = Plan { stack: stack.loaded.spec.stack.name.clone(), changes: vec![change], warnings: vec![] };
    let rolled = engine::execute(&stack.provider, &plan, &|e| out.progress(&e)).await;
    if let Some((address, f)) = rolled.failed.first() {
        return Err(Error::Failed { message: format!("rollback of {address} failed: {}", f.message), hint: f.hint.clone() });
    }
    let outputs = rolled.outputs.get(&plan.changes[0].address);
    if let Some((d, o)) = outputs.and_then(|o| o.get("deployment").map(|d| (d, o))) {
        let spec = &stack.loaded.spec;
        let name = &plan.changes[0].desired.name;
        let t = timeouts(&spec.services[name]);
        let group = crate::resource::autoscaling_group::of(spec);
        let _ = wait(
            || service::snapshot(&stack.provider.aws, &spec.cluster.name, name, group.as_deref()),
            d,
            since(o),
            t,
            &|e| out.service_event(name, e),
            &|e| out.service_event(name, e),
        )
        .await;
    }
    Ok(previous.to_string())
}
