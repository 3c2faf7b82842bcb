//! `init --from-cluster`: read a live cluster (built in the console, or by ecsdeploy) and write
//! the spec that describes it as it is, so that a plan on it adopts instead of creating. Reads
//! only. Whatever the spec cannot express is said in the notes, never silently dropped.

use std::collections::BTreeSet;

use aws_sdk_ec2::types::{Filter, SecurityGroupRule};
use indexmap::IndexMap;

use super::{ami, autoscaling_group, capacity_provider, iam_role, launch_template, security_group, Result};
use crate::aws::{Aws, AwsResultExt};
use crate::engine::Failure;
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

pub async fn discover(aws: &Aws, cluster_name: &str, only: &[String], jobs: &[String]) -> Result<Discovered> {
    let mut notes = Vec::new();
    let clusters = aws.ecs.describe_clusters().clusters(cluster_name).include(aws_sdk_ecs::types::ClusterField::Tags).send().await.aws("ecs:DescribeClusters")?;
    let Some(cluster) = clusters.clusters.unwrap_or_default().into_iter().find(|c| c.status.as_deref() == Some("ACTIVE")) else {
        return Err(missing(format!("there is no active cluster `{cluster_name}` in {}", aws.region()), "name a cluster of this account and region (aws ecs list-clusters)"));
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
        spec.jobs.insert(family.clone(), Job {
            task: family.clone(),
            capacity_provider: Some(if on_ec2 { "ec2" } else { "FARGATE" }.to_string()),
            launch_type: None,
            command: None,
            network: None,
        });
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
    let out = aws.ecs.describe_capacity_providers().capacity_providers(cp).send().await.aws("ecs:DescribeCapacityProviders")?;
    let provider = out.capacity_providers.unwrap_or_default().into_iter().next().ok_or_else(|| missing(format!("capacity provider `{cp}` is gone"), "run init again"))?;
    let asg_provider = provider.auto_scaling_group_provider.clone().ok_or_else(|| missing(format!("capacity provider `{cp}` has no autoscaling group"), "only EC2 capacity providers are supported"))?;
    let managed_scaling = asg_provider.managed_scaling.as_ref().and_then(|m| m.status.as_ref()).is_some_and(|s| s.as_str() == "ENABLED");
    let asg_name = arn_name(&asg_provider.auto_scaling_group_arn);
    let groups = aws.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(&asg_name).send().await.aws("autoscaling:DescribeAutoScalingGroups")?;
    let asg = groups.auto_scaling_groups.unwrap_or_default().into_iter().next().ok_or_else(|| missing(format!("autoscaling group `{asg_name}` is gone"), "run init again"))?;
    let Some(lt_spec) = asg.launch_template.clone() else {
        return Err(missing(format!("autoscaling group `{asg_name}` uses a launch configuration or mixed instances"), "move it to a launch template (EC2 console → Auto Scaling groups → Edit) and run init again"));
    };
    let lt_id = lt_spec.launch_template_id.clone().unwrap_or_default();
    let versions = aws.ec2.describe_launch_template_versions().launch_template_id(&lt_id).versions("$Default").send().await.aws("ec2:DescribeLaunchTemplateVersions")?;
    let version = versions.launch_template_versions.unwrap_or_default().into_iter().next().ok_or_else(|| missing(format!("launch template {lt_id} has no default version"), "run init again"))?;
    let data = version.launch_template_data.unwrap_or_else(|| aws_sdk_ec2::types::ResponseLaunchTemplateData::builder().build());
    let user_data = data.user_data.as_deref().map(|u| String::from_utf8(aws_smithy_types::base64::decode(u).unwrap_or_default()).unwrap_or_default());

    // The instance role, through its profile.
    let profile_arn = data.iam_instance_profile.as_ref().and_then(|p| p.arn.clone().or_else(|| p.name.clone())).unwrap_or_default();
    let mut instance_role = None;
    if !profile_arn.is_empty() {
        let profile = aws.iam.get_instance_profile().instance_profile_name(arn_name(&profile_arn)).send().await.aws("iam:GetInstanceProfile")?;
        if let Some(role) = profile.instance_profile.and_then(|p| p.roles.into_iter().next()) {
            add_role(aws, spec, &role.role_name).await?;
            instance_role = Some(role.role_name);
        }
    }
    let group_ids = data.security_group_ids.clone().unwrap_or_default();
    let (group, description) = match group_ids.as_slice() {
        [one] => {
            let g = aws.ec2.describe_security_groups().group_ids(one).send().await.aws("ec2:DescribeSecurityGroups")?;
            let g = g.security_groups.unwrap_or_default().into_iter().next().unwrap_or_else(|| aws_sdk_ec2::types::SecurityGroup::builder().build());
            (g.group_name, g.description)
        }
        _ => {
            notes.push(format!("The launch template has {} security groups; a spec gives the instances one.", group_ids.len()));
            (None, None)
        }
    };
    let mut subnets: Vec<String> = asg.vpc_zone_identifier.as_deref().unwrap_or_default().split(',').filter(|s| !s.is_empty()).map(String::from).collect();
    subnets.sort();
    let capacity = Ec2Capacity {
        instance_type: data.instance_type.map(|t| t.as_str().to_string()).unwrap_or_else(|| "t2.micro".into()),
        ami: data.image_id.unwrap_or_default(),
        min: asg.min_size.unwrap_or(0) as u32,
        max: asg.max_size.unwrap_or(1) as u32,
        desired: asg.desired_capacity.unwrap_or(1) as u32,
        key_pair: data.key_name,
        ssh_cidrs: vec![],
        subnets: Subnets::List(subnets),
        managed_scaling,
        instance_role,
        security_group: group,
        security_group_description: description,
        launch_template: lt_spec.launch_template_name.clone(),
        autoscaling_group: Some(asg_name),
        capacity_provider: Some(cp.to_string()),
        user_data,
    };
    Ok((capacity, group_ids.first().cloned()))
}

/// A role as it is (trust, managed and inline policies, description), into `[roles]`.
async fn add_role(aws: &Aws, spec: &mut Spec, name: &str) -> Result<()> {
    if spec.roles.contains_key(name) {
        return Ok(());
    }
    let (role, attached, inline) = tokio::try_join!(
        async { aws.iam.get_role().role_name(name).send().await.aws("iam:GetRole") },
        async { aws.iam.list_attached_role_policies().role_name(name).send().await.aws("iam:ListAttachedRolePolicies") },
        async { aws.iam.list_role_policies().role_name(name).send().await.aws("iam:ListRolePolicies") },
    )?;
    let role = role.role.expect("GetRole returns a role");
    let trust = iam_role::principals_of(role.assume_role_policy_document.as_deref().unwrap_or("{}"))
        .into_iter().map(|p| if p == "ecs-tasks.amazonaws.com" { "ecs-tasks".to_string() } else { p }).collect();
    let managed = attached.attached_policies.unwrap_or_default().iter().filter_map(|p| p.policy_arn.as_deref()).map(iam_role::policy_key).collect();
    let mut inline_policies = IndexMap::new();
    for policy in inline.policy_names {
        let doc = aws.iam.get_role_policy().role_name(name).policy_name(&policy).send().await.aws("iam:GetRolePolicy")?;
        inline_policies.insert(policy, iam_role::decode(&doc.policy_document).to_string());
    }
    spec.roles.insert(name.to_string(), Role { trust, managed_policies: managed, inline_policies, description: role.description.filter(|d| !d.is_empty()) });
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
    for chunk in names.chunks(10) {
        let out = aws.ecs.describe_services().cluster(&cluster).set_services(Some(chunk.to_vec())).send().await.aws("ecs:DescribeServices")?;
        let found: Vec<_> = out.services.unwrap_or_default().into_iter().filter(|s| s.status.as_deref() == Some("ACTIVE")).collect();
        for n in chunk.iter().filter(|n| !found.iter().any(|s| s.service_name.as_deref() == Some(n.as_str()))) {
            return Err(missing(format!("cluster `{cluster}` has no active service `{n}`"), "name a service of the cluster, or leave --service out"));
        }
        for s in found {
            let name = s.service_name.clone().unwrap_or_default();
            let family = task(aws, spec, s.task_definition.as_deref().unwrap_or_default(), notes).await?;
            let strategy = s.capacity_provider_strategy();
            let capacity_provider = match strategy.first().map(|c| c.capacity_provider.as_str()) {
                Some(p) if Some(p) == cp => Some("ec2".to_string()),
                Some(p) => Some(p.to_string()),
                None => None,
            };
            let launch_type = match (strategy.is_empty(), s.launch_type.as_ref().map(|l| l.as_str())) {
                (true, Some("FARGATE")) => Some(LaunchType::Fargate),
                (true, Some("EC2")) => Some(LaunchType::Ec2),
                _ => None,
            };
            let load_balancer = s.load_balancers().first().map(|l| {
                let tg = l.target_group_arn.clone().unwrap_or_default();
                if !target_groups.contains(&tg) {
                    target_groups.push(tg);
                }
                ServiceLoadBalancer { container: l.container_name.clone().unwrap_or_default(), port: l.container_port.unwrap_or(80) as u32 }
            });
            let dc = s.deployment_configuration.clone().unwrap_or_else(|| aws_sdk_ecs::types::DeploymentConfiguration::builder().build());
            let breaker = dc.deployment_circuit_breaker.as_ref();
            spec.services.insert(name, Service {
                task: family,
                desired_count: s.desired_count.max(0) as u32,
                capacity_provider,
                launch_type,
                health_check_grace_period: load_balancer.as_ref().map(|_| s.health_check_grace_period_seconds.unwrap_or(0) as u32),
                deployment: Deployment {
                    minimum_healthy_percent: Some(dc.minimum_healthy_percent.unwrap_or(100) as u32),
                    maximum_percent: Some(dc.maximum_percent.unwrap_or(200) as u32),
                    circuit_breaker: breaker.is_some_and(|b| b.enable),
                    rollback: breaker.is_some_and(|b| b.enable && b.rollback),
                    ..Deployment::default()
                },
                load_balancer,
                network: None,
                verify: Verify::default(),
            });
        }
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
    let delay = attrs.attributes.unwrap_or_default().into_iter().find(|a| a.key.as_deref() == Some("deregistration_delay.timeout_seconds"))
        .and_then(|a| a.value).and_then(|v| v.parse().ok()).unwrap_or(300);
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
    let listeners = aws.elbv2.describe_listeners().load_balancer_arn(&lb_arn).send().await.aws("elbv2:DescribeListeners")?;
    let port = listeners.listeners.unwrap_or_default().iter()
        .find(|l| l.default_actions().iter().any(|a| a.target_group_arn.as_deref() == Some(tg_arn)))
        .and_then(|l| l.port).unwrap_or(80) as u32;
    let mut subnets: Vec<String> = lb.availability_zones().iter().filter_map(|z| z.subnet_id.clone()).collect();
    subnets.sort();
    notes.push(format!("Load balancer `{name}` is billed by the hour, outside the free tier: apply asks for --allow-cost."));
    let tg_name = tg.target_group_name.clone().unwrap_or_default();
    spec.load_balancer = Some(LoadBalancer {
        target_group: TargetGroup {
            name: (tg_name != name).then_some(tg_name),
            health_check_path: tg.health_check_path.clone().unwrap_or_else(|| "/".into()),
            deregistration_delay: delay,
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

/// Task definition families whose latest revision carries the stack's tag (its jobs).
async fn stack_families(aws: &Aws, stack: &str) -> Result<Vec<String>> {
    let mut families = Vec::new();
    let mut pages = aws.ecs.list_task_definition_families().status(aws_sdk_ecs::types::TaskDefinitionFamilyStatus::Active).into_paginator().send();
    while let Some(page) = pages.next().await {
        families.extend(page.aws("ecs:ListTaskDefinitionFamilies")?.families.unwrap_or_default());
    }
    let mut ours = Vec::new();
    for f in families {
        let out = aws.ecs.describe_task_definition().task_definition(&f).include(aws_sdk_ecs::types::TaskDefinitionField::Tags).send().await.aws("ecs:DescribeTaskDefinition")?;
        if out.tags().iter().any(|t| t.key() == Some(super::TAG_STACK) && t.value() == Some(stack)) {
            ours.push(f);
        }
    }
    Ok(ours)
}

/// A task definition revision into `[tasks]` (with its roles and log settings); its family.
async fn task(aws: &Aws, spec: &mut Spec, arn: &str, notes: &mut Vec<String>) -> Result<String> {
    let out = aws.ecs.describe_task_definition().task_definition(arn).send().await.aws("ecs:DescribeTaskDefinition")?;
    let td = out.task_definition.expect("DescribeTaskDefinition returns a revision");
    let family = td.family.clone().unwrap_or_default();
    if spec.tasks.contains_key(&family) {
        return Ok(family);
    }
    let role = |arn: Option<&str>| arn.filter(|a| !a.is_empty()).map(arn_name);
    let task_role = role(td.task_role_arn.as_deref());
    let execution_role = role(td.execution_role_arn.as_deref());
    for r in task_role.iter().chain(&execution_role) {
        add_role(aws, spec, r).await?;
    }
    let mut logs = Logs { enabled: false, ..Logs::default() };
    let mut containers = Vec::new();
    for c in td.container_definitions() {
        let name = c.name.clone().unwrap_or_default();
        if let Some(l) = c.log_configuration.as_ref().filter(|l| l.log_driver.as_str() == "awslogs") {
            let opts = l.options.clone().unwrap_or_default();
            let group = opts.get("awslogs-group").cloned().unwrap_or_default();
            logs.enabled = true;
            logs.group = (group != format!("/ecs/{family}")).then(|| group.clone());
            logs.stream_prefix = opts.get("awslogs-stream-prefix").cloned().unwrap_or_else(|| "ecs".into());
            let found = aws.logs.describe_log_groups().log_group_name_prefix(&group).send().await.aws("logs:DescribeLogGroups")?;
            logs.retention_days = found.log_groups.unwrap_or_default().iter().find(|g| g.log_group_name.as_deref() == Some(group.as_str()))
                .and_then(|g| g.retention_in_days).unwrap_or(0) as u32;
        }
        let mut environment = IndexMap::new();
        for kv in c.environment() {
            let key = kv.name.clone().unwrap_or_default();
            let value = match looks_secret(&key) {
                true => {
                    notes.push(format!("`{key}` of container `{name}` looks secret: the spec reads it from the environment. Export {key} before plan or apply."));
                    EnvValue::Marked(MarkedValue { value: format!("${{{key}}}"), secret: true })
                }
                false => EnvValue::Plain(kv.value.clone().unwrap_or_default()),
            };
            environment.insert(key, value);
        }
        let bridge = td.network_mode.as_ref().map(|m| m.as_str()) != Some("awsvpc");
        containers.push(Container {
            name,
            image: c.image.clone().unwrap_or_default(),
            command: c.command.clone(),
            entry_point: c.entry_point.clone(),
            port_mappings: c.port_mappings().iter().map(|p| PortMapping {
                container: p.container_port.unwrap_or(0) as u32,
                host: p.host_port.filter(|h| *h != 0 || !bridge).map(|h| h as u32),
                protocol: p.protocol.as_ref().map(|x| x.as_str().to_string()).unwrap_or_else(|| "tcp".into()),
            }).collect(),
            environment,
            secrets: c.secrets().iter().map(|s| (s.name.clone(), s.value_from.clone())).collect(),
            essential: c.essential.unwrap_or(true),
            cpu: Some(c.cpu as u32).filter(|c| *c != 0),
            memory: c.memory.map(|m| m as u32),
            memory_reservation: c.memory_reservation.map(|m| m as u32),
            health_check: c.health_check.as_ref().map(|h| HealthCheck {
                command: h.command.clone(),
                interval: h.interval.unwrap_or(30) as u32,
                timeout: h.timeout.unwrap_or(5) as u32,
                retries: h.retries.unwrap_or(3) as u32,
                start_period: h.start_period.unwrap_or(0) as u32,
            }),
        });
    }
    let mode = match td.network_mode.as_ref().map(|m| m.as_str()) {
        Some("awsvpc") => NetworkMode::Awsvpc,
        Some("host") => NetworkMode::Host,
        _ => NetworkMode::Bridge,
    };
    let requires: BTreeSet<&str> = td.requires_compatibilities().iter().map(|c| c.as_str()).collect();
    let requires = requires.contains("FARGATE").then(|| vec![LaunchType::Fargate]);
    spec.tasks.insert(family.clone(), TaskDef {
        network_mode: mode,
        cpu: td.cpu.as_deref().and_then(|c| c.parse().ok()),
        memory: td.memory.as_deref().and_then(|m| m.parse().ok()),
        task_role,
        execution_role,
        requires,
        logs,
        containers,
    });
    Ok(family)
}

/// The instances' group's inbound rules (and the load balancer's group's), and the rules on
/// other groups that name it as their source (MySQL into the RDS group). Rules the spec makes by
/// itself (the listener's, the load balancer's into the instances) are written as the settings
/// that make them.
async fn rules(aws: &Aws, spec: &mut Spec, group_id: &str, alb_group: Option<&str>) -> Result<()> {
    let mine = aws.ec2.describe_security_group_rules().filters(Filter::builder().name("group-id").values(group_id).build()).send().await.aws("ec2:DescribeSecurityGroupRules")?;
    let all = aws.ec2.describe_security_groups().send().await.aws("ec2:DescribeSecurityGroups")?.security_groups.unwrap_or_default();
    let key_of = |id: &str| -> Option<String> {
        if id == group_id {
            return Some("ecs".into());
        }
        if Some(id) == alb_group {
            return Some("alb".into());
        }
        all.iter().find(|g| g.group_id.as_deref() == Some(id)).and_then(|g| g.group_name.clone())
            .map(|n| n.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect())
    };
    let add = |spec: &mut Spec, group: String, r: &SecurityGroupRule| {
        let (from, to) = (r.from_port.unwrap_or(-1), r.to_port.unwrap_or(-1));
        let source_group = r.referenced_group_info.as_ref().and_then(|g| g.group_id.as_deref()).and_then(key_of);
        let description = r.description.clone().filter(|d| !d.is_empty());
        let (cidr, said) = (r.cidr_ipv4.clone(), description.as_deref());
        match (group.as_str(), said, &mut spec.cluster.ec2, &mut spec.load_balancer) {
            ("ecs", Some("SSH"), Some(ec2), _) if from == 22 && to == 22 && cidr.is_some() => return ec2.ssh_cidrs.extend(cidr),
            ("ecs", Some("From the load balancer"), _, Some(_)) if source_group.as_deref() == Some("alb") => return,
            ("alb", Some("Listener"), _, Some(lb)) if from == to && from == lb.listener_port as i32 && cidr.is_some() => return lb.allow_cidrs.extend(cidr),
            _ => {}
        }
        spec.ingress.push(Ingress {
            group,
            port: (from == to && from >= 0).then_some(from as u32),
            from_port: (from != to).then_some(from as u32),
            to_port: (from != to).then_some(to as u32),
            protocol: r.ip_protocol.clone().unwrap_or_else(|| "tcp".into()),
            cidr: r.cidr_ipv4.clone(),
            source_group,
            description,
        });
    };
    for r in mine.security_group_rules.unwrap_or_default().iter().filter(|r| r.is_egress != Some(true)) {
        add(spec, "ecs".into(), r);
    }
    if let Some(alb) = alb_group {
        let theirs = aws.ec2.describe_security_group_rules().filters(Filter::builder().name("group-id").values(alb).build()).send().await.aws("ec2:DescribeSecurityGroupRules")?;
        for r in theirs.security_group_rules.unwrap_or_default().iter().filter(|r| r.is_egress != Some(true)) {
            add(spec, "alb".into(), r);
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
        let theirs = aws.ec2.describe_security_group_rules().filters(Filter::builder().name("group-id").values(&gid).build()).send().await.aws("ec2:DescribeSecurityGroupRules")?;
        for r in theirs.security_group_rules.unwrap_or_default().iter().filter(|r| r.is_egress != Some(true)) {
            if r.referenced_group_info.as_ref().and_then(|i| i.group_id.as_deref()) == Some(group_id) {
                add(spec, key.clone(), r);
            }
        }
    }
    Ok(())
}

/// Leave out what equals ecsdeploy's own defaults: the file reads like one a person wrote, and a
/// stack ecsdeploy made comes back as its spec.
async fn drop_defaults(aws: &Aws, spec: &mut Spec) -> Result<()> {
    let mut plain = spec.clone();
    if let Some(lb) = plain.load_balancer.as_mut() {
        (lb.security_group, lb.security_group_description) = (None, None);
    }
    let default_subnets = aws.ec2.describe_subnets().filters(Filter::builder().name("default-for-az").values("true").build()).send().await.aws("ec2:DescribeSubnets")?;
    let mut defaults: Vec<String> = default_subnets.subnets.unwrap_or_default().into_iter().filter_map(|s| s.subnet_id).collect();
    defaults.sort();
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
        security_group::desired(plain).into_iter().find(|d| d.address == security_group::address(which))
            .and_then(|d| d.fields["description"].as_str().map(String::from)).unwrap_or_default()
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
    e.ami = "amazon-linux-2".into();
    let latest = ami::observe(aws, &ami::desired(&plain)[0]).await?.map(|l| l.id);

    let e = spec.cluster.ec2.as_mut().expect("has capacity");
    clear(&mut e.security_group, &security_group::name(&plain, "ecs"));
    clear(&mut e.security_group_description, &description(&plain, "ecs"));
    clear(&mut e.launch_template, &launch_template::desired(&plain)[0].name);
    clear(&mut e.autoscaling_group, &autoscaling_group::name(&plain));
    clear(&mut e.capacity_provider, &capacity_provider::name(&plain));
    clear(&mut e.user_data, &launch_template::user_data(&plain.cluster.name));
    default_subnets(&mut e.subnets);
    if latest.as_deref() == Some(found.ami.as_str()) {
        e.ami = "amazon-linux-2".into();
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
