//! The engine: observe live state, plan, and execute a plan over the dependency graph with
//! bounded concurrency. It knows no AWS service: resources come through [`Provider`].

pub mod verify;
pub mod wait;
mod walk;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use petgraph::algo::toposort;
use petgraph::graph::DiGraph;

use crate::interrupt;
use crate::plan::{diff, resolve, Action, Address, Change, Desired, Fields, Live, Outputs, Plan};
use walk::{walk, Outcome};

/// How many changes run at once; low enough to stay clear of the mutating APIs' throttling.
pub const CONCURRENCY: usize = 8;

/// How many observations run at once: a whole plan's reads go out together (read APIs allow far
/// higher rates, and the SDK retries throttling), so a plan costs its dependency depth in round
/// trips, not its size.
pub const READ_CONCURRENCY: usize = 64;

/// A resource operation that failed, said for a human.
#[derive(Debug, Clone, Default, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Failure { message: message.into(), hint: Some(hint.into()) }
    }
}

/// The resource layer, as the engine sees it.
pub trait Provider: Sync {
    /// Read one resource; `deps` holds the observations of its dependencies that exist.
    fn observe<'a>(&'a self, desired: &'a Desired, deps: &'a HashMap<Address, Live>) -> BoxFuture<'a, Result<Option<Live>, Failure>>;
    /// A new observation begins: forget reads shared within the previous one (a plan sees AWS
    /// as it is now, not as an earlier plan of the same run saw it).
    fn begin_observation(&self) {}
    /// Carry out one change with its fields resolved; returns the resource's outputs. `waiting`
    /// tells the person what the change waits on (AWS letting go of something, say).
    fn apply<'a>(&'a self, change: &'a Change, fields: &'a Fields, waiting: &'a (dyn Fn(&str) + Sync)) -> BoxFuture<'a, Result<Outputs, Failure>>;
}

/// Progress of an apply, for `output` to show.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    Started(&'a Change),
    /// Still at it: what the change waits on, with the time so far.
    Waiting(&'a Change, &'a str),
    Done(&'a Change, Duration),
    Failed(&'a Change, &'a Failure),
    Skipped(&'a Change, &'a Address),
}

/// A spec-level problem found while planning: a dependency cycle or a missing dependency.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{address}: {failure}")]
pub struct PlanError {
    pub address: Address,
    pub failure: Failure,
}

/// Dependency order of the desired resources (dependencies first).
fn order(desired: &[Desired]) -> Result<Vec<usize>, PlanError> {
    let mut graph = DiGraph::<usize, ()>::new();
    let nodes: Vec<_> = (0..desired.len()).map(|i| graph.add_node(i)).collect();
    let index: HashMap<&str, usize> = desired.iter().enumerate().map(|(i, d)| (d.address.as_str(), i)).collect();
    for (i, d) in desired.iter().enumerate() {
        for dep in &d.depends_on {
            let Some(&j) = index.get(dep.as_str()) else {
                return Err(PlanError {
                    address: d.address.clone(),
                    failure: Failure::new(format!("depends on unknown `{dep}`"), "this is a bug in ecsdeploy; please report it"),
                });
            };
            graph.add_edge(nodes[j], nodes[i], ());
        }
    }
    let sorted = toposort(&graph, None).map_err(|c| PlanError {
        address: desired[graph[c.node_id()]].address.clone(),
        failure: Failure::new("dependency cycle", "this is a bug in ecsdeploy; please report it"),
    })?;
    Ok(sorted.into_iter().map(|n| graph[n]).collect())
}

/// Observe everything (concurrently, each resource once its dependencies are read) and diff.
/// Makes only read calls.
pub async fn plan(provider: &dyn Provider, stack: &str, desired: Vec<Desired>, warnings: Vec<String>) -> Result<Plan, PlanError> {
    let order = order(&desired)?;
    provider.begin_observation();
    let sorted: Vec<Desired> = order.iter().map(|&i| desired[i].clone()).collect();
    // Observation waits only on what a resource reads; the rest goes out at once.
    let reads: HashMap<Address, Vec<Address>> = sorted.iter().map(|d| (d.address.clone(), d.reads.clone())).collect();
    let by_address: HashMap<&str, &Desired> = sorted.iter().map(|d| (d.address.as_str(), d)).collect();
    let addresses: Vec<Address> = sorted.iter().map(|d| d.address.clone()).collect();

    let observed = walk(&addresses, &reads, READ_CONCURRENCY, |address, dep_results: Vec<(Address, Option<Live>)>| {
        let d = by_address[address.as_str()];
        Box::pin(async move {
            let live_deps: HashMap<Address, Live> = dep_results.into_iter().filter_map(|(a, l)| l.map(|l| (a, l))).collect();
            let live = provider.observe(d, &live_deps).await?;
            if d.data && live.is_none() {
                return Err(Failure::new(
                    format!("{} `{}` does not exist", d.kind.replace('_', " "), d.name),
                    d.meta.get("missing_hint").cloned().unwrap_or_else(|| "create it first, or change the spec".into()),
                ));
            }
            Ok(live)
        })
    })
    .await;

    // Diff in dependency order: outputs are "known" only when the resource exists and keeps its identity.
    let mut known: HashMap<Address, Outputs> = HashMap::new();
    let mut changes = Vec::new();
    for d in &sorted {
        let live = match observed.get(&d.address) {
            Some(Outcome::Done(l)) => l.clone(),
            Some(Outcome::Failed(f)) => return Err(PlanError { address: d.address.clone(), failure: f.clone() }),
            _ => unreachable!("observation of {} neither ran nor failed", d.address),
        };
        let change = diff(d, live.as_ref(), &known);
        let keeps_outputs = match change.action {
            Action::NoOp | Action::Read => true,
            Action::Update => !d.versioned,
            // Tagging keeps even a versioned resource's identity.
            Action::Adopt => !d.versioned || change.fields.iter().all(|f| f.field == "tags"),
            _ => false,
        };
        if let (Some(l), true) = (&live, keeps_outputs) {
            known.insert(d.address.clone(), l.outputs.clone());
        }
        changes.push(change);
    }
    Ok(Plan { stack: stack.to_string(), changes, warnings })
}

/// What an apply did.
#[derive(Debug, Default)]
pub struct Report {
    pub applied: Vec<Address>,
    /// Every resource's outputs after the run (fresh where applied, as observed otherwise).
    pub outputs: HashMap<Address, Outputs>,
    pub failed: Vec<(Address, Failure)>,
    pub skipped: Vec<(Address, Address)>,
    /// Set when the run was interrupted (Ctrl-C, SIGTERM): what it left.
    pub stopped: Option<Stopped>,
}

/// What an interrupted run left: the changes in flight when it was asked to stop, those that
/// finished within the grace and those abandoned, and how many never started.
#[derive(Debug, Clone, Default)]
pub struct Stopped {
    pub finished: Vec<Address>,
    pub abandoned: Vec<Address>,
    pub not_started: usize,
}

/// Failures that are not failures: an interrupted run's changes that never started, or that
/// were still running when the grace ran out.
const NOT_STARTED: &str = "not started: the run was interrupted";
const ABANDONED: &str = "still in flight when the run stopped";

impl Report {
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.skipped.is_empty()
    }
}

/// Execute a plan exactly: every mutating change once its dependencies are done, up to
/// [`CONCURRENCY`] at a time; a failure skips only its dependents. Once interrupted, no change
/// starts and those in flight get [`interrupt::GRACE`] to finish.
pub async fn execute(provider: &dyn Provider, plan: &Plan, on_event: &(dyn Fn(Event) + Sync)) -> Report {
    let finished_while_stopping = std::sync::Mutex::new(Vec::new());
    let finished_while_stopping = &finished_while_stopping;
    let by_address: HashMap<&str, &Change> = plan.changes.iter().map(|c| (c.address.as_str(), c)).collect();
    let deps: HashMap<Address, Vec<Address>> = plan.changes.iter().map(|c| (c.address.clone(), c.desired.depends_on.clone())).collect();
    let addresses: Vec<Address> = plan.changes.iter().map(|c| c.address.clone()).collect();

    let results = walk(&addresses, &deps, CONCURRENCY, |address, dep_outputs: Vec<(Address, Outputs)>| {
        let c = by_address[address.as_str()];
        Box::pin(async move {
            if !c.action.mutates() {
                return Ok(c.live.as_ref().map(|l| l.outputs.clone()).unwrap_or_default());
            }
            // Outputs of dependencies: fresh from this run, or as observed when unchanged.
            let known: HashMap<Address, Outputs> = dep_outputs.into_iter().collect();
            let fields: Fields = c.desired.fields.iter().map(|(k, v)| (k.clone(), resolve(v, &known))).collect();
            if interrupt::requested() {
                return Err(Failure::new(NOT_STARTED, ""));
            }
            on_event(Event::Started(c));
            let t0 = Instant::now();
            let waiting = |what: &str| on_event(Event::Waiting(c, what));
            let applied = tokio::select! {
                r = provider.apply(c, &fields, &waiting) => r,
                _ = interrupt::grace_over() => Err(Failure::new(ABANDONED, "the next run finishes it")),
            };
            match applied {
                Ok(out) => {
                    on_event(Event::Done(c, t0.elapsed()));
                    if interrupt::requested() {
                        finished_while_stopping.lock().expect("lock").push(c.address.clone());
                    }
                    Ok(out)
                }
                Err(f) => {
                    on_event(Event::Failed(c, &f));
                    Err(f)
                }
            }
        })
    })
    .await;

    let mut report = Report::default();
    for c in &plan.changes {
        if let Some(Outcome::Done(o)) = results.get(&c.address) {
            report.outputs.insert(c.address.clone(), o.clone());
        }
        match results.get(&c.address) {
            Some(Outcome::Done(_)) if c.action.mutates() => report.applied.push(c.address.clone()),
            Some(Outcome::Failed(f)) => report.failed.push((c.address.clone(), f.clone())),
            Some(Outcome::Skipped(cause)) => {
                if !interrupt::requested() {
                    on_event(Event::Skipped(c, cause));
                }
                report.skipped.push((c.address.clone(), cause.clone()));
            }
            _ => {}
        }
    }
    if interrupt::requested() {
        let not_started = |f: &Failure| f.message == NOT_STARTED;
        let quiet: Vec<Address> = report.failed.iter().filter(|(_, f)| not_started(f)).map(|(a, _)| a.clone()).collect();
        let stopped = Stopped {
            finished: finished_while_stopping.lock().expect("lock").clone(),
            abandoned: report.failed.iter().filter(|(_, f)| f.message == ABANDONED).map(|(a, _)| a.clone()).collect(),
            not_started: quiet.len() + report.skipped.iter().filter(|(_, cause)| quiet.contains(cause)).count(),
        };
        report.failed.retain(|(_, f)| !not_started(f) && f.message != ABANDONED);
        report.skipped.retain(|(_, cause)| !quiet.contains(cause));
        report.stopped = Some(stopped);
    }
    report
}
