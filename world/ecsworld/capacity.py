"""ECS capacity: EC2 instances coming up, the ECS agent registering them,
capacity providers, task placement, and managed scaling.

(a) Instances and the agent. RunInstances (direct or by an Auto Scaling group)
    passes accounts.py's refusals, then the instance is `pending` and becomes
    `running` after the profile's launch time. The agent registers a running
    instance whose user data says ECS_CLUSTER=<an ACTIVE cluster> after the
    agent delay, with the agent's resources for the type. The container
    instance's capacityProviderName is the provider whose Auto Scaling group
    launched it, as it is AT REGISTRATION, and never changes: "instances … that
    were already running and registered to an Amazon ECS cluster before the
    Auto Scaling group being used to create a capacity provider might not be
    properly registered with the capacity provider"
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/asg-capacity-providers.html;
    aws/containers-roadmap#653, #2055). A terminated instance's tasks stop
    (`Host EC2 (instance i-…) terminated.`) and it is deregistered.
(b) Placement (switch capacity_provider_placement). A task with a
    capacity-provider strategy (service, RunTask, or the cluster default) goes
    only on instances registered with that provider; launchType EC2 on any.
    Then ports, ENIs, memory, CPU (the most free memory wins). An awsvpc task
    needs one of the instance's network interfaces beyond its primary one
    (switch eni_limit; https://docs.aws.amazon.com/AmazonECS/latest/developerguide/container-instance-eni.html,
    the limits per type from EC2's NetworkInfo.MaximumNetworkInterfaces, as moto
    ships them and as https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/AvailableIpPerENI.html
    lists them: t2.micro, t3.micro, t4g.micro 2, so one task; t3.small 3),
    else RESOURCE:ENI (RunTask failures; the service event `… The closest
    matching (container-instance …) encountered error "RESOURCE:ENI". …`, as
    quoted in a public Terraform repository's notes). ENI trunking is not
    simulated. When nothing
    fits: with managed scaling ENABLED the task is created and waits in
    PROVISIONING until an instance with room appears ("If the Auto Scaling group
    can't scale out to accommodate the number of tasks run, the tasks fails to
    transition beyond the PROVISIONING state", same page; "the transition to
    provisioning only happens if you have enabled managed scaling … otherwise,
    tasks that can't find capacity will fail immediately", AWS blog quoted in
    PRX/Infrastructure#402); otherwise the service event `… Reason: No Container
    Instances were found in your capacity provider. …` (aws/containers-roadmap#653).
    AWS stopping tasks after a while in PROVISIONING could not be confirmed and
    is not simulated.
(c) Managed scaling (switch managed_scaling;
    https://docs.aws.amazon.com/AmazonECS/latest/developerguide/managed-scaling-behavior.html,
    cluster-auto-scaling.html, the "Deep Dive on Amazon ECS Cluster Auto Scaling"
    AWS blog). Every metric period, for each ACTIVE provider with managed scaling
    ENABLED that a cluster uses: N = the group's pending/running instances, M =
    instances needed (N plus enough for the tasks waiting for this provider, at
    least N + 1 when any wait; else the instances running tasks; 0 without
    tasks), CapacityProviderReservation = M / N x 100 (200 when N = 0 < M, 100
    when both are 0), desired -> ceil(M x 100 / targetCapacity) within
    [MinSize, MaxSize] and the scaling step sizes. Scale-out at the first
    evaluation that sees the need, but not while an instance is within its
    instanceWarmupPeriod; scale-in after the profile's scale-in delay of
    continuous lower need. With managedTerminationProtection ENABLED only
    instances without tasks lose their scale-in protection and go
    (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/managed-termination-protection.html).
    Each change is an Auto Scaling activity whose cause is ECS's target-tracking
    alarm (autoscaling.py).
(d) CreateCapacityProvider / UpdateCapacityProvider: with managed scaling
    ENABLED the group gets the tag AmazonECSManaged = "" (PropagateAtLaunch)
    (switch ecs_managed_tag; cluster-auto-scaling.html "Amazon ECS adds a tag to
    the Auto Scaling group"; terraform aws_ecs_capacity_provider docs); with
    managedTerminationProtection ENABLED the group and its instances must be
    protected from scale in, else ClientException (switch
    managed_termination_protection; text from ansible/ansible#68625 and
    aws/containers-roadmap#653).
"""

import base64
import copy
import logging
import math
import re

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.instance_types import INSTANCE_TYPES
from moto.ec2.models.instances import InstanceBackend, InstanceState
from moto.ecs.exceptions import EcsClientException
from moto.ecs.models import EC2ContainerServiceBackend

from . import accounts, consistency, simulator
from .settings import SETTINGS
from .timing import profile

log = logging.getLogger("ecsworld.capacity")

RESERVED_PORTS = ["22", "2375", "2376", "51678", "51679"]

# What the ECS agent registers per instance type (CPU units, MiB).
INSTANCE_RESOURCES = {
    "t2.nano": (1024, 459),
    "t2.micro": (1024, 982),
    "t2.small": (1024, 1993),
    "t2.medium": (2048, 3943),
    "t3.nano": (2048, 459),
    "t3.micro": (2048, 982),
    "t3.small": (2048, 1941),
    "t3.medium": (2048, 3928),
    "t3.large": (2048, 7820),
    "t4g.micro": (2048, 982),
    "t4g.small": (2048, 1941),
    "m5.large": (2048, 7680),
}
DEFAULT_RESOURCES = (2048, 3800)


def task_enis(instance_type):
    """ENIs an instance of this type can give awsvpc tasks: all but the primary."""
    info = (INSTANCE_TYPES.get(instance_type) or {}).get("NetworkInfo") or {}
    return max(0, int(info.get("MaximumNetworkInterfaces") or 3) - 1)

USER_DATA_CLUSTER = re.compile(r"ECS_CLUSTER=([A-Za-z0-9_-]+)")

MANAGED_TERMINATION_PROTECTION_INVALID = (
    "The managed termination protection setting for the capacity provider is invalid. To enable managed "
    "termination protection for a capacity provider, the Auto Scaling group must have instance protection "
    "from scale in enabled."
)


def _managed_scaling_on(provider):
    return ((provider.auto_scaling_group_provider or {}).get("managedScaling") or {}).get("status") == "ENABLED"


def _group_for(account_id, region, ref):
    """The Auto Scaling group a provider names (ARN or name), or None."""
    from moto.autoscaling.models import autoscaling_backends

    if not ref or account_id not in autoscaling_backends:
        return None
    backend = autoscaling_backends[account_id][region]
    for group in backend.autoscaling_groups.values():
        if ref in (group.arn, group.name) or ref.endswith("autoScalingGroupName/" + group.name):
            return group
    return None


class Capacity:
    def __init__(self, sim):
        self.sim = sim
        self.reset()

    def reset(self):
        self.instance_ips = {}  # instance id -> loopback ip
        self.launched_at = {}  # instance id -> monotonic time RunInstances accepted it
        self.running_at = {}  # instance id -> monotonic time it was first seen running
        self.registered = {}  # instance id -> (ecs backend, cluster name, container instance)
        self.instance_types = {}  # instance id -> instance type
        self.low_since = {}  # provider arn -> monotonic time its need first fell below desired
        self.next_scaling_at = 0.0

    # --------------------------------------------------------------- instances
    def assign_instance_ip(self, instance):
        ip = self.instance_ips.get(instance.id)
        if ip is None:
            ip = self.instance_ips[instance.id] = self.sim.subnet.allocate()
        nic = instance.nics.get(0) if instance.nics else None
        if nic is not None and nic.public_ip != ip:
            nic.public_ip = ip
        return ip

    def launched(self, reservation, now):
        """RunInstances accepted these: pending until the profile's launch time."""
        pending = profile().instance_launch > 0
        for instance in reservation.instances:
            self.assign_instance_ip(instance)
            self.launched_at[instance.id] = now
            if pending:
                instance._state = InstanceState("pending", 0)
            self.sim.timeline.add("instance-launch", instance.id, {"instanceType": instance.instance_type})

    def tick(self, now):
        self.sim.guarded("agent", self._instances, now)
        self.sim.guarded("waiting tasks", self._place_waiting)
        self.sim.guarded("managed scaling", self._managed_scaling, now)

    def _instances(self, now):
        p = profile()
        for account_id, region, ec2 in self.sim.loaded(self.sim.ec2_backends):
            for instance in ec2.all_instances():
                iid = instance.id
                if instance.state == "pending" and now - self.launched_at.get(iid, now) >= p.instance_launch:
                    instance._state = InstanceState("running", 16)
                if instance.state == "running":
                    self.assign_instance_ip(instance)
                    if iid not in self.running_at:
                        self.running_at[iid] = now
                        self.sim.timeline.add("instance-running", iid)
                    reg = self.registered.get(iid)
                    if reg is None and now - self.running_at[iid] >= p.agent_registration:
                        self._register_instance(account_id, region, instance)
                    elif reg is not None and not reg[2].agent_connected:
                        reg[2].agent_connected = True
                elif iid in self.registered:
                    self._instance_gone(iid, instance.state)
                    self.running_at.pop(iid, None)

    @staticmethod
    def _user_data_text(raw):
        if raw is None:
            return ""
        if hasattr(raw, "decode") and not isinstance(raw, (bytes, str)):
            text = raw.decode()
        else:
            text = raw.decode() if isinstance(raw, bytes) else str(raw)
        # SDKs differ on who base64-encodes; unwrap up to two more layers.
        for _ in range(2):
            if USER_DATA_CLUSTER.search(text):
                break
            try:
                text = base64.b64decode(text, validate=True).decode()
            except Exception:
                break
        return text

    def _register_instance(self, account_id, region, instance):
        match = USER_DATA_CLUSTER.search(self._user_data_text(instance.user_data))
        if not match:
            return
        cluster_name = match.group(1)
        if account_id not in self.sim.ecs_backends or region not in self.sim.ecs_backends[account_id].keys():
            return
        ecs = self.sim.ecs_backends[account_id][region]
        cluster = ecs.clusters.get(cluster_name)
        if cluster is None or cluster.status != "ACTIVE":
            return  # the agent keeps retrying until the cluster exists
        ci = ecs.register_container_instance(cluster_name, instance.id)
        cpu, memory = INSTANCE_RESOURCES.get(instance.instance_type, DEFAULT_RESOURCES)
        ci.registered_resources = [
            {"name": "CPU", "type": "INTEGER", "integerValue": cpu, "doubleValue": 0.0, "longValue": 0},
            {"name": "MEMORY", "type": "INTEGER", "integerValue": memory, "doubleValue": 0.0, "longValue": 0},
            {"name": "PORTS", "type": "STRINGSET", "stringSetValue": list(RESERVED_PORTS), "doubleValue": 0.0,
             "integerValue": 0, "longValue": 0},
            {"name": "PORTS_UDP", "type": "STRINGSET", "stringSetValue": [], "doubleValue": 0.0,
             "integerValue": 0, "longValue": 0},
        ]
        ci.remaining_resources = copy.deepcopy(ci.registered_resources)
        self.instance_types[instance.id] = instance.instance_type
        ci.version_info = {"agentVersion": "1.88.0", "agentHash": "f8f8a2b6", "dockerVersion": "DockerVersion: 25.0.6"}
        # Fixed now: a provider created later never adopts this instance.
        ci.capacity_provider_name = self._provider_of_instance(ecs, instance)
        self.registered[instance.id] = (ecs, cluster_name, ci)
        self.sim.timeline.add("instance-registered", instance.id, {
            "cluster": cluster_name, "containerInstanceArn": ci.container_instance_arn,
            "capacityProviderName": ci.capacity_provider_name})
        log.info("instance %s (%s) registered in cluster %s, capacity provider %s", instance.id,
                 self.instance_ips.get(instance.id), cluster_name, ci.capacity_provider_name)

    @staticmethod
    def _provider_of_instance(ecs, instance):
        group = getattr(instance, "autoscaling_group", None)
        if group is None:
            return None
        for cp in ecs.capacity_providers.values():
            if cp.status != "ACTIVE":
                continue
            ref = (cp.auto_scaling_group_provider or {}).get("autoScalingGroupArn", "")
            if ref in (group.arn, group.name) or ref.endswith("autoScalingGroupName/" + group.name):
                return cp.name
        return None

    def _instance_gone(self, iid, state):
        ecs, cluster_name, ci = self.registered[iid]
        terminated = state in ("terminated", "shutting-down")
        for st in self.sim.tasks.alive_on(ci):
            self.sim.tasks.instance_gone(st, iid, terminated)
        if not terminated:
            ci.agent_connected = False
            return
        ci.running_tasks_count = ci.pending_tasks_count = 0
        try:
            ecs.deregister_container_instance(cluster_name, ci.container_instance_arn, force=True)
        except Exception as err:
            log.warning("deregistering %s: %s", iid, err)
        cluster = ecs.clusters.get(cluster_name)
        if cluster is not None and cluster.registered_container_instances_count > 0:
            cluster.registered_container_instances_count -= 1
        ci.status = "INACTIVE"
        ci.agent_connected = False
        del self.registered[iid]
        log.info("instance %s deregistered from %s", iid, cluster_name)

    # --------------------------------------------------------------- resources
    @staticmethod
    def registered_resource(ci, name):
        for r in ci.registered_resources:
            if r["name"] == name:
                return r
        return None

    def refresh_resources(self):
        """remainingResources as DescribeContainerInstances reports them."""
        for _, _, ci in self.registered.values():
            cpu, memory, ports = self.sim.tasks.usage(ci)
            rem = {r["name"]: r for r in ci.remaining_resources}
            rem["CPU"]["integerValue"] = self.registered_resource(ci, "CPU")["integerValue"] - cpu
            rem["MEMORY"]["integerValue"] = self.registered_resource(ci, "MEMORY")["integerValue"] - memory
            rem["PORTS"]["stringSetValue"] = list(RESERVED_PORTS) + [str(p) for p in sorted(ports)]

    # ----------------------------------------------------------------- placement
    @staticmethod
    def provider(ecs, name):
        """The ASG capacity provider of a strategy item (None for none or Fargate)."""
        if not name or name in ("FARGATE", "FARGATE_SPOT"):
            return None
        return ecs.capacity_providers.get(name)

    @staticmethod
    def waits_for_capacity(provider):
        """Whether a task that finds no room waits in PROVISIONING (managed scaling)."""
        return provider is not None and _managed_scaling_on(provider)

    def _fit(self, ci, reqs, include_releasing=True):
        # When several resources are short, the port is named first: it is the
        # one that no bigger instance type would fix (static host port rollouts).
        cpu, memory, ports = self.sim.tasks.usage(ci, include_releasing)
        reserved = set(int(p) for p in self.registered_resource(ci, "PORTS")["stringSetValue"]) | ports
        if any(p in reserved for p in reqs["ports"]):
            return "PORTS"
        if reqs.get("eni") and SETTINGS.on("eni_limit"):
            limit = task_enis(self.instance_types.get(ci.ec2_instance_id))
            if self.sim.tasks.enis_used(ci) + reqs["eni"] > limit:
                return "ENI"
        if reqs["memory"] > self.registered_resource(ci, "MEMORY")["integerValue"] - memory:
            return "MEMORY"
        if reqs["cpu"] > self.registered_resource(ci, "CPU")["integerValue"] - cpu:
            return "CPU"
        return None

    def place(self, ecs, cluster, reqs, provider, may_wait=True):
        """Pick a container instance. Returns (ci, None); (None, "wait") when
        the resources are only held by tasks already stopping (the scheduler
        then waits quietly, as ECS does); or (None, (reason, closest ci))."""
        candidates = [
            ci for ci in ecs.container_instances.get(cluster.name, {}).values()
            if ci.status == "ACTIVE" and ci.agent_connected
        ]
        if provider is not None and SETTINGS.on("capacity_provider_placement"):
            candidates = [ci for ci in candidates if ci.capacity_provider_name == provider.name]
            if not candidates:
                return None, ("NO_PROVIDER_INSTANCES", None)
        if not candidates:
            return None, ("NO_INSTANCES", None)
        fitting = [ci for ci in candidates if self._fit(ci, reqs) is None]
        if fitting:
            def free_memory(ci):
                return self.registered_resource(ci, "MEMORY")["integerValue"] - self.sim.tasks.usage(ci)[1]

            return max(fitting, key=free_memory), None
        if may_wait and any(self._fit(ci, reqs, include_releasing=False) is None for ci in candidates):
            return None, "wait"
        ci = candidates[0]
        # Name what will still be missing once stopping tasks are gone.
        return None, (self._fit(ci, reqs, include_releasing=False) or self._fit(ci, reqs), ci)

    def _place_waiting(self):
        """Tasks waiting in PROVISIONING take an instance as soon as one has room."""
        for st in sorted(self.sim.tasks.waiting(), key=lambda st: st.task.created_at):
            cluster = st.backend.clusters.get(st.task.cluster_name)
            if cluster is None:
                continue
            ci, _ = self.place(st.backend, cluster, st.reqs, self.provider(st.backend, st.waiting_for),
                               may_wait=False)
            if ci is not None:
                self.sim.tasks.place(st, ci)

    # ------------------------------------------------------------ managed scaling
    def _managed_scaling(self, now):
        if now < self.next_scaling_at:
            return
        self.next_scaling_at = now + profile().scaling_period
        if not SETTINGS.on("managed_scaling"):
            return
        for account_id, region, ecs in self.sim.loaded(self.sim.ecs_backends):
            used = {name for c in ecs.clusters.values() if c.status == "ACTIVE" for name in (c.capacity_providers or [])}
            for provider in list(ecs.capacity_providers.values()):
                if provider.status != "ACTIVE" or not _managed_scaling_on(provider) or provider.name not in used:
                    continue
                group = _group_for(account_id, region, provider.auto_scaling_group_provider.get("autoScalingGroupArn"))
                if group is not None:
                    self.sim.guarded(provider.capacity_provider_arn, self._scale, ecs, provider, group, now)

    def _has_tasks(self, instance_id):
        reg = self.registered.get(instance_id)
        return reg is not None and bool(self.sim.tasks.alive_on(reg[2]))

    def _instances_needed(self, group, waiting):
        """Instances of the group's type the waiting tasks need, first fit
        (AWS uses binpack); a task too big for an empty instance is ignored."""
        cpu, memory = INSTANCE_RESOURCES.get(group.instance_type, DEFAULT_RESOURCES)
        enis = task_enis(group.instance_type) if SETTINGS.on("eni_limit") else 10 ** 6
        bins = []  # [cpu used, memory used, ports, enis used]
        for st in waiting:
            r = st.reqs
            if r["cpu"] > cpu or r["memory"] > memory or r.get("eni", 0) > enis:
                continue
            for b in bins:
                if (b[0] + r["cpu"] <= cpu and b[1] + r["memory"] <= memory and not b[2] & set(r["ports"])
                        and b[3] + r.get("eni", 0) <= enis):
                    b[0] += r["cpu"]
                    b[1] += r["memory"]
                    b[2] |= set(r["ports"])
                    b[3] += r.get("eni", 0)
                    break
            else:
                bins.append([r["cpu"], r["memory"], set(r["ports"]), r.get("eni", 0)])
        return len(bins)

    def _scale(self, ecs, provider, group, now):
        p = profile()
        settings = provider.auto_scaling_group_provider
        ms = settings.get("managedScaling") or {}
        instances = [s.instance for s in group.instance_states if s.instance.state in ("pending", "running")]
        n = len(instances)
        waiting = [st for st in self.sim.tasks.waiting() if st.backend is ecs and st.waiting_for == provider.name]
        busy = sum(1 for i in instances if self._has_tasks(i.id))
        if waiting:
            m = n + max(1, self._instances_needed(group, waiting))
        else:
            m = busy
        reservation = 100 if m == n == 0 else (200 if n == 0 else round(m * 100 / n))
        target = math.ceil(m * 100 / int(ms.get("targetCapacity") or 100))
        target = max(int(group.min_size or 0), min(int(group.max_size or 0), target))
        desired = int(group.desired_capacity or 0)
        key = provider.capacity_provider_arn
        if target > desired:
            self.low_since.pop(key, None)
            warmup = p.instance_warmup(provider)
            if any(now - self.launched_at.get(i.id, now - warmup) < warmup for i in instances):
                return  # scale-out waits for instances within their warm-up period
            step = min(max(target - desired, int(ms.get("minimumScalingStepSize") or 1)),
                       int(ms.get("maximumScalingStepSize") or 10000))
            new = min(desired + step, int(group.max_size or 0))
            self._set_desired(provider, group, desired, new, reservation, "AlarmHigh")
        elif target < desired:
            since = self.low_since.setdefault(key, now)
            if now - since < p.scale_in_after:
                return
            self.low_since.pop(key, None)
            if settings.get("managedTerminationProtection") == "ENABLED":
                # ECS lifts scale-in protection from the instances it lets go:
                # only those without tasks, unless the behaviour is switched off.
                protect_busy = SETTINGS.on("managed_termination_protection")
                going = [s for s in group.instance_states if s.instance.state in ("pending", "running")
                         and not (protect_busy and self._has_tasks(s.instance.id))]
                going.sort(key=lambda s: self._has_tasks(s.instance.id))
                for state in going[: desired - target]:
                    state.protected_from_scale_in = False
            self._set_desired(provider, group, desired, target, reservation, "AlarmLow")
        else:
            self.low_since.pop(key, None)

    def _set_desired(self, provider, group, old, new, reservation, alarm):
        log.info("managed scaling: %s (provider %s, reservation %s%%) desired %s -> %s", group.name, provider.name,
                 reservation, old, new)
        self.sim.timeline.add("scale", group.name, {"provider": provider.name, "from": old, "to": new,
                                                    "reservation": reservation})
        self.sim.autoscaling.set_desired_by_alarm(group, new, provider, alarm)

    # ------------------------------------------------------------------ state
    def snapshot(self):
        instances = []
        for account_id, region, ec2 in self.sim.loaded(self.sim.ec2_backends):
            for inst in ec2.all_instances():
                reg = self.registered.get(inst.id)
                instances.append({
                    "instanceId": inst.id, "account": account_id, "region": region, "state": inst.state,
                    "instanceType": inst.instance_type, "publicIp": self.instance_ips.get(inst.id),
                    "cluster": reg[1] if reg else None,
                    "containerInstanceArn": reg[2].container_instance_arn if reg else None,
                    "capacityProviderName": reg[2].capacity_provider_name if reg else None,
                })
        return instances


# --- moto: RunInstances -------------------------------------------------------------------
_orig_run_instances = InstanceBackend.run_instances


def _launch_spec(ec2, image_id, kwargs):
    """The AMI and instance type this RunInstances call launches, resolved
    from the launch template as moto resolves them."""
    instance_type = kwargs.get("instance_type") or "m1.small"
    if kwargs.get("launch_template"):
        version = ec2._get_template_from_args(kwargs["launch_template"])
        image_id = image_id or version.image_id
        if kwargs.get("is_instance_type_default") and version.data.get("InstanceType"):
            instance_type = version.data["InstanceType"]
    return image_id, instance_type


def run_instances(self, image_id, count, user_data, security_group_names, **kwargs):
    sim = simulator.SIM
    image, instance_type = _launch_spec(self, image_id, kwargs)
    try:
        accounts.check_launch(self, image, instance_type)
        consistency.check_launch_profile(self, kwargs)
        consistency.check_launch_groups(self, kwargs)
    except EC2ClientError as err:
        group = ((kwargs.get("tags") or {}).get("instance") or {}).get("aws:autoscaling:groupName")
        sim.timeline.add("launch-failed", group, {"code": err.code, "message": err.message})
        raise
    reservation = _orig_run_instances(self, image_id, count, user_data, security_group_names, **kwargs)
    sim.capacity.launched(reservation, sim.now())
    return reservation


InstanceBackend.run_instances = run_instances


# --- moto: capacity providers ---------------------------------------------------------------
_orig_create_cp = EC2ContainerServiceBackend.create_capacity_provider
_orig_update_cp = EC2ContainerServiceBackend.update_capacity_provider
_orig_describe_cps = EC2ContainerServiceBackend.describe_capacity_providers


def _check_termination_protection(backend, details):
    if details.get("managedTerminationProtection") != "ENABLED" or not SETTINGS.on("managed_termination_protection"):
        return
    group = _group_for(backend.account_id, backend.region_name, details.get("autoScalingGroupArn"))
    if group is None:
        return
    if not group.new_instances_protected_from_scale_in or any(
            not s.protected_from_scale_in for s in group.instance_states):
        raise EcsClientException(MANAGED_TERMINATION_PROTECTION_INVALID)


def _tag_managed_group(backend, provider):
    if not (SETTINGS.on("ecs_managed_tag") and _managed_scaling_on(provider)):
        return
    group = _group_for(backend.account_id, backend.region_name,
                       provider.auto_scaling_group_provider.get("autoScalingGroupArn"))
    if group is not None:
        group.autoscaling_backend.create_or_update_tags([{
            "ResourceId": group.name, "ResourceType": "auto-scaling-group", "Key": "AmazonECSManaged",
            "Value": "", "PropagateAtLaunch": True,
        }])


def create_capacity_provider(self, name, asg_details, tags):
    if name in self.capacity_providers:
        raise EcsClientException(
            "The specified capacity provider already exists. To change the configuration of an existing "
            "capacity provider, update the capacity provider."
        )
    _check_termination_protection(self, asg_details)
    provider = _orig_create_cp(self, name, asg_details, tags)
    _tag_managed_group(self, provider)
    return provider


def update_capacity_provider(self, name_or_arn, asg_provider):
    provider = self._get_provider(name_or_arn)
    if provider is None:
        raise EcsClientException("The specified capacity provider does not exist. Specify a valid name or ARN and try again.")
    merged = dict(provider.auto_scaling_group_provider, **asg_provider)
    _check_termination_protection(self, merged)
    provider = _orig_update_cp(self, name_or_arn, asg_provider)
    _tag_managed_group(self, provider)
    return provider


def describe_capacity_providers(self, names):
    if not names:  # AWS: no names = all of them (moto crashed on None)
        return list(self.capacity_providers.values()), []
    return _orig_describe_cps(self, names)


EC2ContainerServiceBackend.create_capacity_provider = create_capacity_provider
EC2ContainerServiceBackend.update_capacity_provider = update_capacity_provider
EC2ContainerServiceBackend.describe_capacity_providers = describe_capacity_providers
