//! Issue: adopt what was built by hand — `init --from-cluster`, and adoption on apply.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_autoscaling::types::LaunchTemplateSpecification;
use aws_sdk_ec2::types::{Filter, IpPermission, LaunchTemplateIamInstanceProfileSpecificationRequest, RequestLaunchTemplateData, UserIdGroupPair};
use aws_sdk_ecs::types::{
    AutoScalingGroupProvider, CapacityProviderStrategyItem, Compatibility, ContainerDefinition, DeploymentCircuitBreaker, DeploymentConfiguration,
    KeyValuePair, LogConfiguration, LogDriver, ManagedScaling, ManagedScalingStatus, NetworkMode, PortMapping, RuntimePlatform,
};

use crate::support::{by_hand, eventually, session, Session};

const CLUSTER: &str = "mlds-ecs-workshop";
const NU_VPN: &str = "165.124.160.0/21";
const ECS_TASKS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
const EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

async fn role(s: &Session, name: &str, trust: &str, policy: &str, description: &str) -> String {
    let r = s.aws.iam.create_role().role_name(name).assume_role_policy_document(trust).description(description).send().await.unwrap();
    s.aws.iam.attach_role_policy().role_name(name).policy_arn(policy).send().await.unwrap();
    r.role.unwrap().arn
}

/// How a console-built stack can differ: the choices the console's forms leave to a student.
#[derive(Debug, Clone, Copy, Default)]
struct Console {
    /// The launch template names the instance profile by name (the console's own form uses the ARN).
    profile_by_name: bool,
    /// Task definitions without a log configuration.
    no_awslogs: bool,
    /// Task definitions without `runtimePlatform` (made before the console asked for it).
    no_runtime_platform: bool,
    /// Task definitions without an execution role (EC2 pulls with the instance's role).
    no_execution_role: bool,
    /// One console role for everything a task needs: ecsTaskExecutionRole as the task role too.
    shared_role: bool,
}

/// The iris stack built the way the console tutorial builds it: console names, no ecsdeploy
/// tags. Returns the URL `/docs` answers at once the service runs.
async fn console_stack(s: &Session) -> String {
    console_stack_as(s, Console::default()).await
}

async fn console_stack_as(s: &Session, v: Console) -> String {
    let rds = s.tutorial_prerequisites().await;
    let (aws, ec2) = (&s.aws, &s.aws.ec2);

    // IAM: the console's default roles and the task role of the tutorial.
    role(
        s,
        "ecsInstanceRole",
        EC2,
        "arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role",
        "Allows EC2 instances to call AWS services on your behalf.",
    )
    .await;
    aws.iam.create_instance_profile().instance_profile_name("ecsInstanceRole").send().await.unwrap();
    aws.iam.add_role_to_instance_profile().instance_profile_name("ecsInstanceRole").role_name("ecsInstanceRole").send().await.unwrap();
    let profile = aws.iam.get_instance_profile().instance_profile_name("ecsInstanceRole").send().await.unwrap().instance_profile.unwrap().arn;
    let execution = role(
        s,
        "ecsTaskExecutionRole",
        ECS_TASKS,
        "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy",
        "Allows ECS tasks to call AWS services on your behalf.",
    )
    .await;
    let task_role = match v.shared_role {
        true => execution.clone(),
        false => role(s, "ecs-iris-tasks", ECS_TASKS, "arn:aws:iam::aws:policy/AmazonS3FullAccess", "Role for the iris pipeline and inference tasks").await,
    };

    // The cluster's security group: SSH and HTTP from the VPN; MySQL from it into the RDS group.
    let vpc =
        ec2.describe_vpcs().filters(Filter::builder().name("is-default").values("true").build()).send().await.unwrap().vpcs.unwrap()[0].vpc_id.clone().unwrap();
    let sg = ec2.create_security_group().group_name("mlds-ecs-sg").description("Created in ECS Console").vpc_id(&vpc).send().await.unwrap().group_id.unwrap();
    for port in [22, 80] {
        s.allow_by_hand(&sg, port, NU_VPN).await;
    }
    let mysql =
        IpPermission::builder().ip_protocol("tcp").from_port(3306).to_port(3306).user_id_group_pairs(UserIdGroupPair::builder().group_id(&sg).build()).build();
    by_hand("ec2:AuthorizeSecurityGroupIngress", || ec2.authorize_security_group_ingress().group_id(&rds).ip_permissions(mysql.clone()).send()).await;

    // Capacity: launch template, autoscaling group, capacity provider, cluster.
    // The console's choices today: the ECS-optimised Amazon Linux 2023 AMI, a free-tier t3.micro.
    let ami = s.ecs_ami("").await;
    let user_data = format!("#!/bin/bash\necho ECS_CLUSTER={CLUSTER} >> /etc/ecs/ecs.config;");
    let lt = ec2
        .create_launch_template()
        .launch_template_name("ECSLaunchTemplate_mlds")
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id(&ami)
                .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                .key_name("mlds-ecs-key")
                .iam_instance_profile(match v.profile_by_name {
                    true => LaunchTemplateIamInstanceProfileSpecificationRequest::builder().name("ecsInstanceRole").build(),
                    false => LaunchTemplateIamInstanceProfileSpecificationRequest::builder().arn(&profile).build(),
                })
                .security_group_ids(&sg)
                .user_data(aws_smithy_types::base64::encode(user_data))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .launch_template
        .unwrap()
        .launch_template_id
        .unwrap();
    by_hand("ecs:CreateCluster", || aws.ecs.create_cluster().cluster_name(CLUSTER).send()).await;
    let subnets = ec2.describe_subnets().filters(Filter::builder().name("default-for-az").values("true").build()).send().await.unwrap();
    let subnets: Vec<String> = subnets.subnets.unwrap().into_iter().filter_map(|s| s.subnet_id).collect();
    let asg = "Infra-ECS-Cluster-mlds-ecs-workshop-ECSAutoScalingGroup";
    // AWS's order: the group empty, its provider attached, then the instance (which registers
    // with the provider only because the provider exists by then).
    aws.autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name(asg)
        .min_size(0)
        .max_size(1)
        .desired_capacity(0)
        .launch_template(LaunchTemplateSpecification::builder().launch_template_id(&lt).version("$Default").build())
        .vpc_zone_identifier(subnets.join(","))
        .send()
        .await
        .unwrap();
    let asg_arn = aws.autoscaling.describe_auto_scaling_groups().auto_scaling_group_names(asg).send().await.unwrap().auto_scaling_groups.unwrap()[0]
        .auto_scaling_group_arn
        .clone()
        .unwrap();
    let cp = "Infra-ECS-Cluster-mlds-ecs-workshop-EC2CapacityProvider";
    aws.ecs
        .create_capacity_provider()
        .name(cp)
        .auto_scaling_group_provider(
            AutoScalingGroupProvider::builder()
                .auto_scaling_group_arn(asg_arn)
                .managed_scaling(ManagedScaling::builder().status(ManagedScalingStatus::Enabled).target_capacity(100).build())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let strategy = CapacityProviderStrategyItem::builder().capacity_provider(cp).weight(1).base(0).build().unwrap();
    aws.ecs
        .put_cluster_capacity_providers()
        .cluster(CLUSTER)
        .capacity_providers(cp)
        .capacity_providers("FARGATE")
        .capacity_providers("FARGATE_SPOT")
        .default_capacity_provider_strategy(strategy.clone())
        .send()
        .await
        .unwrap();
    aws.autoscaling.set_desired_capacity().auto_scaling_group_name(asg).desired_capacity(1).send().await.unwrap();

    // The task definitions and the service, as the console's forms make them.
    for (family, container, port) in [("iris-inference", "inference", Some(80)), ("iris-pipeline", "pipeline", None)] {
        let group = format!("/ecs/{family}");
        let mut c = ContainerDefinition::builder()
            .name(container)
            .image(format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/{family}:latest"))
            .essential(true)
            .environment(KeyValuePair::builder().name("BUCKET_NAME").value("mlds-iris-data").build());
        if !v.no_awslogs {
            aws.logs.create_log_group().log_group_name(&group).send().await.unwrap();
            c = c.log_configuration(
                LogConfiguration::builder()
                    .log_driver(LogDriver::Awslogs)
                    .options("awslogs-group", &group)
                    .options("awslogs-region", "us-east-1")
                    .options("awslogs-stream-prefix", "ecs")
                    .options("awslogs-create-group", "true")
                    .build()
                    .unwrap(),
            );
        }
        if let Some(p) = port {
            c = c.port_mappings(PortMapping::builder().container_port(p).host_port(p).protocol(aws_sdk_ecs::types::TransportProtocol::Tcp).build());
        }
        let platform = RuntimePlatform::builder()
            .operating_system_family(aws_sdk_ecs::types::OsFamily::Linux)
            .cpu_architecture(aws_sdk_ecs::types::CpuArchitecture::X8664)
            .build();
        aws.ecs
            .register_task_definition()
            .family(family)
            .network_mode(NetworkMode::Bridge)
            .cpu("256")
            .memory("512")
            .task_role_arn(&task_role)
            .set_execution_role_arn((!v.no_execution_role).then(|| execution.clone()))
            .requires_compatibilities(Compatibility::Ec2)
            .set_runtime_platform((!v.no_runtime_platform).then_some(platform))
            .container_definitions(c.build())
            .send()
            .await
            .unwrap();
    }
    aws.ecs
        .create_service()
        .cluster(CLUSTER)
        .service_name("iris-app")
        .task_definition("iris-inference")
        .desired_count(1)
        .capacity_provider_strategy(strategy)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .minimum_healthy_percent(100)
                .maximum_percent(200)
                .deployment_circuit_breaker(DeploymentCircuitBreaker::builder().enable(true).rollback(true).build())
                .build(),
        )
        .send()
        .await
        .unwrap();

    let ip = eventually("the console's instance runs", Duration::from_secs(30), || async {
        let out = ec2.describe_instances().filters(Filter::builder().name("instance-state-name").values("running").build()).send().await.unwrap();
        out.reservations.unwrap_or_default().iter().flat_map(|r| r.instances()).find_map(|i| i.public_ip_address.clone())
    })
    .await;
    let url = format!("http://{ip}/docs");
    eventually("/docs answers on the console-built stack", Duration::from_secs(30), || async { (s.http_status(&url).await == Some(200)).then_some(()) }).await;
    url
}

pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ecsdeploy-adopt-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("deploy.toml")
}

/// `init --from-cluster` into a fresh file: its path and what was written.
async fn init(s: &Session, cluster: &str, name: &str, extra: &[&str]) -> (std::path::PathBuf, String) {
    let file = scratch(name);
    let mut args = vec!["init", "--from-cluster", cluster, "-o", file.to_str().unwrap()];
    args.extend(extra);
    s.ecsdeploy(&args).await.assert_ok("init");
    let text = std::fs::read_to_string(&file).unwrap();
    (file, text)
}

fn actions(plan_json: &str) -> Vec<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(plan_json).unwrap_or_else(|e| panic!("plan --json: {e}\n{plan_json}"));
    doc["changes"].as_array().unwrap().iter().map(|c| (c["address"].as_str().unwrap().to_string(), c["action"].as_str().unwrap().to_string())).collect()
}

#[tokio::test]
async fn a_console_built_stack_is_adopted_with_tags_only_while_docs_keeps_answering() {
    let s = session().await;
    let url = console_stack(&s).await;

    // /docs is watched for the whole adoption.
    let (stop, misses) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let watcher = {
        let (stop, misses, http, url) = (stop.clone(), misses.clone(), s.http.clone(), url.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = matches!(http.get(&url).timeout(Duration::from_secs(2)).send().await, Ok(r) if r.status().as_u16() == 200);
                if !ok {
                    misses.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let before = s.requests().await.len();
    let (file, text) = init(&s, CLUSTER, "console", &["--job", "iris-pipeline"]).await;
    let f = file.to_str().unwrap();
    assert_eq!(s.mutating_since(before).await, Vec::<String>::new(), "init only reads");
    for expected in [
        "instance_role = \"ecsInstanceRole\"",
        "[roles.ecsTaskExecutionRole]",
        "security_group = \"mlds-ecs-sg\"",
        "[security_groups.mlds423-rds-access]",
        "retention_days = 0",
        "[jobs.iris-pipeline]",
    ] {
        assert!(text.contains(expected), "`{expected}` missing:\n{text}");
    }
    s.ecsdeploy(&["validate", "-f", f]).await.assert_ok("validate the written spec");
    let again = s.ecsdeploy(&["init", "--from-cluster", CLUSTER, "-o", f]).await;
    assert_eq!(again.code, 2, "an existing file is not overwritten without --force: {}", again.stderr);

    let plan = s.ecsdeploy(&["plan", "--json", "-f", f]).await;
    plan.assert_ok("plan");
    let planned = actions(&plan.stdout);
    let changed: Vec<&(String, String)> = planned.iter().filter(|(_, a)| !["adopt", "no_op", "read"].contains(&a.as_str())).collect();
    assert!(changed.is_empty(), "only adoptions: {changed:?}\n{}", plan.stdout);
    let adopted: Vec<&str> = planned.iter().filter(|(_, a)| a == "adopt").map(|(addr, _)| addr.as_str()).collect();
    for address in [
        "cluster.mlds-ecs-workshop",
        "iam_role.ecsInstanceRole",
        "instance_profile.ecsInstanceRole",
        "iam_role.ecs-iris-tasks",
        "security_group.ecs",
        "launch_template.ecs",
        "autoscaling_group.ecs",
        "task_definition.iris-inference",
        "task_definition.iris-pipeline",
        "service.iris-app",
        "ingress.mlds423-rds-access",
    ] {
        assert!(adopted.contains(&address), "{address} is not adopted: {adopted:?}");
    }

    let before = s.requests().await.len();
    s.ecsdeploy(&["apply", "--auto-approve", "-f", f]).await.assert_ok("apply");
    let tagging = ["ec2:CreateTags", "iam:TagRole", "iam:TagInstanceProfile", "ecs:TagResource", "autoscaling:CreateOrUpdateTags", "logs:TagResource"];
    let calls = s.changes_since(before).await;
    assert!(!calls.is_empty() && calls.iter().all(|c| tagging.contains(&c.as_str())), "only tagging calls: {calls:?}");
    assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", f]).await.code, 0, "nothing left to change");

    stop.store(true, Ordering::Relaxed);
    watcher.await.unwrap();
    assert_eq!(misses.load(Ordering::Relaxed), 0, "/docs kept answering throughout");

    // From now on it is a stack like any other. The console's 100/200 % cannot roll a static
    // host port on one instance (the plan warned); the spec says so, and apply changes just that.
    let fixed = text.replace("minimum_healthy_percent = 100", "minimum_healthy_percent = 0").replace("maximum_percent = 200", "maximum_percent = 100");
    std::fs::write(&file, fixed).unwrap();
    let before = s.requests().await.len();
    s.ecsdeploy(&["apply", "--auto-approve", "-f", f]).await.assert_ok("apply the deployment settings");
    assert_eq!(s.changes_since(before).await, ["ecs:UpdateService"]);
    s.ecsdeploy(&["redeploy", "--force", "-f", f]).await.assert_ok("redeploy after adoption");
    s.ecsdeploy(&["scale", "--desired", "0", "-f", f]).await.assert_ok("scale after adoption");
    s.ecsdeploy(&["destroy", "--auto-approve", "-f", f]).await.assert_ok("destroy after adoption");
    let left = s.aws.ecs.describe_clusters().clusters(CLUSTER).send().await.unwrap().clusters.unwrap_or_default();
    assert!(left.iter().all(|c| c.status.as_deref() != Some("ACTIVE")), "the adopted cluster is gone");
    let rds_rules =
        s.aws.ec2.describe_security_groups().group_names("mlds423-rds-access").send().await.unwrap().security_groups.unwrap()[0].ip_permissions().len();
    assert_eq!(rds_rules, 0, "the adopted MySQL rule went with the stack");
}

#[tokio::test]
async fn every_console_variant_is_adopted_without_a_new_role_revision_or_service_update() {
    let s = session().await;
    let variants = [
        ("profile by name", Console { profile_by_name: true, ..Default::default() }),
        ("no awslogs", Console { no_awslogs: true, ..Default::default() }),
        ("no runtimePlatform", Console { no_runtime_platform: true, ..Default::default() }),
        ("no execution role", Console { no_execution_role: true, ..Default::default() }),
        ("one shared console role", Console { shared_role: true, ..Default::default() }),
        ("all of them", Console { profile_by_name: true, no_awslogs: true, no_runtime_platform: true, no_execution_role: true, shared_role: true }),
    ];
    for (what, variant) in variants {
        assert!(s.http.post(format!("{}/_sim/reset", s.world.endpoint)).send().await.unwrap().status().is_success());
        console_stack_as(&s, variant).await;
        let (file, text) = init(&s, CLUSTER, &format!("variant-{}", what.replace(' ', "-")), &["--job", "iris-pipeline"]).await;
        let f = file.to_str().unwrap();
        let plan = s.ecsdeploy(&["plan", "--json", "-f", f]).await;
        plan.assert_ok(what);
        let changed: Vec<(String, String)> = actions(&plan.stdout).into_iter().filter(|(_, a)| !["adopt", "no_op", "read"].contains(&a.as_str())).collect();
        assert!(changed.is_empty(), "{what}: only adoptions, got {changed:?}\n{text}\n{}", plan.stdout);
        // And an adoption only tags (the console's service may still be finishing its first rollout).
        let doc: serde_json::Value = serde_json::from_str(&plan.stdout).unwrap();
        for c in doc["changes"].as_array().unwrap() {
            for field in c["fields"].as_array().unwrap() {
                assert!(["tags", "rollout"].contains(&field["field"].as_str().unwrap()), "{what}: {} changes {field}\n{text}", c["address"]);
            }
        }
        s.ecsdeploy(&["apply", "--auto-approve", "-f", f]).await.assert_ok(what);
        assert_eq!(s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", f]).await.code, 0, "{what}: nothing left to change");
    }
}

#[tokio::test]
async fn init_on_a_stack_ecsdeploy_made_gives_back_a_spec_with_an_empty_plan() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve"]).await.assert_ok("apply deploy.toml");
    let (file, text) = init(&s, CLUSTER, "roundtrip", &[]).await;
    let f = file.to_str().unwrap();
    for expected in [
        "name = \"iris\"",
        "ami = \"amazon-linux-2023\"",
        "instance_type = \"t3.micro\"",
        "subnets = \"default\"",
        "[jobs.iris-pipeline]",
        "ssh_cidrs = [\"165.124.160.0/21\"]",
    ] {
        assert!(text.contains(expected), "`{expected}` missing:\n{text}");
    }
    assert!(!text.contains("[roles.iris-ecs") && !text.contains("launch_template ="), "the stack's own names are defaults, not written:\n{text}");
    let plan = s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", f]).await;
    assert_eq!(plan.code, 0, "the plan is empty:\n{}\n{}\n{text}", plan.stdout, plan.stderr);

    // What does not exist is said plainly, and nothing is written.
    let other = scratch("missing");
    let o = other.to_str().unwrap();
    let missing = s.ecsdeploy(&["init", "--from-cluster", "nope", "-o", o]).await;
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("no active cluster `nope`") && missing.stderr.contains("list-clusters"), "{}", missing.stderr);
    let missing = s.ecsdeploy(&["init", "--from-cluster", CLUSTER, "--service", "nope", "-o", o]).await;
    assert!(missing.code == 1 && missing.stderr.contains("no active service `nope`"), "{}", missing.stderr);
    assert!(!other.exists());
}

#[tokio::test]
async fn init_gives_back_the_load_balancer_example() {
    let s = session().await;
    s.tutorial_prerequisites().await;
    s.ecsdeploy(&["apply", "--auto-approve", "-f", "examples/iris-alb.toml"]).await.assert_ok("apply the ALB example");
    let (file, text) = init(&s, "iris-alb", "alb", &[]).await;
    let f = file.to_str().unwrap();
    for expected in [
        "[load_balancer]",
        "name = \"iris-alb\"",
        "allow_cidrs = [\"165.124.160.0/21\"]",
        "load_balancer = { container = \"inference\", port = 80 }",
        "health_check_path = \"/\"",
    ] {
        assert!(text.contains(expected), "`{expected}` missing:\n{text}");
    }
    let plan = s.ecsdeploy(&["plan", "--detailed-exitcode", "-f", f]).await;
    assert_eq!(plan.code, 0, "the plan is empty:\n{}\n{}\n{text}", plan.stdout, plan.stderr);
}
