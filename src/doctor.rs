//! Why does `/docs` not answer? A pure walk over facts gathered from AWS, in the order a person
//! would check: capacity, the task, the app's logs, the security group, target health, the URL.
//! Each finding that fails says what to change in the spec.

use crate::spec::{static_host_ports, Spec};

/// What `doctor` read from AWS about one service.
#[derive(Debug, Clone)]
pub struct Facts {
    pub service: String,
    pub service_exists: bool,
    pub desired: i32,
    pub running: i32,
    /// Instances the autoscaling group runs, and container instances registered in the cluster.
    pub group_instances: usize,
    pub container_instances: usize,
    /// Container instances not associated with the stack's capacity provider (registered before
    /// it existed): tasks placed with the provider's strategy never use them.
    pub outside_provider: Vec<String>,
    /// Why a task waiting in PROVISIONING can never get an instance, when that is so.
    pub waiting_for_capacity: Option<String>,
    /// Newest first.
    pub events: Vec<String>,
    /// The most recent stopped task: (stop code, reason, exit codes).
    pub last_stopped: Option<(String, String, Vec<Option<i32>>)>,
    /// The newest log lines of the service's tasks.
    pub log_lines: Vec<String>,
    /// Inbound rules of the instances' group: (from port, to port, source).
    pub rules: Vec<(i32, i32, String)>,
    /// Target states when a load balancer is attached.
    pub targets: Vec<String>,
    pub url: Option<String>,
    /// This machine's address and the rules in front of the URL, when those keep it out.
    pub blocked_here: Option<(String, Vec<String>)>,
    /// What GET url gave: a status, or why it failed.
    pub answer: Result<u16, String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub check: &'static str,
    pub ok: bool,
    pub detail: String,
    pub fix: Option<String>,
}

fn ok(check: &'static str, detail: impl Into<String>) -> Finding {
    Finding { check, ok: true, detail: detail.into(), fix: None }
}

fn bad(check: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Finding {
    Finding { check, ok: false, detail: detail.into(), fix: Some(fix.into()) }
}

/// The findings in order; the first failing one is the cause, later ones are context.
pub fn diagnose(spec: &Spec, f: &Facts) -> Vec<Finding> {
    let svc = &spec.services[&f.service];
    let family = &svc.task;
    let mut out = Vec::new();
    if !f.service_exists {
        out.push(bad("service", format!("service `{}` does not exist", f.service), "run `ecsdeploy apply`"));
        return out;
    }
    // 1. Capacity.
    if spec.cluster.ec2.is_some() {
        let by_provider = svc.launch_type.is_none() && svc.capacity_provider.as_deref().is_none_or(|c| c == "ec2");
        out.push(match (f.group_instances, f.container_instances) {
            (_, n) if n > 0 && by_provider && f.outside_provider.len() == n => bad("capacity",
                format!("instance(s) {} joined the cluster outside the stack's capacity provider (before it existed): the service's tasks never use them", f.outside_provider.join(", ")),
                "replace them: `ecsdeploy scale --desired 0 --capacity`, then `ecsdeploy scale --desired 1 --capacity`"),
            (_, n) if n > 0 => ok("capacity", format!("{n} container instance(s) registered")),
            (0, _) => bad("capacity", "the autoscaling group runs no instance", "set cluster.ec2.desired = 1 (and min ≤ 1 ≤ max), or run `ecsdeploy scale --desired 1 --capacity`"),
            (n, _) => bad("capacity", format!("{n} instance(s) run but none joined the cluster"),
                "check that the instance role has AmazonEC2ContainerServiceforEC2Role, the user data sets ECS_CLUSTER, and cluster.ec2.ami is an ECS-optimised AMI"),
        });
    }
    // 2. The task.
    out.push(task_finding(spec, f, family));
    // 3. The app's own words.
    let denied = f
        .log_lines
        .iter()
        .find(|l| ["AccessDenied", "Unable to locate credentials", "NoCredentialsError", "not authorized to perform"].iter().any(|p| l.contains(p)));
    out.push(match denied {
        Some(line) => bad(
            "app logs",
            format!("the app lacks AWS permissions: {line}"),
            format!("give tasks.{family}.task_role a role with the policy it needs (the tutorial's ecs-iris-tasks has AmazonS3FullAccess)"),
        ),
        None if f.log_lines.is_empty() => ok("app logs", "no log lines yet"),
        None => ok("app logs", format!("last line: {}", f.log_lines.last().map(String::as_str).unwrap_or(""))),
    });
    // 4. The security group lets users in.
    if svc.load_balancer.is_none() {
        if let Some(port) = spec.tasks.get(family).and_then(|t| static_host_ports(t).first().copied()) {
            let open = f.rules.iter().any(|(a, b, src)| *a <= port as i32 && port as i32 <= *b && src.contains('/'));
            out.push(if open {
                ok("security group", format!("port {port} is open"))
            } else {
                bad(
                    "security group",
                    format!("no rule lets anyone reach port {port} on the instance"),
                    format!("add [[ingress]] with group = \"ecs\", port = {port} and cidr = \"<your network, e.g. 165.124.160.0/21>\""),
                )
            });
        }
    }
    // 5. Load balancer targets.
    if svc.load_balancer.is_some() {
        out.push(if f.targets.iter().any(|t| t == "healthy") {
            ok("targets", "a target is healthy")
        } else {
            let path = spec.load_balancer.as_ref().map(|l| l.target_group.health_check_path.clone()).unwrap_or_default();
            bad(
                "targets",
                format!("no healthy target ({})", if f.targets.is_empty() { "none registered".into() } else { f.targets.join(", ") }),
                format!("the app must answer 200 at the health check path `{path}` (load_balancer.target_group.health_check_path)"),
            )
        });
    }
    // 6. The URL itself, from where this machine stands.
    if let (Some(u), Some((me, rules))) = (&f.url, &f.blocked_here) {
        out.push(bad(
            "from here",
            format!(
                "this machine ({me}) is not allowed to reach {u} by the security groups in front of it ({})",
                if rules.is_empty() { "no inbound rule".into() } else { rules.join("; ") }
            ),
            format!("connect to the network they allow (the VPN), or add [[ingress]] with cidr = \"{me}/32\" for the port"),
        ));
        return out;
    }
    out.push(match (&f.url, &f.answer) {
        (None, _) => bad("url", "no public address (nothing runs)", "fix the findings above"),
        (Some(u), Ok(code)) if *code == svc.verify.expect => ok("url", format!("GET {u} answers {code}")),
        (Some(u), Ok(code)) => {
            bad("url", format!("GET {u} answers {code}"), "the app itself fails: read its logs (`ecsdeploy logs`) and fix the code or its environment")
        }
        (Some(u), Err(e)) => bad("url", format!("GET {u}: {e}"), "check the findings above; from outside AWS, also your own network"),
    });
    out
}

fn task_finding(spec: &Spec, f: &Facts, family: &str) -> Finding {
    if f.running > 0 {
        return ok("task", format!("{} of {} task(s) running", f.running, f.desired));
    }
    if f.desired == 0 {
        return bad("task", "the service is scaled to 0", "run `ecsdeploy scale --desired 1`");
    }
    if let Some(why) = &f.waiting_for_capacity {
        let mem = spec.tasks.get(family).and_then(|t| t.memory).unwrap_or(0);
        let fix = if why.contains("memory") {
            format!("tasks.{family}.memory = {mem} does not fit the instance (a t2.micro or t3.micro offers 982 MiB): lower it, free room (`ecsdeploy scale --desired 0` of another service), or raise cluster.ec2.max or instance_type")
        } else {
            "free room on the instance, or raise cluster.ec2.max".to_string()
        };
        return bad("task", format!("the task waits for capacity that cannot come: {why}"), fix);
    }
    if let Some(e) = f.events.iter().find(|e| e.contains("unable to place a task")) {
        let fix = if e.contains("memory") {
            let mem = spec.tasks.get(family).and_then(|t| t.memory).unwrap_or(0);
            format!("tasks.{family}.memory = {mem} does not fit the instance (a t2.micro or t3.micro offers 982 MiB): lower it, or choose a bigger cluster.ec2.instance_type")
        } else if e.contains("port") {
            format!("another task holds the host port: use host = 0 in tasks.{family} behind the load balancer, or stop the other task")
        } else {
            "the cluster has no instance that fits: see the event".to_string()
        };
        return bad("task", format!("ECS cannot place the task: {e}"), fix);
    }
    match &f.last_stopped {
        Some((_, reason, _)) if reason.contains("CannotPullContainerError") => bad(
            "task",
            reason.clone(),
            format!("the image cannot be pulled: push it to ECR, check tasks.{family}.containers image, and that the execution role may read ECR"),
        ),
        Some((_, reason, _)) if reason.contains("exec format error") => {
            bad("task", reason.clone(), "the image was built for another CPU (arm64): rebuild with `docker build --platform linux/amd64`")
        }
        Some((_, reason, codes)) if reason.contains("OutOfMemory") || codes.contains(&Some(137)) => {
            bad("task", reason.clone(), format!("the container ran out of memory: raise tasks.{family}.memory"))
        }
        Some((_, reason, codes)) => {
            let code = codes.iter().flatten().next().map(|c| format!(" (exit code {c})")).unwrap_or_default();
            bad("task", format!("{reason}{code}"), "the app exits at start: its last log lines below say why")
        }
        None => bad("task", "no task runs yet", "wait for the deployment, or look at `ecsdeploy status`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy.toml")).unwrap();
        crate::spec::parse("deploy.toml", &text, &|_| None).unwrap().spec
    }

    fn healthy() -> Facts {
        Facts {
            service: "iris-app".into(),
            service_exists: true,
            desired: 1,
            running: 1,
            group_instances: 1,
            container_instances: 1,
            outside_provider: vec![],
            waiting_for_capacity: None,
            events: vec![],
            last_stopped: None,
            log_lines: vec!["Uvicorn running".into()],
            rules: vec![(80, 80, "165.124.160.0/21".into())],
            targets: vec![],
            url: Some("http://x/docs".into()),
            blocked_here: None,
            answer: Ok(200),
        }
    }

    fn cause(f: &Facts) -> Option<Finding> {
        diagnose(&spec(), f).into_iter().find(|x| !x.ok)
    }

    #[test]
    fn checks_in_order_and_names_the_first_problem() {
        assert_eq!(cause(&healthy()), None);
        let f = Facts { container_instances: 0, running: 0, url: None, ..healthy() };
        assert_eq!(cause(&f).unwrap().check, "capacity");
        let f = Facts { outside_provider: vec!["i-1".into()], running: 0, url: None, ..healthy() };
        assert!(cause(&f).unwrap().fix.unwrap().contains("--desired 0 --capacity"));
        let f = Facts { log_lines: vec!["botocore.exceptions.ClientError: An error occurred (AccessDenied) when calling GetObject".into()], ..healthy() };
        assert!(cause(&f).unwrap().fix.unwrap().contains("task_role"));
        let f = Facts { rules: vec![(22, 22, "0.0.0.0/0".into())], ..healthy() };
        assert!(cause(&f).unwrap().fix.unwrap().contains("port = 80"));
        let f =
            Facts { running: 0, last_stopped: Some(("TaskFailedToStart".into(), "CannotStartContainerError: exec format error".into(), vec![])), ..healthy() };
        assert!(cause(&f).unwrap().fix.unwrap().contains("linux/amd64"));
        let f = Facts {
            running: 0,
            last_stopped: Some(("EssentialContainerExited".into(), "OutOfMemoryError: Container killed".into(), vec![Some(137)])),
            ..healthy()
        };
        assert!(cause(&f).unwrap().fix.unwrap().contains("raise tasks.iris-inference.memory"));
        let rules = vec!["sg-1 allows tcp 80 from 165.124.160.0/21".to_string()];
        let f = Facts { blocked_here: Some(("203.0.113.7".into(), rules)), answer: Err("not tried".into()), ..healthy() };
        let c = cause(&f).unwrap();
        assert_eq!(c.check, "from here");
        assert!(c.detail.contains("203.0.113.7") && c.detail.contains("sg-1 allows tcp 80") && c.fix.unwrap().contains("203.0.113.7/32"), "{}", c.detail);
    }
}
