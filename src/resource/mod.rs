//! Resource kinds, one file each. A kind owns its desired value (from the spec), how to observe
//! and normalise it, and the calls that create or update it. This module only dispatches.

mod ami;
pub mod autoscaling_group;
mod capacity_provider;
mod cluster;
pub mod cluster_capacity;
pub mod discover;
pub mod ecr;
mod existing_group;
mod iam_role;
mod ingress;
mod instance_profile;
pub mod instance_type;
pub mod instances;
pub mod inventory;
pub mod job;
mod key_pair;
mod launch_template;
pub mod lease;
mod listener;
mod load_balancer;
mod log_group;
pub mod observe;
mod security_group;
pub mod service;
mod target_group;
mod task_definition;
mod tasks;
mod vpc;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::types::SecurityGroup;
use tokio::sync::OnceCell;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::aws::{Aws, AwsError, ErrorKind};
use crate::engine::{Failure, Provider};
use crate::plan::{Address, Change, Desired, Fields, Live, Outputs};
use crate::spec::Spec;

pub const TAG_STACK: &str = "ecsdeploy:stack";
pub const TAG_RESOURCE: &str = "ecsdeploy:resource";

/// Everything the spec asks for, in no particular order (the engine orders it).
pub fn desired(spec: &Spec) -> Vec<Desired> {
    let mut out = Vec::new();
    out.extend(vpc::desired(spec));
    out.extend(iam_role::desired(spec));
    out.extend(security_group::desired(spec));
    out.extend(existing_group::desired(spec));
    out.extend(ingress::desired(spec));
    out.extend(cluster::desired(spec));
    if spec.cluster.ec2.is_some() {
        out.extend(instance_profile::desired(spec));
        out.extend(instance_type::desired(spec));
        out.extend(ami::desired(spec));
        out.extend(key_pair::desired(spec));
        out.extend(launch_template::desired(spec));
        out.extend(autoscaling_group::desired(spec));
        out.extend(capacity_provider::desired(spec));
    }
    out.extend(cluster_capacity::desired(spec));
    out.extend(instances::desired(spec));
    out.extend(log_group::desired(spec));
    out.extend(task_definition::desired(spec));
    out.extend(target_group::desired(spec));
    out.extend(load_balancer::desired(spec));
    out.extend(listener::desired(spec));
    out.extend(service::desired(spec));
    out
}

/// What the plan should tell the user about choices made for them.
pub fn notes(spec: &Spec) -> Vec<String> {
    service::notes(spec).into_iter().chain(instances::fit_notes(spec)).collect()
}

/// Counts set outside the spec (by `scale`, or by hand) that apply would set back: for each, the
/// spec key that states it and what to say. Only counts: any other difference is drift to undo.
pub fn counts_set_outside(plan: &crate::plan::Plan) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    for c in plan.changes.iter().filter(|c| c.action == crate::plan::Action::Update) {
        let table: Vec<String> = match c.desired.kind.as_str() {
            service::KIND => vec!["services".into(), c.desired.name.clone()],
            instances::KIND => vec!["cluster".into(), "ec2".into()],
            _ => continue,
        };
        for f in c.fields.iter().filter(|f| ["desired_count", "desired", "min"].contains(&f.field.as_str())) {
            let (Some(before), Some(after)) = (&f.before, &f.after) else { continue };
            let key = [table.clone(), vec![f.field.clone()]].concat();
            let what = format!("`{}` has {} = {before} in AWS (set by `ecsdeploy scale` or by hand) where the spec says {after}", c.address, f.field);
            out.push((key, format!("{what}: apply sets {after}; to keep {before}, write `{} = {before}`", f.field)));
        }
    }
    out
}

/// The resource layer bound to one AWS context.
pub struct AwsProvider {
    pub aws: Aws,
    pub stack: String,
    /// Secret environment values, used when registering and never put in a plan.
    pub secrets: task_definition::Secrets,
    /// Image URI → digest, as ECR reported them when the plan was made; recorded on new revisions.
    pub digests: Mutex<BTreeMap<String, String>>,
    /// Every security group the spec names, its own and existing ones: read in one call per
    /// observation, shared by the resources that need one of them.
    group_names: Vec<String>,
    groups: Mutex<Arc<SharedGroups>>,
}

/// One observation's read of the spec's security groups, shared by whoever needs it first.
type SharedGroups = OnceCell<std::result::Result<Vec<SecurityGroup>, AwsError>>;

impl AwsProvider {
    pub fn new(aws: Aws, spec: &Spec) -> Self {
        let group_names = security_group::desired(spec).into_iter().chain(existing_group::desired(spec)).map(|d| d.name).collect();
        AwsProvider {
            aws,
            stack: spec.stack.name.clone(),
            secrets: task_definition::secrets(spec),
            digests: Default::default(),
            group_names,
            groups: Default::default(),
        }
    }

    /// For a stack without its spec (`destroy --stack`): deletions need nothing from a spec.
    pub fn for_stack(aws: Aws, stack: &str) -> Self {
        AwsProvider { aws, stack: stack.into(), secrets: Default::default(), digests: Default::default(), group_names: vec![], groups: Default::default() }
    }

    /// The spec's security groups, as this observation reads them.
    async fn groups(&self) -> Result<Vec<SecurityGroup>> {
        let cell = self.groups.lock().expect("groups lock").clone();
        Ok(cell.get_or_init(|| security_group::lookup(&self.aws, &self.group_names)).await.clone()?)
    }
}

impl Provider for AwsProvider {
    fn observe<'a>(&'a self, d: &'a Desired, deps: &'a HashMap<Address, Live>) -> BoxFuture<'a, std::result::Result<Option<Live>, Failure>> {
        Box::pin(async move {
            let aws = &self.aws;
            let r = match d.kind.as_str() {
                vpc::KIND => vpc::observe(aws, d).await,
                instance_type::KIND => instance_type::observe(aws, d).await,
                ami::KIND => ami::observe(aws, d).await,
                key_pair::KIND => key_pair::observe(aws, d).await,
                existing_group::KIND => self.groups().await.and_then(|g| existing_group::observe(&g, d)),
                iam_role::KIND => iam_role::observe(aws, d).await,
                instance_profile::KIND => instance_profile::observe(aws, d).await,
                security_group::KIND => self.groups().await.and_then(|g| security_group::observe(&g, d, deps)),
                ingress::KIND => ingress::observe(aws, d, deps, &self.stack).await,
                cluster::KIND => cluster::observe(aws, d).await,
                cluster_capacity::KIND => cluster_capacity::observe(d, deps),
                launch_template::KIND => launch_template::observe(aws, d).await,
                autoscaling_group::KIND => autoscaling_group::observe(aws, d).await,
                instances::KIND => instances::observe(aws, d, deps).await,
                capacity_provider::KIND => capacity_provider::observe(aws, d).await,
                log_group::KIND => log_group::observe(aws, d).await,
                task_definition::KIND => task_definition::observe(aws, d).await,
                target_group::KIND => target_group::observe(aws, d, deps).await,
                load_balancer::KIND => load_balancer::observe(aws, d, deps).await,
                listener::KIND => listener::observe(aws, d, deps).await,
                service::KIND => service::observe(aws, d).await,
                other => unreachable!("no resource kind `{other}`"),
            };
            r.map_err(failure)
        })
    }

    fn begin_observation(&self) {
        *self.groups.lock().expect("groups lock") = Default::default();
    }

    fn apply<'a>(&'a self, c: &'a Change, fields: &'a Fields, waiting: Note<'a>) -> BoxFuture<'a, std::result::Result<Outputs, Failure>> {
        Box::pin(async move {
            let aws = &self.aws;
            if c.action == crate::plan::Action::Delete {
                // Already gone (deleted by hand, or by a run that stopped before it could say so).
                return match self.delete(c, waiting).await {
                    Err(Error::Aws(e)) if e.is(ErrorKind::NotFound) => Ok(Outputs::new()),
                    other => other.map_err(failure),
                };
            }
            let r = match c.desired.kind.as_str() {
                iam_role::KIND => iam_role::apply(aws, c, fields).await,
                instance_profile::KIND => instance_profile::apply(aws, c, fields).await,
                security_group::KIND => security_group::apply(aws, c, fields).await,
                ingress::KIND => ingress::apply(aws, c, fields, &self.stack).await,
                cluster::KIND => cluster::apply(aws, c, fields).await,
                cluster_capacity::KIND => cluster_capacity::apply(aws, c, fields).await,
                launch_template::KIND => launch_template::apply(aws, c, fields).await,
                autoscaling_group::KIND => autoscaling_group::apply(aws, c, fields, waiting).await,
                instances::KIND => instances::apply(aws, c, fields, waiting).await,
                capacity_provider::KIND => capacity_provider::apply(aws, c, fields, waiting).await,
                log_group::KIND => log_group::apply(aws, c, fields).await,
                task_definition::KIND => {
                    let digests = self.digests.lock().expect("digests lock").clone();
                    task_definition::apply(aws, c, fields, &self.secrets, &digests).await
                }
                target_group::KIND => target_group::apply(aws, c, fields).await,
                load_balancer::KIND => load_balancer::apply(aws, c, fields).await,
                listener::KIND => listener::apply(aws, c, fields).await,
                service::KIND => service::apply(aws, c, fields, waiting).await,
                other => unreachable!("`{other}` is read-only"),
            };
            r.map_err(failure)
        })
    }
}

impl AwsProvider {
    async fn delete(&self, c: &Change, waiting: Note<'_>) -> Result<Outputs> {
        let aws = &self.aws;
        match c.desired.kind.as_str() {
            service::KIND => service::delete(aws, c, waiting).await,
            listener::KIND => listener::delete(aws, c).await,
            load_balancer::KIND => load_balancer::delete(aws, c).await,
            target_group::KIND => target_group::delete(aws, c, waiting).await,
            task_definition::KIND => task_definition::delete(aws, c).await,
            log_group::KIND => log_group::delete(aws, c).await,
            cluster_capacity::KIND => cluster_capacity::delete(aws, c, waiting).await,
            capacity_provider::KIND => capacity_provider::delete(aws, c, waiting).await,
            instances::KIND => instances::delete(aws, c).await,
            autoscaling_group::KIND => autoscaling_group::delete(aws, c, waiting).await,
            launch_template::KIND => launch_template::delete(aws, c).await,
            cluster::KIND => cluster::delete(aws, c, waiting).await,
            ingress::KIND => ingress::delete(aws, c, &self.stack).await,
            security_group::KIND => security_group::delete(aws, c, waiting).await,
            instance_profile::KIND => instance_profile::delete(aws, c).await,
            iam_role::KIND => iam_role::delete(aws, c, waiting).await,
            other => unreachable!("`{other}` is never deleted"),
        }
    }
}

/// How long teardown waits for AWS to let go of something (instances terminating, a service
/// draining, a load balancer's interfaces) before giving up with a clear message.
const TEARDOWN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(900);

/// How often a long wait says it is still waiting.
const SAY_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Tells the person what a change waits on (see `engine::Provider::apply`).
pub type Note<'a> = &'a (dyn Fn(&str) + Sync);

/// A wait in progress: its backoff, and when it last said what it waits on.
struct Patience<'a> {
    note: Note<'a>,
    start: std::time::Instant,
    said: Option<std::time::Instant>,
    pause: std::time::Duration,
}

impl<'a> Patience<'a> {
    fn new(note: Note<'a>) -> Self {
        Patience { note, start: std::time::Instant::now(), said: None, pause: std::time::Duration::from_millis(200) }
    }

    fn exhausted(&self) -> bool {
        self.start.elapsed() > TEARDOWN_PATIENCE
    }

    /// Say `what` (at once, then every [`SAY_EVERY`]) with the time so far.
    fn say(&mut self, what: &str) {
        if self.said.is_none_or(|at| at.elapsed() >= SAY_EVERY) {
            (self.note)(&format!("waiting until {what} ({}s)", self.start.elapsed().as_secs()));
            self.said = Some(std::time::Instant::now());
        }
    }

    /// Say `what`, and pause.
    async fn wait(&mut self, what: &str) {
        self.say(what);
        tokio::time::sleep(self.pause).await;
        self.pause = (self.pause * 2).min(std::time::Duration::from_secs(5));
    }
}

/// Poll `done` with backoff until it holds, within [`TEARDOWN_PATIENCE`], saying what it waits for.
async fn until<F, Fut>(note: Note<'_>, what: &str, mut done: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let mut patience = Patience::new(note);
    while !done().await? {
        if patience.exhausted() {
            return Err(Error::Other(Failure::new(
                format!("gave up after {}s waiting until {what}", patience.start.elapsed().as_secs()),
                "run the command again later: it continues where it stopped",
            )));
        }
        patience.wait(what).await;
    }
    Ok(())
}

/// Repeat a deletion AWS refuses while something still uses the resource (`what` lets go).
async fn retry_in_use<T, F, Fut>(note: Note<'_>, what: &str, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, AwsError>>,
{
    let mut patience = Patience::new(note);
    loop {
        match op().await {
            Err(e) if e.is_in_use() && !patience.exhausted() => patience.wait(&format!("{what} (AWS: {})", e.message)).await,
            other => return other.map_err(Error::from),
        }
    }
}

/// What a resource operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("{0}")]
    Other(Failure),
}

pub type Result<T> = std::result::Result<T, Error>;

/// A failure as the engine reports it. Without the address: every place that shows a failure
/// (progress, the first failure of a run, a plan error) names the resource itself.
fn failure(e: Error) -> Failure {
    match e {
        Error::Aws(a) => Failure { message: a.to_string(), hint: a.hint },
        Error::Other(f) => Failure { message: f.message, hint: f.hint },
    }
}

/// The two tags every resource ecsdeploy creates carries, as a field value.
pub fn own_tags(stack: &str, address: &str) -> Value {
    serde_json::json!({ TAG_STACK: stack, TAG_RESOURCE: address })
}

/// The ecsdeploy tags among a resource's live tags, as a field value (others are not ours to judge).
pub fn live_tags<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
    let m: BTreeMap<&str, &str> = tags.into_iter().filter(|(k, _)| k.starts_with("ecsdeploy:")).collect();
    serde_json::to_value(m).unwrap()
}

/// The tags to set, from a resolved `tags` field.
pub fn tag_pairs(fields: &Fields) -> Vec<(String, String)> {
    fields
        .get("tags")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

/// A resolved integer field, as AWS takes it.
pub fn int(fields: &Fields, name: &str) -> Option<i32> {
    fields.get(name).and_then(|v| v.as_i64()).map(|v| v as i32)
}

/// A resolved string field.
pub fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// Whether the change touches `name`.
pub fn changed(c: &Change, name: &str) -> bool {
    c.live.is_none() || c.fields.iter().any(|f| f.field == name)
}

/// The same change always sends the same token, so AWS recognises a retried create. (The SDK
/// fills tokens itself where the API marks them as idempotency tokens.)
pub fn idempotency_token(c: &Change, fields: &Fields) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}{}", c.address, serde_json::to_string(fields).unwrap_or_default()).as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A name ecsdeploy makes up for a stack-owned resource.
pub fn stack_name(spec: &Spec, suffix: &str) -> String {
    format!("{}-{suffix}", spec.stack.name)
}

fn outputs<const N: usize>(pairs: [(&str, String); N]) -> Outputs {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 16: `service.web: service.web: …` — the address is said once, by whoever shows it.
    #[test]
    fn a_failure_names_its_resource_once() {
        let e = Error::Other(Failure::new("the service could not start", "fix it"));
        let shown = crate::engine::PlanError { address: "service.web".into(), failure: failure(e) }.to_string();
        assert_eq!(shown, "service.web: the service could not start");
    }
}
