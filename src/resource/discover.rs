//! `init --from-cluster`: read a live cluster (built in the console, or by ecsdeploy) and write
//! the spec that describes it as it is, so that a plan on it adopts instead of creating. Reads
//! only. Whatever the spec cannot express is said in the notes, never silently dropped.

use aws_sdk_ec2::types::Filter;
use indexmap::IndexMap;
use serde_json::Value;

use super::{
    ami, autoscaling_group, capacity_provider, iam_role, ingress, instance_profile, launch_template, log_group, security_group, service, task_definition, vpc,
    Result,
};
use crate::aws::{Aws, AwsResultExt};
use crate::engine::Failure;
use crate::plan::{Desired, Live};
use crate::spec::*;

/// What was found: the spec, and what the reader must know about it.
pub struct Discovered {
    pub spec: Spec,
    pub notes: Vec<String>,
}

fn missing(what: String, hint: &str) -> super::Error {
    super::Error::Other(Failure::new(what, hint))
}

/// Names in variable values that suggest a secret: written as `${NAME}` references, never values.
fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    ["PASSWORD", "SECRET", "TOKEN", "API_KEY", "PRIVATE_KEY", "CREDENTIAL"].iter().any(|w| n.contains(w))
}

/// The last path segment of an ARN (`…:role/path/name` → `name`).
fn arn_name(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}

/// What a resource kind needs to observe one of its kind by name. Everything init learns comes
/// through the kinds' own `observe`, so the spec holds exactly what a plan will compare.
fn named(kind: &str, name: &str) -> Desired {
    Desired { address: format!("{kind}.{name}"), kind: kind.into(), name: name.into(), ..Default::default() }
}

fn text(live: &Live, field: &str) -> String {
    live.fields.get(field).and_then(Value::as_str).unwrap_or_default().to_string()
}

fn number(live: &Live, field: &str) -> u32 {
    live.fields.get(field).and_then(Value::as_u64).unwrap_or(0) as u32
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(String::from).collect()
}

fn gone(what: String) -> super::Error {
    missing(format!("{what} went away while it was read"), "run init again")
}

pub async fn discover(aws: &Aws, cluster_name: &str, only: &[String], jobs: &[String]) -> Result<Discovered> {
    let mut notes = Vec::new();
    let clusters =
        aws.ecs.describe_clusters().clusters(cluster_name).include(aws_sdk_ecs::types::ClusterField::Tags).send().await.aws("ecs:DescribeClusters")?;
    let Some(cluster) = clusters.clusters.unwrap_or_default().into_iter().find(|c| c.status.as_deref() == Some("ACTIVE")) else {
        return Err(missing(
            format!("there is no active cluster `{cluster_name}` in {}", aws.region()),
            "name a cluster of this account and region (aws ecs list-clusters)",
        ));
    };
    let tagged = cluster.tags().iter().find(|t| t.key() == Some(super::TAG_STACK)).and_then(|t| t.value.clone());
    let stack = tagged.clone().unwrap_or_else(|| cluster_name.to_string());
    let providers = cluster.capacity_providers.clone().unwrap_or_default();
    let mut spec = Spec {
        stack: crate::spec::Stack { name: stack, region: Some(aws.region().to_string()) },
        cluster: Cluster { name: cluster_name.to_string(), fargate: providers.iter().any(|p| p == "FARGATE"), ec2: None },
        roles: IndexMap::new(),
        tasks: IndexMap::new(),
        services: IndexMap::new(),
        jobs: IndexMap::new(),
        security_groups: IndexMap::new(),
        ingress: vec![],
        load_balancer: None,
        guardrails: Guardrails::default(),
    };

    let own_providers: Vec<&String> = providers.iter().filter(|p| !p.starts_with("FARGATE")).collect();
    let mut cp_name = None;
    let mut ecs_group = None;
    if let [cp] = own_providers.as_slice() {
        let (e, group) = ec2_capacity(aws, &mut spec, cp, &mut notes).await?;
        spec.cluster.ec2 = Some(e);
        cp_name = Some(cp.to_string());
        ecs_group = group;
    } else if own_providers.len() > 1 {
        notes.push(format!("The cluster has {} capacity providers of its own; a spec holds one. None was written.", own_providers.len()));
    }

    let attached = services(aws, &mut spec, only, cp_name.as_deref(), &mut notes).await?;
    let alb_group = match attached.as_slice() {
        [] => None,
        [tg] => load_balancer(aws, &mut spec, tg, &mut notes).await?,
        _ => {
            notes.push("The services use several target groups; a spec has one load balancer. None was written.".into());
            None
        }
    };
    if alb_group.is_none() {
        for s in spec.services.values_mut() {
            (s.load_balancer, s.health_check_grace_period) = (None, None);
        }
    }
    let mut families = jobs.to_vec();
    if let Some(stack) = &tagged {
        families.extend(stack_families(aws, stack).await?);
    }
    for family in &families {
        if spec.tasks.contains_key(family) || spec.jobs.contains_key(family) {
            continue;
        }
        task(aws, &mut spec, family, &mut notes).await?;
        let on_ec2 = spec.cluster.ec2.is_some();
        spec.jobs.insert(
            family.clone(),
            Job {
                task: family.clone(),
                capacity_provider: Some(if on_ec2 { "ec2" } else { "FARGATE" }.to_string()),
                launch_type: None,
                command: None,
                network: None,
            },
        );
    }
    if let Some(group_id) = ecs_group {
        rules(aws, &mut spec, &group_id, alb_group.as_deref()).await?;
    }
    drop_defaults(aws, &mut spec).await?;
    Ok(Discovered { spec, notes })
}

/// The capacity provider, its group, the launch template, the instance role; returns the
/// capacity and the instances' security group id.
async fn ec2_capacity(aws: &Aws, spec: &mut Spec, cp: &str, notes: &mut Vec<String>) -> Result<(Ec2Capacity, Option<String>)> {
    let provider = capacity_provider::observe(aws, &named(capacity_provider::KIND, cp)).await?.ok_or_else(|| gone(format!("capacity provider `{cp}`")))?;
    let asg_name = arn_name(&text(&provider, "auto_scaling_group"));
    let asg =
        autoscaling_group::observe(aws, &named(autoscaling_group::KIND, &asg_name)).await?.ok_or_else(|| gone(format!("autoscaling group `{asg_name}`")))?;
    let lt_name = asg.outputs.get("launch_template_name").cloned().unwrap_or_default();
    if lt_name.is_empty() {
        return Err(missing(
            format!("autoscaling group `{asg_name}` uses a launch configuration or mixed instances"),
            "move it to a launch template (EC2 console → Auto Scaling groups → Edit) and run init again",
        ));
    }
    let lt = launch_template::observe(aws, &named(launch_template::KIND, &lt_name)).await?.ok_or_else(|| gone(format!("launch template `{lt_name}`")))?;

    // The instance role, through its profile.
    let mut instance_role = None;
    let profile = arn_name(&text(&lt, "instance_profile"));
    if !profile.is_empty() {
        let found = instance_profile::observe(aws, &named(instance_profile::KIND, &profile)).await?;
        if let Some(role) = found.map(|p| text(&p, "role")).filter(|r| !r.is_empty()) {
            add_role(aws, spec, &role).await?;
            instance_role = Some(role);
        }
    }
    let group_ids = strings(lt.fields.get("security_groups"));
    let (group, description) = match group_ids.as_slice() {
        [one] => {
            let g = security_group::lookup(aws, std::slice::from_ref(one)).await?.into_iter().next();
            g.map(|g| (g.group_name, g.description)).unwrap_or_default()
        }
        _ => {
            notes.push(format!("The launch template has {} security groups; a spec gives the instances one.", group_ids.len()));
            (None, None)
        }
    };
    let key = text(&lt, "key_name");
    let capacity = Ec2Capacity {
        instance_type: Some(text(&lt, "instance_type")),
        ami: text(&lt, "image_id"),
        min: number(&asg, "min"),
        max: number(&asg, "max"),
        desired: number(&asg, "desired"),
        key_pair: (!key.is_empty()).then_some(key),
        ssh_cidrs: vec![],
        subnets: Subnets::List(text(&asg, "subnets").split(',').filter(|s| !s.is_empty()).map(String::from).collect()),
        managed_scaling: text(&provider, "managed_scaling") == "ENABLED",
        instance_role,
        security_group: group,
        security_group_description: description,
        launch_template: Some(lt_name),
        autoscaling_group: Some(asg_name),
        capacity_provider: Some(cp.to_string()),
        user_data: Some(text(&lt, "user_data")),
    };
    Ok((capacity, group_ids.first().cloned()))
}

/// A role as it is (trust, managed and inline policies, description), into `[roles]`.
async fn add_role(aws: &Aws, spec: &mut Spec, name: &str) -> Result<()> {
    if spec.roles.contains_key(name) {
        return Ok(());
    }
    let role = iam_role::observe(aws, &named(iam_role::KIND, name)).await?.ok_or_else(|| gone(format!("role `{name}`")))?;
    let trust = strings(role.fields.get("trust")).into_iter().map(|p| if p == "ecs-tasks.amazonaws.com" { "ecs-tasks".to_string() } else { p }).collect();
    let inline_policies =
        role.fields.get("inline_policies").and_then(Value::as_object).into_iter().flatten().map(|(k, v)| (k.clone(), v.to_string())).collect();
    let description = text(&role, "description");
    spec.roles.insert(
        name.to_string(),
        Role {
            trust,
            managed_policies: strings(role.fields.get("managed_policies")),
            inline_policies,
            description: (!description.is_empty()).then_some(description),
        },
    );
    Ok(())
}

/// The cluster's services (or the ones named) and the task definitions they run; returns the
/// target groups they are attached to.
async fn services(aws: &Aws, spec: &mut Spec, only: &[String], cp: Option<&str>, notes: &mut Vec<String>) -> Result<Vec<String>> {
    let mut target_groups: Vec<String> = Vec::new();
    let cluster = spec.cluster.name.clone();
    let mut names: Vec<String> = only.to_vec();
    if names.is_empty() {
        let mut pages = aws.ecs.list_services().cluster(&cluster).into_paginator().send();
        while let Some(page) = pages.next().await {
            names.extend(page.aws("ecs:ListServices")?.service_arns.unwrap_or_default().iter().map(|a| arn_name(a)));
        }
    }
    for name in names {
        let mut d = named(service::KIND, &name);
        d.meta.insert("cluster".into(), cluster.clone());
        let Some(s) = service::observe(aws, &d).await? else {
            return Err(missing(format!("cluster `{cluster}` has no active service `{name}`"), "name a service of the cluster, or leave --service out"));
        };
        let family = task(aws, spec, &text(&s, "task_definition"), notes).await?;
        let strategy = s.fields.get("capacity_provider_strategy").and_then(Value::as_array).cloned().unwrap_or_default();
        let capacity_provider = strategy.first().and_then(|c| c["provider"].as_str()).map(|p| if Some(p) == cp { "ec2".to_string() } else { p.to_string() });
        let launch_type = match text(&s, "launch_type").as_str() {
            "FARGATE" => Some(LaunchType::Fargate),
            "EC2" => Some(LaunchType::Ec2),
            _ => None,
        };
        let load_balancer = s.fields.get("load_balancers").and_then(Value::as_array).and_then(|l| l.first()).map(|l| {
            let tg = l["target_group"].as_str().unwrap_or_default().to_string();
            if !target_groups.contains(&tg) {
                target_groups.push(tg);
            }
            ServiceLoadBalancer { container: l["container"].as_str().unwrap_or_default().to_string(), port: l["port"].as_u64().unwrap_or(80) as u32 }
        });
        let deployment = &s.fields["deployment"];
        spec.services.insert(
            name,
            Service {
                task: family,
                desired_count: number(&s, "desired_count"),
                capacity_provider,
                launch_type,
                health_check_grace_period: s.fields.get("health_check_grace_period").and_then(Value::as_u64).map(|g| g as u32),
                deployment: Deployment {
                    minimum_healthy_percent: deployment["minimum_healthy_percent"].as_u64().map(|p| p as u32),
                    maximum_percent: deployment["maximum_percent"].as_u64().map(|p| p as u32),
                    circuit_breaker: deployment["circuit_breaker"].as_bool().unwrap_or(false),
                    rollback: deployment["rollback"].as_bool().unwrap_or(false),
                    ..Deployment::default()
                },
                load_balancer,
                network: None,
                verify: Verify::default(),
            },
        );
    }
    Ok(target_groups)
}

/// The load balancer in front of the target group: its listener, target group settings and own
/// security group (returned). A load balancer in the VPC's default group (the console's choice)
/// is left out: ecsdeploy gives a load balancer a group of its own, and a default group can
/// never be the stack's.
async fn load_balancer(aws: &Aws, spec: &mut Spec, tg_arn: &str, notes: &mut Vec<String>) -> Result<Option<String>> {
    let tgs = aws.elbv2.describe_target_groups().target_group_arns(tg_arn).send().await.aws("elbv2:DescribeTargetGroups")?;
    let Some(tg) = tgs.target_groups.unwrap_or_default().into_iter().next() else { return Ok(None) };
    let attrs = aws.elbv2.describe_target_group_attributes().target_group_arn(tg_arn).send().await.aws("elbv2:DescribeTargetGroupAttributes")?;
    let delay = attrs
        .attributes
        .unwrap_or_default()
        .into_iter()
        .find(|a| a.key.as_deref() == Some("deregistration_delay.timeout_seconds"))
        .and_then(|a| a.value)
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let Some(lb_arn) = tg.load_balancer_arns().first().cloned() else {
        notes.push("The services' target group has no load balancer; none was written.".into());
        return Ok(None);
    };
    let lbs = aws.elbv2.describe_load_balancers().load_balancer_arns(&lb_arn).send().await.aws("elbv2:DescribeLoadBalancers")?;
    let Some(lb) = lbs.load_balancers.unwrap_or_default().into_iter().next() else { return Ok(None) };
    let name = lb.load_balancer_name.clone().unwrap_or_default();
    let groups = lb.security_groups().to_vec();
    let [group_id] = groups.as_slice() else {
        notes.push(format!("Load balancer `{name}` has {} security groups; a spec gives it one. It was not written.", groups.len()));
        return Ok(None);
    };
    let g = aws.ec2.describe_security_groups().group_ids(group_id).send().await.aws("ec2:DescribeSecurityGroups")?.security_groups.unwrap_or_default();
    let (group_name, description) = g.into_iter().next().map(|g| (g.group_name, g.description)).unwrap_or_default();
    if group_name.as_deref() == Some("default") {
        notes.push(format!("Load balancer `{name}` uses the VPC's default security group, which cannot become the stack's. It was not written: add [load_balancer] by hand (ecsdeploy then makes a group for it), or give it a group of its own first."));
        return Ok(None);
    }
    let listeners =
        aws.elbv2.describe_listeners().load_balancer_arn(&lb_arn).into_paginator().items().send().try_collect().await.aws("elbv2:DescribeListeners")?;
    let port =
        listeners.iter().find(|l| l.default_actions().iter().any(|a| a.target_group_arn.as_deref() == Some(tg_arn))).and_then(|l| l.port).unwrap_or(80) as u32;
    let mut subnets: Vec<String> = lb.availability_zones().iter().filter_map(|z| z.subnet_id.clone()).collect();
    subnets.sort();
    notes.push(format!("Load balancer `{name}` is billed by the hour, outside the free tier: apply asks for --allow-cost."));
    let tg_name = tg.target_group_name.clone().unwrap_or_default();
    spec.load_balancer = Some(LoadBalancer {
        target_group: TargetGroup {
            name: (tg_name != name).then_some(tg_name),
            health_check_path: tg.health_check_path.clone().unwrap_or_else(|| "/".into()),
            deregistration_delay: delay,
            health_check_interval: tg.health_check_interval_seconds.unwrap_or(30) as u32,
            healthy_threshold: tg.healthy_threshold_count.unwrap_or(5) as u32,
        },
        name,
        listener_port: port,
        allow_cidrs: vec![],
        subnets: Subnets::List(subnets),
        security_group: group_name,
        security_group_description: description,
    });
    Ok(Some(group_id.clone()))
}

/// The account's task definition families with an ACTIVE revision.
pub async fn active_families(aws: &Aws) -> Result<Vec<String>> {
    let mut families = Vec::new();
    let mut pages = aws.ecs.list_task_definition_families().status(aws_sdk_ecs::types::TaskDefinitionFamilyStatus::Active).into_paginator().send();
    while let Some(page) = pages.next().await {
        families.extend(page.aws("ecs:ListTaskDefinitionFamilies")?.families.unwrap_or_default());
    }
    Ok(families)
}

/// Task definition families whose latest revision carries the stack's tag (its jobs).
async fn stack_families(aws: &Aws, stack: &str) -> Result<Vec<String>> {
    let mut ours = Vec::new();
    for f in active_families(aws).await? {
        let out = aws
            .ecs
            .describe_task_definition()
            .task_definition(&f)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
            .aws("ecs:DescribeTaskDefinition")?;
        if out.tags().iter().any(|t| t.key() == Some(super::TAG_STACK) && t.value() == Some(stack)) {
            ours.push(f);
        }
    }
    Ok(ours)
}

/// A task definition revision into `[tasks]` (with its roles and log settings); its family.
/// The family's latest ACTIVE revision is read, as a plan compares it (the service may still run
/// an older one, or one deregistered since).
async fn task(aws: &Aws, spec: &mut Spec, revision: &str, notes: &mut Vec<String>) -> Result<String> {
    let family = arn_name(revision).split(':').next().unwrap_or_default().to_string();
    if spec.tasks.contains_key(&family) {
        return Ok(family);
    }
    let td = task_definition::observe(aws, &named(task_definition::KIND, &family)).await?.ok_or_else(|| {
        missing(format!("task definition family `{family}` has no active revision"), "register one (or remove the service), then run init again")
    })?;
    let role = |field: &str| Some(arn_name(&text(&td, field))).filter(|r| !r.is_empty());
    let (task_role, execution_role) = (role("task_role"), role("execution_role"));
    for r in task_role.iter().chain(&execution_role) {
        add_role(aws, spec, r).await?;
    }
    // None at all is written as such: absent would mean "make one".
    let execution_role = execution_role.or_else(|| Some(crate::spec::NO_EXECUTION_ROLE.to_string()));
    let mode = match text(&td, "network_mode").as_str() {
        "awsvpc" => NetworkMode::Awsvpc,
        "host" => NetworkMode::Host,
        _ => NetworkMode::Bridge,
    };
    let mut logs = Logs { enabled: false, ..Logs::default() };
    let mut containers = Vec::new();
    for c in td.fields.get("containers").and_then(Value::as_array).into_iter().flatten() {
        // The normalised container is the spec's container, less what the spec says elsewhere.
        let mut c = c.as_object().cloned().unwrap_or_default();
        if let Some(l) = c.remove("logs").filter(|l| l.is_object()) {
            let group = l["group"].as_str().unwrap_or_default().to_string();
            let found = log_group::observe(aws, &named(log_group::KIND, &group)).await?;
            logs = Logs {
                enabled: true,
                group: (group != format!("/ecs/{family}")).then_some(group),
                retention_days: found.map(|g| number(&g, "retention_days")).unwrap_or(0),
                stream_prefix: l["prefix"].as_str().unwrap_or("ecs").to_string(),
            };
        }
        if c.get("cpu").and_then(Value::as_u64) == Some(0) {
            c.remove("cpu");
        }
        for p in c.get_mut("port_mappings").and_then(Value::as_array_mut).into_iter().flatten() {
            if mode == NetworkMode::Bridge && p["host"] == 0 {
                p.as_object_mut().map(|m| m.remove("host"));
            }
        }
        let name = c.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
        for (key, value) in c.get_mut("environment").and_then(Value::as_object_mut).into_iter().flatten().filter(|(k, _)| looks_secret(k)) {
            notes.push(format!("`{key}` of container `{name}` looks secret: the spec reads it from the environment. Export {key} before plan or apply."));
            *value = serde_json::json!({ "value": format!("${{{key}}}"), "secret": true });
        }
        containers.push(
            serde_json::from_value::<Container>(Value::Object(c))
                .map_err(|e| missing(format!("container `{name}` of `{family}`: {e}"), "this is a bug in ecsdeploy; please report it"))?,
        );
    }
    let number_of = |field: &str| td.fields.get(field).and_then(Value::as_str).and_then(|v| v.parse().ok());
    spec.tasks.insert(
        family.clone(),
        TaskDef {
            network_mode: mode,
            cpu: number_of("cpu"),
            memory: number_of("memory"),
            task_role,
            execution_role,
            requires: strings(td.fields.get("requires")).iter().any(|r| r == "FARGATE").then(|| vec![LaunchType::Fargate]),
            logs,
            containers,
        },
    );
    Ok(family)
}

/// The instances' group's inbound rules (and the load balancer's group's), and the rules on
/// other groups that name it as their source (MySQL into the RDS group). Rules the spec makes by
/// itself (the listener's, the load balancer's into the instances) are written as the settings
/// that make them.
async fn rules(aws: &Aws, spec: &mut Spec, group_id: &str, alb_group: Option<&str>) -> Result<()> {
    let all = aws.ec2.describe_security_groups().into_paginator().items().send().try_collect().await.aws("ec2:DescribeSecurityGroups")?;
    let key_of = |id: &str| -> Option<String> {
        if id == group_id {
            return Some("ecs".into());
        }
        if Some(id) == alb_group {
            return Some("alb".into());
        }
        all.iter()
            .find(|g| g.group_id.as_deref() == Some(id))
            .and_then(|g| g.group_name.clone())
            .map(|n| n.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect())
    };
    // One rule, as the plan compares it ({protocol, from, to, source, description}).
    let add = |spec: &mut Spec, group: String, r: &Value| {
        let (from, to) = (r["from"].as_i64().unwrap_or(-1), r["to"].as_i64().unwrap_or(-1));
        let source = r["source"].as_str().unwrap_or_default();
        let (cidr, source_group) = match source.starts_with("sg-") {
            true => (None, key_of(source)),
            false => (Some(source.to_string()), None),
        };
        let description = r["description"].as_str().filter(|d| !d.is_empty()).map(String::from);
        match (group.as_str(), description.as_deref(), &mut spec.cluster.ec2, &mut spec.load_balancer) {
            ("ecs", Some("SSH"), Some(ec2), _) if from == 22 && to == 22 && cidr.is_some() => return ec2.ssh_cidrs.extend(cidr),
            ("ecs", Some("From the load balancer"), _, Some(_)) if source_group.as_deref() == Some("alb") => return,
            ("alb", Some("Listener"), _, Some(lb)) if from == to && from == lb.listener_port as i64 && cidr.is_some() => return lb.allow_cidrs.extend(cidr),
            _ => {}
        }
        spec.ingress.push(Ingress {
            group,
            port: (from == to && from >= 0).then_some(from as u32),
            from_port: (from != to).then_some(from as u32),
            to_port: (from != to).then_some(to as u32),
            protocol: r["protocol"].as_str().unwrap_or("tcp").to_string(),
            cidr,
            source_group,
            description,
        });
    };
    for r in inbound(aws, group_id).await? {
        add(spec, "ecs".into(), &r);
    }
    if let Some(alb) = alb_group {
        for r in inbound(aws, alb).await? {
            add(spec, "alb".into(), &r);
        }
    }
    // Other groups with a rule from the instances' group: only those rules are the stack's.
    for g in all.iter().filter(|g| g.group_id.as_deref() != Some(group_id) && g.group_id.as_deref() != alb_group) {
        let from_us = g.ip_permissions().iter().any(|p| p.user_id_group_pairs().iter().any(|u| u.group_id.as_deref() == Some(group_id)));
        if !from_us {
            continue;
        }
        let gid = g.group_id.clone().unwrap_or_default();
        let key = key_of(&gid).unwrap_or_default();
        spec.security_groups.insert(key.clone(), ExistingGroup { existing: g.group_name.clone().unwrap_or(gid.clone()) });
        for r in inbound(aws, &gid).await?.iter().filter(|r| r["source"] == group_id) {
            add(spec, key.clone(), r);
        }
    }
    Ok(())
}

/// A group's inbound rules, normalised as the `ingress` kind compares them.
async fn inbound(aws: &Aws, group: &str) -> Result<Vec<Value>> {
    let rules = aws
        .ec2
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(group).build())
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .aws("ec2:DescribeSecurityGroupRules")?;
    Ok(rules.iter().filter(|r| r.is_egress != Some(true)).map(ingress::normalise).collect())
}

/// Leave out what equals ecsdeploy's own defaults: the file reads like one a person wrote, and a
/// stack ecsdeploy made comes back as its spec.
async fn drop_defaults(aws: &Aws, spec: &mut Spec) -> Result<()> {
    let mut plain = spec.clone();
    if let Some(lb) = plain.load_balancer.as_mut() {
        (lb.security_group, lb.security_group_description) = (None, None);
    }
    let vpc = vpc::observe(aws, &named(vpc::KIND, "default")).await?;
    let defaults: Vec<String> =
        vpc.and_then(|v| v.outputs.get("subnets").cloned()).unwrap_or_default().split(',').filter(|s| !s.is_empty()).map(String::from).collect();
    let default_subnets = |subnets: &mut Subnets| {
        if matches!(subnets, Subnets::List(l) if *l == defaults) {
            *subnets = Subnets::default();
        }
    };
    let clear = |slot: &mut Option<String>, default: &str| {
        if slot.as_deref() == Some(default) {
            *slot = None;
        }
    };
    let description = |plain: &Spec, which: &str| {
        security_group::desired(plain)
            .into_iter()
            .find(|d| d.address == security_group::address(which))
            .and_then(|d| d.fields["description"].as_str().map(String::from))
            .unwrap_or_default()
    };
    if let Some(lb) = spec.load_balancer.as_mut() {
        clear(&mut lb.security_group, &security_group::name(&plain, "alb"));
        clear(&mut lb.security_group_description, &description(&plain, "alb"));
        default_subnets(&mut lb.subnets);
    }
    let Some(found) = spec.cluster.ec2.clone() else { return Ok(()) };
    let e = plain.cluster.ec2.as_mut().expect("has capacity");
    (e.instance_role, e.security_group, e.security_group_description, e.launch_template, e.autoscaling_group, e.capacity_provider, e.user_data) =
        (None, None, None, None, None, None, None);
    let itype = found.instance_type.clone().unwrap_or_default();
    let arch = if crate::spec::architectures(&itype).is_ok_and(|a| !a.contains(&"x86_64")) { "arm64" } else { "x86_64" };
    let choice = ami::choice_of(aws, &found.ami, arch).await?;

    let e = spec.cluster.ec2.as_mut().expect("has capacity");
    clear(&mut e.security_group, &security_group::name(&plain, "ecs"));
    clear(&mut e.security_group_description, &description(&plain, "ecs"));
    clear(&mut e.launch_template, &launch_template::desired(&plain)[0].name);
    clear(&mut e.autoscaling_group, &autoscaling_group::name(&plain));
    clear(&mut e.capacity_provider, &capacity_provider::name(&plain));
    clear(&mut e.user_data, &launch_template::user_data(&plain.cluster.name));
    default_subnets(&mut e.subnets);
    // The image AWS recommends now is written as that choice, which then follows AWS's updates.
    if let Some(choice) = choice {
        e.ami = choice.into();
    }
    // The stack's own roles are made from the spec's defaults: not written as [roles].
    let instance_default = iam_role::instance_role_name(&plain);
    if e.instance_role.as_deref() == Some(instance_default.as_str()) {
        e.instance_role = None;
        spec.roles.shift_remove(&instance_default);
    }
    let execution_default = iam_role::execution_role_name(spec);
    for t in spec.tasks.values_mut().filter(|t| t.execution_role.as_deref() == Some(execution_default.as_str())) {
        t.execution_role = None;
    }
    if spec.tasks.values().all(|t| t.execution_role.as_deref() != Some(execution_default.as_str())) {
        spec.roles.shift_remove(&execution_default);
    }
    Ok(())
}
