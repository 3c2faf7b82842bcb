//! ECS services: created or updated in place (task definition, desired count, capacity, grace
//! period, deployment settings, load balancers). Also how to watch one deploy: snapshots for the
//! wait, the address users open, and the last log lines of a task that stopped.

use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, CapacityProviderStrategyItem, DeploymentCircuitBreaker, DeploymentConfiguration, DesiredStatus,
    LaunchType as EcsLaunchType, LoadBalancer as EcsLoadBalancer, NetworkConfiguration,
};
use serde_json::{json, Value};

use super::{
    capacity_provider, cluster, cluster::ecs_tags, cluster_capacity, instances, load_balancer, outputs, own_tags, security_group, target_group,
    task_definition, vpc, Result,
};
use crate::aws::{Aws, AwsResultExt, ErrorKind};
use crate::engine::wait::{DeploymentState, ServiceEvent, Snapshot, StoppedTask};
use crate::plan::{reference, Action, Change, Desired, Fields, Live, Outputs};
use crate::spec::{static_host_ports, uses_fargate, LaunchType, NetworkMode, Service, Spec};

pub const KIND: &str = "service";

/// Not a setting but a request: `redeploy --force` plans this field to start a new deployment of
/// the same revision.
pub const FORCE: &str = "force_new_deployment";

pub fn address(name: &str) -> String {
    format!("{KIND}.{name}")
}

/// Minimum healthy / maximum percent: the spec's, or 0/100 where a static host port on a single
/// instance makes a rolling deploy impossible (the old task must free the port first).
pub fn deployment_percents(spec: &Spec, s: &Service) -> (u32, u32, bool) {
    let task = &spec.tasks[&s.task];
    let single = spec.cluster.ec2.as_ref().is_some_and(|e| e.max <= 1) && !uses_fargate(spec, s.capacity_provider.as_deref(), s.launch_type);
    let stuck = single && task.network_mode != NetworkMode::Awsvpc && !static_host_ports(task).is_empty();
    let d = &s.deployment;
    match (d.minimum_healthy_percent, d.maximum_percent, stuck) {
        (None, None, true) => (0, 100, true),
        (min, max, _) => (min.unwrap_or(100), max.unwrap_or(200), false),
    }
}

/// Plan notes: what ecsdeploy chose for the user, said before it happens.
pub fn notes(spec: &Spec) -> Vec<String> {
    spec.services
        .iter()
        .filter(|(_, s)| spec.tasks.contains_key(&s.task) && deployment_percents(spec, s).2)
        .map(|(name, s)| {
            let port = static_host_ports(&spec.tasks[&s.task])[0];
            format!("service `{name}`: host port {port} on a single instance cannot do a rolling deploy (the new task cannot bind the port while the old one runs); using minimum healthy 0% / maximum 100%, so the old task stops first (a short outage). Use host = 0 behind the load balancer to roll without one, \
                 or accept the outage and silence this with `minimum_healthy_percent = 0` and `maximum_percent = 100` under [services.{name}.deployment].")
        })
        .collect()
}

pub fn desired(spec: &Spec) -> Vec<Desired> {
    spec.services
        .iter()
        .filter(|(_, s)| spec.tasks.contains_key(&s.task))
        .map(|(name, s)| {
            let task = &spec.tasks[&s.task];
            let td = task_definition::address(&s.task);
            let mut depends_on = vec![cluster::address(spec), td.clone()];
            let fargate = uses_fargate(spec, s.capacity_provider.as_deref(), s.launch_type);
            let (strategy, launch_type) = match (&s.capacity_provider, s.launch_type) {
                (Some(cp), _) if cp == "ec2" => (Some(reference(&capacity_provider::address(spec), "name")), ""),
                (Some(cp), _) => (Some(json!(cp)), ""),
                (None, Some(LaunchType::Ec2)) => (None, "EC2"),
                (None, Some(LaunchType::Fargate)) => (None, "FARGATE"),
                (None, None) if fargate => (Some(json!("FARGATE")), ""),
                (None, None) => (Some(reference(&capacity_provider::address(spec), "name")), ""),
            };
            if let Some(Value::Object(_)) = &strategy {
                depends_on.push(capacity_provider::address(spec));
            }
            if strategy.is_some() {
                depends_on.push(cluster_capacity::address(spec));
            }
            // Its tasks need an instance registered with the provider. Under managed scaling ECS
            // keeps them waiting (PROVISIONING) and places them the moment one registers, so the
            // service is created alongside the instance's boot; otherwise ECS would say at once
            // that it cannot place them, so the instance comes first.
            let managed = spec.cluster.ec2.as_ref().is_some_and(|e| e.managed_scaling);
            if (matches!(&strategy, Some(Value::Object(_))) && !managed) || launch_type == "EC2" {
                depends_on.push(instances::ADDRESS.into());
            }
            let strategy = strategy.map(|p| json!([{ "provider": p, "weight": 1, "base": 0 }])).unwrap_or(json!([]));
            let (min, max, _) = deployment_percents(spec, s);
            let deployment = json!({
                "minimum_healthy_percent": min,
                "maximum_percent": max,
                "circuit_breaker": s.deployment.circuit_breaker,
                "rollback": s.deployment.circuit_breaker && s.deployment.rollback,
            });
            let load_balancers = match (&s.load_balancer, &spec.load_balancer) {
                (Some(lb), Some(alb)) => {
                    let tg = target_group::address(alb);
                    depends_on.push(tg.clone());
                    depends_on.push(super::listener::address(alb));
                    json!([{ "target_group": reference(&tg, "arn"), "container": lb.container, "port": lb.port }])
                }
                _ => json!([]),
            };
            let network = match (&s.network, task.network_mode) {
                (Some(n), NetworkMode::Awsvpc) => {
                    depends_on.push(vpc::ADDRESS.into());
                    let subnets = vpc::subnets(&n.subnets);
                    let groups: Vec<Value> = n
                        .security_groups
                        .iter()
                        .map(|g| {
                            let a = if crate::spec::OWN_GROUPS.contains(&g.as_str()) { security_group::address(g) } else { super::existing_group::address(g) };
                            depends_on.push(a.clone());
                            reference(&a, "id")
                        })
                        .collect();
                    json!({ "subnets": subnets, "security_groups": groups, "public_ip": n.assign_public_ip.unwrap_or(fargate) })
                }
                _ => Value::Null,
            };
            let address = address(name);
            let grace = if s.load_balancer.is_some() { json!(s.health_check_grace_period.unwrap_or(0)) } else { Value::Null };
            let fields = [
                ("task_definition", reference(&td, "arn")),
                ("desired_count", json!(s.desired_count)),
                ("capacity_provider_strategy", strategy),
                ("launch_type", json!(launch_type)),
                ("health_check_grace_period", grace),
                ("deployment", deployment),
                ("load_balancers", load_balancers),
                ("network", network),
                // A deployment ECS has not finished (or failed) is not "no changes": apply follows
                // it to its end, or starts it again.
                ("rollout", json!("COMPLETED")),
                ("tags", own_tags(&spec.stack.name, &address)),
            ];
            depends_on.dedup();
            Desired {
                address,
                kind: KIND.into(),
                name: name.clone(),
                fields: crate::plan::fields(fields),
                // ECS cannot switch an existing service between launch types and networks.
                replace_on: vec!["launch_type".into(), "network".into()],
                depends_on,
                meta: [("cluster".to_string(), spec.cluster.name.clone())].into(),
                ..Default::default()
            }
        })
        .collect()
}

pub(super) async fn describe(aws: &Aws, cluster: &str, name: &str) -> Result<Option<aws_sdk_ecs::types::Service>> {
    match aws.ecs.describe_services().cluster(cluster).services(name).include(aws_sdk_ecs::types::ServiceField::Tags).send().await.aws("ecs:DescribeServices") {
        Ok(out) => Ok(out.services.unwrap_or_default().into_iter().find(|s| s.status.as_deref() == Some("ACTIVE"))),
        Err(e) if e.is(ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub async fn observe(aws: &Aws, d: &Desired) -> Result<Option<Live>> {
    let Some(s) = describe(aws, &d.meta["cluster"], &d.name).await? else { return Ok(None) };
    let strategy: Vec<Value> =
        s.capacity_provider_strategy().iter().map(|c| json!({"provider": c.capacity_provider, "weight": c.weight, "base": c.base})).collect();
    let launch_type = if strategy.is_empty() { s.launch_type.as_ref().map(|l| l.as_str().to_string()).unwrap_or_default() } else { String::new() };
    let dc = s.deployment_configuration.clone().unwrap_or_else(|| DeploymentConfiguration::builder().build());
    let breaker = dc.deployment_circuit_breaker.as_ref();
    let deployment = json!({
        "minimum_healthy_percent": dc.minimum_healthy_percent.unwrap_or(100),
        "maximum_percent": dc.maximum_percent.unwrap_or(200),
        "circuit_breaker": breaker.is_some_and(|b| b.enable),
        "rollback": breaker.is_some_and(|b| b.enable && b.rollback),
    });
    let load_balancers: Vec<Value> =
        s.load_balancers().iter().map(|l| json!({"target_group": l.target_group_arn, "container": l.container_name, "port": l.container_port})).collect();
    let network = s
        .network_configuration
        .as_ref()
        .and_then(|n| n.awsvpc_configuration.as_ref())
        .map(|a| {
            let mut subnets = a.subnets.clone();
            subnets.sort();
            json!({"subnets": subnets.join(","), "security_groups": a.security_groups, "public_ip": a.assign_public_ip == Some(AssignPublicIp::Enabled)})
        })
        .unwrap_or(Value::Null);
    let grace = if load_balancers.is_empty() { Value::Null } else { json!(s.health_check_grace_period_seconds.unwrap_or(0)) };
    let tags = s.tags();
    let primary_deployment = s.deployments().iter().find(|d| d.status.as_deref() == Some("PRIMARY"));
    let rollout = primary_deployment.and_then(|d| d.rollout_state.as_ref()).map(|r| r.as_str()).unwrap_or("COMPLETED");
    let fields = [
        ("task_definition", json!(s.task_definition)),
        ("desired_count", json!(s.desired_count)),
        ("capacity_provider_strategy", Value::Array(strategy)),
        ("launch_type", json!(launch_type)),
        ("health_check_grace_period", grace),
        ("deployment", deployment),
        ("load_balancers", Value::Array(load_balancers)),
        ("network", network),
        ("rollout", json!(rollout)),
        ("tags", super::live_tags(tags.iter().map(|t| (t.key().unwrap_or_default(), t.value().unwrap_or_default())))),
    ];
    let arn = s.service_arn.clone().unwrap_or_default();
    let primary = primary(Some(&s));
    Ok(Some(Live { id: arn.clone(), fields: crate::plan::fields(fields), outputs: outputs([("arn", arn), ("name", d.name.clone()), ("primary", primary)]) }))
}

/// The service as it is now, for a change built outside a plan (a rollback).
pub async fn observe_live(aws: &Aws, d: &Desired) -> std::result::Result<Option<Live>, String> {
    observe(aws, d).await.map_err(|e| e.to_string())
}

/// A field that may be absent: day-2 commands plan only the fields they change.
fn get<'a>(fields: &'a Fields, name: &str) -> &'a Value {
    fields.get(name).unwrap_or(&Value::Null)
}

fn strategy(fields: &Fields) -> Vec<CapacityProviderStrategyItem> {
    cluster_capacity::strategy_items(get(fields, "capacity_provider_strategy"))
}

fn deployment_configuration(fields: &Fields) -> DeploymentConfiguration {
    let d = &get(fields, "deployment");
    DeploymentConfiguration::builder()
        .minimum_healthy_percent(d["minimum_healthy_percent"].as_i64().unwrap_or(100) as i32)
        .maximum_percent(d["maximum_percent"].as_i64().unwrap_or(200) as i32)
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(d["circuit_breaker"].as_bool().unwrap_or(true))
                .rollback(d["rollback"].as_bool().unwrap_or(true))
                .build(),
        )
        .build()
}

fn load_balancers(fields: &Fields) -> Vec<EcsLoadBalancer> {
    get(fields, "load_balancers")
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            EcsLoadBalancer::builder()
                .target_group_arn(l["target_group"].as_str().unwrap_or_default())
                .container_name(l["container"].as_str().unwrap_or_default())
                .container_port(l["port"].as_i64().unwrap_or(80) as i32)
                .build()
        })
        .collect()
}

fn network(fields: &Fields) -> Option<NetworkConfiguration> {
    let n = get(fields, "network").as_object()?;
    let subnets: Vec<String> = n["subnets"].as_str().unwrap_or_default().split(',').filter(|s| !s.is_empty()).map(String::from).collect();
    let groups: Vec<String> = n["security_groups"].as_array().into_iter().flatten().filter_map(|g| g.as_str().map(String::from)).collect();
    let ip = if n["public_ip"].as_bool().unwrap_or(true) { AssignPublicIp::Enabled } else { AssignPublicIp::Disabled };
    Some(
        NetworkConfiguration::builder()
            .awsvpc_configuration(
                AwsVpcConfiguration::builder().set_subnets(Some(subnets)).set_security_groups(Some(groups)).assign_public_ip(ip).build().expect("subnets set"),
            )
            .build(),
    )
}

/// The PRIMARY deployment's id, which the wait follows.
fn primary(s: Option<&aws_sdk_ecs::types::Service>) -> String {
    s.and_then(|s| s.deployments().iter().find(|d| d.status.as_deref() == Some("PRIMARY")).and_then(|d| d.id.clone())).unwrap_or_default()
}

pub async fn apply(aws: &Aws, c: &Change, fields: &Fields, waiting: super::Note<'_>) -> Result<Outputs> {
    let cluster = &c.desired.meta["cluster"];
    let name = &c.desired.name;
    let grace = get(fields, "health_check_grace_period").as_i64().map(|g| g as i32);
    let launch_type = get(fields, "launch_type").as_str().filter(|l| !l.is_empty()).map(EcsLaunchType::from);
    if c.action == Action::Replace {
        if let Some(live) = &c.live {
            aws.ecs.delete_service().cluster(cluster).service(&live.id).force(true).send().await.aws("ecs:DeleteService")?;
        }
    }
    let mut following = None;
    let (service, started) = match (&c.live, c.action.in_place()) {
        (Some(live), true) => {
            let touched = |f: &str| super::changed(c, f);
            let mut out_service = None;
            let mut started = false;
            let failed = touched("rollout") && live.fields.get("rollout").and_then(Value::as_str) == Some("FAILED");
            if failed
                || ["task_definition", "desired_count", "capacity_provider_strategy", "health_check_grace_period", "deployment", "load_balancers", FORCE]
                    .iter()
                    .any(|f| touched(f))
            {
                let mut req = aws.ecs.update_service().cluster(cluster).service(name);
                if touched("task_definition") {
                    req = req.task_definition(super::field(fields, "task_definition"));
                }
                if touched("desired_count") {
                    req = req.desired_count(get(fields, "desired_count").as_i64().unwrap_or(1) as i32);
                }
                if touched("capacity_provider_strategy") {
                    // Changing capacity needs a new deployment to move tasks.
                    req = req.set_capacity_provider_strategy(Some(strategy(fields))).force_new_deployment(true);
                }
                if touched("health_check_grace_period") {
                    req = req.set_health_check_grace_period_seconds(grace);
                }
                if touched("deployment") {
                    req = req.deployment_configuration(deployment_configuration(fields));
                }
                if touched("load_balancers") {
                    req = req.set_load_balancers(Some(load_balancers(fields)));
                }
                // A failed deployment of the spec's revision is started again.
                if touched(FORCE) || failed {
                    req = req.force_new_deployment(true);
                }
                let out = req.send().await.aws("ecs:UpdateService")?;
                started = failed || ["task_definition", "capacity_provider_strategy", "load_balancers", "desired_count", FORCE].iter().any(|f| touched(f));
                out_service = out.service;
            }
            // A deployment still in progress (an earlier run was interrupted): follow it.
            if !started && touched("rollout") {
                following = live.outputs.get("primary").cloned();
            }
            if touched("tags") {
                aws.ecs.tag_resource().resource_arn(&live.id).set_tags(Some(ecs_tags(fields))).send().await.aws("ecs:TagResource")?;
            }
            (out_service, started)
        }
        _ => {
            // ECS refuses a name whose earlier service still drains ("Unable to Start a service
            // that is still Draining"): a destroy just before, or a replace.
            super::until(waiting, &format!("service {name} left by an earlier deletion has drained"), || async {
                let out = aws.ecs.describe_services().cluster(cluster).services(name).send().await.aws("ecs:DescribeServices")?;
                Ok(!out.services().iter().any(|s| s.status.as_deref() == Some("DRAINING")))
            })
            .await?;
            let strategy = strategy(fields);
            // Right after its listener, the target group can still look unattached to ECS.
            let out = crate::aws::retry_propagation(|| async {
                aws.ecs
                    .create_service()
                    // A retried create (the response lost on the way) must not make a second service.
                    .client_token(super::idempotency_token(c, fields))
                    .cluster(cluster)
                    .service_name(name)
                    .task_definition(super::field(fields, "task_definition"))
                    .desired_count(get(fields, "desired_count").as_i64().unwrap_or(1) as i32)
                    .set_capacity_provider_strategy((!strategy.is_empty()).then(|| strategy.clone()))
                    .set_launch_type(launch_type.clone())
                    .set_health_check_grace_period_seconds(grace)
                    .deployment_configuration(deployment_configuration(fields))
                    .set_load_balancers(Some(load_balancers(fields)))
                    .set_network_configuration(network(fields))
                    .set_tags(Some(ecs_tags(fields)))
                    .send()
                    .await
                    .aws("ecs:CreateService")
            })
            .await?;
            (out.service, true)
        }
    };
    let arn = service.as_ref().and_then(|s| s.service_arn.clone()).or_else(|| c.live.as_ref().map(|l| l.id.clone())).unwrap_or_default();
    let mut out = outputs([("arn", arn), ("name", name.clone())]);
    // The deploy to wait for and, when it replaced a revision, the one to roll back to.
    if started {
        out.insert("deployment".into(), primary(service.as_ref()));
        // AWS's clock at the change (not this machine's, which may differ): later events are news.
        if let Some(at) = service.as_ref().and_then(|s| s.deployments().iter().filter_map(|d| d.updated_at.as_ref()).map(|t| t.as_secs_f64()).reduce(f64::max))
        {
            out.insert("since".into(), format!("{:.3}", at - 1.0));
        }
    } else if let Some(d) = following {
        out.insert("deployment".into(), d);
    }
    if let Some(prev) = c.live.as_ref().and_then(|l| l.fields.get("task_definition")).and_then(Value::as_str).filter(|_| super::changed(c, "task_definition")) {
        out.insert("previous_task_definition".into(), prev.to_string());
    }
    Ok(out)
}

fn epoch(t: Option<&aws_smithy_types::DateTime>) -> f64 {
    t.map(|t| t.as_secs_f64()).unwrap_or(0.0)
}

/// One look at the service for the wait (deployments, events, recently stopped tasks, what moves);
/// `group`: the autoscaling group whose capacity its tasks
/// may wait for.
pub async fn snapshot(aws: &Aws, cluster: &str, name: &str, group: Option<&str>) -> Result<Snapshot> {
    let (service, stopped, (mut progress, waiting)) =
        tokio::try_join!(describe(aws, cluster, name), stopped_tasks(aws, cluster, name), task_progress(aws, cluster, name))?;
    let stuck = match (waiting, group) {
        (Some(memory), Some(group)) => super::instances::no_capacity_coming(aws, cluster, group, memory).await?,
        _ => None,
    };
    let Some(s) = service else {
        return Err(super::Error::Other(crate::engine::Failure::new(format!("service {name} is gone"), "run apply again")));
    };
    for lb in s.load_balancers() {
        progress.extend(target_progress(aws, lb.target_group_arn.as_deref().unwrap_or_default()).await?);
    }
    let deployments = s
        .deployments()
        .iter()
        .map(|d| DeploymentState {
            id: d.id.clone().unwrap_or_default(),
            status: d.status.clone().unwrap_or_default(),
            rollout_state: d.rollout_state.as_ref().map(|r| r.as_str().to_string()).unwrap_or_default(),
            rollout_reason: d.rollout_state_reason.clone().unwrap_or_default(),
            desired: d.desired_count,
            running: d.running_count,
            pending: d.pending_count,
            failed: d.failed_tasks,
            created_at: epoch(d.created_at.as_ref()),
        })
        .collect();
    let events = s
        .events()
        .iter()
        .take(20)
        .map(|e| ServiceEvent { id: e.id.clone().unwrap_or_default(), at: epoch(e.created_at.as_ref()), message: e.message.clone().unwrap_or_default() })
        .collect();
    Ok(Snapshot { desired: s.desired_count, deployments, events, stopped, progress, stuck })
}

/// Why a task of the service waits for capacity that cannot come, when one does.
pub async fn waiting_for_capacity(aws: &Aws, cluster: &str, name: &str, group: &str) -> Result<Option<String>> {
    match task_progress(aws, cluster, name).await?.1 {
        Some(memory) => super::instances::no_capacity_coming(aws, cluster, group, memory).await,
        None => Ok(None),
    }
}

/// Where the service's live tasks stand (PROVISIONING → PENDING → RUNNING) and how many container
/// instances the cluster has: progress on AWS is often a task waiting for an instance to boot
/// or for its image to pull, with no count changing for minutes. Also the memory of a task that
/// waits in PROVISIONING without an instance, if one does.
async fn task_progress(aws: &Aws, cluster: &str, name: &str) -> Result<(Vec<String>, Option<i32>)> {
    let (arns, instances) =
        tokio::try_join!(super::tasks::arns(aws.ecs.list_tasks().cluster(cluster).service_name(name)), super::tasks::instance_arns(aws, cluster),)?;
    let instances = instances.len();
    let mut progress = vec![format!("{instances} container instance(s)")];
    let mut waiting = None;
    if !arns.is_empty() {
        let tasks = super::tasks::describe(aws, cluster, &arns).await?;
        progress.extend(
            tasks
                .iter()
                .map(|t| format!("task {} {}", t.task_arn().unwrap_or_default().rsplit('/').next().unwrap_or_default(), t.last_status().unwrap_or_default())),
        );
        waiting = tasks
            .iter()
            .find(|t| t.last_status() == Some("PROVISIONING") && t.container_instance_arn.is_none())
            .map(|t| t.memory().and_then(|m| m.parse().ok()).unwrap_or(0));
    }
    Ok((progress, waiting))
}

/// Each target's health in a target group (initial → healthy, draining): a target passing its
/// health checks one by one is progress.
async fn target_progress(aws: &Aws, target_group: &str) -> Result<Vec<String>> {
    if target_group.is_empty() {
        return Ok(vec![]);
    }
    let out = aws.elbv2.describe_target_health().target_group_arn(target_group).send().await.aws("elasticloadbalancing:DescribeTargetHealth")?;
    Ok(out
        .target_health_descriptions
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let target = t.target.as_ref().map(|t| format!("{}:{}", t.id.as_deref().unwrap_or_default(), t.port.unwrap_or_default())).unwrap_or_default();
            let state = t.target_health.as_ref().and_then(|h| h.state.as_ref()).map(|s| s.as_str().to_string()).unwrap_or_default();
            format!("target {target} {state}")
        })
        .collect())
}

pub async fn stopped_tasks(aws: &Aws, cluster: &str, name: &str) -> Result<Vec<StoppedTask>> {
    // ECS keeps stopped tasks for about an hour: all of them, the latest first.
    let arns = super::tasks::arns(aws.ecs.list_tasks().cluster(cluster).service_name(name).desired_status(DesiredStatus::Stopped)).await?;
    let mut stopped: Vec<StoppedTask> = super::tasks::describe(aws, cluster, &arns)
        .await?
        .into_iter()
        .filter(|t| t.last_status.as_deref() == Some("STOPPED"))
        .map(|t| StoppedTask {
            arn: t.task_arn.clone().unwrap_or_default(),
            started_by: t.started_by.clone().unwrap_or_default(),
            task_definition: t.task_definition_arn.clone().unwrap_or_default(),
            stop_code: t.stop_code.as_ref().map(|c| c.as_str().to_string()).unwrap_or_default(),
            reason: t.stopped_reason.clone().unwrap_or_default(),
            exit_codes: t.containers().iter().map(|c| (c.name.clone().unwrap_or_default(), c.exit_code)).collect(),
            stopped_at: epoch(t.stopped_at.as_ref()),
        })
        .collect();
    stopped.sort_by(|a, b| b.stopped_at.total_cmp(&a.stopped_at));
    Ok(stopped)
}

/// The last log lines of a task's containers, from its awslogs streams.
pub async fn last_log_lines(aws: &Aws, task: &StoppedTask, limit: i32) -> Vec<String> {
    let Ok(out) = aws.ecs.describe_task_definition().task_definition(&task.task_definition).send().await else { return vec![] };
    let id = task.arn.rsplit('/').next().unwrap_or_default();
    let mut lines = Vec::new();
    for c in out.task_definition.map(|t| t.container_definitions.unwrap_or_default()).unwrap_or_default() {
        let Some(opts) = c.log_configuration.and_then(|l| l.options) else { continue };
        let (Some(group), Some(prefix)) = (opts.get("awslogs-group"), opts.get("awslogs-stream-prefix")) else { continue };
        let stream = format!("{prefix}/{}/{id}", c.name.unwrap_or_default());
        lines.extend(last_lines_of(aws, group, &stream, limit).await);
    }
    lines
}

/// The last `limit` lines of a log stream, reading pages backwards from its end.
async fn last_lines_of(aws: &Aws, group: &str, stream: &str, limit: i32) -> Vec<String> {
    let (mut lines, mut token) = (Vec::new(), None);
    while lines.len() < limit as usize {
        let read =
            aws.logs.get_log_events().log_group_name(group).log_stream_name(stream).limit(limit).start_from_head(false).set_next_token(token.clone()).send();
        let Ok(page) = read.await else { break };
        let mut earlier: Vec<String> = page.events.unwrap_or_default().into_iter().filter_map(|e| e.message).collect();
        // At the stream's start AWS answers no events and the same token.
        if earlier.is_empty() || page.next_backward_token == token {
            break;
        }
        earlier.append(&mut lines);
        lines = earlier;
        token = page.next_backward_token;
    }
    lines.split_off(lines.len().saturating_sub(limit as usize))
}

/// Where users reach a service, and the security groups in front of that address (which decide
/// who may connect).
#[derive(Debug, Clone)]
pub struct Door {
    pub url: String,
    pub port: i32,
    pub groups: Vec<String>,
}

/// The URL users reach the service at (the load balancer's name, or the instance's public address
/// and host port), for verification and `status`.
pub async fn public_url(aws: &Aws, spec: &Spec, name: &str) -> Result<Option<String>> {
    Ok(front_door(aws, spec, name).await?.map(|d| d.url))
}

pub async fn front_door(aws: &Aws, spec: &Spec, name: &str) -> Result<Option<Door>> {
    let s = &spec.services[name];
    let path = &s.verify.path;
    if let (Some(_), Some(alb)) = (&s.load_balancer, &spec.load_balancer) {
        let Some(lb) = load_balancer::find(aws, &alb.name).await? else { return Ok(None) };
        let port = if alb.listener_port == 80 { String::new() } else { format!(":{}", alb.listener_port) };
        let url = format!("http://{}{port}{path}", lb.dns_name.clone().unwrap_or_default());
        return Ok(Some(Door { url, port: alb.listener_port as i32, groups: lb.security_groups.unwrap_or_default() }));
    }
    let task = &spec.tasks[&s.task];
    let Some(&port) = static_host_ports(task).first() else { return Ok(None) };
    let cluster = &spec.cluster.name;
    let arns = super::tasks::arns(aws.ecs.list_tasks().cluster(cluster).service_name(name).desired_status(DesiredStatus::Running)).await?;
    let Some(first) = arns.first() else { return Ok(None) };
    let tasks = aws.ecs.describe_tasks().cluster(cluster).tasks(first).send().await.aws("ecs:DescribeTasks")?.tasks.unwrap_or_default();
    let Some(ci) = tasks.first().and_then(|t| t.container_instance_arn.clone()) else { return Ok(None) };
    let cis = aws.ecs.describe_container_instances().cluster(cluster).container_instances(ci).send().await.aws("ecs:DescribeContainerInstances")?;
    let Some(instance) = cis.container_instances.unwrap_or_default().into_iter().find_map(|c| c.ec2_instance_id) else { return Ok(None) };
    let described = aws.ec2.describe_instances().instance_ids(instance).send().await.aws("ec2:DescribeInstances")?;
    let Some(i) = described.reservations.unwrap_or_default().into_iter().flat_map(|r| r.instances.unwrap_or_default()).next() else { return Ok(None) };
    let Some(ip) = i.public_ip_address.clone() else { return Ok(None) };
    let groups = i.security_groups().iter().filter_map(|g| g.group_id.clone()).collect();
    let shown = if port == 80 { String::new() } else { format!(":{port}") };
    Ok(Some(Door { url: format!("http://{ip}{shown}{path}"), port: port as i32, groups }))
}

/// Whether `caller` may connect to the door: a rule of one of its groups lets that address in on
/// that port (TCP or all traffic). When not, the rules there are, as people read them.
pub async fn lets_in(aws: &Aws, door: &Door, caller: std::net::Ipv4Addr) -> Result<std::result::Result<(), Vec<String>>> {
    if door.groups.is_empty() {
        return Ok(Ok(()));
    }
    let filter = aws_sdk_ec2::types::Filter::builder().name("group-id").set_values(Some(door.groups.clone())).build();
    let rules =
        aws.ec2.describe_security_group_rules().filters(filter).into_paginator().items().send().try_collect().await.aws("ec2:DescribeSecurityGroupRules")?;
    let inbound: Vec<_> = rules.into_iter().filter(|r| r.is_egress != Some(true)).collect();
    let covers = |r: &aws_sdk_ec2::types::SecurityGroupRule| {
        let all = r.ip_protocol.as_deref() == Some("-1");
        let port = all || (r.ip_protocol.as_deref() == Some("tcp") && r.from_port.unwrap_or(-1) <= door.port && door.port <= r.to_port.unwrap_or(-1));
        port && r.cidr_ipv4.as_deref().is_some_and(|c| cidr_contains(c, caller))
    };
    if inbound.iter().any(covers) {
        return Ok(Ok(()));
    }
    let said = inbound
        .iter()
        .map(|r| {
            let ports = match (r.ip_protocol.as_deref(), r.from_port, r.to_port) {
                (Some("-1"), ..) => "all traffic".to_string(),
                (p, Some(a), Some(b)) if a == b => format!("{} {a}", p.unwrap_or("tcp")),
                (p, Some(a), Some(b)) => format!("{} {a}-{b}", p.unwrap_or("tcp")),
                (p, ..) => p.unwrap_or("?").to_string(),
            };
            let from = r.cidr_ipv4.clone().or_else(|| r.referenced_group_info.as_ref().and_then(|g| g.group_id.clone())).unwrap_or_default();
            format!("{} allows {ports} from {from}", r.group_id.as_deref().unwrap_or_default())
        })
        .collect();
    Ok(Err(said))
}

/// Whether an IPv4 CIDR block holds the address.
pub fn cidr_contains(cidr: &str, ip: std::net::Ipv4Addr) -> bool {
    let Some((net, bits)) = cidr.split_once('/') else { return false };
    let (Ok(net), Ok(bits)) = (net.parse::<std::net::Ipv4Addr>(), bits.parse::<u32>()) else { return false };
    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits.min(32)) };
    u32::from(net) & mask == u32::from(ip) & mask
}

/// Scale to zero and delete; wait until ECS has drained it, so the cluster can go next.
pub async fn delete(aws: &Aws, c: &Change, waiting: super::Note<'_>) -> Result<Outputs> {
    let cluster = &c.desired.meta["cluster"];
    aws.ecs.update_service().cluster(cluster).service(&c.desired.name).desired_count(0).send().await.aws("ecs:UpdateService")?;
    aws.ecs.delete_service().cluster(cluster).service(&c.desired.name).force(true).send().await.aws("ecs:DeleteService")?;
    super::until(waiting, "the service has drained (DRAINING → INACTIVE)", || async {
        let out = aws.ecs.describe_services().cluster(cluster).services(&c.desired.name).send().await.aws("ecs:DescribeServices")?;
        Ok(out.services.unwrap_or_default().iter().all(|s| s.status.as_deref() == Some("INACTIVE")))
    })
    .await?;
    Ok(Outputs::new())
}
