//! Waiting for a deployment: a pure judgement of one snapshot, and one polling driver with
//! backoff and jitter, two timeouts (no progress, overall deadline), and only new events shown.

use std::collections::HashSet;
use std::time::{Duration, Instant};

/// One look at a service, as plain data (the resource layer fills it from AWS).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The service's desired count, which ECS sets at once (a deployment's follows).
    pub desired: i32,
    pub deployments: Vec<DeploymentState>,
    /// Newest first, as ECS lists them.
    pub events: Vec<ServiceEvent>,
    /// Recently stopped tasks of the service.
    pub stopped: Vec<StoppedTask>,
    /// What else moves while no count does (task statuses, target health, instances joining),
    /// one line each: any change is progress.
    pub progress: Vec<String>,
    /// Why a task waiting for capacity can never get it, when that is so (see
    /// [`NO_CAPACITY_PATIENCE`]).
    pub stuck: Option<String>,
}

/// The longest pause between two looks at a deployment, and the pause once it is about to end:
/// a look costs a few read calls, and ECS answers them at a far higher rate.
const MAX_POLL: Duration = Duration::from_secs(2);
const NEAR_POLL: Duration = Duration::from_millis(250);

/// How long a task may wait for capacity that nothing is bringing before the wait gives up: ECS
/// places a waiting task within seconds once an instance has room.
pub const NO_CAPACITY_PATIENCE: Duration = Duration::from_secs(10);

/// How long a wait may go without saying anything.
pub const QUIET: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Default)]
pub struct DeploymentState {
    pub id: String,
    /// PRIMARY or ACTIVE.
    pub status: String,
    /// IN_PROGRESS, COMPLETED, FAILED (absent on old APIs).
    pub rollout_state: String,
    pub rollout_reason: String,
    pub desired: i32,
    pub running: i32,
    pub pending: i32,
    pub failed: i32,
    /// Seconds since the epoch.
    pub created_at: f64,
}

#[derive(Debug, Clone, Default)]
pub struct ServiceEvent {
    pub id: String,
    pub at: f64,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoppedTask {
    pub arn: String,
    pub started_by: String,
    pub task_definition: String,
    pub stop_code: String,
    pub reason: String,
    /// (container, exit code) where the container ran.
    pub exit_codes: Vec<(String, Option<i32>)>,
    pub stopped_at: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Still going; the string changes whenever progress is made.
    Waiting(String),
    Completed,
    Failed {
        reason: String,
        task: Option<StoppedTask>,
    },
}

/// Where the deployment `id` stands, from one snapshot; events before `since` (seconds since the
/// epoch) are history, not news.
pub fn judge(s: &Snapshot, id: &str, since: f64) -> Verdict {
    let Some(ours) = s.deployments.iter().find(|d| d.id == id) else {
        let primary = s.deployments.iter().find(|d| d.status == "PRIMARY");
        let reason = match primary {
            Some(p) if p.rollout_reason.to_ascii_lowercase().contains("circuit breaker") || p.rollout_reason.contains("rolling back") => {
                format!("the deployment circuit breaker rolled the service back: {}", p.rollout_reason)
            }
            _ => format!("deployment {id} was replaced by another deployment before it completed"),
        };
        return Verdict::Failed { reason, task: None };
    };
    if ours.rollout_state == "FAILED" {
        let reason = if ours.rollout_reason.is_empty() { "the deployment failed".into() } else { ours.rollout_reason.clone() };
        let task = s.stopped.iter().find(|t| t.started_by == ours.id).cloned();
        return Verdict::Failed { reason, task };
    }
    let only_ours = s.deployments.len() == 1;
    let settled = ours.desired == s.desired && ours.running == ours.desired && ours.pending == 0;
    if ours.status == "PRIMARY" && only_ours && settled && matches!(ours.rollout_state.as_str(), "COMPLETED" | "") {
        return Verdict::Completed;
    }
    // Fail fast: a task of this deployment could not start or its app exited.
    if let Some(t) = s.stopped.iter().find(|t| t.started_by == ours.id && matches!(t.stop_code.as_str(), "TaskFailedToStart" | "EssentialContainerExited")) {
        return Verdict::Failed { reason: format!("a task of the new deployment stopped: {}", t.reason), task: Some(t.clone()) };
    }
    if let Some(e) = s.events.iter().find(|e| e.at >= ours.created_at.max(since) && e.message.contains("unable to place a task")) {
        return Verdict::Failed { reason: format!("ECS cannot place the task: {}", e.message), task: None };
    }
    let mut moving = s.progress.clone();
    moving.sort();
    Verdict::Waiting(format!(
        "{}/{}/{}/{}/{}/{} [{}]",
        ours.running,
        ours.pending,
        ours.desired,
        ours.rollout_state,
        ours.failed,
        s.deployments.len(),
        moving.join(", ")
    ))
}

#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Fail when nothing moves for this long.
    pub progress: Duration,
    /// Fail when the whole wait takes longer than this.
    pub deadline: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WaitFailure {
    pub reason: String,
    pub task: Option<StoppedTask>,
}

/// Poll until the deployment completes (returning the last snapshot) or fails. `on_event` sees
/// each new service event once, oldest first, from the deployment's start or `since` on,
/// whichever is later (a scale follows a deployment that started long ago).
/// When no event came for [`QUIET`], `on_quiet` hears where the deployment stands.
pub async fn wait<F, Fut, E>(
    mut probe: F,
    id: &str,
    since: f64,
    t: Timeouts,
    on_event: &(dyn Fn(&str) + Sync),
    on_quiet: &(dyn Fn(&str) + Sync),
) -> Result<Snapshot, WaitFailure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Snapshot, E>>,
    E: std::fmt::Display,
{
    let start = Instant::now();
    let mut last_progress = Instant::now();
    let mut fingerprint = String::new();
    let mut seen: HashSet<String> = HashSet::new();
    let mut pause = Duration::from_millis(200);
    let mut stuck_since: Option<Instant> = None;
    let mut said = Instant::now();
    loop {
        let snapshot = probe().await.map_err(|e| WaitFailure { reason: format!("cannot read the service: {e}"), task: None })?;
        match (&snapshot.stuck, stuck_since) {
            (Some(why), Some(at)) if at.elapsed() > NO_CAPACITY_PATIENCE => {
                return Err(WaitFailure { reason: format!("a task waits for capacity that cannot come: {why}"), task: None });
            }
            (Some(_), None) => stuck_since = Some(Instant::now()),
            (None, _) => stuck_since = None,
            _ => {}
        }
        let from = snapshot.deployments.iter().find(|d| d.id == id).map(|d| d.created_at).unwrap_or(0.0).max(since);
        for e in snapshot.events.iter().rev().filter(|e| e.at >= from) {
            if seen.insert(e.id.clone()) {
                on_event(&e.message);
                said = Instant::now();
            }
        }
        if said.elapsed() >= QUIET {
            if let Some(d) = snapshot.deployments.iter().find(|d| d.id == id) {
                let mut moving = snapshot.progress.clone();
                moving.sort();
                on_quiet(&format!(
                    "{} of {} task(s) running, {} pending; {} ({}s)",
                    d.running,
                    d.desired,
                    d.pending,
                    moving.join(", "),
                    start.elapsed().as_secs()
                ));
            }
            said = Instant::now();
        }
        match judge(&snapshot, id, since) {
            Verdict::Completed => return Ok(snapshot),
            Verdict::Failed { reason, task } => return Err(WaitFailure { reason, task }),
            Verdict::Waiting(f) => {
                if f != fingerprint {
                    fingerprint = f;
                    last_progress = Instant::now();
                    pause = Duration::from_millis(200);
                }
            }
        }
        if last_progress.elapsed() > t.progress {
            return Err(WaitFailure { reason: format!("no progress for {}s (the deployment stands at {fingerprint})", t.progress.as_secs()), task: None });
        }
        if start.elapsed() > t.deadline {
            return Err(WaitFailure { reason: format!("the deployment did not complete within {}s", t.deadline.as_secs()), task: None });
        }
        // Tight at first, then backing off, with jitter so parallel waits do not poll in step;
        // tight again once only ECS's own verdict is missing (ours is the only deployment left and
        // every task of it runs).
        let jitter = 0.8 + fastrand::f64() * 0.4;
        let near = snapshot.deployments.len() == 1
            && snapshot.deployments[0].id == id
            && snapshot.deployments[0].running == snapshot.deployments[0].desired
            && snapshot.deployments[0].pending == 0;
        tokio::time::sleep(if near { NEAR_POLL } else { pause }.mul_f64(jitter)).await;
        pause = (pause.mul_f64(1.5)).min(MAX_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(id: &str, status: &str, rollout: &str, running: i32) -> DeploymentState {
        DeploymentState { id: id.into(), status: status.into(), rollout_state: rollout.into(), desired: 1, running, created_at: 100.0, ..Default::default() }
    }

    fn snap(deployments: Vec<DeploymentState>) -> Snapshot {
        Snapshot { desired: 1, deployments, ..Default::default() }
    }

    #[test]
    fn completes_only_when_alone_settled_and_completed() {
        let mut s =
            Snapshot { desired: 1, deployments: vec![dep("new", "PRIMARY", "IN_PROGRESS", 1), dep("old", "ACTIVE", "COMPLETED", 1)], ..Default::default() };
        assert!(matches!(judge(&s, "new", 0.0), Verdict::Waiting(_)));
        s.deployments = vec![dep("new", "PRIMARY", "COMPLETED", 1)];
        assert_eq!(judge(&s, "new", 0.0), Verdict::Completed);
        // Scaled to 0 but the deployment has not caught up yet: not done.
        s.desired = 0;
        assert!(matches!(judge(&s, "new", 0.0), Verdict::Waiting(_)));
    }

    #[test]
    fn fails_fast_on_a_stopped_task_of_the_deployment() {
        let t = StoppedTask {
            started_by: "new".into(),
            stop_code: "TaskFailedToStart".into(),
            reason: "CannotPullContainerError: not found".into(),
            ..Default::default()
        };
        let s = Snapshot { desired: 1, deployments: vec![dep("new", "PRIMARY", "IN_PROGRESS", 0)], stopped: vec![t], ..Default::default() };
        assert!(matches!(judge(&s, "new", 0.0), Verdict::Failed { reason, .. } if reason.contains("CannotPullContainerError")));
        // A task stopped by scaling, or of another deployment, is no failure of ours.
        let scaled = StoppedTask { started_by: "old".into(), stop_code: "ServiceSchedulerInitiated".into(), ..Default::default() };
        let s = Snapshot { desired: 1, deployments: vec![dep("new", "PRIMARY", "IN_PROGRESS", 0)], stopped: vec![scaled], ..Default::default() };
        assert!(matches!(judge(&s, "new", 0.0), Verdict::Waiting(_)));
    }

    #[test]
    fn placement_events_after_the_start_fail_and_older_ones_do_not() {
        let old = ServiceEvent { id: "1".into(), at: 50.0, message: "(service x) was unable to place a task because …".into() };
        let mut s = Snapshot { desired: 1, deployments: vec![dep("new", "PRIMARY", "IN_PROGRESS", 0)], events: vec![old], ..Default::default() };
        assert!(matches!(judge(&s, "new", 0.0), Verdict::Waiting(_)));
        s.events.insert(0, ServiceEvent { id: "2".into(), at: 101.0, message: "(service x) was unable to place a task: insufficient memory".into() });
        assert!(matches!(judge(&s, "new", 0.0), Verdict::Failed { reason, .. } if reason.contains("insufficient memory")));
    }

    #[test]
    fn circuit_breaker_rollback_is_a_failure_not_a_success() {
        let mut rolled = dep("rollback", "PRIMARY", "IN_PROGRESS", 1);
        rolled.rollout_reason = "ECS deployment circuit breaker: rolling back to deploymentId new.".into();
        let s = Snapshot { desired: 1, deployments: vec![rolled], ..Default::default() };
        assert!(matches!(judge(&s, "new", 0.0), Verdict::Failed { reason, .. } if reason.contains("circuit breaker")));
        let mut failed = dep("new", "ACTIVE", "FAILED", 0);
        failed.rollout_reason = "ECS deployment circuit breaker: tasks failed to start.".into();
        assert!(matches!(judge(&Snapshot { desired: 1, deployments: vec![failed], ..Default::default() }, "new", 0.0), Verdict::Failed { .. }));
    }

    #[tokio::test]
    async fn driver_reports_new_events_once_and_stops_at_completion() {
        let shots = std::sync::Mutex::new(vec![
            Snapshot {
                desired: 1,
                deployments: vec![dep("d", "PRIMARY", "COMPLETED", 1)],
                events: vec![
                    ServiceEvent { id: "b".into(), at: 102.0, message: "steady".into() },
                    ServiceEvent { id: "a".into(), at: 101.0, message: "started".into() },
                ],
                ..Default::default()
            },
            Snapshot {
                desired: 1,
                deployments: vec![dep("d", "PRIMARY", "IN_PROGRESS", 0)],
                events: vec![ServiceEvent { id: "a".into(), at: 101.0, message: "started".into() }],
                ..Default::default()
            },
        ]);
        let seen = std::sync::Mutex::new(Vec::new());
        let t = Timeouts { progress: Duration::from_secs(5), deadline: Duration::from_secs(5) };
        let r = wait(
            || {
                let s = shots.lock().unwrap().pop().unwrap();
                async move { Ok::<_, String>(s) }
            },
            "d",
            0.0,
            t,
            &|m| seen.lock().unwrap().push(m.to_string()),
            &|_| {},
        )
        .await;
        assert!(r.is_ok());
        assert_eq!(*seen.lock().unwrap(), ["started", "steady"]);
    }

    #[test]
    fn a_task_moving_through_its_states_is_progress_though_no_count_changes() {
        let at = |status: &str| Snapshot {
            desired: 1,
            deployments: vec![dep("d", "PRIMARY", "IN_PROGRESS", 0)],
            progress: vec![format!("task t1 {status}")],
            ..Default::default()
        };
        let Verdict::Waiting(provisioning) = judge(&at("PROVISIONING"), "d", 0.0) else { panic!() };
        let Verdict::Waiting(pending) = judge(&at("PENDING"), "d", 0.0) else { panic!() };
        assert_ne!(provisioning, pending);
    }

    #[tokio::test]
    async fn no_progress_times_out() {
        let t = Timeouts { progress: Duration::from_millis(300), deadline: Duration::from_secs(10) };
        let r = wait(|| async { Ok::<_, String>(snap(vec![dep("d", "PRIMARY", "IN_PROGRESS", 0)])) }, "d", 0.0, t, &|_| {}, &|_| {}).await;
        assert!(r.unwrap_err().reason.contains("no progress"));
    }
}
