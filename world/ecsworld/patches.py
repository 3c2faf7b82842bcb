"""Where moto 5.2.5's API answers differ from AWS in ways ecsdeploy depends on,
and the fix: ECS clusters, services, tasks and task definition families, two EC2 details.

Patches that belong to a simulated behaviour live with it: RunInstances and
capacity providers in capacity.py, Auto Scaling activities in autoscaling.py,
load balancers and target health in loadbalancing.py, DescribeInstanceTypes in
accounts.py. Each patch replaces one moto method in this process (class-level, so it
survives /moto-api/reset). Request handlers run under the world lock (see
server.py), so they may call the simulator directly. The simulator owns task
placement and lifecycle; moto keeps the records (clusters, services, tasks,
container instances, target groups) and serialises them, so attributes set
here on moto's objects (snake_case) come out in API responses (camelCase).
"""

import copy
import logging

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.ecs.exceptions import (
    ClusterNotFoundException,
    ECSException,
    InvalidParameterException,
)
from moto.ecs.models import EC2ContainerServiceBackend, Task
from moto.ecs.responses import DESCRIBE_TASKS_TAGS, EC2ContainerServiceResponse
from moto.core.resource_tagging import TaggedResource
from moto.ec2.models import EC2Backend
from moto.ec2.models.launch_templates import LaunchTemplate
from moto.ec2.models.security_groups import SecurityGroupRule

from . import consistency, enis, loadbalancing, simulator

log = logging.getLogger("ecsworld.patches")

DEFAULT_DEPLOYMENT_CONFIGURATION = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}


def _sim():
    return simulator.SIM


class ServiceNotActiveException(ECSException):
    def __init__(self):
        super().__init__("ServiceNotActiveException", "Service was not ACTIVE.")


# --- tasks: the simulator owns the lifecycle ---------------------------------
# moto's Task is a ManagedState that moves one status per DescribeTasks call;
# freeze it: `status` is now a plain attribute the simulator sets.
def _get_status(self):
    return self._status


def _set_status(self, value):
    self._status = value


Task.status = property(_get_status, _set_status)
Task.advance = lambda self: None


# --- clusters ------------------------------------------------------------------
_orig_create_cluster = EC2ContainerServiceBackend.create_cluster


def create_cluster(self, cluster_name, *args, **kwargs):
    # AWS: CreateCluster on an existing ACTIVE cluster returns it unchanged.
    # moto replaced it with a fresh, empty one.
    existing = self.clusters.get(cluster_name)
    if existing is not None and existing.status == "ACTIVE":
        return existing
    return _orig_create_cluster(self, cluster_name, *args, **kwargs)


EC2ContainerServiceBackend.create_cluster = create_cluster


# --- services ------------------------------------------------------------------
def _check_strategy(backend, cluster, strategy):
    for item in strategy or []:
        name = item.get("capacityProvider")
        if name in ("FARGATE", "FARGATE_SPOT"):
            continue
        if name not in (cluster.capacity_providers or []):
            raise InvalidParameterException(
                "The specified capacity provider strategy cannot contain a capacity provider that is not "
                "associated with the cluster. Associate the capacity provider with the cluster or specify a "
                "valid capacity provider and try again."
            )


def _check_load_balancers(backend, load_balancers):
    from moto.elbv2.models import elbv2_backends

    elb = elbv2_backends[backend.account_id][backend.region_name]
    for lb in load_balancers or []:
        arn = lb.get("targetGroupArn")
        if not arn:
            continue
        tg = elb.target_groups.get(arn)
        if tg is None:
            raise InvalidParameterException(f"Unable to find target group {arn}")
        if not tg.load_balancer_arns:
            raise InvalidParameterException(
                f"The target group with targetGroupArn {arn} does not have an associated load balancer."
            )
        consistency.check_target_group_associated(arn)


def _merged_deployment_configuration(current, given):
    merged = copy.deepcopy(current or DEFAULT_DEPLOYMENT_CONFIGURATION)
    for key, value in (given or {}).items():
        merged[key] = copy.deepcopy(value)
    return merged


_orig_create_service_response = EC2ContainerServiceResponse.create_service


def create_service_response(self):
    backend = self.ecs_backend
    cluster = backend._get_cluster(self._get_param("cluster", "default"))
    name = self._get_param("serviceName")
    existing = backend.services.get(f"{cluster.name}:{name}")
    if existing is not None and existing.status == "ACTIVE":
        raise InvalidParameterException("Creation of service was not idempotent.")
    launch_type = self._get_param("launchType")
    strategy = self._get_param("capacityProviderStrategy")
    if launch_type and strategy:
        raise InvalidParameterException(
            "Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again."
        )
    if not launch_type and not strategy and cluster.default_capacity_provider_strategy:
        strategy = copy.deepcopy(cluster.default_capacity_provider_strategy)
    _check_strategy(backend, cluster, strategy)
    _check_load_balancers(backend, self._get_param("loadBalancers"))
    td_param = self._get_param("taskDefinition")
    loadbalancing.check_target_types(backend, backend.describe_task_definition(td_param) if td_param else None,
                                     self._get_param("loadBalancers"))
    enis.refuse_public_ip(launch_type, strategy, self._get_param("networkConfiguration"))

    result = _orig_create_service_response(self)
    service = result.result["service"]
    # Fields moto's create_service drops.
    service.capacity_provider_strategy = strategy or None
    if strategy:
        service.launch_type = None
    service.health_check_grace_period_seconds = self._get_param("healthCheckGracePeriodSeconds")
    service.deployment_configuration = _merged_deployment_configuration(None, self._get_param("deploymentConfiguration"))
    service.placement_constraints = self._get_param("placementConstraints") or []
    service.placement_strategy = self._get_param("placementStrategy") or []
    service.enable_ecs_managed_tags = bool(self._get_param("enableECSManagedTags"))
    service.enable_execute_command = bool(self._get_param("enableExecuteCommand"))
    service.created_at = utcnow()
    service.network_configuration = service.network_configuration or None  # AWS omits it when unset
    service.events = []
    service.running_count = 0
    service.pending_count = 0
    _sim().scheduler.init_service(backend, service)
    return result


def _check_update_network(backend, service, response):
    """UpdateService's refusals about networks, before anything changes: the
    service as it would be after the update."""
    td_str = response._get_param("taskDefinition")
    td = backend.describe_task_definition(td_str or service.task_definition)
    strategy = response._get_param("capacityProviderStrategy")
    if strategy is None:
        strategy = service.capacity_provider_strategy
    network = response._get_param("networkConfiguration")
    enis.refuse_public_ip(service.launch_type if not strategy else None, strategy,
                          network if network is not None else service.network_configuration)
    load_balancers = response._get_param("loadBalancers")
    loadbalancing.check_target_types(backend, td, load_balancers if load_balancers is not None else service.load_balancers)


def update_service_response(self):
    """AWS UpdateService, written out (moto's copied every parameter onto the
    service, set runningCount = desiredCount and never started a deployment)."""
    backend = self.ecs_backend
    cluster = backend._get_cluster(self._get_param("cluster", "default"))
    service = backend._get_service(cluster.name, self._get_param("service").split("/")[-1])
    if service.status != "ACTIVE":
        raise ServiceNotActiveException()
    _check_update_network(backend, service, self)
    new_deployment = bool(self._get_param("forceNewDeployment"))

    desired = self._get_param("desiredCount")
    if desired is not None:
        service.desired_count = int(desired)
    td_str = self._get_param("taskDefinition")
    if td_str:
        td = backend.describe_task_definition(td_str)
        if td.arn != service.task_definition:
            service.task_definition = td.arn
            new_deployment = True
    strategy = self._get_param("capacityProviderStrategy")
    if strategy is not None:
        _check_strategy(backend, cluster, strategy)
        if strategy != (service.capacity_provider_strategy or []):
            new_deployment = True
        service.capacity_provider_strategy = strategy or None
        if strategy:
            service.launch_type = None
    load_balancers = self._get_param("loadBalancers")
    if load_balancers is not None:
        _check_load_balancers(backend, load_balancers)
        if load_balancers != service.load_balancers:
            new_deployment = True
        service.load_balancers = load_balancers
    network = self._get_param("networkConfiguration")
    if network is not None:
        if network != service.network_configuration:
            new_deployment = True
        service.network_configuration = network
    given_config = self._get_param("deploymentConfiguration")
    if given_config is not None:
        service.deployment_configuration = _merged_deployment_configuration(
            getattr(service, "deployment_configuration", None), given_config
        )
    grace = self._get_param("healthCheckGracePeriodSeconds")
    if grace is not None:
        service.health_check_grace_period_seconds = grace
    for param, attr in (
        ("placementConstraints", "placement_constraints"),
        ("placementStrategy", "placement_strategy"),
        ("platformVersion", "platform_version"),
        ("propagateTags", "propagate_tags"),
        ("enableECSManagedTags", "enable_ecs_managed_tags"),
        ("enableExecuteCommand", "enable_execute_command"),
        ("serviceRegistries", "service_registries"),
    ):
        value = self._get_param(param)
        if value is not None:
            setattr(service, attr, value)
    if new_deployment:
        _sim().scheduler.new_deployment(backend, service)
    return ActionResult({"service": service})


def list_services_response(self):
    result = _orig_list_services_response(self)
    backend = self.ecs_backend
    inactive = {s.arn for s in backend.services.values() if s.status == "INACTIVE"}
    result.result["serviceArns"] = [a for a in result.result["serviceArns"] if a not in inactive]
    return result


_orig_list_services_response = EC2ContainerServiceResponse.list_services


# --- tasks ------------------------------------------------------------------------
def run_task_response(self):
    backend = self.ecs_backend
    cluster = backend._get_cluster(self._get_param("cluster", "default"))
    if cluster.status != "ACTIVE":
        raise ClusterNotFoundException()
    td = backend.describe_task_definition(self._get_param("taskDefinition"))
    launch_type = self._get_param("launchType")
    strategy = self._get_param("capacityProviderStrategy")
    if launch_type and launch_type not in ("EC2", "FARGATE", "EXTERNAL"):
        raise InvalidParameterException("launch type should be one of [EC2,FARGATE,EXTERNAL]")
    if launch_type and strategy:
        raise InvalidParameterException("Specify either Launch Type or Capacity Provider Strategy, but not both.")
    if not launch_type and not strategy:
        strategy = cluster.default_capacity_provider_strategy
    _check_strategy(backend, cluster, strategy)
    enis.refuse_public_ip(launch_type, strategy, self._get_param("networkConfiguration"))
    count = self._get_int_param("count", 1)
    tasks, failures = _sim().tasks.run_task(
        backend,
        cluster,
        td,
        count=count,
        started_by=self._get_param("startedBy") or "",
        group=self._get_param("group") or f"family:{td.family}",
        launch_type=launch_type,
        strategy=strategy,
        overrides=self._get_param("overrides"),
        tags=self._get_param("tags"),
        network_configuration=self._get_param("networkConfiguration"),
    )
    return ActionResult({"tasks": tasks, "failures": failures})


def _find_task(backend, cluster, ref):
    for arn, task in backend.tasks.get(cluster.name, {}).items():
        if ref == arn or arn.endswith("/" + ref):
            return task
    return None


def describe_tasks_response(self):
    backend = self.ecs_backend
    cluster = backend._get_cluster(self._get_param("cluster", "default"))
    refs = self._get_param("tasks", [])
    if not refs:
        raise InvalidParameterException("Tasks cannot be empty.")
    if len(refs) > 100:
        raise InvalidParameterException("Tasks cannot have more than 100 entries.")
    tasks, failures = [], []
    for ref in refs:
        task = _find_task(backend, cluster, ref)
        if task is not None:
            tasks.append(task)
        else:
            arn = ref if ref.startswith("arn:") else f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:task/{cluster.name}/{ref}"
            failures.append({"arn": arn, "reason": "MISSING"})
    if "TAGS" in self._get_param("include", []):
        self._include_in_response(DESCRIBE_TASKS_TAGS)
    else:
        self._exclude_from_response(DESCRIBE_TASKS_TAGS)
    return ActionResult({"tasks": tasks, "failures": failures})


def list_tasks_response(self):
    backend = self.ecs_backend
    cluster = backend._get_cluster(self._get_param("cluster", "default"))
    container_instance = self._get_param("containerInstance")
    family = self._get_param("family")
    started_by = self._get_param("startedBy")
    service_name = self._get_param("serviceName")
    # AWS: without desiredStatus only tasks whose desired status is RUNNING.
    desired = self._get_param("desiredStatus") or "RUNNING"
    launch_type = self._get_param("launchType")
    arns = []
    for arn, task in backend.tasks.get(cluster.name, {}).items():
        if task.desired_status != desired:
            continue
        if container_instance and (task.container_instance_arn or "").split("/")[-1] != container_instance.split("/")[-1]:
            continue
        if family and task.task_definition_arn.split("/")[-1].rsplit(":", 1)[0] != family:
            continue
        if started_by and task.started_by != started_by:
            continue
        if service_name and task.group != f"service:{service_name.split('/')[-1]}":
            continue
        if launch_type and (task.launch_type or "EC2") != launch_type:
            continue
        arns.append(arn)
    return ActionResult({"taskArns": arns})


def stop_task_response(self):
    backend = self.ecs_backend
    cluster = backend._get_cluster(self._get_param("cluster", "default"))
    task = _find_task(backend, cluster, self._get_param("task"))
    if task is None:
        raise InvalidParameterException("The referenced task was not found.")
    _sim().tasks.request_stop(task, self._get_param("reason") or "Task stopped by user", "UserInitiated")
    return ActionResult({"task": task})


def start_task_response(self):
    raise InvalidParameterException("StartTask is not supported by the local AWS world; use RunTask.")


EC2ContainerServiceResponse.create_service = create_service_response
EC2ContainerServiceResponse.update_service = update_service_response
EC2ContainerServiceResponse.list_services = list_services_response
EC2ContainerServiceResponse.run_task = run_task_response
EC2ContainerServiceResponse.describe_tasks = describe_tasks_response
EC2ContainerServiceResponse.list_tasks = list_tasks_response
EC2ContainerServiceResponse.stop_task = stop_task_response
EC2ContainerServiceResponse.start_task = start_task_response


# --- EC2: a rule from another group keeps its description ----------------------------
# moto reads a rule's description from its CIDR range only, so DescribeSecurityGroupRules drops
# the description of group-sourced rules; AWS returns it.
def _rule_description(self):
    return self.ip_range.get("Description") or (self.source_group or {}).get("Description")


SecurityGroupRule.description = property(_rule_description)


# --- EC2: a launch template's tags are its tags now --------------------------------------------
# moto copies the tags into the template when it is created, so tags added later with CreateTags
# never show in DescribeLaunchTemplates; AWS shows them (adopting a template tags it that way).
def _lt_tags(self):
    return self.get_tags()


LaunchTemplate.tags = property(_lt_tags, lambda self, value: None)

# --- ECS: ListTaskDefinitionFamilies honours `status` -----------------------------------------
# moto lists every family whatever `status` says. AWS (API reference, ListTaskDefinitionFamilies):
# ACTIVE lists only families with an ACTIVE revision, INACTIVE only those without one, no status
# both. Deregistered families would otherwise look alive forever to whoever asks for ACTIVE ones.
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_ListTaskDefinitionFamilies.html
def list_task_definition_families_response(self):
    prefix = self._get_param("familyPrefix")
    status = self._get_param("status")
    families = []
    for family, revisions in self.ecs_backend.task_definitions.items():
        if prefix and not family.startswith(prefix):
            continue
        active = any(td.status == "ACTIVE" for td in revisions.values())
        if status in (None, "ALL") or (status == "ACTIVE") == active:
            families.append(family)
    return ActionResult({"families": families})


EC2ContainerServiceResponse.list_task_definition_families = list_task_definition_families_response

# --- Tagging API: GetResources lists every type AWS lists -------------------------------------
# moto's GetResources leaves out ECS capacity providers, EC2 launch templates and security group
# rules. AWS: "The GetResources, GetTagKeys, and GetTagValues operations support all resource
# types", IAM roles and Auto Scaling groups aside (which moto leaves out too).
# https://docs.aws.amazon.com/resourcegroupstagging/latest/APIReference/supported-services.html
_ecs_tagged = EC2ContainerServiceBackend.iter_tagged_resources
_ec2_tagged = EC2Backend.iter_tagged_resources


def _ecs_iter_tagged_resources(self):
    yield from _ecs_tagged(self)
    for cp in self.capacity_providers.values():
        tags = {t["key"]: t["value"] for t in (cp.tags or [])}
        yield TaggedResource(arn=cp.capacity_provider_arn, tags=tags, resource_type="ecs:capacity-provider")


def _ec2_iter_tagged_resources(self):
    yield from _ec2_tagged(self)
    prefix = f"arn:{self.partition}:ec2:{self.region_name}:{self.account_id}"
    for lt in self.launch_templates.values():
        yield TaggedResource(arn=f"{prefix}:launch-template/{lt.id}", tags=dict(self.tags.get(lt.id, {})), resource_type="ec2:launch-template")
    for groups in self.groups.values():
        for group in groups.values():
            for rule in list(group.ingress_rules) + list(group.egress_rules):
                tags = dict(self.tags.get(rule.id, {}))
                yield TaggedResource(arn=f"{prefix}:security-group-rule/{rule.id}", tags=tags, resource_type="ec2:security-group-rule")


EC2ContainerServiceBackend.iter_tagged_resources = _ecs_iter_tagged_resources
EC2Backend.iter_tagged_resources = _ec2_iter_tagged_resources

APPLIED = True
