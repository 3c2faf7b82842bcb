"""Deletions as AWS does them: slow, and refused while something still depends on the resource.

Each behaviour has its own switch; durations come from the timing profile.

- capacity_provider_deletion: DeleteCapacityProvider is asynchronous. It answers 200 with the
  provider still `status ACTIVE`, `updateStatus DELETE_IN_PROGRESS`; after the profile's
  `capacity_provider_delete` it is `INACTIVE` / `DELETE_COMPLETE`, still shown by name for
  `inactive_provider_visible`, then gone. Its name stays taken while the deletion runs (the
  `already exists` ClientException); it is free again once INACTIVE (**unsure**). While the
  provider is associated with a cluster AWS does not raise: the answer is `updateStatus
  DELETE_FAILED`, `updateStatusReason` "The capacity provider cannot be deleted because it is
  associated with cluster: NAME. Remove the capacity provider from the cluster and try again."
  (AWS knowledge center "ecs-capacity-provider-error"; hashicorp/terraform-provider-aws#48156,
  whose delete waiter now fails on DELETE_FAILED; ekristen/aws-nuke#540). CloudFormation took
  ~23 s from DELETE_IN_PROGRESS to DELETE_COMPLETE in aws/aws-cdk#18179.
- one_provider_per_group: a group backs one provider. CreateCapacityProvider naming a group that a
  provider (not INACTIVE) already uses -> ClientException "The specified Auto Scaling group ARN is
  already being used by another capacity provider. Specify a unique Auto Scaling group ARN and try
  again." (aws/containers-roadmap#632).
- provider_in_use: PutClusterCapacityProviders that leaves out a provider still used by a task
  that has not stopped, or by a service's strategy -> ResourceInUseException "The specified
  capacity provider is in use and cannot be removed." (API_PutClusterCapacityProviders: "You can
  only disassociate an existing capacity provider from a cluster if it's not being used by any
  existing tasks"; the text from pahud/cdk-fargate-patterns#71, aws/containers-roadmap#631 and the
  knowledge center page). terraform retries PutClusterCapacityProviders on it
  (internal/service/ecs/cluster_capacity_providers.go, retryClusterCapacityProvidersPut).
- cluster_attachments: the cluster's capacity provider attachments change asynchronously. After a
  PutClusterCapacityProviders the cluster shows `attachmentsStatus UPDATE_IN_PROGRESS` for the
  profile's `cluster_attachments`, then `UPDATE_COMPLETE`. Meanwhile another
  PutClusterCapacityProviders -> UpdateInProgressException (terraform retries it, same function;
  the message is **unsure**, none found); DeleteCluster -> ClientException "The Cluster cannot be
  deleted while Cluster Scoped Capacity Providers are attached to the cluster" (quoted in
  hashicorp/terraform-provider-aws#45794, right after the providers were removed); and a removed
  provider still counts as associated (DeleteCapacityProvider -> DELETE_FAILED).
- cluster_deletion: DeleteCluster refuses while the cluster has services (ACTIVE or DRAINING),
  container instances or tasks: ClusterContainsServicesException "The Cluster cannot be deleted
  while Services are active.", ClusterContainsContainerInstancesException "... while Container
  Instances are active or draining.", ClusterContainsTasksException "... while Tasks are active."
  (API_DeleteCluster). Capacity providers associated with a settled cluster do not stop it
  (**unsure**: the model's ClusterContainsCapacityProviderException names Managed Instances
  providers).
- service_draining: DeleteService (scaled to 0 or force) -> DRAINING while its tasks stop (the
  targets' deregistration delay, then the stop steps), then INACTIVE; CreateService with the name of
  a DRAINING service -> InvalidParameterException "Unable to Start a service that is still
  Draining." (API_DeleteService: "the service status moves from ACTIVE to DRAINING, and the service
  is no longer visible in the console or in the ListServices API operation. After all tasks have
  transitioned to either STOPPING or STOPPED status, the service status moves from DRAINING to
  INACTIVE").
- instance_shutdown: a terminated EC2 instance is `shutting-down` for the profile's
  `instance_termination`, then `terminated` (EC2 "Instance lifecycle"; TerminateInstances answers
  CurrentState shutting-down). Its container instance deregisters at once (capacity.py).
- asg_deletion: DeleteAutoScalingGroup (API_DeleteAutoScalingGroup; terraform's AWS provider retries
  the delete on ScalingActivityInProgress, hashicorp/terraform#1840):
  while a group's instance is launching (pending) or terminating (shutting-down) ->
  ScalingActivityInProgress "You cannot delete an AutoScalingGroup while there are scaling
  activities in progress for that group." (hashicorp/terraform#1512, cloud-custodian#1689);
  without ForceDelete while instances remain -> ResourceInUse "You cannot delete an
  AutoScalingGroup while there are instances or pending Spot instance request(s) still in the
  group." (ansible/ansible#8503, cloud-custodian#1686). Accepted: the group stays described with
  `Status "Delete in progress"` (the API's value, as kubernetes-sigs/cluster-api-provider-aws
  names it), its instances `Terminating` and shutting-down, and disappears once they are
  terminated. Meanwhile CreateAutoScalingGroup with its name -> AlreadyExists "AutoScalingGroup by
  this name already exists - A group with the name NAME already exists" (hashicorp/terraform#17489;
  also for a group that is not being deleted: moto replaced it), and UpdateAutoScalingGroup /
  SetDesiredCapacity -> ValidationError "The AutoScaling group may not be modified while it is
  pending delete" (kubernetes/kops#844).
- security_group_dependencies: DeleteSecurityGroup -> DependencyViolation "resource sg-... has a
  dependent object" while an instance that is not terminated, a network interface (an awsvpc
  task's, enis.py), a load balancer, or another group's rule uses the group (terraform-aws-modules/
  terraform-aws-security-group#190, gruntwork-io/cloud-nuke#316 for rules).
- lb_eni_linger: a deleted load balancer's network interfaces go away later: its groups stay "in
  use" for the profile's `lb_eni_linger` after DeleteLoadBalancer (terraform elbv2
  load_balancer.go: "ALB automatically creates ENI(s) on creation but the cleanup is asynchronous
  and may take time which then blocks IGW, SG or VPC on deletion", cleanupALBNetworkInterfaces).
  The ENIs themselves are not listed by DescribeNetworkInterfaces.

Moto already does, with AWS's words (not patched): IAM DeleteRole while the role is in an instance
profile / has attached / inline policies and DeleteInstanceProfile with roles -> DeleteConflict
"Cannot delete entity, must remove roles from instance profile first." / "... must detach all
policies first." / "... must delete policies first.". Patched wording only: DeleteTargetGroup
while a listener or rule forwards to it -> ResourceInUse "Target group 'ARN' is currently in use by
a listener or a rule" (moto began it "The target group"; hashicorp/terraform#13076,
cloudposse/terraform-aws-alb-ingress#24).
"""

import logging

from moto.autoscaling.exceptions import AutoscalingClientError, ValidationError
from moto.autoscaling.models import AutoScalingBackend
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import ActionResult
from moto.ec2.exceptions import DependencyViolationError, InvalidSecurityGroupNotFoundError
from moto.ec2.models.instances import Instance, InstanceState
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.ecs.exceptions import ECSException, EcsClientException, InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend
from moto.ecs.responses import EC2ContainerServiceResponse
from moto.elbv2.exceptions import ResourceInUseError
from moto.elbv2.models import ELBv2Backend

from . import simulator
from .settings import SETTINGS
from .timing import profile

log = logging.getLogger("ecsworld.deletion")

NO_PROVIDER = "The specified capacity provider does not exist. Specify a valid name or ARN and try again."
GROUP_TAKEN = ("The specified Auto Scaling group ARN is already being used by another capacity provider. Specify a "
               "unique Auto Scaling group ARN and try again.")
PROVIDER_IN_USE = "The specified capacity provider is in use and cannot be removed."
ATTACHMENTS_UPDATING = "The cluster capacity providers are being updated. Try again later."  # unsure
CLUSTER_SCOPED = "The Cluster cannot be deleted while Cluster Scoped Capacity Providers are attached to the cluster"

_providers = {}  # provider arn -> [backend, provider, when the next state is due]
_attachments = {}  # cluster arn -> [cluster, due, names removed by the update]
_shutting = {}  # instance id -> (instance, due)
_groups = {}  # (account, region, name) -> (backend, group)
_lb_groups = {}  # (account, region, load balancer arn) -> (group ids, due)


def reset():
    for table in (_providers, _attachments, _shutting, _groups, _lb_groups):
        table.clear()


def _now():
    return simulator.SIM.now()


def tick(now):
    """Move what is being deleted on when its time has come (under the world lock)."""
    for arn, (backend, provider, due) in list(_providers.items()):
        if now < due:
            continue
        if provider.status != "INACTIVE":
            provider.status, provider.update_status = "INACTIVE", "DELETE_COMPLETE"
            _providers[arn][2] = now + profile().inactive_provider_visible
            log.info("capacity provider %s INACTIVE", provider.name)
        else:
            if backend.capacity_providers.get(provider.name) is provider:
                del backend.capacity_providers[provider.name]
            del _providers[arn]
    for arn, (cluster, due, _removed) in list(_attachments.items()):
        if now >= due:
            cluster.attachments_status = "UPDATE_COMPLETE"
            del _attachments[arn]
    for iid, (instance, due) in list(_shutting.items()):
        if now >= due:
            instance._state = InstanceState("terminated", 48)
            del _shutting[iid]
    for key, (backend, group) in list(_groups.items()):
        if all(s.instance.state == "terminated" for s in group.instance_states):
            group.instance_states = []
            del _groups[key]
            _orig_backend_delete_group(backend, group.name)
            log.info("auto scaling group %s deleted", group.name)
    for key, (_ids, due) in list(_lb_groups.items()):
        if now >= due:
            del _lb_groups[key]


# --- ECS: capacity providers -----------------------------------------------------------------
def _associated_cluster(backend, name):
    """The cluster a provider is associated with, counting removals still being applied."""
    for cluster in backend.clusters.values():
        if cluster.status == "ACTIVE" and name in (cluster.capacity_providers or []):
            return cluster
    if SETTINGS.on("cluster_attachments"):
        for cluster, _due, removed in _attachments.values():
            if name in removed and cluster.name in backend.clusters:
                return cluster
    return None


def _same_group(a, b):
    """Two autoScalingGroupArn values name the same group (ARN or name)."""
    def name(ref):
        return (ref or "").rsplit("autoScalingGroupName/", 1)[-1]
    return bool(a) and bool(b) and name(a) == name(b)


def delete_capacity_provider(self, name_or_arn):
    provider = self._get_provider(name_or_arn)
    if provider is None:
        raise EcsClientException(NO_PROVIDER)
    if provider.status == "INACTIVE":
        return provider
    if not SETTINGS.on("capacity_provider_deletion"):
        self.capacity_providers.pop(provider.name, None)
        provider.status, provider.update_status = "INACTIVE", "DELETE_COMPLETE"
        return provider
    cluster = _associated_cluster(self, provider.name)
    if cluster is not None:
        provider.update_status = "DELETE_FAILED"
        provider.update_status_reason = (f"The capacity provider cannot be deleted because it is associated with "
                                         f"cluster: {cluster.name}. Remove the capacity provider from the cluster and "
                                         f"try again.")
        return provider
    if provider.update_status != "DELETE_IN_PROGRESS":
        provider.update_status, provider.update_status_reason = "DELETE_IN_PROGRESS", None
        _providers[provider.capacity_provider_arn] = [self, provider, _now() + profile().capacity_provider_delete]
    return provider


_orig_create_cp = EC2ContainerServiceBackend.create_capacity_provider


def create_capacity_provider(self, name, asg_details, tags):
    existing = self.capacity_providers.get(name)
    if existing is not None and existing.status == "INACTIVE":
        del self.capacity_providers[name]  # an INACTIVE provider's name is free again (unsure)
        _providers.pop(existing.capacity_provider_arn, None)
    elif SETTINGS.on("one_provider_per_group") and existing is None:
        ref = (asg_details or {}).get("autoScalingGroupArn")
        if any(p.status != "INACTIVE" and _same_group(ref, (p.auto_scaling_group_provider or {}).get("autoScalingGroupArn"))
               for p in self.capacity_providers.values()):
            raise EcsClientException(GROUP_TAKEN)
    return _orig_create_cp(self, name, asg_details, tags)


EC2ContainerServiceBackend.delete_capacity_provider = delete_capacity_provider
EC2ContainerServiceBackend.create_capacity_provider = create_capacity_provider


# --- ECS: PutClusterCapacityProviders -------------------------------------------------------
def _in_use(backend, cluster, name):
    sim = simulator.SIM
    for st in sim.tasks.by_arn.values():
        task = st.task
        if (st.backend is backend and task.cluster_name == cluster.name and task.last_status != "STOPPED"
                and task.capacity_provider_name == name):
            return True
    return any(s.cluster_name == cluster.name and s.status in ("ACTIVE", "DRAINING")
               and any(i.get("capacityProvider") == name for i in s.capacity_provider_strategy or [])
               for s in backend.services.values())


_orig_put_cluster_cps = EC2ContainerServiceBackend.put_cluster_capacity_providers


def put_cluster_capacity_providers(self, cluster_name, capacity_providers, default_capacity_provider_strategy):
    cluster = self._get_cluster(cluster_name)
    if SETTINGS.on("cluster_attachments") and cluster.arn in _attachments:
        raise ECSException("UpdateInProgressException", ATTACHMENTS_UPDATING)
    before = list(cluster.capacity_providers or [])
    removed = [n for n in before if capacity_providers is not None and n not in capacity_providers]
    if SETTINGS.on("provider_in_use") and any(_in_use(self, cluster, n) for n in removed):
        raise ECSException("ResourceInUseException", PROVIDER_IN_USE)
    cluster = _orig_put_cluster_cps(self, cluster_name, capacity_providers, default_capacity_provider_strategy)
    if SETTINGS.on("cluster_attachments"):
        cluster.attachments_status = "UPDATE_IN_PROGRESS"
        _attachments[cluster.arn] = [cluster, _now() + profile().cluster_attachments, set(removed)]
    else:
        cluster.attachments_status = "UPDATE_COMPLETE"
    return cluster


EC2ContainerServiceBackend.put_cluster_capacity_providers = put_cluster_capacity_providers


# --- ECS: DeleteCluster -----------------------------------------------------------------------
_orig_delete_cluster = EC2ContainerServiceBackend.delete_cluster


def delete_cluster(self, cluster_str):
    cluster = self._get_cluster(cluster_str)
    if SETTINGS.on("cluster_deletion"):
        if any(s.cluster_name == cluster.name and s.status in ("ACTIVE", "DRAINING") for s in self.services.values()):
            raise ECSException("ClusterContainsServicesException", "The Cluster cannot be deleted while Services are active.")
        if any(ci.status in ("ACTIVE", "DRAINING") for ci in self.container_instances.get(cluster.name, {}).values()):
            raise ECSException("ClusterContainsContainerInstancesException",
                               "The Cluster cannot be deleted while Container Instances are active or draining.")
        if any(t.last_status != "STOPPED" for t in self.tasks.get(cluster.name, {}).values()):
            raise ECSException("ClusterContainsTasksException", "The Cluster cannot be deleted while Tasks are active.")
    if SETTINGS.on("cluster_attachments") and cluster.arn in _attachments:
        raise EcsClientException(CLUSTER_SCOPED)
    return _orig_delete_cluster(self, cluster_str)


EC2ContainerServiceBackend.delete_cluster = delete_cluster


# --- ECS: DeleteService, and CreateService on a DRAINING name ----------------------------------
class ServiceNotActiveException(ECSException):
    def __init__(self):
        super().__init__("ServiceNotActiveException", "Service was not ACTIVE.")


def delete_service_response(self):
    backend = self.ecs_backend
    cluster = backend._get_cluster(self._get_param("cluster", "default"))
    service = backend._get_service(cluster.name, self._get_param("service").split("/")[-1])
    if service.status != "ACTIVE":
        raise ServiceNotActiveException()
    if service.desired_count > 0 and not self._get_param("force", False):
        raise InvalidParameterException("The service cannot be stopped while it is scaled above 0.")
    service.desired_count = 0
    if SETTINGS.on("service_draining"):
        service.status = "DRAINING"  # the scheduler stops its tasks, then makes it INACTIVE
        return ActionResult({"service": service})
    service.status = "INACTIVE"
    sim = simulator.SIM
    for st in list(sim.tasks.by_arn.values()):
        if (st.backend is backend and st.service_key == f"{cluster.name}:{service.name}"
                and st.status != "STOPPED" and st.task.desired_status != "STOPPED"):
            sim.tasks.request_stop(st.task, "Service deleted", "ServiceSchedulerInitiated")
    return ActionResult({"service": service})


_orig_create_service_response = EC2ContainerServiceResponse.create_service


def create_service_response(self):
    if SETTINGS.on("service_draining"):
        backend = self.ecs_backend
        cluster = backend._get_cluster(self._get_param("cluster", "default"))
        existing = backend.services.get(f"{cluster.name}:{self._get_param('serviceName')}")
        if existing is not None and existing.status == "DRAINING":
            raise InvalidParameterException("Unable to Start a service that is still Draining.")
    return _orig_create_service_response(self)


EC2ContainerServiceResponse.delete_service = delete_service_response
EC2ContainerServiceResponse.create_service = create_service_response


# --- EC2: instances shut down before they are terminated ---------------------------------------
_orig_terminate = Instance.terminate


def terminate(self):
    previous = _orig_terminate(self)
    sim = simulator.SIM
    if sim is not None and SETTINGS.on("instance_shutdown"):
        self._state = InstanceState("shutting-down", 32)
        _shutting[self.id] = (self, sim.now() + profile().instance_termination)
    return previous


Instance.terminate = terminate


# --- Auto Scaling: DeleteAutoScalingGroup ------------------------------------------------------
_orig_backend_delete_group = AutoScalingBackend.delete_auto_scaling_group  # autoscaling.py's, moto's inside


def _deleting(backend, name):
    return (backend.account_id, backend.region_name, name) in _groups


def _activity_in_progress(backend, group):
    if any(s.instance.state == "pending" for s in group.instance_states):
        return True
    return any(getattr(i, "autoscaling_group", None) is group for i, _due in _shutting.values())


def delete_auto_scaling_group_response(self):
    backend = self.autoscaling_backend
    name = self._get_param("AutoScalingGroupName")
    group = backend.autoscaling_groups.get(name)
    if group is None or not SETTINGS.on("asg_deletion"):
        backend.delete_auto_scaling_group(name)
        return ActionResult({})
    if _deleting(backend, name):
        return ActionResult({})
    if _activity_in_progress(backend, group):
        raise AutoscalingClientError("ScalingActivityInProgress", "You cannot delete an AutoScalingGroup while there are "
                                     "scaling activities in progress for that group.")
    if group.instance_states and not self._get_param("ForceDelete", False):
        raise AutoscalingClientError("ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances "
                                     "or pending Spot instance request(s) still in the group.")
    group.status = "Delete in progress"
    simulator.SIM.autoscaling.retry_at.pop((backend.account_id, backend.region_name, name), None)
    running = [s for s in group.instance_states if s.instance.state not in ("shutting-down", "terminated")]
    for state in group.instance_states:
        state.lifecycle_state = "Terminating"
    if running:
        backend.ec2_backend.terminate_instances([s.instance.id for s in running])
    _groups[(backend.account_id, backend.region_name, name)] = (backend, group)
    return ActionResult({})


_orig_create_group = AutoScalingBackend.create_auto_scaling_group


def create_auto_scaling_group(self, name, *args, **kwargs):
    if SETTINGS.on("asg_deletion") and name in self.autoscaling_groups:
        raise AutoscalingClientError("AlreadyExists", f"AutoScalingGroup by this name already exists - A group with the "
                                     f"name {name} already exists")
    return _orig_create_group(self, name, *args, **kwargs)


def _not_while_deleting(fn):
    def response(self):
        if SETTINGS.on("asg_deletion") and _deleting(self.autoscaling_backend, self._get_param("AutoScalingGroupName")):
            raise ValidationError("The AutoScaling group may not be modified while it is pending delete")
        return fn(self)
    return response


AutoScalingResponse.delete_auto_scaling_group = delete_auto_scaling_group_response
AutoScalingBackend.create_auto_scaling_group = create_auto_scaling_group
AutoScalingResponse.update_auto_scaling_group = _not_while_deleting(AutoScalingResponse.update_auto_scaling_group)
AutoScalingResponse.set_desired_capacity = _not_while_deleting(AutoScalingResponse.set_desired_capacity)


# --- EC2: DeleteSecurityGroup while something uses the group ------------------------------------
def _group_users(ec2, group_id):
    """Whether anything the world knows still uses the group."""
    sim = simulator.SIM
    for instance in ec2.all_instances():
        if instance.state != "terminated" and any(g.id == group_id for g in sim.firewall.instance_groups(ec2, instance)):
            return True
    if any(group_id in (getattr(eni, "group_ids", None) or []) for eni in ec2.enis.values()):
        return True
    for account_id, region, elb in sim.loaded(sim.elbv2_backends):
        if (account_id, region) == (ec2.account_id, ec2.region_name) and any(
                group_id in (lb.security_groups or []) for lb in elb.load_balancers.values()):
            return True
    if any(key[:2] == (ec2.account_id, ec2.region_name) and group_id in ids for key, (ids, _due) in _lb_groups.items()):
        return True
    for groups in ec2.groups.values():
        for other in groups.values():
            if other.id == group_id:
                continue
            for rule in list(other.ingress_rules) + list(other.egress_rules):
                if (rule.source_group or {}).get("GroupId") == group_id:
                    return True
    return False


_orig_delete_sg = SecurityGroupBackend.delete_security_group


def delete_security_group(self, name=None, group_id=None):
    if simulator.SIM is not None and SETTINGS.on("security_group_dependencies"):
        group = self.get_security_group_from_id(group_id) if group_id else self.get_security_group_by_name_or_id(name)
        if group is None:
            raise InvalidSecurityGroupNotFoundError(group_id or name)
        if _group_users(self, group.id):
            raise DependencyViolationError(f"resource {group.id} has a dependent object")
    return _orig_delete_sg(self, name, group_id)


SecurityGroupBackend.delete_security_group = delete_security_group


# --- ELBv2: a deleted load balancer's ENIs linger; DeleteTargetGroup's wording ------------------
_orig_delete_lb = ELBv2Backend.delete_load_balancer


def delete_load_balancer(self, arn):
    lb = self.load_balancers.get(arn)
    sim = simulator.SIM
    if lb is not None and sim is not None and SETTINGS.on("lb_eni_linger"):
        ec2 = sim.ec2_backends[self.account_id][self.region_name]
        ids = {g.id for g in sim.firewall.load_balancer_groups(ec2, lb)}
        _lb_groups[(self.account_id, self.region_name, arn)] = (ids, sim.now() + profile().lb_eni_linger)
    return _orig_delete_lb(self, arn)


_orig_delete_tg = ELBv2Backend.delete_target_group


def delete_target_group(self, target_group_arn):
    try:
        return _orig_delete_tg(self, target_group_arn)
    except ResourceInUseError:
        raise ResourceInUseError(f"Target group '{target_group_arn}' is currently in use by a listener or a rule")


ELBv2Backend.delete_load_balancer = delete_load_balancer
ELBv2Backend.delete_target_group = delete_target_group
