//! Semantic checks of a parsed spec: names AWS would refuse, references to things not defined,
//! combinations ECS rejects at deploy time, and free-tier guardrails (warnings). Each check says the fix.

use std::collections::{BTreeMap, HashSet};
use std::net::Ipv4Addr;

use super::diag::{Diagnostic, KeyPath};
use super::model::*;

/// Names of the groups ecsdeploy itself owns; `[security_groups]` may not reuse them.
pub const OWN_GROUPS: [&str; 2] = ["ecs", "alb"];

/// CloudWatch Logs accepts only these retention periods (0: never expire).
const RETENTION_DAYS: [u32; 23] = [0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

pub fn validate(spec: &Spec) -> Vec<Diagnostic> {
    let mut v = Checker { out: Vec::new() };
    v.stack(&spec.stack);
    v.cluster(spec);
    for (name, role) in &spec.roles {
        v.role(&KeyPath::root().key("roles").key(name), name, role);
    }
    for (family, task) in &spec.tasks {
        v.task(spec, &KeyPath::root().key("tasks").key(family), family, task);
    }
    for (name, svc) in &spec.services {
        v.service(spec, &KeyPath::root().key("services").key(name), name, svc);
    }
    for (name, job) in &spec.jobs {
        v.job(spec, &KeyPath::root().key("jobs").key(name), job);
    }
    v.host_ports_across_services(spec);
    v.groups(spec);
    if let Some(lb) = &spec.load_balancer {
        v.load_balancer(lb);
    }
    if spec.guardrails.free_tier {
        v.free_tier(spec);
    }
    v.out
}

struct Checker {
    out: Vec<Diagnostic>,
}

impl Checker {
    fn err(&mut self, path: KeyPath, msg: impl Into<String>, hint: impl Into<String>) {
        self.out.push(Diagnostic::error(path, msg).hint(hint));
    }
    fn warn(&mut self, path: KeyPath, msg: impl Into<String>, hint: impl Into<String>) {
        self.out.push(Diagnostic::warning(path, msg).hint(hint));
    }

    fn stack(&mut self, stack: &Stack) {
        let p = KeyPath::root().key("stack");
        if !is_stack_name(&stack.name) {
            self.err(
                p.key("name"),
                format!("stack name `{}` is not usable", stack.name),
                "use 1-32 letters, digits and hyphens, starting with a letter: it prefixes every name ecsdeploy makes",
            );
        }
        if let Some(region) = &stack.region {
            if !is_region(region) {
                self.err(p.key("region"), format!("`{region}` is not an AWS region name"), "write a region such as us-east-1 or eu-west-2");
            }
        }
    }

    fn cluster(&mut self, spec: &Spec) {
        let p = KeyPath::root().key("cluster");
        let c = &spec.cluster;
        if !is_name(&c.name, 255, "-_") {
            self.err(p.key("name"), format!("cluster name `{}` is not allowed by ECS", c.name), "use up to 255 letters, digits, hyphens and underscores");
        }
        let Some(ec2) = &c.ec2 else {
            if !c.fargate && (!spec.services.is_empty() || !spec.jobs.is_empty()) {
                self.err(
                    p.clone(),
                    "the cluster has no capacity: no [cluster.ec2] and fargate = false",
                    "add a [cluster.ec2] table (max 1 for the free tier) or set fargate = true",
                );
            }
            return;
        };
        let p = p.key("ec2");
        if let Some(t) = &ec2.instance_type {
            self.instance_type(p.key("instance_type"), t);
        }
        let ami_ok = matches!(ec2.ami.as_str(), "amazon-linux-2" | "amazon-linux-2023") || (ec2.ami.starts_with("ami-") && is_hex(&ec2.ami[4..]));
        if !ami_ok {
            self.err(
                p.key("ami"),
                format!("`{}` is not an AMI choice", ec2.ami),
                "use \"amazon-linux-2023\" (the ECS-optimised AMI AWS recommends), \"amazon-linux-2\", or an id like ami-0abc…",
            );
        } else if ec2.ami == "amazon-linux-2" {
            self.warn(
                p.key("ami"),
                "Amazon Linux 2 reached end of support on 2026-06-30: its ECS-optimised AMI gets no more security updates",
                "use ami = \"amazon-linux-2023\" (the default; the user data works on both)",
            );
        }
        for (key, n) in [("min", ec2.min), ("max", ec2.max), ("desired", ec2.desired)] {
            self.count(p.key(key), n);
        }
        if let Some(d) = &ec2.security_group_description {
            self.ec2_text(p.key("security_group_description"), d);
        }
        if ec2.max == 0 {
            self.err(
                p.key("max"),
                "max = 0 means no instance can ever run a task",
                "set max = 1 (the free tier covers one micro instance), or remove [cluster.ec2] and use Fargate",
            );
        } else if ec2.min > ec2.max {
            self.err(p.key("min"), format!("min ({}) is larger than max ({})", ec2.min, ec2.max), "make min ≤ desired ≤ max");
        } else if ec2.desired < ec2.min || ec2.desired > ec2.max {
            self.err(p.key("desired"), format!("desired ({}) is outside min..max ({}..{})", ec2.desired, ec2.min, ec2.max), "make min ≤ desired ≤ max");
        }
        for (i, cidr) in ec2.ssh_cidrs.iter().enumerate() {
            self.cidr(p.key("ssh_cidrs").index(i), cidr);
        }
        self.subnets(p.key("subnets"), &ec2.subnets);
        if let Some(key) = &ec2.key_pair {
            if key.trim().is_empty() || key.len() > 255 {
                self.err(
                    p.key("key_pair"),
                    "key pair name is empty or too long",
                    "name the EC2 key pair you created (EC2 console → Key pairs), or remove key_pair",
                );
            }
        }
        // Its instance profile carries the same name: a role of the spec, not an ARN.
        if let Some(r) = ec2.instance_role.as_ref().filter(|r| !spec.roles.contains_key(*r)) {
            self.err(
                p.key("instance_role"),
                format!("role `{r}` is not defined"),
                format!("define [roles.{r}] with trust = [\"ec2.amazonaws.com\"], or remove instance_role; defined roles: {}", list(spec.roles.keys())),
            );
        }
    }

    /// A type EC2 has, whose processor runs the tasks: their task definitions declare
    /// linux/x86_64, so an arm64 (Graviton) instance could never place them.
    fn instance_type(&mut self, p: KeyPath, t: &str) {
        let fix = "remove instance_type to use the account's free-tier type, or write one such as t3.micro";
        match super::instance_types::architectures(t) {
            Err(why) => self.err(p, why, fix),
            Ok(archs) if !archs.contains(&"x86_64") => self.err(
                p,
                format!("{t} has {} processors, but the tasks run on linux/x86_64 (their images are built for amd64)", archs.join("/")),
                "choose an x86_64 type such as t3.micro, or remove instance_type to use the account's free-tier type",
            ),
            Ok(_) => {}
        }
    }

    fn role(&mut self, p: &KeyPath, name: &str, role: &Role) {
        if !is_name(name, 64, "+=,.@-_") {
            self.err(p.clone(), format!("`{name}` is not a valid IAM role name"), "use up to 64 letters, digits and +=.@-_");
        } else if name.contains(',') {
            // IAM allows it in a name, but not in a tag value, and the role carries its name in one.
            self.err(
                p.clone(),
                format!("`{name}`: IAM refuses a comma in the tag value ecsdeploy:resource = iam_role.{name}"),
                "use up to 64 letters, digits and +=.@-_ (no comma)",
            );
        }
        if let Some(d) = &role.description {
            if let Some(c) = d.chars().find(|c| !is_latin1_text(*c)) {
                self.err(
                    p.key("description"),
                    format!("IAM refuses `{c}` in a role description: it allows Latin-1 letters and symbols only"),
                    "replace it (an em dash — with -, curly quotes with straight ones)",
                );
            } else if d.chars().count() > 1000 {
                self.err(p.key("description"), "a role description is at most 1000 characters", "shorten it");
            }
        }
        if role.trust.is_empty() {
            self.err(p.key("trust"), "nobody may assume this role", "list a service principal, e.g. trust = [\"ecs-tasks\"]");
        }
        for (i, t) in role.trust.iter().enumerate() {
            let principal = t.ends_with(".amazonaws.com") && !t.contains(' ');
            if t != "ecs-tasks" && !principal {
                self.err(
                    p.key("trust").index(i),
                    format!("`{t}` is not a service principal"),
                    "write \"ecs-tasks\" or a principal such as \"ec2.amazonaws.com\"",
                );
            }
        }
        for (i, pol) in role.managed_policies.iter().enumerate() {
            let arn = pol.starts_with("arn:aws") && pol.contains(":policy/");
            if !arn && !is_name(pol, 128, "+=,.@-_") {
                self.err(
                    p.key("managed_policies").index(i),
                    format!("`{pol}` is neither a policy name nor a policy ARN"),
                    "write an AWS managed policy name such as AmazonS3FullAccess, or arn:aws:iam::ACCOUNT:policy/NAME",
                );
            }
        }
        for (pname, doc) in &role.inline_policies {
            let pp = p.key("inline_policies").key(pname);
            if !is_name(pname, 128, "+=,.@-_") {
                self.err(pp.clone(), format!("`{pname}` is not an IAM policy name: 1-128 letters, digits and +=,.@-_"), "e.g. read-bucket");
            }
            if let Some(c) = doc.chars().find(|c| !is_latin1_text(*c)) {
                self.err(
                    pp.clone(),
                    format!("IAM refuses `{c}` in a policy document: it allows Latin-1 characters only"),
                    "replace it (an em dash — with -, curly quotes with straight ones)",
                );
            }
            match serde_json::from_str::<serde_json::Value>(doc) {
                Ok(v) if v.get("Statement").is_some() => {}
                Ok(_) => {
                    self.err(pp, "inline policy has no \"Statement\"", "write a full policy document: {\"Version\": \"2012-10-17\", \"Statement\": [...]}")
                }
                Err(e) => {
                    self.err(pp, format!("inline policy is not valid JSON: {e}"), "use a TOML multi-line literal string ('''…''') holding the JSON document")
                }
            }
        }
    }

    fn role_ref(&mut self, spec: &Spec, p: KeyPath, r: &str) {
        let arn = r.starts_with("arn:aws") && r.contains(":role/");
        if !arn && !spec.roles.contains_key(r) {
            self.err(p, format!("role `{r}` is not defined"), format!("define [roles.{r}], or use a role ARN; defined roles: {}", list(spec.roles.keys())));
        }
    }

    fn task(&mut self, spec: &Spec, p: &KeyPath, family: &str, t: &TaskDef) {
        if !is_name(family, 255, "-_") {
            self.err(p.clone(), format!("task family `{family}` is not allowed by ECS"), "use letters, digits, hyphens and underscores");
        } else {
            self.tag_value(p.clone(), "task_definition.", family);
        }
        if let Some(r) = &t.task_role {
            self.role_ref(spec, p.key("task_role"), r);
        }
        match t.execution_role.as_deref() {
            Some(NO_EXECUTION_ROLE) if task_uses_fargate(spec, family, t) => self.err(
                p.key("execution_role"),
                "a Fargate task needs an execution role (to pull its image and write its logs)",
                "remove `execution_role = \"none\"` (ecsdeploy then makes one), or name a role",
            ),
            Some(NO_EXECUTION_ROLE) => {}
            Some(r) => self.role_ref(spec, p.key("execution_role"), r),
            None => {}
        }
        if t.containers.is_empty() {
            self.err(p.clone(), "a task needs at least one container", "add a [[tasks.NAME.containers]] table with name and image");
            return;
        }
        let fargate = task_uses_fargate(spec, family, t);
        if fargate && t.network_mode != NetworkMode::Awsvpc {
            self.err(p.key("network_mode"), "Fargate runs only awsvpc tasks", "set network_mode = \"awsvpc\", or run this task on the EC2 capacity provider");
        }
        if fargate {
            match (t.cpu, t.memory) {
                (Some(cpu), Some(mem)) if !fargate_pair_ok(cpu, mem) => self.err(
                    p.key("memory"),
                    format!("Fargate has no size cpu = {cpu}, memory = {mem}"),
                    format!("valid memory for cpu {cpu}: {}", fargate_memory_hint(cpu)),
                ),
                (Some(_), Some(_)) => {}
                _ => self.err(p.clone(), "Fargate needs task-level cpu and memory", "set cpu = 256 and memory = 512 (the smallest size, 0.25 vCPU / 0.5 GB)"),
            }
        }
        if let Some(cpu) = t.cpu {
            if !(128..=196_608).contains(&cpu) {
                self.err(
                    p.key("cpu"),
                    format!("cpu = {cpu} CPU units is outside ECS limits (128 to 196608, 0.125 to 192 vCPU)"),
                    "use CPU units (256 = 0.25 vCPU, 1024 = 1 vCPU) or the console's form, cpu = \"0.25 vCPU\"",
                );
            }
        }
        if let Some(mem) = t.memory.filter(|&m| m < MIN_CONTAINER_MIB) {
            self.err(
                p.key("memory"),
                format!("memory = {mem} MiB is below the {MIN_CONTAINER_MIB} MiB ECS needs for a container"),
                "memory is in MiB: write 512, or \"0.5 GB\" as the console does",
            );
        }
        if !RETENTION_DAYS.contains(&t.logs.retention_days) {
            self.err(
                p.key("logs").key("retention_days"),
                format!("CloudWatch Logs has no retention of {} days", t.logs.retention_days),
                format!("use one of {RETENTION_DAYS:?}"),
            );
        }
        if let Some(g) = &t.logs.group {
            // CloudWatch Logs: [\.\-_/#A-Za-z0-9]+, at most 512; and the address ecsdeploy tags it with.
            if !is_name(g, 512, "._-/#") {
                self.err(
                    p.key("logs").key("group"),
                    format!("`{g}` is not a log group name: CloudWatch Logs allows 1-512 letters, digits and . _ - / #"),
                    "use e.g. /ecs/iris-inference",
                );
            } else {
                self.tag_value(p.key("logs").key("group"), "log_group.", g);
            }
        }
        let mut names = HashSet::new();
        let mut host_ports = BTreeMap::new();
        let mut container_mem = 0;
        for (i, c) in t.containers.iter().enumerate() {
            let cp = p.key("containers").index(i);
            if !is_name(&c.name, 255, "-_") {
                self.err(cp.key("name"), format!("container name `{}` is not allowed", c.name), "use letters, digits, hyphens and underscores");
            }
            if !names.insert(c.name.as_str()) {
                self.err(cp.key("name"), format!("two containers are named `{}`", c.name), "give each container of a task its own name");
            }
            if c.image.trim().is_empty() || c.image.contains(char::is_whitespace) {
                self.err(
                    cp.key("image"),
                    format!("`{}` is not an image reference", c.image),
                    "use the image URI from ECR, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/iris-inference:latest",
                );
            }
            if c.memory.is_none() && c.memory_reservation.is_none() && t.memory.is_none() {
                self.err(
                    cp.clone(),
                    format!("container `{}` has no memory limit and the task has none", c.name),
                    "set memory = 512 on the task (the tutorial's 0.5 GB) or on the container",
                );
            }
            // Docker reserves 6 MiB for a container: ECS refuses less (a value meant in GB, say).
            for (key, mib) in [("memory", c.memory), ("memory_reservation", c.memory_reservation)] {
                if let Some(mib) = mib.filter(|&m| m < MIN_CONTAINER_MIB) {
                    self.err(
                        cp.key(key),
                        format!("{key} = {mib} MiB is below the {MIN_CONTAINER_MIB} MiB ECS needs for a container"),
                        "memory is in MiB: write 512, or \"0.5 GB\" as the console does",
                    );
                }
            }
            if let (Some(hard), Some(soft)) = (c.memory, c.memory_reservation) {
                if soft > hard {
                    self.err(
                        cp.key("memory_reservation"),
                        format!("memory_reservation ({soft}) exceeds memory ({hard})"),
                        "the soft limit must not exceed the hard limit",
                    );
                }
            }
            container_mem += c.memory.or(c.memory_reservation).unwrap_or(0);
            for (j, pm) in c.port_mappings.iter().enumerate() {
                self.port_mapping(&cp.key("port_mappings").index(j), t.network_mode, pm, &mut host_ports);
            }
            for (name, value) in &c.environment {
                if !is_env_name(name) {
                    self.err(
                        cp.key("environment").key(name),
                        format!("`{name}` is not an environment variable name"),
                        "use letters, digits and _, not starting with a digit",
                    );
                }
                if value.value().is_empty() && value.is_secret() {
                    self.err(cp.key("environment").key(name), "secret value is empty", "set the value, e.g. from ${VAR}");
                }
            }
            for (name, from) in &c.secrets {
                let sp = cp.key("secrets").key(name);
                if !is_env_name(name) {
                    self.err(sp.clone(), format!("`{name}` is not an environment variable name"), "use letters, digits and _");
                }
                let ok = from.starts_with("arn:aws:ssm:") || from.starts_with("arn:aws:secretsmanager:") || (from.starts_with('/') && from.len() > 1);
                if !ok {
                    // Not echoed: a value here is likely the secret itself, put in the wrong place.
                    self.err(
                        sp,
                        format!("the value of `{name}` is not a secret reference"),
                        "use an SSM parameter (/path or arn:aws:ssm:…) or a Secrets Manager ARN (arn:aws:secretsmanager:…); never the value itself",
                    );
                }
                if c.environment.contains_key(name) {
                    self.err(cp.key("secrets").key(name), format!("`{name}` is both in environment and in secrets"), "keep one of them");
                }
            }
            if let Some(hc) = &c.health_check {
                self.health_check(&cp.key("health_check"), hc);
            }
        }
        if let Some(mem) = t.memory {
            if container_mem > mem {
                self.err(
                    p.key("memory"),
                    format!("containers ask for {container_mem} MiB but the task has {mem} MiB"),
                    "raise the task memory or lower the containers' memory",
                );
            }
        }
        if !t.containers.iter().any(|c| c.essential) {
            self.err(p.key("containers"), "no container is essential", "mark the main container essential = true (the default)");
        }
    }

    fn port_mapping(&mut self, p: &KeyPath, mode: NetworkMode, pm: &PortMapping, seen: &mut BTreeMap<(u32, String), ()>) {
        if !(1..=65535).contains(&pm.container) {
            self.err(p.key("container"), format!("port {} is out of range", pm.container), "use a port from 1 to 65535");
        }
        if !matches!(pm.protocol.as_str(), "tcp" | "udp") {
            self.err(p.key("protocol"), format!("protocol `{}` is not tcp or udp", pm.protocol), "write protocol = \"tcp\"");
        }
        match (mode, pm.host) {
            (_, Some(h)) if h > 65535 => self.err(p.key("host"), format!("port {h} is out of range"), "use a port from 1 to 65535, or 0 for a dynamic port"),
            (NetworkMode::Awsvpc | NetworkMode::Host, Some(h)) if h != pm.container => self.err(
                p.key("host"),
                format!("in {} mode the host port must equal the container port ({})", mode_name(mode), pm.container),
                "remove host, or set it equal to container; use bridge mode to map ports",
            ),
            _ => {}
        }
        let host = match mode {
            NetworkMode::Bridge => pm.host.unwrap_or(0),
            _ => pm.host.unwrap_or(pm.container),
        };
        if host != 0 && seen.insert((host, pm.protocol.clone()), ()).is_some() {
            self.err(
                p.key("host"),
                format!("host port {host}/{} is mapped twice in this task", pm.protocol),
                "each host port can be bound once per instance; pick another host port or 0 (dynamic)",
            );
        }
    }

    fn health_check(&mut self, p: &KeyPath, hc: &HealthCheck) {
        if !matches!(hc.command.first().map(String::as_str), Some("CMD" | "CMD-SHELL")) {
            self.err(
                p.key("command"),
                "a health check command starts with \"CMD\" or \"CMD-SHELL\"",
                "e.g. command = [\"CMD-SHELL\", \"curl -f http://localhost/ || exit 1\"]",
            );
        }
        for (key, value, range) in
            [("interval", hc.interval, 5..=300), ("timeout", hc.timeout, 2..=60), ("retries", hc.retries, 1..=10), ("start_period", hc.start_period, 0..=300)]
        {
            if !range.contains(&value) {
                self.err(p.key(key), format!("{key} = {value} is outside {}..={}", range.start(), range.end()), "ECS rejects it; pick a value in range");
            }
        }
    }

    /// awsvpc tasks on EC2 take a network interface each: the instances have too few for more
    /// (ECS leaves the rest unplaced, RESOURCE:ENI).
    fn interfaces(&mut self, spec: &Spec, p: &KeyPath, s: &Service) {
        let Some(ec2) = &spec.cluster.ec2 else { return };
        let on_ec2_awsvpc = |s: &Service| {
            !uses_fargate(spec, s.capacity_provider.as_deref(), s.launch_type) && spec.tasks.get(&s.task).is_some_and(|t| t.network_mode == NetworkMode::Awsvpc)
        };
        if !on_ec2_awsvpc(s) {
            return;
        }
        // Unpinned, the type is the account's free micro one.
        let kind = ec2.instance_type.as_deref().unwrap_or("t3.micro");
        let Some(per_instance) = super::instance_types::awsvpc_tasks(kind) else { return };
        let tasks: u32 = spec.services.values().filter(|s| on_ec2_awsvpc(s)).map(|s| s.desired_count).sum();
        if tasks > per_instance * ec2.max {
            self.err(
                p.key("desired_count"),
                format!(
                    "{tasks} awsvpc task(s) on EC2 need a network interface each, but {} × {kind} offer {} (one per instance is the instance's own)",
                    ec2.max,
                    per_instance * ec2.max
                ),
                "use network_mode = \"bridge\", raise cluster.ec2.max, choose a bigger cluster.ec2.instance_type, or run the service on FARGATE",
            );
        }
    }

    /// How a service or job chooses capacity; shared checks.
    fn placement(
        &mut self,
        spec: &Spec,
        p: &KeyPath,
        task: Option<&TaskDef>,
        provider: Option<&str>,
        launch: Option<LaunchType>,
        network: Option<&ServiceNetwork>,
    ) {
        if provider.is_some() && launch.is_some() {
            self.err(p.key("launch_type"), "both capacity_provider and launch_type are set", "ECS takes one of them; keep capacity_provider");
        }
        if let Some(cp) = provider {
            match cp {
                "ec2" if spec.cluster.ec2.is_none() => self.err(
                    p.key("capacity_provider"),
                    "capacity provider `ec2` needs [cluster.ec2]",
                    "add [cluster.ec2], or use capacity_provider = \"FARGATE\"",
                ),
                "FARGATE" | "FARGATE_SPOT" if !spec.cluster.fargate => {
                    self.err(p.key("capacity_provider"), format!("{cp} is not enabled on the cluster"), "set cluster.fargate = true")
                }
                "ec2" | "FARGATE" | "FARGATE_SPOT" => {}
                other => self.err(
                    p.key("capacity_provider"),
                    format!("unknown capacity provider `{other}`"),
                    "use \"ec2\" (the cluster's instances), \"FARGATE\" or \"FARGATE_SPOT\"",
                ),
            }
        }
        let Some(task) = task else { return };
        let fargate = uses_fargate(spec, provider, launch);
        if !fargate && launch == Some(LaunchType::Ec2) && spec.cluster.ec2.is_none() {
            self.err(p.key("launch_type"), "launch type EC2 needs [cluster.ec2]", "add [cluster.ec2] or use FARGATE");
        }
        match (task.network_mode, network) {
            (NetworkMode::Awsvpc, _) => {}
            (_, Some(_)) => self.err(
                p.key("network"),
                "network settings apply to awsvpc tasks only",
                "remove the network table, or set network_mode = \"awsvpc\" on the task",
            ),
            _ => {}
        }
        if let (Some(n), NetworkMode::Awsvpc) = (network, task.network_mode) {
            let at = p.key("network").key("assign_public_ip");
            match (n.assign_public_ip, fargate, &n.subnets) {
                // AWS: "Assign public IP is not supported for this launch type."
                (Some(true), false, _) => self.err(
                    at,
                    "a public address is not supported for the EC2 launch type or an EC2 capacity provider (AWS refuses it)",
                    "remove assign_public_ip: the task is reached through the load balancer (or the instance)",
                ),
                // The default subnets are public and have no NAT: without an address of its own the
                // task cannot reach ECR (ResourceInitializationError: unable to pull … registry auth).
                (Some(false), true, Subnets::Keyword(_)) => self.err(
                    at,
                    "a Fargate task without a public address in the default (public) subnets cannot pull its image",
                    "set assign_public_ip = true (the load balancer's group still decides who reaches it), or use private subnets with a NAT gateway",
                ),
                _ => {}
            }
        }
        if let Some(n) = network {
            self.subnets(p.key("network").key("subnets"), &n.subnets);
            for (i, g) in n.security_groups.iter().enumerate() {
                self.group_ref(spec, p.key("network").key("security_groups").index(i), g);
            }
        }
    }

    fn service(&mut self, spec: &Spec, p: &KeyPath, name: &str, s: &Service) {
        if !is_name(name, 255, "-_") {
            self.err(p.clone(), format!("service name `{name}` is not allowed by ECS"), "use letters, digits, hyphens and underscores");
        } else {
            self.tag_value(p.clone(), "service.", name);
        }
        self.count(p.key("desired_count"), s.desired_count);
        self.interfaces(spec, p, s);
        let task = spec.tasks.get(&s.task);
        if task.is_none() {
            self.err(
                p.key("task"),
                format!("task `{}` is not defined", s.task),
                format!("define [tasks.{}] or use one of: {}", s.task, list(spec.tasks.keys())),
            );
        }
        self.placement(spec, p, task, s.capacity_provider.as_deref(), s.launch_type, s.network.as_ref());
        let d = &s.deployment;
        let dp = p.key("deployment");
        if let Some(min) = d.minimum_healthy_percent {
            if min > 100 {
                self.err(dp.key("minimum_healthy_percent"), format!("{min}% is above 100%"), "use 0..=100");
            }
        }
        if let Some(max) = d.maximum_percent {
            if !(100..=200).contains(&max) {
                self.err(
                    dp.key("maximum_percent"),
                    format!("{max}% is outside 100..=200"),
                    "use 200 for rolling deploys, or 100 with minimum_healthy_percent = 0 to stop the old task first",
                );
            }
        }
        if d.keep_revisions == 0 {
            self.err(dp.key("keep_revisions"), "keep_revisions = 0 would deregister the running revision", "keep at least 1 (default 5)");
        }
        for (key, value) in [("progress_timeout", &d.progress_timeout), ("deadline", &d.deadline)] {
            self.duration(dp.key(key), value);
        }
        if let Some(g) = s.health_check_grace_period {
            if g > 2_147_483_647 {
                self.err(p.key("health_check_grace_period"), "grace period is too large", "use seconds, e.g. 10");
            }
        }
        let vp = p.key("verify");
        self.duration(vp.key("timeout"), &s.verify.timeout);
        if !s.verify.path.starts_with('/') {
            self.err(vp.key("path"), format!("`{}` is not a URL path", s.verify.path), "start it with /, e.g. \"/docs\"");
        }
        if !(100..=599).contains(&s.verify.expect) {
            self.err(vp.key("expect"), format!("{} is not an HTTP status", s.verify.expect), "use e.g. 200");
        }
        if let (Some(lb), Some(task)) = (&s.load_balancer, task) {
            if spec.load_balancer.is_none() {
                self.err(
                    p.key("load_balancer"),
                    "the service attaches to a load balancer but the spec has none",
                    "add a [load_balancer] table, or remove this attachment",
                );
            }
            match task.containers.iter().find(|c| c.name == lb.container) {
                None => self.err(
                    p.key("load_balancer").key("container"),
                    format!("task `{}` has no container `{}`", s.task, lb.container),
                    format!("use one of: {}", list(task.containers.iter().map(|c| &c.name))),
                ),
                Some(c) if !c.port_mappings.iter().any(|m| m.container == lb.port) => self.err(
                    p.key("load_balancer").key("port"),
                    format!("container `{}` does not map port {}", c.name, lb.port),
                    "add a port mapping for it, or fix the port",
                ),
                _ => {}
            }
        }
        if let Some(task) = task {
            let reachable = s.load_balancer.is_some()
                || task.containers.iter().any(|c| c.port_mappings.iter().any(|m| task.network_mode != NetworkMode::Bridge || m.host.unwrap_or(0) != 0));
            if s.verify.enabled && s.desired_count > 0 && !reachable {
                self.err(
                    vp.key("enabled"),
                    format!("nothing to verify: `{name}` has no static host port and no load balancer"),
                    "map a host port (host = 80), attach the load balancer, or set verify.enabled = false",
                );
            }
            self.rolling_on_one_instance(spec, p, s, task);
        }
    }

    /// Design §5: a static host port on a single instance cannot roll with 100/200.
    fn rolling_on_one_instance(&mut self, spec: &Spec, p: &KeyPath, s: &Service, task: &TaskDef) {
        let Some(ec2) = &spec.cluster.ec2 else { return };
        if uses_fargate(spec, s.capacity_provider.as_deref(), s.launch_type) || task.network_mode == NetworkMode::Awsvpc {
            return;
        }
        let static_ports = static_host_ports(task);
        if static_ports.is_empty() || ec2.max > 1 {
            return;
        }
        if s.desired_count > ec2.max {
            self.err(
                p.key("desired_count"),
                format!("{} tasks need host port {} but the cluster has at most {} instance", s.desired_count, static_ports[0], ec2.max),
                "use a dynamic host port (host = 0) with a load balancer, lower desired_count, or raise cluster.ec2.max",
            );
        }
        if s.deployment.minimum_healthy_percent.is_some_and(|m| m > 0) {
            self.warn(
                p.key("deployment").key("minimum_healthy_percent"),
                format!(
                    "host port {} on a single instance cannot do a rolling deploy: the new task cannot bind the port while the old one runs",
                    static_ports[0]
                ),
                "remove minimum_healthy_percent/maximum_percent (ecsdeploy then uses 0/100) or use a dynamic host port",
            );
        }
    }

    fn host_ports_across_services(&mut self, spec: &Spec) {
        let Some(ec2) = &spec.cluster.ec2 else { return };
        if ec2.max > 1 {
            return;
        }
        let mut owner: BTreeMap<u32, &str> = BTreeMap::new();
        for (name, s) in &spec.services {
            let Some(task) = spec.tasks.get(&s.task) else { continue };
            if uses_fargate(spec, s.capacity_provider.as_deref(), s.launch_type) || task.network_mode == NetworkMode::Awsvpc || s.desired_count == 0 {
                continue;
            }
            for port in static_host_ports(task) {
                if let Some(other) = owner.insert(port, name) {
                    self.err(
                        KeyPath::root().key("services").key(name).key("task"),
                        format!("services `{other}` and `{name}` both need host port {port} on the cluster's single instance"),
                        "give one of them another host port, or 0 (dynamic) behind the load balancer",
                    );
                }
            }
        }
    }

    fn job(&mut self, spec: &Spec, p: &KeyPath, j: &Job) {
        let task = spec.tasks.get(&j.task);
        if task.is_none() {
            self.err(
                p.key("task"),
                format!("task `{}` is not defined", j.task),
                format!("define [tasks.{}] or use one of: {}", j.task, list(spec.tasks.keys())),
            );
        }
        self.placement(spec, p, task, j.capacity_provider.as_deref(), j.launch_type, j.network.as_ref());
    }

    fn groups(&mut self, spec: &Spec) {
        for (name, g) in &spec.security_groups {
            let p = KeyPath::root().key("security_groups").key(name);
            if OWN_GROUPS.contains(&name.as_str()) {
                self.err(p.clone(), format!("`{name}` is the name of a group ecsdeploy owns"), "choose another name, e.g. rds");
            }
            if g.existing.trim().is_empty() || (g.existing.starts_with("sg-") && !is_hex(&g.existing[3..])) {
                self.err(p.key("existing"), format!("`{}` is not a group name or id", g.existing), "write the group's name or its sg-… id");
            }
        }
        let mut seen = HashSet::new();
        for (i, r) in spec.ingress.iter().enumerate() {
            let p = KeyPath::root().key("ingress").index(i);
            self.group_ref(spec, p.key("group"), &r.group);
            match (&r.cidr, &r.source_group) {
                (Some(c), None) => self.cidr(p.key("cidr"), c),
                (None, Some(g)) => self.group_ref(spec, p.key("source_group"), g),
                (Some(_), Some(_)) => {
                    self.err(p.key("source_group"), "a rule has one source: cidr or source_group, not both", "split it into two [[ingress]] rules")
                }
                (None, None) => self.err(p.clone(), "the rule has no source", "add cidr = \"165.124.160.0/21\" or source_group = \"ecs\""),
            }
            if let Some(d) = &r.description {
                self.ec2_text(p.key("description"), d);
            }
            if !matches!(r.protocol.as_str(), "tcp" | "udp" | "icmp" | "-1") {
                self.err(p.key("protocol"), format!("protocol `{}` is not tcp, udp, icmp or -1", r.protocol), "write protocol = \"tcp\"");
            }
            let range = match (r.port, r.from_port, r.to_port) {
                (Some(port), None, None) => Some((port, port)),
                (None, Some(a), Some(b)) => Some((a, b)),
                (None, None, None) if r.protocol == "-1" => Some((0, 65535)),
                _ => {
                    self.err(p.clone(), "a rule needs port = N, or from_port and to_port", "write port = 80 (HTTP), 22 (SSH) or 3306 (MySQL)");
                    None
                }
            };
            if let Some((a, b)) = range {
                if a > b || b > 65535 {
                    self.err(p.clone(), format!("port range {a}-{b} is not valid"), "use ports from 0 to 65535 with from_port ≤ to_port");
                }
                let key = (r.group.clone(), r.protocol.clone(), a, b, r.cidr.clone(), r.source_group.clone());
                if !seen.insert(key) {
                    self.err(p.clone(), "this rule repeats an earlier one", "remove the duplicate");
                }
            }
        }
    }

    fn group_ref(&mut self, spec: &Spec, p: KeyPath, g: &str) {
        match g {
            "ecs" if spec.cluster.ec2.is_none() && !spec.services.values().any(|s| s.network.is_some()) => {
                self.err(p, "group `ecs` exists only with [cluster.ec2] or awsvpc services", "add [cluster.ec2] or refer to another group")
            }
            "alb" if spec.load_balancer.is_none() => {
                self.err(p, "group `alb` exists only with a [load_balancer]", "add [load_balancer] or refer to another group")
            }
            "ecs" | "alb" => {}
            other if !spec.security_groups.contains_key(other) => self.err(
                p,
                format!("security group `{other}` is not defined"),
                format!("use `ecs`, `alb`, or define [security_groups.{other}] with existing = \"NAME or sg-id\""),
            ),
            _ => {}
        }
    }

    fn load_balancer(&mut self, lb: &LoadBalancer) {
        let p = KeyPath::root().key("load_balancer");
        let elb_name = |n: &str| is_name(n, 32, "-") && !n.starts_with('-') && !n.ends_with('-') && !n.starts_with("internal-");
        if !elb_name(&lb.name) {
            self.err(
                p.key("name"),
                format!("`{}` is not a load balancer name", lb.name),
                "use 1-32 letters, digits and hyphens, not starting or ending with a hyphen",
            );
        }
        if let Some(tg) = &lb.target_group.name {
            if !elb_name(tg) {
                self.err(p.key("target_group").key("name"), format!("`{tg}` is not a target group name"), "use 1-32 letters, digits and hyphens");
            }
        }
        if let Some(d) = &lb.security_group_description {
            self.ec2_text(p.key("security_group_description"), d);
        }
        if !(1..=65535).contains(&lb.listener_port) {
            self.err(p.key("listener_port"), format!("port {} is out of range", lb.listener_port), "use 80 for HTTP");
        }
        // AWS: "At least two subnets in two different Availability Zones must be specified".
        if let Subnets::List(l) = &lb.subnets {
            if l.len() == 1 {
                self.err(
                    p.key("subnets"),
                    "an Application Load Balancer needs subnets in at least two Availability Zones",
                    "list a subnet in a second Availability Zone, or write subnets = \"default\" (one per zone)",
                );
            }
        }
        if !lb.target_group.health_check_path.starts_with('/') {
            self.err(p.key("target_group").key("health_check_path"), "the health check path must start with /", "use \"/\" as the tutorial does");
        }
        if !(5..=300).contains(&lb.target_group.health_check_interval) {
            self.err(p.key("target_group").key("health_check_interval"), "the health check interval is 5 to 300 seconds", "use 10");
        }
        if !(2..=10).contains(&lb.target_group.healthy_threshold) {
            self.err(p.key("target_group").key("healthy_threshold"), "the healthy threshold is 2 to 10 checks", "use 2");
        }
        if lb.target_group.deregistration_delay > 3600 {
            self.err(p.key("target_group").key("deregistration_delay"), "deregistration delay is at most 3600 seconds", "use a short delay, e.g. 10");
        }
        for (i, c) in lb.allow_cidrs.iter().enumerate() {
            self.cidr(p.key("allow_cidrs").index(i), c);
        }
        self.subnets(p.key("subnets"), &lb.subnets);
    }

    fn free_tier(&mut self, spec: &Spec) {
        let first = self.out.len();
        self.free_tier_checks(spec);
        for d in &mut self.out[first..] {
            d.cost = true;
        }
    }

    fn free_tier_checks(&mut self, spec: &Spec) {
        let hint = "apply refuses this without --allow-cost; set guardrails.free_tier = false to silence it";
        if let Some(ec2) = &spec.cluster.ec2 {
            let p = KeyPath::root().key("cluster").key("ec2");
            if ec2.max > 1 {
                self.warn(p.key("max"), format!("max = {} can run more instances than the free tier's 750 hours a month cover", ec2.max), hint);
            }
        }
        for (name, s) in &spec.services {
            if uses_fargate(spec, s.capacity_provider.as_deref(), s.launch_type) {
                self.warn(KeyPath::root().key("services").key(name), format!("service `{name}` runs on Fargate, which is not in the free tier"), hint);
            }
        }
        for (name, j) in &spec.jobs {
            if uses_fargate(spec, j.capacity_provider.as_deref(), j.launch_type) {
                self.warn(KeyPath::root().key("jobs").key(name), format!("job `{name}` runs on Fargate, which is not in the free tier"), hint);
            }
        }
        if spec.load_balancer.is_some() {
            self.warn(KeyPath::root().key("load_balancer"), "an Application Load Balancer is billed per hour beyond the free tier", hint);
        }
    }

    /// A value ecsdeploy tags a resource with (`ecsdeploy:resource = <prefix><name>`): AWS refuses
    /// tag values over 256 characters.
    fn tag_value(&mut self, p: KeyPath, prefix: &str, name: &str) {
        let len = prefix.len() + name.len();
        if len > 256 {
            self.err(
                p,
                format!("this name makes ecsdeploy's tag value `{prefix}…` {len} characters long; AWS allows 256"),
                format!("use a name of at most {} characters", 256 - prefix.len()),
            );
        }
    }

    /// A count AWS takes as a 32-bit integer.
    fn count(&mut self, p: KeyPath, n: u32) {
        if n > i32::MAX as u32 {
            self.err(p, format!("{n} is more than AWS accepts (2147483647)"), "use a small count, e.g. 1");
        }
    }

    /// A security group or rule description: EC2 allows `a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*`, at most 255.
    fn ec2_text(&mut self, p: KeyPath, text: &str) {
        const ALLOWED: &str = ". _-:/()#,@[]+=&;{}!$*";
        if let Some(c) = text.chars().find(|c| !(c.is_ascii_alphanumeric() || ALLOWED.contains(*c))) {
            self.err(
                p,
                format!("EC2 refuses `{c}` in a description: it allows letters, digits, spaces and . _-:/()#,@[]+=&;{{}}!$*"),
                "remove it (an apostrophe: write `from the NU VPN` rather than `NU's VPN`)",
            );
        } else if text.len() > 255 {
            self.err(p, "EC2 descriptions are at most 255 characters", "shorten it");
        }
    }

    fn cidr(&mut self, p: KeyPath, cidr: &str) {
        if !is_cidr(cidr) {
            self.err(p, format!("`{cidr}` is not an IPv4 CIDR block"), "write an address and prefix, e.g. 165.124.160.0/21");
        }
    }

    fn subnets(&mut self, p: KeyPath, s: &Subnets) {
        match s {
            Subnets::Keyword(k) if k == "default" => {}
            Subnets::Keyword(k) => self.err(p, format!("`{k}` is not a subnet choice"), "write \"default\" or a list such as [\"subnet-0abc…\"]"),
            Subnets::List(l) if l.is_empty() => self.err(p, "the subnet list is empty", "list at least one subnet, or write \"default\""),
            Subnets::List(l) => {
                for (i, id) in l.iter().enumerate() {
                    if !id.starts_with("subnet-") || !is_hex(&id[7..]) {
                        self.err(p.index(i), format!("`{id}` is not a subnet id"), "subnet ids look like subnet-0abc12345");
                    }
                }
            }
        }
    }

    fn duration(&mut self, p: KeyPath, value: &str) {
        if parse_duration(value).is_none() {
            self.err(p, format!("`{value}` is not a duration"), "write e.g. \"90s\", \"5m\" or \"1h\"");
        }
    }
}

/// `90s`, `5m`, `1h30m`, `2m30s`.
pub fn parse_duration(s: &str) -> Option<std::time::Duration> {
    humantime::parse_duration(s).ok().filter(|d| !d.is_zero())
}

/// Whether a service or job with these settings runs on Fargate.
pub fn uses_fargate(spec: &Spec, provider: Option<&str>, launch: Option<LaunchType>) -> bool {
    match (provider, launch) {
        (Some(p), _) => p.starts_with("FARGATE"),
        (None, Some(l)) => l == LaunchType::Fargate,
        (None, None) => spec.cluster.ec2.is_none() && spec.cluster.fargate,
    }
}

fn task_uses_fargate(spec: &Spec, family: &str, t: &TaskDef) -> bool {
    t.requires.as_ref().is_some_and(|r| r.contains(&LaunchType::Fargate))
        || spec.services.values().any(|s| s.task == family && uses_fargate(spec, s.capacity_provider.as_deref(), s.launch_type))
        || spec.jobs.values().any(|j| j.task == family && uses_fargate(spec, j.capacity_provider.as_deref(), j.launch_type))
}

/// Host ports a task binds on its instance (bridge/host mode), dynamic ports excluded.
pub fn static_host_ports(task: &TaskDef) -> Vec<u32> {
    task.containers
        .iter()
        .flat_map(|c| &c.port_mappings)
        .filter_map(|m| match task.network_mode {
            NetworkMode::Bridge => m.host.filter(|h| *h != 0),
            NetworkMode::Host => Some(m.host.unwrap_or(m.container)),
            NetworkMode::Awsvpc => None,
        })
        .collect()
}

/// Fargate's table of task sizes.
/// The least memory ECS accepts for a container (Docker reserves 6 MiB of it).
const MIN_CONTAINER_MIB: u32 = 6;

fn fargate_pair_ok(cpu: u32, mem: u32) -> bool {
    match cpu {
        256 => matches!(mem, 512 | 1024 | 2048),
        512 => (1024..=4096).contains(&mem) && mem % 1024 == 0,
        1024 => (2048..=8192).contains(&mem) && mem % 1024 == 0,
        2048 => (4096..=16384).contains(&mem) && mem % 1024 == 0,
        4096 => (8192..=30720).contains(&mem) && mem % 1024 == 0,
        8192 => (16384..=61440).contains(&mem) && mem % 4096 == 0,
        16384 => (32768..=122880).contains(&mem) && mem % 8192 == 0,
        _ => false,
    }
}

fn fargate_memory_hint(cpu: u32) -> &'static str {
    match cpu {
        256 => "512, 1024 or 2048",
        512 => "1024 to 4096 in steps of 1024",
        1024 => "2048 to 8192 in steps of 1024",
        2048 => "4096 to 16384 in steps of 1024",
        4096 => "8192 to 30720 in steps of 1024",
        8192 => "16384 to 61440 in steps of 4096",
        16384 => "32768 to 122880 in steps of 8192",
        _ => "none: Fargate cpu is 256, 512, 1024, 2048, 4096, 8192 or 16384",
    }
}

fn mode_name(m: NetworkMode) -> &'static str {
    match m {
        NetworkMode::Bridge => "bridge",
        NetworkMode::Awsvpc => "awsvpc",
        NetworkMode::Host => "host",
    }
}

/// What a stack may be called: it prefixes every name ecsdeploy makes and is a tag value.
pub fn is_stack_name(s: &str) -> bool {
    is_name(s, 32, "-") && s.starts_with(|c: char| c.is_ascii_alphabetic())
}

fn is_name(s: &str, max: usize, extra: &str) -> bool {
    !s.is_empty() && s.len() <= max && s.chars().all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// What IAM accepts in descriptions and policy documents: tab, newlines and Latin-1.
fn is_latin1_text(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{A1}'..='\u{FF}')
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit())
}

fn is_env_name(s: &str) -> bool {
    is_name(s, 255, "_") && !s.starts_with(|c: char| c.is_ascii_digit())
}

pub fn is_region(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        && parts.last().is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()))
}

fn is_cidr(s: &str) -> bool {
    let Some((addr, prefix)) = s.split_once('/') else { return false };
    let (Ok(addr), Ok(prefix)) = (addr.parse::<Ipv4Addr>(), prefix.parse::<u32>()) else { return false };
    // AWS refuses host bits set below the prefix (165.124.160.5/21); say so here instead.
    prefix <= 32 && u32::from(addr) & u32::MAX.checked_shr(prefix).unwrap_or(0) == 0
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = names.map(String::as_str).collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}
