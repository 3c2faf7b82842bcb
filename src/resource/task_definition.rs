//! Task definitions. A family's latest ACTIVE revision is compared with the spec after both are
//! normalised the same way (defaults AWS fills in, ordering of ports); a difference registers
//! exactly one new revision, and older revisions no service uses are deregistered beyond the
//! number kept. Values marked secret are compared by digest and never appear in a plan.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, CpuArchitecture, HealthCheck as EcsHealthCheck, KeyValuePair, LogConfiguration, LogDriver,
    NetworkMode as EcsNetworkMode, OsFamily, PortMapping as EcsPortMapping, RuntimePlatform, Secret, TaskDefinition, TaskDefinitionStatus, TransportProtocol,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{cluster::ecs_tags, iam_role, log_group, outputs, own_tags, Result};
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::plan::{reference, Change, Desired, Fields, Live, Outputs};
use crate::spec::{uses_fargate, LaunchType, NetworkMode, Spec};

pub const KIND: &str = "task_definition";
pub const TAG_CONTENT: &str = "ecsdeploy:content-hash";
/// `container=sha256:…` pairs for images a CI deploy named.
pub const TAG_DIGESTS: &str = "ecsdeploy:image-digests";

pub fn address(family: &str) -> String {
    format!("{KIND}.{family}")
}

/// Secret environment values by (family, container, variable), for registering; never planned.
pub type Secrets = HashMap<(String, String, String), String>;

pub fn secrets(spec: &Spec) -> Secrets {
    let mut out = Secrets::new();
    for (family, task) in &spec.tasks {
        for c in &task.containers {
            for (name, v) in c.environment.iter().filter(|(_, v)| v.is_secret()) {
                out.insert((family.clone(), c.name.clone(), name.clone()), v.value().to_string());
            }
        }
    }
    out
}

/// What a plan may show of a secret: a short digest, enough to see that it changed.
fn digest(value: &str) -> Value {
    let d = Sha256::digest(value.as_bytes());
    json!({ "secret": format!("sha256:{}", d.iter().take(8).map(|b| format!("{b:02x}")).collect::<String>()) })
}

fn mode_name(m: NetworkMode) -> &'static str {
    match m {
        NetworkMode::Bridge => "bridge",
        NetworkMode::Awsvpc => "awsvpc",
        NetworkMode::Host => "host",
    }
}

fn role_ref(spec: &Spec, r: &str) -> (Value, Option<String>) {
    if r.starts_with("arn:") {
        (json!(r), None)
    } else {
        let a = iam_role::address(r);
        let _ = spec;
        (reference(&a, "arn"), Some(a))
    }
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    let region = spec.stack.region.clone().unwrap_or_default();
    spec.tasks
        .iter()
        .map(|(family, task)| {
            let mut depends_on = Vec::new();
            let mut field_of_role = |r: Option<&String>| match r {
                Some(r) => {
                    let (v, dep) = role_ref(spec, r);
                    depends_on.extend(dep);
                    v
                }
                None => json!(""),
            };
            let task_role = field_of_role(task.task_role.as_ref());
            let execution_role = match task.execution_role.clone().unwrap_or_else(|| iam_role::execution_role_name(spec)) {
                none if none == crate::spec::NO_EXECUTION_ROLE => json!(""),
                execution => field_of_role(Some(&execution)),
            };
            let group = log_group::group_name(family, task);
            if let Some(g) = &group {
                depends_on.push(log_group::address(g));
            }
            let containers: Vec<Value> = task.containers.iter().map(|c| {
                let mut ports: Vec<Value> = c.port_mappings.iter().map(|p| {
                    let host = match task.network_mode {
                        NetworkMode::Bridge => p.host.unwrap_or(0),
                        _ => p.host.unwrap_or(p.container),
                    };
                    json!({"container": p.container, "host": host, "protocol": p.protocol})
                }).collect();
                ports.sort_by_key(|p| p.to_string());
                let env: serde_json::Map<String, Value> = c.environment.iter()
                    .map(|(k, v)| (k.clone(), if v.is_secret() { digest(v.value()) } else { json!(v.value()) }))
                    .collect();
                let logs = group.as_ref().map(|g| json!({"group": g, "region": region, "prefix": task.logs.stream_prefix}));
                json!({
                    "name": c.name,
                    "image": c.image,
                    "essential": c.essential,
                    "command": c.command,
                    "entry_point": c.entry_point,
                    "port_mappings": ports,
                    "environment": env,
                    "secrets": c.secrets,
                    "cpu": c.cpu.unwrap_or(0),
                    "memory": c.memory,
                    "memory_reservation": c.memory_reservation,
                    "health_check": c.health_check.as_ref().map(|h| json!({"command": h.command, "interval": h.interval, "timeout": h.timeout, "retries": h.retries, "start_period": h.start_period})),
                    "logs": logs,
                })
            }).collect();
            let fargate = task.requires.as_ref().is_some_and(|r| r.contains(&LaunchType::Fargate))
                || spec.services.values().any(|s| &s.task == family && uses_fargate(spec, s.capacity_provider.as_deref(), s.launch_type));
            let requires: BTreeSet<&str> = if fargate { ["FARGATE"].into() } else { ["EC2"].into() };
            let address = address(family);
            let fields = [
                ("network_mode", json!(mode_name(task.network_mode))),
                ("cpu", json!(task.cpu.map(|c| c.to_string()))),
                ("memory", json!(task.memory.map(|m| m.to_string()))),
                ("task_role", task_role),
                ("execution_role", execution_role),
                ("requires", json!(requires)),
                ("runtime_platform", json!("LINUX/X86_64")),
                ("containers", Value::Array(containers)),
            ];
            Desired {
                address: address.clone(),
                kind: KIND.into(),
                name: family.clone(),
                fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).chain([("tags".to_string(), own_tags(&spec.stack.name, &address))]).collect(),
                depends_on,
                versioned: true,
                meta: [("keep".to_string(), keep_revisions(spec, family).to_string()), ("cluster".to_string(), spec.cluster.name.clone())].into(),
                ..Default::default()
            }
        })
        .collect()
}

fn keep_revisions(spec: &Spec, family: &str) -> u32 {
    spec.services.values().filter(|s| s.task == family).map(|s| s.deployment.keep_revisions).max().unwrap_or(5)
}

/// The latest ACTIVE revision, normalised like [`desired`]; secret values as digests.
pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    let out = match aws
        .ecs
        .describe_task_definition()
        .task_definition(&d.name)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .aws("ecs:DescribeTaskDefinition")
    {
        Ok(out) => out,
        // ECS answers a family with no ACTIVE revision as a client error, not "not found".
        Err(e) if e.is(ErrorKind::NotFound) || e.code.as_deref() == Some("ClientException") => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let Some(td) = out.task_definition.filter(|t| t.status == Some(TaskDefinitionStatus::Active)) else { return Ok(None) };
    let tags = out.tags.unwrap_or_default();
    let secret_names = secret_names(d);
    Ok(Some(normalise(&td, &secret_names, tags.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())))))
}

/// (container, variable) pairs the spec marks secret.
fn secret_names(d: &Desired) -> BTreeSet<(String, String)> {
    d.fields
        .get("containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|c| {
            let name = c["name"].as_str().unwrap_or_default().to_string();
            c["environment"].as_object().into_iter().flatten().filter(|(_, v)| v.is_object()).map(move |(k, _)| (name.clone(), k.clone())).collect::<Vec<_>>()
        })
        .collect()
}

fn normalise<'a>(td: &TaskDefinition, secret: &BTreeSet<(String, String)>, tags: impl Iterator<Item = (&'a str, &'a str)>) -> Live {
    let mode = td.network_mode.as_ref().map(|m| m.as_str().to_string()).unwrap_or_else(|| "bridge".into());
    let containers: Vec<Value> = td.container_definitions().iter().map(|c| {
        let name = c.name.clone().unwrap_or_default();
        let mut ports: Vec<Value> = c.port_mappings().iter().map(|p| {
            let container = p.container_port.unwrap_or(0);
            let host = p.host_port.unwrap_or(if mode == "bridge" { 0 } else { container });
            json!({"container": container, "host": host, "protocol": p.protocol.as_ref().map(|x| x.as_str()).unwrap_or("tcp")})
        }).collect();
        ports.sort_by_key(|p| p.to_string());
        let env: serde_json::Map<String, Value> = c.environment().iter().map(|kv| {
            let (k, v) = (kv.name.clone().unwrap_or_default(), kv.value.clone().unwrap_or_default());
            let v = if secret.contains(&(name.clone(), k.clone())) { digest(&v) } else { json!(v) };
            (k, v)
        }).collect();
        let secrets: BTreeMap<String, String> = c.secrets().iter().map(|s| (s.name.clone(), s.value_from.clone())).collect();
        let logs = c.log_configuration.as_ref().filter(|l| l.log_driver == LogDriver::Awslogs).map(|l| {
            let o = l.options.clone().unwrap_or_default();
            json!({"group": o.get("awslogs-group"), "region": o.get("awslogs-region"), "prefix": o.get("awslogs-stream-prefix")})
        });
        let health = c.health_check.as_ref().map(|h| json!({"command": h.command, "interval": h.interval.unwrap_or(30), "timeout": h.timeout.unwrap_or(5), "retries": h.retries.unwrap_or(3), "start_period": h.start_period.unwrap_or(0)}));
        json!({
            "name": name,
            "image": c.image,
            "essential": c.essential.unwrap_or(true),
            "command": c.command,
            "entry_point": c.entry_point,
            "port_mappings": ports,
            "environment": env,
            "secrets": secrets,
            "cpu": c.cpu,
            "memory": c.memory,
            "memory_reservation": c.memory_reservation,
            "health_check": health,
            "logs": logs,
        })
    }).collect();
    let requires: BTreeSet<&str> = td.requires_compatibilities().iter().map(|c| c.as_str()).collect();
    let platform = td
        .runtime_platform
        .as_ref()
        .map(|p| {
            format!(
                "{}/{}",
                p.operating_system_family.as_ref().map(|o| o.as_str()).unwrap_or("LINUX"),
                p.cpu_architecture.as_ref().map(|a| a.as_str()).unwrap_or("X86_64"),
            )
        })
        // None stated is Linux on x86_64, what ECS runs it on (a console revision made before the
        // console asked): the same task definition, not a difference.
        .unwrap_or_else(|| "LINUX/X86_64".into());
    let arn = td.task_definition_arn.clone().unwrap_or_default();
    let fields = [
        ("network_mode", json!(mode)),
        ("cpu", json!(td.cpu)),
        ("memory", json!(td.memory)),
        ("task_role", json!(td.task_role_arn.clone().unwrap_or_default())),
        ("execution_role", json!(td.execution_role_arn.clone().unwrap_or_default())),
        ("requires", json!(requires)),
        ("runtime_platform", json!(platform)),
        ("containers", Value::Array(containers)),
        // The content hash describes the revision; it is not a setting to compare.
        ("tags", super::live_tags(tags.filter(|(k, _)| *k != TAG_CONTENT && *k != TAG_DIGESTS))),
    ];
    Live {
        id: arn.clone(),
        fields: crate::plan::fields(fields),
        outputs: outputs([("arn", arn), ("revision", td.revision.to_string()), ("family", td.family.clone().unwrap_or_default())]),
    }
}

fn strings(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
}

fn container(family: &str, c: &Value, secrets: &Secrets) -> ContainerDefinition {
    let name = c["name"].as_str().unwrap_or_default();
    let mut b = ContainerDefinition::builder()
        .name(name)
        .image(c["image"].as_str().unwrap_or_default())
        .essential(c["essential"].as_bool().unwrap_or(true))
        .set_command(strings(&c["command"]))
        .set_entry_point(strings(&c["entry_point"]))
        .cpu(c["cpu"].as_i64().unwrap_or(0) as i32)
        .set_memory(c["memory"].as_i64().map(|m| m as i32))
        .set_memory_reservation(c["memory_reservation"].as_i64().map(|m| m as i32));
    for p in c["port_mappings"].as_array().into_iter().flatten() {
        let host = p["host"].as_i64().unwrap_or(0) as i32;
        b = b.port_mappings(
            EcsPortMapping::builder()
                .container_port(p["container"].as_i64().unwrap_or(0) as i32)
                .host_port(host)
                .protocol(TransportProtocol::from(p["protocol"].as_str().unwrap_or("tcp")))
                .build(),
        );
    }
    for (k, v) in c["environment"].as_object().into_iter().flatten() {
        // A secret's real value comes from the spec at this moment only.
        let value = match v {
            Value::String(s) => s.clone(),
            _ => secrets.get(&(family.to_string(), name.to_string(), k.clone())).cloned().unwrap_or_default(),
        };
        b = b.environment(KeyValuePair::builder().name(k).value(value).build());
    }
    for (k, v) in c["secrets"].as_object().into_iter().flatten() {
        b = b.secrets(Secret::builder().name(k).value_from(v.as_str().unwrap_or_default()).build().expect("name and source set"));
    }
    if let Some(h) = c["health_check"].as_object() {
        b = b.health_check(
            EcsHealthCheck::builder()
                .set_command(strings(&h["command"]))
                .interval(h["interval"].as_i64().unwrap_or(30) as i32)
                .timeout(h["timeout"].as_i64().unwrap_or(5) as i32)
                .retries(h["retries"].as_i64().unwrap_or(3) as i32)
                .start_period(h["start_period"].as_i64().unwrap_or(0) as i32)
                .build()
                .expect("command set"),
        );
    }
    if let Some(l) = c["logs"].as_object() {
        b = b.log_configuration(
            LogConfiguration::builder()
                .log_driver(LogDriver::Awslogs)
                .options("awslogs-group", l["group"].as_str().unwrap_or_default())
                .options("awslogs-region", l["region"].as_str().unwrap_or_default())
                .options("awslogs-stream-prefix", l["prefix"].as_str().unwrap_or_default())
                .build()
                .expect("driver set"),
        );
    }
    b.build()
}

/// The digest of what is registered, kept as a tag so a revision says what it was made from.
fn content_hash(fields: &Fields) -> String {
    let content: Fields = fields.iter().filter(|(k, _)| *k != "tags").map(|(k, v)| (k.clone(), v.clone())).collect();
    let d = Sha256::digest(serde_json::to_vec(&content).unwrap_or_default());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields, secrets: &Secrets, digests: &BTreeMap<String, String>) -> Result<Outputs> {
    let family = &c.desired.name;
    let s = |k: &str| fields[k].as_str().filter(|v| !v.is_empty()).map(String::from);
    let mut tags = ecs_tags(fields);
    tags.push(aws_sdk_ecs::types::Tag::builder().key(TAG_CONTENT).value(content_hash(fields)).build());
    // `container=sha256:…` for each image ECR knows, as many as a tag value holds (256 characters).
    let mut recorded = String::new();
    for c in fields["containers"].as_array().into_iter().flatten() {
        let Some(d) = c["image"].as_str().and_then(|i| digests.get(i)) else { continue };
        let item = format!("{}={d}", c["name"].as_str().unwrap_or_default());
        if recorded.len() + item.len() < 256 {
            recorded = if recorded.is_empty() { item } else { format!("{recorded} {item}") };
        }
    }
    if !recorded.is_empty() {
        tags.push(aws_sdk_ecs::types::Tag::builder().key(TAG_DIGESTS).value(recorded).build());
    }
    // Only the tags differ (an adopted revision): tag it, no new revision.
    if let Some(live) = c.live.as_ref().filter(|_| c.fields.iter().all(|f| f.field == "tags")) {
        aws.ecs.tag_resource().resource_arn(&live.id).set_tags(Some(tags)).send().await.aws("ecs:TagResource")?;
        return Ok(live.outputs.clone());
    }
    let requires: Vec<Compatibility> = strings(&fields["requires"]).unwrap_or_default().iter().map(|r| Compatibility::from(r.as_str())).collect();
    let containers = fields["containers"].as_array().into_iter().flatten().map(|ct| container(family, ct, secrets)).collect();
    let out = aws
        .ecs
        .register_task_definition()
        .family(family)
        .network_mode(EcsNetworkMode::from(fields["network_mode"].as_str().unwrap_or("bridge")))
        .set_cpu(s("cpu"))
        .set_memory(s("memory"))
        .set_task_role_arn(s("task_role"))
        .set_execution_role_arn(s("execution_role"))
        .set_requires_compatibilities(Some(requires))
        .runtime_platform(RuntimePlatform::builder().operating_system_family(OsFamily::Linux).cpu_architecture(CpuArchitecture::X8664).build())
        .set_container_definitions(Some(containers))
        .set_tags(Some(tags))
        .send()
        .await
        .aws("ecs:RegisterTaskDefinition")?;
    let td = out.task_definition.expect("RegisterTaskDefinition returns the revision");
    let arn = td.task_definition_arn.clone().unwrap_or_default();
    let keep: usize = c.desired.meta["keep"].parse().unwrap_or(5);
    prune(aws, &c.desired.meta["cluster"], family, keep).await?;
    Ok(outputs([("arn", arn), ("revision", td.revision.to_string()), ("family", family.clone())]))
}

/// Deregister ACTIVE revisions beyond the newest `keep`, unless a service deployment uses them.
async fn prune(aws: &Aws, cluster: &str, family: &str, keep: usize) -> Result<()> {
    let mut revisions: Vec<(u32, String)> =
        active_revisions(aws, family).await?.into_iter().map(|a| (a.rsplit(':').next().and_then(|r| r.parse().ok()).unwrap_or(0), a)).collect();
    // Newest first, by revision number: the API's own ordering is not relied on.
    revisions.sort_by_key(|r| std::cmp::Reverse(r.0));
    let old: Vec<String> = revisions.into_iter().skip(keep).map(|(_, a)| a).collect();
    if old.is_empty() {
        return Ok(());
    }
    let in_use = in_use(aws, cluster).await?;
    for arn in old.into_iter().filter(|a| !in_use.contains(a)) {
        aws.ecs.deregister_task_definition().task_definition(&arn).send().await.aws("ecs:DeregisterTaskDefinition")?;
    }
    Ok(())
}

/// Task definitions any deployment of the cluster's services runs.
async fn in_use(aws: &Aws, cluster: &str) -> Result<BTreeSet<String>> {
    let mut arns = Vec::new();
    let mut pages = aws.ecs.list_services().cluster(cluster).into_paginator().send();
    while let Some(page) = pages.next().await {
        match page.aws("ecs:ListServices") {
            Ok(o) => arns.extend(o.service_arns.unwrap_or_default()),
            Err(e) if e.is(ErrorKind::NotFound) => return Ok(BTreeSet::new()),
            Err(e) => return Err(e.into()),
        }
    }
    let mut used = BTreeSet::new();
    for chunk in arns.chunks(10) {
        let out = aws.ecs.describe_services().cluster(cluster).set_services(Some(chunk.to_vec())).send().await.aws("ecs:DescribeServices")?;
        for s in out.services.unwrap_or_default() {
            used.extend(s.task_definition);
            used.extend(s.deployments.unwrap_or_default().into_iter().filter_map(|d| d.task_definition));
        }
    }
    Ok(used)
}

/// Deregister every ACTIVE revision of the family.
pub async fn delete(aws: &Aws, c: &Change) -> Result<Outputs> {
    for arn in active_revisions(aws, &c.desired.name).await? {
        aws.ecs.deregister_task_definition().task_definition(&arn).send().await.aws("ecs:DeregisterTaskDefinition")?;
    }
    Ok(Outputs::new())
}

/// The ARNs of the family's ACTIVE revisions (every page; the prefix also matches other families).
async fn active_revisions(aws: &Aws, family: &str) -> Result<Vec<String>> {
    let mut arns = Vec::new();
    let mut pages = aws.ecs.list_task_definitions().family_prefix(family).status(TaskDefinitionStatus::Active).into_paginator().send();
    while let Some(page) = pages.next().await {
        arns.extend(page.aws("ecs:ListTaskDefinitions")?.task_definition_arns.unwrap_or_default());
    }
    arns.retain(|a| a.rsplit_once(':').and_then(|(f, _)| f.rsplit('/').next()) == Some(family));
    Ok(arns)
}
