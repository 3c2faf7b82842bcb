//! The only module that prints. Results go to stdout; diagnostics, progress and prompts to stderr.

use std::io::{BufRead, IsTerminal, Write};

use crate::cli::Global;
use crate::cost::Estimate;
use crate::engine::{Event, Report};
use crate::error::{Error, Result};
use crate::plan::{json_doc, render_text, Plan, Style};
use crate::resource::observe::{InstanceStatus, ServiceStatus};
use crate::spec::Loaded;

/// Whether a progress line is drawn in place on the terminal (see [`progress_line`]).
static LIVE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Clear the progress line, if one is drawn, so the next line starts clean.
fn clear_live() {
    if LIVE.swap(false, std::sync::atomic::Ordering::SeqCst) {
        eprint!("\r\x1b[2K");
    }
}

// Every line of this module goes through these: stdout and stderr share the terminal.
macro_rules! err {
    ($($t:tt)*) => {{ clear_live(); eprintln!($($t)*); }};
}
macro_rules! err_part {
    ($($t:tt)*) => {{ clear_live(); eprint!($($t)*); }};
}
macro_rules! out {
    ($($t:tt)*) => {{ clear_live(); println!($($t)*); }};
}

/// Where a wait stands: on a terminal, one line rewritten in place (cut to its width); elsewhere
/// (a CI log) a line of its own with the time of day, UTC.
fn progress_line(text: &str) {
    if std::io::stderr().is_terminal() {
        let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()).unwrap_or(100).saturating_sub(1).max(20);
        let shown = if text.chars().count() > width { text.chars().take(width - 1).collect::<String>() + "…" } else { text.to_string() };
        clear_live();
        eprint!("{shown}");
        LIVE.store(true, std::sync::atomic::Ordering::SeqCst);
    } else {
        let day = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() % 86_400).unwrap_or(0);
        err!("[{:02}:{:02}:{:02}Z] {text}", day / 3600, day / 60 % 60, day % 60);
    }
}

pub struct Output {
    style: Style,
}

fn colour_wanted(no_color: bool) -> bool {
    !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

impl Output {
    pub fn new(global: &Global) -> Self {
        Output { style: Style { color: colour_wanted(global.no_color), verbose: false } }
    }

    pub fn spec_warnings(&self, loaded: &Loaded) {
        if !loaded.warnings.is_empty() {
            err!("{}", loaded.render_warnings());
        }
    }

    pub fn initialised(&self, file: &std::path::Path, s: &crate::spec::Spec, notes: &[String]) {
        out!("wrote {}: {}", file.display(), counts(s));
        self.notes(notes);
        out!("next: `ecsdeploy plan -f {}` shows what is adopted; `ecsdeploy apply -f {}` tags it", file.display(), file.display());
    }

    pub fn notes(&self, notes: &[String]) {
        for n in notes {
            err!("note: {n}");
        }
    }

    pub fn validated(&self, loaded: &Loaded) {
        let warnings = match loaded.warnings.len() {
            0 => String::new(),
            n => format!(", {n} warning(s)"),
        };
        out!("{} is valid: {}{warnings}", loaded.file.name, counts(&loaded.spec));
    }

    pub fn plan(&self, plan: &Plan) {
        clear_live();
        print!("{}", render_text(plan, self.style));
    }

    /// `plan --verbose`: creations with every field, tags and defaults included.
    pub fn plan_verbose(&self, plan: &Plan) {
        clear_live();
        print!("{}", render_text(plan, Style { verbose: true, ..self.style }));
    }

    /// The plan's JSON, with where it was made (the header's values) added to it.
    pub fn plan_json(&self, plan: &Plan, place: &Place) {
        out!("{}", plan_document(plan, place));
    }

    /// The line a command starts with: which account, region and stack it works on.
    pub fn header(&self, place: &Place) {
        out!("{}", header(place.account.as_deref(), &place.region, &place.stack, place.endpoint.as_deref()));
    }

    /// Ask on the terminal before `action`; refuse when there is none to ask on.
    pub fn confirm(&self, question: &str, action: &str) -> Result<bool> {
        if !std::io::stdin().is_terminal() {
            return Err(Error::usage(format!("refusing to {action} without confirmation: stdin is not a terminal"), "pass --auto-approve (as CI jobs do)"));
        }
        err_part!("{question} [y/N] ");
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer).ok();
        Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
    }

    /// The prompt was answered no: said as what happened, not as an error.
    pub fn declined(&self, what: &str) {
        err!("{what}");
    }

    pub fn progress(&self, event: &Event) {
        match event {
            Event::Started(c) => err!("  {} {}: {}…", c.action.symbol(), c.address, verb(c.action)),
            Event::Waiting(c, what) => progress_line(&format!("    {}: {what}", c.address)),
            Event::Done(c, took) => err!("  {} {}: done in {:.1}s", c.action.symbol(), c.address, took.as_secs_f64()),
            Event::Failed(c, f) => {
                err!("  ! {}: {}", c.address, f.message);
                if let Some(h) = &f.hint {
                    err!("      hint: {h}");
                }
            }
            Event::Skipped(c, cause) => err!("  - {}: skipped because {cause} failed", c.address),
        }
    }

    /// A log line of some task, prefixed by its stream (one task each).
    pub fn stream_line(&self, stream: &str, line: &str) {
        let task = stream.rsplit('/').next().unwrap_or(stream);
        out!("[{}] {line}", &task[..task.len().min(8)]);
    }

    pub fn completions(&self, shell: clap_complete::Shell) {
        use clap::CommandFactory;
        clap_complete::generate(shell, &mut crate::cli::Cli::command(), "ecsdeploy", &mut std::io::stdout());
    }

    /// A deployment ECS completed that this machine cannot see: said, with how to see it.
    pub fn unverifiable(&self, name: &str, url: &str, me: &str, port: i32, rules: &[String], targets: bool) {
        let healthy = if targets { "its deployment completed and its load balancer targets are healthy" } else { "its deployment completed" };
        let rules = if rules.is_empty() { "no inbound rule at all".to_string() } else { rules.join("; ") };
        err!("==> {name} is healthy by ECS ({healthy}), but not verified from here:");
        err!("    this machine ({me}) is not allowed to reach port {port} of {url} by the security groups in front of it ({rules}).");
        err!("    To see it: connect to the network those rules allow (the VPN), add your address ([[ingress]] with cidr = \"{me}/32\"), or, from CI, take this ECS verdict (README: Deploying from CI).");
        out!("{name} is deployed (not verified from here): {url}");
    }

    /// What the stack owns that its spec no longer describes (`status`).
    pub fn beyond_the_spec(&self, owned: &[String]) {
        if !owned.is_empty() {
            out!("\nowned by the stack but no longer in the spec (apply deletes them): {}", owned.join(", "));
        }
    }

    pub fn status(&self, stack: &str, cluster: &str, services: &[ServiceStatus], instances: &[InstanceStatus], free: &[String], cost: &Estimate) {
        out!("stack `{stack}`, cluster `{cluster}`");
        for s in services {
            if !s.exists {
                out!("\nservice {}: not created yet (run apply)", s.name);
                continue;
            }
            out!("\nservice {}: {} running / {} desired / {} pending", s.name, s.running, s.desired, s.pending);
            out!("  task definition: {}", s.task_definition.rsplit('/').next().unwrap_or(&s.task_definition));
            for (id, status, rollout, reason) in &s.deployments {
                out!("  deployment {id}: {status} {rollout}{}", if reason.is_empty() { String::new() } else { format!(" ({reason})") });
            }
            for (target, state) in &s.targets {
                out!("  target {target}: {state}");
            }
            match &s.url {
                Some(u) => out!("  url: {u}"),
                None => out!("  url: none (nothing running)"),
            }
            // Counts and a COMPLETED deployment hide a crash loop; each task's fate shows it.
            for t in &s.tasks {
                let exits = t.exit_codes.iter().map(|(c, code)| format!("{c} exited {code}")).collect::<Vec<_>>().join(", ");
                let at = if t.since.is_empty() { String::new() } else { format!(" {} {}", if t.last_status == "STOPPED" { "at" } else { "since" }, t.since) };
                let detail = [exits, t.stopped_reason.clone()].into_iter().filter(|d| !d.is_empty()).collect::<Vec<_>>().join("; ");
                out!("  task {}: {}{at}{}", t.id, t.last_status, if detail.is_empty() { String::new() } else { format!(" ({detail})") });
            }
            if s.more_stopped > 0 {
                out!("  … and {} more stopped task(s) in the last hour", s.more_stopped);
            }
            for (at, e) in &s.events {
                out!("  event {at}: {e}");
            }
        }
        out!();
        if instances.is_empty() {
            out!("container instances: none");
        }
        for i in instances {
            let provider = if i.capacity_provider.is_empty() { "no capacity provider".to_string() } else { format!("provider {}", i.capacity_provider) };
            out!(
                "container instance {} ({}, {provider}), public IP {}, {} task(s)",
                i.instance_id,
                i.instance_type,
                if i.public_ip.is_empty() { "none" } else { &i.public_ip },
                i.running_tasks
            );
        }
        if cost.beyond_free_tier.is_empty() {
            out!(
                "estimated cost: within the free tier (free-tier instance types in this account: {})",
                if free.is_empty() { "none".to_string() } else { free.join(", ") }
            );
        } else {
            out!("estimated cost: about ${:.2} a month beyond the free tier (us-east-1 list prices):", cost.monthly);
            for line in &cost.beyond_free_tier {
                out!("  {line}");
            }
        }
    }

    pub fn findings(&self, service: &str, findings: &[crate::doctor::Finding], log_lines: &[String]) {
        out!("doctor: service `{service}`");
        for f in findings {
            out!("  {} {:<15} {}", if f.ok { "ok " } else { "BAD" }, f.check, f.detail);
            if let Some(fix) = &f.fix {
                out!("      fix: {fix}");
            }
        }
        if !log_lines.is_empty() {
            out!("  last log lines:");
            for l in log_lines {
                out!("    | {l}");
            }
        }
        match findings.iter().find(|f| !f.ok) {
            Some(f) => out!("cause: {} ({})", f.detail, f.check),
            None => out!("nothing wrong found: /docs answers"),
        }
    }

    /// A line the task wrote, as it wrote it.
    pub fn log_line(&self, line: &str) {
        out!("{line}");
    }

    /// What the user may do next.
    pub fn hint(&self, what: &str) {
        err!("    {what}");
    }

    /// A step of a long operation.
    pub fn step(&self, what: &str) {
        err!("==> {what}");
    }

    /// A new ECS service event, shown once.
    /// Where a service's deployment or verification stands, while nothing else is said.
    pub fn service_waiting(&self, service: &str, what: &str) {
        progress_line(&format!("    [{service}] {what}"));
    }

    pub fn service_event(&self, service: &str, message: &str) {
        err!("    [{service}] {message}");
    }

    /// The address users should open.
    pub fn live(&self, service: &str, url: &str) {
        out!("{service} is live: {url}");
    }

    pub fn explain_redeploy(&self, service: &str, current: Option<&str>) {
        match current {
            Some(td) => out!("redeploy would start a new deployment of {td} on service `{service}`, so its tasks pull the image tag again, then wait and verify. Nothing changed; pass --force to do it."),
            None => out!("service `{service}` does not exist yet: run apply first. Nothing changed."),
        }
    }

    pub fn nothing_to_destroy(&self, plan: &Plan) {
        let kept = plan.changes.len();
        let kept = if kept > 0 { format!(" ({kept} kept: see --logs)") } else { String::new() };
        out!("Nothing to destroy: stack `{}` owns nothing else in this region{kept}.", plan.stack);
    }

    pub fn destroyed(&self, report: &Report, plan: &Plan) {
        out!("Destroyed {} resource(s) of stack `{}`.", report.applied.len(), plan.stack);
    }

    /// The end of an apply. With `--image` images the spec does not name, "matches the spec"
    /// would be untrue: say what the next plain apply does instead, and how to keep the image.
    pub fn applied(&self, report: &Report, after: &Plan, overrides: &[crate::commands::Override]) {
        if overrides.is_empty() {
            out!("Applied {} change(s); stack `{}` now matches the spec.", report.applied.len(), after.stack);
            return;
        }
        let flags = overrides.iter().map(|o| format!("--image {}={}", o.container, o.uri)).collect::<Vec<_>>().join(" ");
        out!("Applied {} change(s); stack `{}` matches the spec with {flags}.", report.applied.len(), after.stack);
        for o in overrides {
            out!("The spec still says {} at {}: the next plain `ecsdeploy apply` (without --image) deploys that image again.", o.spec_image, o.place);
            out!(
                "To keep {}, make it the spec's image of `{}` there (for CI, take the tag from a variable, e.g. `${{IMAGE_TAG}}`, set for CI and people alike).",
                o.uri, o.container
            );
        }
    }
}

/// Where a command works, as plain values (see [`header`]).
#[derive(Debug, Clone, Default)]
pub struct Place {
    /// `None` when the command made no call that tells it (`--no-wait`).
    pub account: Option<String>,
    pub region: String,
    pub stack: String,
    /// The configured endpoint (`AWS_ENDPOINT_URL`), when there is one.
    pub endpoint: Option<String>,
}

/// The header line: account, region and stack, and the endpoint when it is not AWS's, so that an
/// answer such as "key pair does not exist" is read against the right account and region.
pub fn header(account: Option<&str>, region: &str, stack: &str, endpoint: Option<&str>) -> String {
    let account = account.unwrap_or("(not asked)");
    let endpoint = match endpoint.filter(|e| !is_aws_endpoint(e)) {
        Some(e) => format!(", endpoint {e} (not AWS)"),
        None => String::new(),
    };
    format!("stack `{stack}`, account {account}, region {region}{endpoint}")
}

/// The plan's JSON (see [`crate::plan::render_json`]) with the header's values added: `account`
/// (null when not asked), `region`, `endpoint` (null unless configured).
pub fn plan_document(plan: &Plan, place: &Place) -> String {
    let mut doc = json_doc(plan);
    doc["account"] = place.account.clone().into();
    doc["region"] = place.region.clone().into();
    doc["endpoint"] = place.endpoint.clone().into();
    serde_json::to_string_pretty(&doc).expect("plan serialises")
}

/// Whether an endpoint URL is one of AWS's own (a FIPS or dual-stack endpoint set by hand).
fn is_aws_endpoint(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or_default();
    [".amazonaws.com", ".amazonaws.com.cn", ".api.aws"].iter().any(|d| host.ends_with(d))
}

/// What a spec holds, in one line.
fn counts(s: &crate::spec::Spec) -> String {
    format!(
        "stack `{}`, cluster `{}`, {} role(s), {} task definition(s), {} service(s), {} job(s), {} ingress rule(s)",
        s.stack.name,
        s.cluster.name,
        s.roles.len(),
        s.tasks.len(),
        s.services.len(),
        s.jobs.len(),
        s.ingress.len()
    )
}

fn verb(a: crate::plan::Action) -> &'static str {
    use crate::plan::Action::*;
    match a {
        Create => "creating",
        Adopt => "adopting",
        Update => "updating",
        Replace => "replacing",
        Delete => "deleting",
        NoOp | Read => "reading",
    }
}

/// The one place errors are shown: what failed, and what to do about it.
pub fn error(e: &Error) {
    match e {
        Error::Spec(s) => err!("{}", s.render()),
        Error::Usage { message, hint } => err!("error: {message}\n  = hint: {hint}"),
        Error::Aws(a) => {
            err!("error: {a}");
            if let Some(h) = &a.hint {
                err!("  = hint: {h}");
            }
        }
        Error::Plan(p) => {
            err!("error: {p}");
            if let Some(h) = &p.failure.hint {
                err!("  = hint: {h}");
            }
        }
        Error::Failed { message, hint } => {
            err!("error: {message}");
            if let Some(h) = hint {
                err!("  = hint: {h}");
            }
        }
        Error::Interrupted { message, resume } => err!("interrupted: {message}\n  = to resume: {resume}"),
    }
}

/// The first Ctrl-C (or SIGTERM) of a run that changes AWS.
pub fn interrupting(grace: std::time::Duration) {
    err!(
        "\ninterrupted: no new change starts; the changes in flight get up to {}s to finish, then the lease is released (Ctrl-C again to exit at once)",
        grace.as_secs()
    );
}

/// The second: the run exits now, its lease left to expire (the next run on this machine takes it over).
pub fn interrupted_twice() {
    err!("interrupted again: exiting now; the next run continues where this one stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_account_region_stack_and_an_endpoint_that_is_not_aws() {
        assert_eq!(header(Some("123456789012"), "us-west-2", "iris", None), "stack `iris`, account 123456789012, region us-west-2");
        assert_eq!(
            header(Some("123456789012"), "us-east-1", "iris", Some("http://127.0.0.1:4566")),
            "stack `iris`, account 123456789012, region us-east-1, endpoint http://127.0.0.1:4566 (not AWS)"
        );
        assert_eq!(header(None, "us-east-1", "iris", Some("https://ecs-fips.us-east-1.amazonaws.com")), "stack `iris`, account (not asked), region us-east-1");
    }

    #[test]
    fn the_plan_json_gains_where_it_was_made_and_keeps_every_field() {
        let plan = Plan { stack: "iris".into(), changes: vec![], warnings: vec![] };
        let place = Place { account: Some("123456789012".into()), region: "us-east-1".into(), stack: "iris".into(), endpoint: None };
        let doc: serde_json::Value = serde_json::from_str(&plan_document(&plan, &place)).unwrap();
        assert_eq!((doc["account"].as_str(), doc["region"].as_str(), doc["endpoint"].is_null()), (Some("123456789012"), Some("us-east-1"), true));
        for key in ["stack", "changes", "summary", "warnings"] {
            assert!(doc.get(key).is_some(), "{key} kept: {doc}");
        }
    }
}
