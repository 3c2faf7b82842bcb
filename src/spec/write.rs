//! Writing a spec back out as a commented `deploy.toml` (what `init --from-cluster` produces).
//! Only values that differ from the defaults are written, so the file reads like one a person
//! wrote; `notes` go at the top, for what the reader must know or do.

use serde::Serialize;

use super::model::*;

/// A TOML value, inline (strings quoted and escaped, arrays and tables on one line).
fn v<T: Serialize + ?Sized>(x: &T) -> String {
    toml::Value::try_from(x).map(|v| v.to_string()).unwrap_or_default()
}

/// A key as TOML takes it: bare when it can be, quoted otherwise.
fn k(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        key.to_string()
    } else {
        v(key)
    }
}

struct Doc(String);

impl Doc {
    fn line(&mut self, s: impl AsRef<str>) {
        self.0.push_str(s.as_ref());
        self.0.push('\n');
    }
    fn set<T: Serialize + ?Sized>(&mut self, key: &str, x: &T) {
        self.line(format!("{} = {}", k(key), v(x)));
    }
    fn opt<T: Serialize>(&mut self, key: &str, x: &Option<T>) {
        if let Some(x) = x {
            self.set(key, x);
        }
    }
    fn table(&mut self, comment: &str, path: &[&str]) {
        self.line("");
        if !comment.is_empty() {
            self.line(format!("# {comment}"));
        }
        self.line(format!("[{}]", path.iter().map(|p| k(p)).collect::<Vec<_>>().join(".")));
    }
}

/// The spec as a commented TOML document.
pub fn to_toml(spec: &Spec, title: &str, notes: &[String]) -> String {
    let mut d = Doc(String::new());
    d.line(format!("# {title}"));
    d.line("#");
    d.line("#   ecsdeploy plan     shows what is adopted (tagged as this stack's), and nothing else");
    d.line("#   ecsdeploy apply    tags it; from then on it is managed like a stack ecsdeploy made");
    for n in notes {
        d.line("#");
        for l in n.lines() {
            d.line(format!("# {l}"));
        }
    }
    d.table("", &["stack"]);
    d.set("name", &spec.stack.name);
    d.opt("region", &spec.stack.region);

    d.table("The cluster.", &["cluster"]);
    d.set("name", &spec.cluster.name);
    d.set("fargate", &spec.cluster.fargate);
    if let Some(e) = &spec.cluster.ec2 {
        d.table("EC2 capacity: the autoscaling group, its launch template and capacity provider.", &["cluster", "ec2"]);
        d.opt("instance_type", &e.instance_type);
        d.line("# The AMI the instances run now; \"amazon-linux-2023\" would follow the ECS-optimised AMI AWS recommends.");
        d.set("ami", &e.ami);
        d.set("min", &e.min);
        d.set("max", &e.max);
        d.set("desired", &e.desired);
        d.opt("key_pair", &e.key_pair);
        if !e.ssh_cidrs.is_empty() {
            d.set("ssh_cidrs", &e.ssh_cidrs);
        }
        d.set("subnets", &e.subnets);
        if !e.managed_scaling {
            d.set("managed_scaling", &false);
        }
        d.opt("instance_role", &e.instance_role);
        d.opt("security_group", &e.security_group);
        d.opt("security_group_description", &e.security_group_description);
        d.opt("launch_template", &e.launch_template);
        d.opt("autoscaling_group", &e.autoscaling_group);
        d.opt("capacity_provider", &e.capacity_provider);
        d.opt("user_data", &e.user_data);
    }

    for (name, r) in &spec.roles {
        d.table("An IAM role, as it is now.", &["roles", name]);
        d.set("trust", &r.trust);
        if !r.managed_policies.is_empty() {
            d.set("managed_policies", &r.managed_policies);
        }
        if !r.inline_policies.is_empty() {
            d.set("inline_policies", &r.inline_policies);
        }
        d.opt("description", &r.description);
    }

    for (family, t) in &spec.tasks {
        d.table("A task definition: its latest active revision.", &["tasks", family]);
        d.set("network_mode", &t.network_mode);
        d.opt("cpu", &t.cpu);
        d.opt("memory", &t.memory);
        d.opt("task_role", &t.task_role);
        d.opt("execution_role", &t.execution_role);
        d.opt("requires", &t.requires);
        if t.logs != Logs::default() {
            d.table("", &["tasks", family, "logs"]);
            if !t.logs.enabled {
                d.set("enabled", &false);
            }
            d.opt("group", &t.logs.group);
            d.line("# 0: the log group never expires (as CloudWatch Logs keeps a group without a policy).");
            d.set("retention_days", &t.logs.retention_days);
            d.set("stream_prefix", &t.logs.stream_prefix);
        }
        for c in &t.containers {
            d.line("");
            d.line(format!("[[tasks.{}.containers]]", k(family)));
            d.set("name", &c.name);
            d.set("image", &c.image);
            d.opt("command", &c.command);
            d.opt("entry_point", &c.entry_point);
            if !c.port_mappings.is_empty() {
                let ports: Vec<String> = c
                    .port_mappings
                    .iter()
                    .map(|p| match p.host {
                        Some(h) => format!("{{ container = {}, host = {h}, protocol = {} }}", p.container, v(&p.protocol)),
                        None => format!("{{ container = {}, protocol = {} }}", p.container, v(&p.protocol)),
                    })
                    .collect();
                d.line(format!("port_mappings = [{}]", ports.join(", ")));
            }
            if !c.environment.is_empty() {
                let env: Vec<String> = c
                    .environment
                    .iter()
                    .map(|(name, e)| match e {
                        EnvValue::Plain(s) => format!("{} = {}", k(name), v(s)),
                        EnvValue::Marked(m) => format!("{} = {{ value = {}, secret = {} }}", k(name), v(&m.value), m.secret),
                    })
                    .collect();
                d.line(format!("environment = {{ {} }}", env.join(", ")));
            }
            if !c.secrets.is_empty() {
                d.set("secrets", &c.secrets);
            }
            if !c.essential {
                d.set("essential", &false);
            }
            d.opt("cpu", &c.cpu);
            d.opt("memory", &c.memory);
            d.opt("memory_reservation", &c.memory_reservation);
            d.opt("health_check", &c.health_check);
        }
    }

    for (name, s) in &spec.services {
        d.table("A service, as it runs now.", &["services", name]);
        d.set("task", &s.task);
        d.set("desired_count", &s.desired_count);
        d.opt("capacity_provider", &s.capacity_provider);
        d.opt("launch_type", &s.launch_type);
        d.opt("health_check_grace_period", &s.health_check_grace_period);
        d.opt("load_balancer", &s.load_balancer);
        d.table("", &["services", name, "deployment"]);
        d.opt("minimum_healthy_percent", &s.deployment.minimum_healthy_percent);
        d.opt("maximum_percent", &s.deployment.maximum_percent);
        d.set("circuit_breaker", &s.deployment.circuit_breaker);
        d.set("rollback", &s.deployment.rollback);
        d.table("ecsdeploy proves a deploy worked by fetching this path.", &["services", name, "verify"]);
        d.set("path", &s.verify.path);
        d.set("expect", &s.verify.expect);
    }

    for (name, j) in &spec.jobs {
        d.table("A one-off task: `ecsdeploy run` starts it.", &["jobs", name]);
        d.set("task", &j.task);
        d.opt("capacity_provider", &j.capacity_provider);
        d.opt("launch_type", &j.launch_type);
        d.opt("command", &j.command);
    }

    if let Some(lb) = &spec.load_balancer {
        d.table("The Application Load Balancer in front of the services, its listener and target group.", &["load_balancer"]);
        d.set("name", &lb.name);
        d.set("listener_port", &lb.listener_port);
        d.set("allow_cidrs", &lb.allow_cidrs);
        d.set("subnets", &lb.subnets);
        d.opt("security_group", &lb.security_group);
        d.opt("security_group_description", &lb.security_group_description);
        d.table("", &["load_balancer", "target_group"]);
        d.opt("name", &lb.target_group.name);
        d.set("health_check_path", &lb.target_group.health_check_path);
        d.set("deregistration_delay", &lb.target_group.deregistration_delay);
        d.set("health_check_interval", &lb.target_group.health_check_interval);
        d.set("healthy_threshold", &lb.target_group.healthy_threshold);
    }

    for (name, g) in &spec.security_groups {
        d.table("A group made outside the stack: ecsdeploy only manages the rules below on it.", &["security_groups", name]);
        d.set("existing", &g.existing);
    }
    for r in &spec.ingress {
        d.line("");
        d.line("[[ingress]]");
        d.set("group", &r.group);
        d.opt("port", &r.port);
        d.opt("from_port", &r.from_port);
        d.opt("to_port", &r.to_port);
        if r.protocol != "tcp" {
            d.set("protocol", &r.protocol);
        }
        d.opt("cidr", &r.cidr);
        d.opt("source_group", &r.source_group);
        d.opt("description", &r.description);
    }
    d.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What is written reads back as the same spec (jobs, tasks, rules, names and all).
    #[test]
    fn written_spec_reads_back_equal() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy.toml")).unwrap();
        let mut spec: Spec = toml::from_str(&text.replace("${KEY_PAIR:-mlds-ecs-key}", "mlds-ecs-key")).unwrap();
        let e = spec.cluster.ec2.as_mut().unwrap();
        (e.instance_role, e.launch_template, e.user_data) = (None, Some("ECSLaunchTemplate_x".into()), Some("#!/bin/bash\necho \"a\" # b\n".into()));
        let written = to_toml(&spec, "title", &["a note\non two lines".into()]);
        assert!(written.starts_with("# title\n") && written.contains("# a note\n# on two lines\n"), "{written}");
        let back: Spec = toml::from_str(&written).unwrap_or_else(|e| panic!("{e}\n{written}"));
        assert_eq!(back, spec, "{written}");
    }
}
