"""The ECS control plane that moto lacks, played inside the moto process.

One background thread ticks every TICK seconds and, under the world lock,
reads and adjusts moto's backends for every loaded account and region:

  agent       registers EC2 instances whose user data says ECS_CLUSTER=<name>,
              deregisters them when they terminate;
  scheduler   runs each service's deployments (rolling update within
              minimumHealthyPercent / maximumPercent, circuit breaker, desired
              count, target-group registration, service events);
  tasks       PROVISIONING -> PENDING -> RUNNING -> DEACTIVATING -> STOPPING
              -> DEPROVISIONING -> STOPPED, with image pulls, staged exits,
              awslogs lines and a real HTTP server per host port;
  network     loopback addresses for instances and load balancers, ALB
              forwarders and health checks (the checks run outside the lock).

Durations are compressed (a deploy takes seconds) but orders and texts follow
the documented AWS behaviour. The simulator stays small on purpose: what it
does not model is listed in world/README.md.
"""

import base64
import copy
import logging
import math
import random
import re
import threading
import time
import uuid

from moto.core.utils import unix_time_millis, utcnow

from . import network

log = logging.getLogger("ecsworld.sim")

# One lock for all of moto's state: request handlers (server.py) and the tick.
LOCK = threading.RLock()
SIM = None  # the running Simulator, for patches.py

TICK = 0.05
AGENT_DELAY = 0.5  # instance running -> container instance registered
PROVISIONING_S = 0.2
PENDING_S = 0.3
STOP_STEP_S = 0.12
STABLE_S = 0.5  # running this long (and healthy) before a task counts as steady  # each of DEACTIVATING, STOPPING, DEPROVISIONING
HEALTH_INTERVAL = 0.2
HEALTHY_THRESHOLD = 2  # compressed: AWS default 5 checks 30 s apart
UNHEALTHY_THRESHOLD = 2
GRACE_SCALE = 0.1  # healthCheckGracePeriodSeconds 10 -> 1 s here
PLACEMENT_EVENT_EVERY = 5.0
RESTART_BACKOFF = (0.3, 2.0)  # first delay, cap (AWS throttles restarts of failing tasks)
DYNAMIC_PORTS = range(32768, 61000)  # the ECS agent's ephemeral host-port range
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
    "m5.large": (2048, 7680),
}
DEFAULT_RESOURCES = (2048, 3800)

ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repo>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-fA-F]+))?$"
)
USER_DATA_CLUSTER = re.compile(r"ECS_CLUSTER=([A-Za-z0-9_-]+)")

ALIVE = ("PROVISIONING", "PENDING", "ACTIVATING", "RUNNING")


def _backends():
    """Imported late: moto must see the environment set in __main__ first."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.ec2.models import ec2_backends
    from moto.ecr.models import ecr_backends
    from moto.ecs.models import ecs_backends
    from moto.elbv2.models import elbv2_backends
    from moto.logs.models import logs_backends

    return ecs_backends, ec2_backends, ecr_backends, elbv2_backends, logs_backends, autoscaling_backends


def _loaded(backend_dict):
    """All (account, region, backend) already created; never creates one."""
    out = []
    for account_id, per_account in list(backend_dict.items()):
        for region, backend in list(per_account.items()):
            out.append((account_id, region, backend))
    return out


def _deployment_id():
    return "ecs-svc/" + str(random.randint(10**18, 10**19 - 1))


def _short(arn):
    return arn.split("/")[-1]


class Container:
    """One container of a task, serialised by moto as ECS's Container shape."""

    def __init__(self, task_arn, cdef, stage):
        self.container_arn = f"{task_arn.replace(':task/', ':container/')}/{uuid.uuid4()}"
        self.task_arn = task_arn
        self.name = cdef.get("name")
        self.image = cdef.get("image")
        self.last_status = "PENDING"
        self.exit_code = None
        self.reason = None
        self.network_bindings = []
        self.network_interfaces = []
        self.health_status = "UNKNOWN"
        self.cpu = str(cdef.get("cpu", 0))
        self.memory = str(cdef["memory"]) if cdef.get("memory") is not None else None
        self.memory_reservation = str(cdef["memoryReservation"]) if cdef.get("memoryReservation") is not None else None
        self.runtime_id = None
        # Simulator-only fields (not in the Container shape, so not serialised).
        self._def = cdef
        self._essential = cdef.get("essential", True)
        self._web = bool(cdef.get("portMappings"))
        self._stage = stage
        self._exit_at = None
        self._log = None  # (logs backend, group, stream) once started
        self._log_ts = 0


class SimTask:
    """The simulator's side of one moto Task."""

    def __init__(self, backend, task, td, ci, instance_id, ip, reqs, service_key, deployment_id):
        self.backend = backend
        self.task = task
        self.td = td
        self.ci = ci
        self.instance_id = instance_id
        self.ip = ip
        self.reqs = reqs  # {"cpu", "memory", "ports": [static host ports]}
        self.service_key = service_key
        self.deployment_id = deployment_id
        self.next_at = time.monotonic() + PROVISIONING_S
        self.servers = []
        self.access_log = network.new_access_log()
        self.host_ports = []  # [(container name, container port, host port)]
        self.targets = []  # [(target group arn, instance id, host port)]
        self.failed = False  # stopped for a reason other than the scheduler/user
        self.accounted = False  # stop already counted by its service
        self.running_since = None

    @property
    def status(self):
        return self.task.last_status


class SimService:
    def __init__(self):
        self.failures = {}  # deployment id -> consecutive failures
        self.next_launch = {}  # deployment id -> monotonic time
        self.last_completed = None  # (deployment id, task definition arn)
        self.steady = False
        self.event_times = {}


class Simulator:
    def __init__(self, subnet):
        self.subnet = subnet
        self.reset_state()
        self._stop = threading.Event()
        self._thread = None
        (self.ecs_backends, self.ec2_backends, self.ecr_backends, self.elbv2_backends,
         self.logs_backends, self.autoscaling_backends) = _backends()

    def reset_state(self):
        self.tasks = {}  # task arn -> SimTask
        self.services = {}  # service arn -> SimService
        self.instance_ips = {}  # instance id -> ip
        self.instance_seen = {}  # instance id -> monotonic time first seen running
        self.registered = {}  # instance id -> (ecs backend, cluster name, container instance)
        self.lb_ips = {}  # load balancer arn -> ip
        self.forwarders = {}  # (ip, port) -> Forwarder
        self.listener_targets = {}  # (ip, port) -> [(ip, port)] healthy targets
        self.health = {}  # (tg arn, target id, port) -> dict
        self.stages = {}
        self._logged_errors = set()

    # ----------------------------------------------------------------- thread
    def start(self):
        self._thread = threading.Thread(target=self._run, name="simulator", daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with LOCK:
            self._close_servers()

    def _run(self):
        while not self._stop.wait(TICK):
            try:
                with LOCK:
                    self._tick_locked()
                    checks = self._due_health_checks()
                results = [(c, network.http_check(c["ip"], c["port"], c["path"])) for c in checks]
                if results:
                    with LOCK:
                        self._apply_health_results(results)
            except Exception:  # keep the world alive; the trace says what broke
                log.exception("simulator tick failed")

    def reset(self):
        """Forget everything (called under LOCK, just before moto's own reset)."""
        self._close_servers()
        self.reset_state()
        self.subnet.reset()

    def _close_servers(self):
        for st in self.tasks.values():
            self._stop_servers(st)
        for fwd in self.forwarders.values():
            fwd.stop()
        self.forwarders = {}

    # ------------------------------------------------------------ network
    def assign_instance_ip(self, instance):
        ip = self.instance_ips.get(instance.id)
        if ip is None:
            ip = self.instance_ips[instance.id] = self.subnet.allocate()
        nic = instance.nics.get(0) if instance.nics else None
        if nic is not None and nic.public_ip != ip:
            nic.public_ip = ip
        return ip

    def assign_lb_ip(self, arn):
        if arn not in self.lb_ips:
            self.lb_ips[arn] = self.subnet.allocate()
        return self.lb_ips[arn]

    def target_health(self, tg_arn, target_id, port):
        h = self.health.get((tg_arn, target_id, str(port)))
        if h is None or h["state"] == "initial":
            return "initial", "Elb.RegistrationInProgress", "Target registration is in progress"
        return h["state"], h.get("reason"), h.get("description")

    # ------------------------------------------------------------- stages
    def stage(self, spec):
        image = spec["image"]
        self.stages[image] = {k: v for k, v in spec.items() if k != "image"}
        return self.stages[image]

    def _behaviour(self, cdef):
        """How a container started from this image behaves (stage or default)."""
        staged = self.stages.get(cdef.get("image"), {})
        web = bool(cdef.get("portMappings"))
        port = (cdef.get("portMappings") or [{}])[0].get("containerPort", 80)
        default_logs = (
            [
                "INFO:     Started server process [1]",
                "INFO:     Waiting for application startup.",
                "INFO:     Application startup complete.",
                f"INFO:     Uvicorn running on http://0.0.0.0:{port} (Press CTRL+C to quit)",
            ]
            if web
            else [f"{cdef.get('name')}: starting", f"{cdef.get('name')}: working", f"{cdef.get('name')}: done"]
        )
        return {
            "exit_code": staged["exit_code"] if "exit_code" in staged else (None if web else 0),
            "run_seconds": float(staged.get("run_seconds", 0.5)),
            "docs_status": int(staged.get("docs_status", 200)),
            "logs": list(staged["logs"]) if "logs" in staged else default_logs,
        }

    # ---------------------------------------------------------- placement
    @staticmethod
    def _task_requirements(td):
        cpu = int(td.cpu) if td.cpu else sum(int(c.get("cpu") or 0) for c in td.container_definitions)
        if td.memory:
            memory = int(td.memory)
        else:
            memory = sum(int(c.get("memory") or c.get("memoryReservation") or 0) for c in td.container_definitions)
        ports = []
        for c in td.container_definitions:
            for pm in c.get("portMappings") or []:
                if td.network_mode == "host":
                    ports.append(int(pm.get("hostPort") or pm.get("containerPort")))
                elif td.network_mode == "bridge" and pm.get("hostPort"):
                    ports.append(int(pm["hostPort"]))
        return {"cpu": cpu, "memory": memory, "ports": ports}

    def _instance_usage(self, ci, include_releasing=True):
        """CPU, memory and ports held by tasks on this container instance.
        A task holds its resources until it is STOPPED."""
        cpu = memory = 0
        ports = set()
        for st in self.tasks.values():
            if st.ci is not ci or st.status == "STOPPED":
                continue
            if not include_releasing and st.task.desired_status == "STOPPED":
                continue
            cpu += st.reqs["cpu"]
            memory += st.reqs["memory"]
            ports.update(st.reqs["ports"])
            ports.update(hp for _, _, hp in st.host_ports)
        return cpu, memory, ports

    @staticmethod
    def _registered(ci, name):
        for r in ci.registered_resources:
            if r["name"] == name:
                return r
        return None

    def _fit(self, ci, reqs, include_releasing=True):
        # When several resources are short, the port is named first: it is the
        # one that no bigger instance type would fix (static host port rollouts).
        cpu, memory, ports = self._instance_usage(ci, include_releasing)
        reserved = set(int(p) for p in self._registered(ci, "PORTS")["stringSetValue"]) | ports
        if any(p in reserved for p in reqs["ports"]):
            return "PORTS"
        if reqs["memory"] > self._registered(ci, "MEMORY")["integerValue"] - memory:
            return "MEMORY"
        if reqs["cpu"] > self._registered(ci, "CPU")["integerValue"] - cpu:
            return "CPU"
        return None

    def _place(self, backend, cluster, reqs, may_wait=True):
        """Pick a container instance. Returns (ci, None); (None, "wait") when
        the resources are only held by tasks already stopping (the scheduler
        then waits quietly, as ECS does); or (None, (reason, closest ci))."""
        candidates = [
            ci for ci in backend.container_instances.get(cluster.name, {}).values()
            if ci.status == "ACTIVE" and ci.agent_connected
        ]
        if not candidates:
            return None, ("NO_INSTANCES", None)
        fitting = [ci for ci in candidates if self._fit(ci, reqs) is None]
        if fitting:
            # Spread: the instance with the most free memory first.
            def free_memory(ci):
                return self._registered(ci, "MEMORY")["integerValue"] - self._instance_usage(ci)[1]

            return max(fitting, key=free_memory), None
        if may_wait and any(self._fit(ci, reqs, include_releasing=False) is None for ci in candidates):
            return None, "wait"
        ci = candidates[0]
        # Name what will still be missing once stopping tasks are gone.
        return None, (self._fit(ci, reqs, include_releasing=False) or self._fit(ci, reqs), ci)

    def _create_task(self, backend, cluster, td, ci, *, started_by, group, launch_type, capacity_provider,
                     overrides, tags, network_configuration, service_key=None, deployment_id=None):
        from moto.ecs.models import Task

        task = Task(
            cluster, td, ci.container_instance_arn if ci else None, None, backend=backend, group=group,
            launch_type=launch_type or ("EC2" if ci else "FARGATE"), overrides=overrides or {},
            started_by=started_by or "", tags=tags or [], networking_configuration=network_configuration,
            capacity_provider_name=capacity_provider,
        )
        task.id = uuid.uuid4().hex  # AWS task ids are 32 hex digits
        task.last_status = "PROVISIONING"
        task.desired_status = "RUNNING"
        now = utcnow()
        task.created_at = now
        task.version = 1
        task.cpu = str(td.cpu) if td.cpu else None
        task.memory = str(td.memory) if td.memory else None
        task.connectivity = "CONNECTED"
        task.connectivity_at = now
        task.health_status = "UNKNOWN"
        task.stop_code = None
        task.stopped_reason = None
        task.availability_zone = None
        instance_id = ci.ec2_instance_id if ci else None
        ip = None
        if ci is not None:
            inst = self.ec2_backends[backend.account_id][backend.region_name].get_instance_by_id(instance_id)
            task.availability_zone = getattr(inst.placement, "zone", None) if inst else None
            ip = self.instance_ips.get(instance_id)
        task.containers = [Container(task.task_arn, c, self._behaviour(c)) for c in td.container_definitions]
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        st = SimTask(backend, task, td, ci, instance_id, ip, self._task_requirements(td), service_key, deployment_id)
        if ci is not None and td.network_mode in ("bridge", "host"):
            self._assign_host_ports(st)
        self.tasks[task.task_arn] = st
        log.info("task %s (%s) created on %s", task.id, td.family, ip or "fargate")
        return st

    def _assign_host_ports(self, st):
        """Static host ports as given; bridge mode without hostPort gets a
        dynamic one from the agent's ephemeral range."""
        _, _, used = self._instance_usage(st.ci)
        used |= set(int(p) for p in self._registered(st.ci, "PORTS")["stringSetValue"])
        for c in st.task.containers:
            for pm in c._def.get("portMappings") or []:
                cport = int(pm.get("containerPort"))
                if st.td.network_mode == "host":
                    hport = int(pm.get("hostPort") or cport)
                elif pm.get("hostPort"):
                    hport = int(pm["hostPort"])
                else:
                    hport = next(p for p in DYNAMIC_PORTS if p not in used)
                used.add(hport)
                st.host_ports.append((c.name, cport, hport))
                c.network_bindings.append(
                    {"bindIP": "0.0.0.0", "containerPort": cport, "hostPort": hport,
                     "protocol": pm.get("protocol", "tcp")}
                )

    def run_task(self, backend, cluster, td, *, count, started_by, group, launch_type, strategy, overrides, tags,
                 network_configuration):
        """RunTask (called from patches.py under LOCK). AWS returns the tasks
        it could place and one failure per task it could not."""
        from moto.ecs.exceptions import InvalidParameterException

        cp = strategy[0]["capacityProvider"] if strategy else None
        fargate = launch_type == "FARGATE" or cp in ("FARGATE", "FARGATE_SPOT")
        if fargate and "FARGATE" not in (td.compatibilities or []):
            raise InvalidParameterException("Task definition does not support launch_type FARGATE.")
        if td.network_mode == "awsvpc" and not network_configuration:
            raise InvalidParameterException(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified."
            )
        tasks, failures = [], []
        for _ in range(count):
            ci = None
            if not fargate:
                ci, problem = self._place(backend, cluster, self._task_requirements(td), may_wait=False)
                if ci is None:
                    reason, closest = problem
                    if reason == "NO_INSTANCES":
                        if not tasks:
                            raise InvalidParameterException("No Container Instances were found in your cluster.")
                        break
                    failures.append({"arn": closest.container_instance_arn, "reason": f"RESOURCE:{reason}"})
                    continue
            st = self._create_task(
                backend, cluster, td, ci, started_by=started_by, group=group,
                launch_type=launch_type if not strategy else None, capacity_provider=cp, overrides=overrides,
                tags=tags, network_configuration=network_configuration,
            )
            tasks.append(st.task)
        self._refresh_counts()
        return tasks, failures

    # ------------------------------------------------------- task lifecycle
    def request_stop(self, task, reason, stop_code, failed=False):
        if task.desired_status == "STOPPED":
            return
        st = self.tasks.get(task.task_arn)
        task.desired_status = "STOPPED"
        task.stopped_reason = reason
        task.stop_code = stop_code
        task.stopping_at = utcnow()
        task.version += 1
        if st is not None:
            st.failed = failed
            st.next_at = time.monotonic()
        log.info("task %s stopping: %s", task.id, reason)

    def _fail_to_start(self, st, reason, container=None):
        task = st.task
        task.desired_status = "STOPPED"
        task.stop_code = "TaskFailedToStart"
        task.stopped_reason = reason
        st.failed = True
        for c in task.containers:
            c.last_status = "STOPPED"
            if container is None or c is container:
                c.reason = reason
        self._finish_stop(st)
        log.info("task %s failed to start: %s", task.id, reason)

    def _finish_stop(self, st):
        task = st.task
        now = utcnow()
        self._stop_servers(st)
        self._deregister_targets(st)
        task.last_status = "STOPPED"
        task.stopping_at = getattr(task, "stopping_at", None) or now
        task.execution_stopped_at = now
        task.stopped_at = now
        task.connectivity = None
        task.version += 1

    def _advance_task(self, st, now):
        task = st.task
        status = task.last_status
        if status == "STOPPED":
            return
        if task.desired_status == "STOPPED" and status in ("PROVISIONING", "PENDING", "ACTIVATING"):
            for c in task.containers:
                c.last_status = "STOPPED"
            self._finish_stop(st)
            return
        if now < st.next_at and status != "RUNNING":
            return
        if status == "PROVISIONING":
            task.last_status = "PENDING"
            task.pull_started_at = utcnow()
            task.version += 1
            st.next_at = now + PENDING_S
        elif status == "PENDING":
            self._start_containers(st, now)
        elif status == "RUNNING":
            self._running(st, now)
        elif status == "DEACTIVATING" and now >= st.next_at:
            task.last_status = "STOPPING"
            task.version += 1
            self._stop_servers(st)
            for c in task.containers:
                if c.last_status != "STOPPED":
                    c.last_status = "STOPPED"
                    if c.exit_code is None:
                        c.exit_code = 0  # SIGTERM: uvicorn shuts down cleanly
                    if c._web:
                        self._write_logs(c, ["INFO:     Shutting down", "INFO:     Finished server process [1]"])
            st.next_at = now + STOP_STEP_S
        elif status == "STOPPING" and now >= st.next_at:
            task.last_status = "DEPROVISIONING"
            task.execution_stopped_at = utcnow()
            task.version += 1
            st.next_at = now + STOP_STEP_S
        elif status == "DEPROVISIONING" and now >= st.next_at:
            self._finish_stop(st)

    def _start_containers(self, st, now):
        task = st.task
        task.pull_stopped_at = utcnow()
        for c in task.containers:
            problem = self._pull_problem(c.image)
            if problem:
                return self._fail_to_start(st, problem, c)
        for c in task.containers:
            problem = self._open_log_stream(st, c)
            if problem:
                return self._fail_to_start(st, problem, c)
        # Real sockets for host ports, only where the instance has a loopback address.
        if st.ip:
            for name, _cport, hport in st.host_ports:
                c = next(c for c in task.containers if c.name == name)
                try:
                    st.servers.append(
                        network.AppServer(st.ip, hport, c._stage["docs_status"], task.id, st.access_log)
                    )
                except OSError as err:
                    return self._fail_to_start(st, network.bind_error_text(err, hport), c)
        task.last_status = "RUNNING"
        task.started_at = utcnow()
        task.version += 1
        st.running_since = now
        for c in task.containers:
            c.last_status = "RUNNING"
            c.runtime_id = uuid.uuid4().hex + uuid.uuid4().hex
            self._write_logs(c, c._stage["logs"])
            if c._stage["exit_code"] is not None:
                c._exit_at = now + c._stage["run_seconds"]
        self._register_targets(st)
        log.info("task %s RUNNING on %s ports %s", task.id, st.ip, [h for _, _, h in st.host_ports])

    def _running(self, st, now):
        task = st.task
        self._drain_access_log(st)
        if task.desired_status == "STOPPED":
            task.last_status = "DEACTIVATING"
            task.version += 1
            self._deregister_targets(st)
            st.next_at = now + STOP_STEP_S
            return
        for c in task.containers:
            if c.last_status == "RUNNING" and c._exit_at is not None and now >= c._exit_at:
                c.last_status = "STOPPED"
                c.exit_code = int(c._stage["exit_code"])
                self._stop_servers(st, only_container=c.name)
                if c._essential:
                    self.request_stop(task, "Essential container in task exited", "EssentialContainerExited",
                                      failed=bool(st.service_key))
                    return self._running(st, now)

    def _stop_servers(self, st, only_container=None):
        keep = []
        for server in st.servers:
            names = [n for n, _, hp in st.host_ports if hp == server.port]
            if only_container is None or only_container in names:
                server.stop()
            else:
                keep.append(server)
        st.servers = keep

    # ---------------------------------------------------------- images, logs
    def _pull_problem(self, image):
        m = ECR_IMAGE.match(image or "")
        if not m:
            return None  # public registries are "pullable" in this world
        account, region, repo, tag, digest = m.group("account", "region", "repo", "tag", "digest")
        found = False
        if account in self.ecr_backends and region in self.ecr_backends[account].keys():
            repository = self.ecr_backends[account][region].repositories.get(repo)
            if repository is not None:
                for img in repository.images:
                    if digest and img.get_image_digest() == digest:
                        found = True
                    elif not digest and (tag or "latest") in img.image_tags:
                        found = True
        if found:
            return None
        ref = image if (tag or digest) else f"{image}:latest"
        return f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref {ref}: {ref}: not found"

    def _open_log_stream(self, st, c):
        cfg = c._def.get("logConfiguration") or {}
        if cfg.get("logDriver") != "awslogs":
            return None
        opts = cfg.get("options") or {}
        group = opts.get("awslogs-group")
        region = opts.get("awslogs-region") or st.backend.region_name
        if not group:
            return None
        logs = self.logs_backends[st.backend.account_id][region]
        if group not in logs.groups:
            if str(opts.get("awslogs-create-group", "")).lower() == "true":
                logs.create_log_group(group, tags={})
            else:
                return (
                    "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 "
                    "times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log "
                    "group does not exist. : exit status 1"
                )
        prefix = opts.get("awslogs-stream-prefix")
        stream = f"{prefix}/{c.name}/{st.task.id}" if prefix else uuid.uuid4().hex + uuid.uuid4().hex
        if stream not in logs.groups[group].streams:
            logs.create_log_stream(group, stream)
        c._log = (logs, group, stream)
        return None

    def _write_logs(self, c, lines):
        if not c._log or not lines:
            return
        logs, group, stream = c._log
        if group not in logs.groups or stream not in logs.groups[group].streams:
            return  # deleted meanwhile, as the awslogs driver would just fail
        ts = max(int(unix_time_millis()), c._log_ts + 1)
        events = []
        for line in lines:
            events.append({"timestamp": ts, "message": line})
            ts += 1
        c._log_ts = ts - 1
        logs.put_log_events(group, stream, events)

    def _drain_access_log(self, st):
        lines = []
        while st.access_log:
            lines.append(st.access_log.popleft())
        if lines:
            web = next((c for c in st.task.containers if c._web), None)
            if web is not None:
                self._write_logs(web, lines)

    # ------------------------------------------------------- load balancers
    def _service_of(self, st):
        if not st.service_key:
            return None
        return st.backend.services.get(st.service_key)

    def _register_targets(self, st):
        service = self._service_of(st)
        if service is None or not st.instance_id:
            return
        elb = self.elbv2_backends[st.backend.account_id][st.backend.region_name]
        for lb in service.load_balancers or []:
            tg = elb.target_groups.get(lb.get("targetGroupArn"))
            port = next((hp for n, cp, hp in st.host_ports
                         if n == lb.get("containerName") and cp == int(lb.get("containerPort") or 0)), None)
            if tg is None or port is None or tg.target_type != "instance":
                continue
            try:
                tg.register([{"Id": st.instance_id, "Port": port}])
            except Exception as err:  # e.g. instance no longer running
                log.warning("could not register %s:%s in %s: %s", st.instance_id, port, tg.name, err)
                continue
            self.health[(tg.arn, st.instance_id, str(port))] = {"state": "initial", "ok": 0, "fail": 0, "last": 0}
            st.targets.append((tg.arn, st.instance_id, port))
            self._event(service, f"(service {service.name}) registered 1 targets in (target-group {tg.arn})")

    def _deregister_targets(self, st):
        if not st.targets:
            return
        service = self._service_of(st)
        elb = self.elbv2_backends[st.backend.account_id][st.backend.region_name]
        for tg_arn, target_id, port in st.targets:
            tg = elb.target_groups.get(tg_arn)
            self.health.pop((tg_arn, target_id, str(port)), None)
            if tg is not None and tg.targets.get(target_id, {}).get("Port") == port:
                tg.deregister([{"Id": target_id, "Port": port}])
                if service is not None:
                    self._event(service, f"(service {service.name}) deregistered 1 targets in (target-group {tg_arn})")
        st.targets = []

    def _target_ip(self, target_id):
        if re.match(r"^\d+\.\d+\.\d+\.\d+$", target_id):
            return target_id
        return self.instance_ips.get(target_id)

    def _sync_load_balancers(self):
        wanted = {}
        for account_id, region, elb in _loaded(self.elbv2_backends):
            for lb in list(elb.load_balancers.values()):
                ip = self.assign_lb_ip(lb.arn)
                lb.dns_name = ip
                for listener in list(lb.listeners.values()):
                    healthy = []
                    for action in listener.default_actions:
                        if action.type != "forward":
                            continue
                        for tg_arn in elb._get_target_group_arns_from(action_data=action.data):
                            tg = elb.target_groups.get(tg_arn)
                            for t in list(tg.targets.values()) if tg else []:
                                h = self.health.get((tg_arn, t["Id"], str(t["Port"])))
                                tip = self._target_ip(t["Id"])
                                if h and h["state"] == "healthy" and tip:
                                    healthy.append((tip, int(t["Port"])))
                    wanted[(ip, int(listener.port))] = healthy
        for key in list(self.forwarders):
            if key not in wanted:
                self.forwarders.pop(key).stop()
        for key, healthy in wanted.items():
            self.listener_targets[key] = healthy
            if key not in self.forwarders:
                try:
                    self.forwarders[key] = network.Forwarder(
                        key[0], key[1], lambda key=key: self.listener_targets.get(key, [])
                    )
                    log.info("load balancer listening on %s:%s", *key)
                except OSError as err:
                    log.warning("load balancer cannot listen on %s:%s: %s", key[0], key[1], err)
                    self.forwarders[key] = _Dead()

    def _due_health_checks(self):
        now = time.monotonic()
        checks = []
        for account_id, region, elb in _loaded(self.elbv2_backends):
            for tg in list(elb.target_groups.values()):
                if not tg.load_balancer_arns:
                    continue
                for t in list(tg.targets.values()):
                    key = (tg.arn, t["Id"], str(t["Port"]))
                    h = self.health.setdefault(key, {"state": "initial", "ok": 0, "fail": 0, "last": 0})
                    ip = self._target_ip(t["Id"])
                    if ip is None or now - h["last"] < HEALTH_INTERVAL:
                        continue
                    h["last"] = now
                    port = t["Port"] if tg.health_check_port in (None, "traffic-port") else tg.health_check_port
                    codes = (tg.matcher or {}).get("HttpCode", "200") if getattr(tg, "matcher", None) else "200"
                    checks.append({"key": key, "ip": ip, "port": port, "path": tg.health_check_path or "/",
                                   "codes": codes,
                                   "healthy": min(int(tg.healthy_threshold_count or 5), HEALTHY_THRESHOLD),
                                   "unhealthy": min(int(tg.unhealthy_threshold_count or 2), UNHEALTHY_THRESHOLD)})
        return checks

    @staticmethod
    def _code_matches(status, codes):
        for part in str(codes).split(","):
            if "-" in part:
                lo, hi = part.split("-", 1)
                if int(lo) <= status <= int(hi):
                    return True
            elif part.strip() and int(part) == status:
                return True
        return False

    def _apply_health_results(self, results):
        for check, status in results:
            h = self.health.get(check["key"])
            if h is None:
                continue  # deregistered meanwhile
            if status is not None and self._code_matches(status, check["codes"]):
                h["ok"], h["fail"] = h["ok"] + 1, 0
                if h["ok"] >= check["healthy"]:
                    h.update(state="healthy", reason=None, description=None)
            else:
                h["ok"], h["fail"] = 0, h["fail"] + 1
                if status is None:
                    reason, desc = "Target.FailedHealthChecks", "Health checks failed"
                else:
                    reason, desc = "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{status}]"
                if h["fail"] >= check["unhealthy"]:
                    h.update(state="unhealthy", reason=reason, description=desc)

    # ------------------------------------------------------------------ agent
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

    def _agent(self, now):
        for account_id, region, ec2 in _loaded(self.ec2_backends):
            for instance in ec2.all_instances():
                iid = instance.id
                state = instance.state
                if state == "running":
                    self.assign_instance_ip(instance)
                    self.instance_seen.setdefault(iid, now)
                    reg = self.registered.get(iid)
                    if reg is None and now - self.instance_seen[iid] >= AGENT_DELAY:
                        self._register_instance(account_id, region, instance)
                    elif reg is not None and not reg[2].agent_connected:
                        reg[2].agent_connected = True
                elif iid in self.registered:
                    self._instance_gone(iid, instance, state)
                    self.instance_seen.pop(iid, None)

    def _register_instance(self, account_id, region, instance):
        match = USER_DATA_CLUSTER.search(self._user_data_text(instance.user_data))
        if not match:
            return
        cluster_name = match.group(1)
        if account_id not in self.ecs_backends or region not in self.ecs_backends[account_id].keys():
            return
        ecs = self.ecs_backends[account_id][region]
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
        ci.version_info = {"agentVersion": "1.88.0", "agentHash": "f8f8a2b6", "dockerVersion": "DockerVersion: 25.0.6"}
        ci.capacity_provider_name = self._capacity_provider_for(ecs, instance)
        self.registered[instance.id] = (ecs, cluster_name, ci)
        log.info("instance %s (%s) registered in cluster %s", instance.id, self.instance_ips.get(instance.id),
                 cluster_name)

    @staticmethod
    def _capacity_provider_for(ecs, instance):
        group = getattr(instance, "autoscaling_group", None)
        if group is None:
            return None
        for cp in ecs.capacity_providers.values():
            ref = (cp.auto_scaling_group_provider or {}).get("autoScalingGroupArn", "")
            if ref in (group.arn, group.name) or ref.endswith("autoScalingGroupName/" + group.name):
                return cp.name
        return None

    def _instance_gone(self, iid, instance, state):
        ecs, cluster_name, ci = self.registered[iid]
        for st in list(self.tasks.values()):
            if st.ci is ci and st.status != "STOPPED":
                verb = "terminated" if state in ("terminated", "shutting-down") else "stopped"
                st.task.desired_status = "STOPPED"
                st.task.stopped_reason = f"Host EC2 (instance {iid}) {verb}."
                st.task.stop_code = "TerminationNotice" if verb == "terminated" else "ServiceSchedulerInitiated"
                st.failed = False
                for c in st.task.containers:
                    c.last_status = "STOPPED"
                self._finish_stop(st)
        if state in ("terminated", "shutting-down"):
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
        else:
            ci.agent_connected = False

    # -------------------------------------------------------------- scheduler
    def _deployment(self, service, td_arn, reason_id=None):
        now = utcnow()
        dep_id = _deployment_id()
        dep = {
            "id": dep_id,
            "status": "PRIMARY",
            "taskDefinition": td_arn,
            "desiredCount": service.desired_count,
            "pendingCount": 0,
            "runningCount": 0,
            "failedTasks": 0,
            "createdAt": now,
            "updatedAt": now,
            "launchType": service.launch_type,
            "capacityProviderStrategy": getattr(service, "capacity_provider_strategy", None),
            "platformVersion": service.platform_version,
            "networkConfiguration": service.network_configuration or None,
            "rolloutState": "IN_PROGRESS",
            "rolloutStateReason": f"ECS deployment {dep_id} in progress.",
        }
        if reason_id:
            dep["rolloutStateReason"] = f"ECS deployment circuit breaker: rolling back to deploymentId {reason_id}."
        return dep

    def init_service(self, backend, service):
        self.services[service.arn] = SimService()
        service.deployments = [self._deployment(service, service.task_definition)]

    def new_deployment(self, backend, service, rollback_to=None):
        ss = self.services.setdefault(service.arn, SimService())
        for dep in service.deployments:
            if dep["status"] == "PRIMARY":
                dep["status"] = "ACTIVE"
                dep["updatedAt"] = utcnow()
        dep = self._deployment(service, service.task_definition, rollback_to)
        service.deployments.insert(0, dep)
        ss.steady = False
        return dep

    def _event(self, service, message, throttle=False):
        now = time.monotonic()
        ss = self.services.setdefault(service.arn, SimService())
        if throttle:
            last = ss.event_times.get(message)
            if last is not None and now - last < PLACEMENT_EVENT_EVERY:
                return
            ss.event_times[message] = now
        service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": message})
        del service.events[100:]
        log.info("event: %s", message)

    def _placement_event(self, service, reason, ci):
        prefix = f"(service {service.name}) was unable to place a task because no container instance met all of its requirements."
        suffix = "For more information, see the Troubleshooting section of the Amazon ECS Developer Guide."
        if reason == "NO_INSTANCES":
            msg = f"{prefix} Reason: No Container Instances were found in your cluster. {suffix}"
        else:
            what = {
                "MEMORY": "has insufficient memory available.",
                "CPU": "has insufficient CPU units available.",
                "PORTS": "is already using a port required by your task.",
            }[reason]
            msg = f"{prefix} The closest matching (container-instance {_short(ci.container_instance_arn)}) {what} {suffix}"
        self._event(service, msg, throttle=True)

    def _healthy(self, st):
        """RUNNING for STABLE_S, and healthy in every target group it is in."""
        if st.status != "RUNNING" or st.task.desired_status != "RUNNING":
            return False
        # A task that dies right after starting never counts (nor resets the
        # circuit breaker): ECS, too, waits for tasks to stay up.
        if time.monotonic() - (st.running_since or 0) < STABLE_S:
            return False
        return all(self.health.get((tg, tid, str(p)), {}).get("state") == "healthy" for tg, tid, p in st.targets)

    def _schedule_service(self, backend, service, now):
        ss = self.services.get(service.arn)
        if ss is None:
            self.init_service(backend, service)
            ss = self.services[service.arn]
        cluster = backend.clusters.get(service.cluster_name)
        mine = [st for st in self.tasks.values() if st.service_key == f"{service.cluster_name}:{service.name}"
                and st.backend is backend]
        alive = [st for st in mine if st.status != "STOPPED"]
        deps = service.deployments
        if not deps:
            return
        primary = deps[0]

        # Account for tasks that stopped since the last tick.
        for st in mine:
            if st.status == "STOPPED" and not st.accounted:
                st.accounted = True
                dep = next((d for d in deps if d["id"] == st.deployment_id), None)
                if st.failed and dep is not None:
                    dep["failedTasks"] += 1
                    n = ss.failures.get(dep["id"], 0) + 1
                    ss.failures[dep["id"]] = n
                    delay = min(RESTART_BACKOFF[0] * (2 ** (n - 1)), RESTART_BACKOFF[1])
                    ss.next_launch[dep["id"]] = now + delay
                    ss.steady = False

        if service.status in ("DRAINING", "INACTIVE"):
            for st in alive:
                if st.task.desired_status != "STOPPED":
                    self.request_stop(st.task, f"Scaling activity initiated by (deployment {primary['id']})",
                                      "ServiceSchedulerInitiated")
            if service.status == "DRAINING" and not alive:
                service.status = "INACTIVE"
            self._update_counts(service, mine)
            return

        desired = service.desired_count
        config = getattr(service, "deployment_configuration", None) or {}
        max_pct = config.get("maximumPercent", 200)
        min_pct = config.get("minimumHealthyPercent", 100)
        running = [st for st in alive if st.task.desired_status == "RUNNING"]
        prim = [st for st in running if st.deployment_id == primary["id"]]
        old = [st for st in running if st.deployment_id != primary["id"]]

        # Unhealthy targets past the grace period are replaced (ECS does this).
        grace = (getattr(service, "health_check_grace_period_seconds", None) or 0) * GRACE_SCALE
        for st in running:
            for tg, tid, port in st.targets:
                h = self.health.get((tg, tid, str(port)), {})
                if h.get("state") == "unhealthy" and st.running_since and now - st.running_since >= grace:
                    self._event(service, f"(service {service.name}) (task {st.task.id}) (port {port}) is unhealthy in "
                                         f"(target-group {tg}) due to (reason {h.get('description')}).")
                    self.request_stop(st.task, f"Task failed ELB health checks in (target-group {tg})",
                                      "ServiceSchedulerInitiated", failed=True)
                    break
        running = [st for st in running if st.task.desired_status == "RUNNING"]
        prim = [st for st in prim if st.task.desired_status == "RUNNING"]
        old = [st for st in old if st.task.desired_status == "RUNNING"]

        # Circuit breaker (threshold as AWS: 0.5 x desired, at least 3, at most 200).
        cb = config.get("deploymentCircuitBreaker") or {}
        if cb.get("enable") and primary["rolloutState"] == "IN_PROGRESS":
            threshold = min(max(math.ceil(0.5 * desired), 3), 200)
            if ss.failures.get(primary["id"], 0) >= threshold:
                self._trip_breaker(backend, service, ss, primary, cb.get("rollback"))
                return self._schedule_service(backend, service, now)

        # Scale in the primary when it has too many tasks.
        if len(prim) > desired:
            extra = sorted(prim, key=lambda st: (st.status == "RUNNING", st.task.created_at), reverse=False)
            extra = extra[: len(prim) - desired]
            for st in extra:
                self.request_stop(st.task, f"Scaling activity initiated by (deployment {primary['id']})",
                                  "ServiceSchedulerInitiated")
            self._event(service, f"(service {service.name}) has stopped {len(extra)} running tasks: "
                        + " ".join(f"(task {st.task.id})" for st in extra) + ".")
            prim = [st for st in prim if st not in extra]
            ss.steady = False

        # Start primary tasks within maximumPercent.
        max_total = math.floor(desired * max_pct / 100)
        room = max_total - len(prim) - len(old)
        need = desired - len(prim)
        launchable = primary["rolloutState"] != "FAILED" and now >= ss.next_launch.get(primary["id"], 0)
        started = []
        if need > 0 and room > 0 and launchable and cluster is not None:
            td = backend.describe_task_definition(primary["taskDefinition"])
            strategy = primary.get("capacityProviderStrategy")
            fargate = primary.get("launchType") == "FARGATE" or (
                strategy and strategy[0].get("capacityProvider") in ("FARGATE", "FARGATE_SPOT"))
            for _ in range(min(need, room)):
                ci = None
                if not fargate:
                    ci, problem = self._place(backend, cluster, self._task_requirements(td))
                    if ci is None:
                        if problem != "wait":
                            self._placement_event(service, *problem)
                        break
                st = self._create_task(
                    backend, cluster, td, ci, started_by=primary["id"], group=f"service:{service.name}",
                    launch_type=primary.get("launchType"),
                    capacity_provider=strategy[0]["capacityProvider"] if strategy else None,
                    overrides=None, tags=self._propagated_tags(service, td),
                    network_configuration=service.network_configuration or None,
                    service_key=f"{service.cluster_name}:{service.name}", deployment_id=primary["id"],
                )
                started.append(st)
                mine.append(st)
                prim.append(st)
                ss.steady = False
        if started:
            self._event(service, f"(service {service.name}) has started {len(started)} tasks: "
                        + " ".join(f"(task {st.task.id})" for st in started) + ".")

        # Stop old-deployment tasks as far as minimumHealthyPercent allows
        # (not while the primary has failed: the old tasks are what still serves).
        if primary["rolloutState"] == "FAILED":
            old = []
        min_healthy = math.ceil(desired * min_pct / 100)
        healthy = sum(1 for st in prim + old if self._healthy(st))
        stoppable = max(0, healthy - min_healthy)
        to_stop = [st for st in old if not self._healthy(st)]  # not serving: stopping costs nothing
        for st in sorted((st for st in old if self._healthy(st)), key=lambda st: st.task.created_at):
            if stoppable <= 0:
                break
            to_stop.append(st)
            stoppable -= 1
        if to_stop:
            for st in to_stop:
                self.request_stop(st.task, f"Scaling activity initiated by (deployment {primary['id']})",
                                  "ServiceSchedulerInitiated")
            self._event(service, f"(service {service.name}) has stopped {len(to_stop)} running tasks: "
                        + " ".join(f"(task {st.task.id})" for st in to_stop) + ".")

        # Old deployments with nothing left are removed once the primary is done.
        self._update_counts(service, mine)
        others_alive = any(st.status != "STOPPED" and st.deployment_id != primary["id"] for st in mine)
        prim_alive = [st for st in mine if st.deployment_id == primary["id"] and st.status != "STOPPED"]
        done = (
            primary["rolloutState"] != "FAILED"
            and not others_alive
            and len(prim_alive) == desired
            and all(self._healthy(st) for st in prim_alive)
        )
        if done:
            if primary["rolloutState"] == "IN_PROGRESS":
                primary["rolloutState"] = "COMPLETED"
                primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
                primary["updatedAt"] = utcnow()
                ss.last_completed = (primary["id"], primary["taskDefinition"])
                self._event(service, f"(service {service.name}) (deployment {primary['id']}) deployment completed.")
            del deps[1:]
            if not ss.steady:
                ss.steady = True
                ss.failures[primary["id"]] = 0
                self._event(service, f"(service {service.name}) has reached a steady state.")
        elif primary["rolloutState"] == "COMPLETED" and len(prim_alive) != desired:
            ss.steady = False

    def _trip_breaker(self, backend, service, ss, primary, rollback):
        primary["rolloutState"] = "FAILED"
        primary["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
        primary["updatedAt"] = utcnow()
        self._event(service, f"(service {service.name}) deployment {primary['id']} deployment failed: tasks failed to start.")
        if rollback and ss.last_completed:
            good_id, good_td = ss.last_completed
            service.task_definition = good_td
            self.new_deployment(backend, service, rollback_to=good_id)
            self._event(service, f"(service {service.name}) rolling back to deployment {good_id}.")

    @staticmethod
    def _propagated_tags(service, td):
        if service.propagate_tags == "SERVICE":
            return list(service.tags or [])
        if service.propagate_tags == "TASK_DEFINITION":
            return list(td.tags or [])
        return []

    def _update_counts(self, service, mine):
        counts = {}
        for st in mine:
            if st.status == "STOPPED" or st.task.desired_status != "RUNNING":
                continue
            c = counts.setdefault(st.deployment_id, [0, 0])
            if st.status == "RUNNING":
                c[0] += 1
            else:
                c[1] += 1
        service.running_count = sum(1 for st in mine if st.status == "RUNNING")
        service.pending_count = sum(1 for st in mine if st.status in ("PROVISIONING", "PENDING", "ACTIVATING"))
        for i, dep in enumerate(service.deployments):
            r, p = counts.get(dep["id"], [0, 0])
            changed = (dep["runningCount"], dep["pendingCount"]) != (r, p)
            dep["runningCount"], dep["pendingCount"] = r, p
            dep["desiredCount"] = service.desired_count if i == 0 else r + p
            if changed:
                dep["updatedAt"] = utcnow()

    def _refresh_counts(self):
        for account_id, region, ecs in _loaded(self.ecs_backends):
            for cluster in ecs.clusters.values():
                cluster.running_tasks_count = 0
                cluster.pending_tasks_count = 0
                cluster.active_services_count = sum(
                    1 for s in ecs.services.values() if s.cluster_name == cluster.name and s.status == "ACTIVE"
                )
                cluster.registered_container_instances_count = sum(
                    1 for ci in ecs.container_instances.get(cluster.name, {}).values() if ci.status == "ACTIVE"
                )
            for cis in ecs.container_instances.values():
                for ci in cis.values():
                    ci.running_tasks_count = ci.pending_tasks_count = 0
        for st in self.tasks.values():
            cluster = st.backend.clusters.get(st.task.cluster_name)
            if st.status == "STOPPED" or cluster is None:
                continue
            running = st.status == "RUNNING"
            if running:
                cluster.running_tasks_count += 1
            else:
                cluster.pending_tasks_count += 1
            if st.ci is not None:
                if running:
                    st.ci.running_tasks_count += 1
                else:
                    st.ci.pending_tasks_count += 1
        for _, _, ci in self.registered.values():
            cpu, memory, ports = self._instance_usage(ci)
            rem = {r["name"]: r for r in ci.remaining_resources}
            rem["CPU"]["integerValue"] = self._registered(ci, "CPU")["integerValue"] - cpu
            rem["MEMORY"]["integerValue"] = self._registered(ci, "MEMORY")["integerValue"] - memory
            rem["PORTS"]["stringSetValue"] = list(RESERVED_PORTS) + [str(p) for p in sorted(ports)]

    # ------------------------------------------------------------------- tick
    def _guarded(self, key, fn, *args):
        """One broken task or service must not stop the world; log each
        distinct failure once instead of 20 times a second."""
        try:
            fn(*args)
        except Exception as err:
            sig = (key, repr(err))
            if sig not in self._logged_errors:
                self._logged_errors.add(sig)
                log.exception("simulating %s failed", key)

    def _tick_locked(self):
        now = time.monotonic()
        self._guarded("agent", self._agent, now)
        for st in list(self.tasks.values()):
            self._guarded(st.task.task_arn, self._advance_task, st, now)
        for account_id, region, ecs in _loaded(self.ecs_backends):
            for service in list(ecs.services.values()):
                if service.status == "INACTIVE":
                    continue
                if service.scheduling_strategy not in (None, "REPLICA"):
                    continue  # DAEMON services are not simulated
                if (service.deployment_controller or {}).get("type", "ECS") != "ECS":
                    continue  # CODE_DEPLOY / EXTERNAL controllers are not simulated
                self._guarded(service.arn, self._schedule_service, ecs, service, now)
        self._guarded("counts", self._refresh_counts)
        self._guarded("load balancers", self._sync_load_balancers)

    # ----------------------------------------------------------------- state
    def snapshot(self):
        """JSON-able view for GET /_sim/state (called under LOCK)."""
        instances = []
        for account_id, region, ec2 in _loaded(self.ec2_backends):
            for inst in ec2.all_instances():
                reg = self.registered.get(inst.id)
                instances.append({
                    "instanceId": inst.id, "account": account_id, "region": region, "state": inst.state,
                    "instanceType": inst.instance_type, "publicIp": self.instance_ips.get(inst.id),
                    "cluster": reg[1] if reg else None,
                    "containerInstanceArn": reg[2].container_instance_arn if reg else None,
                })
        tasks = []
        for st in self.tasks.values():
            t = st.task
            tasks.append({
                "taskArn": t.task_arn, "cluster": t.cluster_name, "taskDefinitionArn": t.task_definition_arn,
                "lastStatus": t.last_status, "desiredStatus": t.desired_status, "group": t.group,
                "startedBy": t.started_by, "ip": st.ip, "instanceId": st.instance_id,
                "hostPorts": [hp for _, _, hp in st.host_ports], "stopCode": t.stop_code,
                "stoppedReason": t.stopped_reason,
                "containers": [{"name": c.name, "image": c.image, "lastStatus": c.last_status,
                                "exitCode": c.exit_code, "reason": c.reason} for c in t.containers],
            })
        servers = [{"kind": "app", "ip": s.ip, "port": s.port, "task": st.task.id}
                   for st in self.tasks.values() for s in st.servers]
        servers += [{"kind": "alb", "ip": ip, "port": port, "healthyTargets": self.listener_targets.get((ip, port), [])}
                    for (ip, port), f in self.forwarders.items() if not isinstance(f, _Dead)]
        lbs = [{"arn": arn, "ip": ip} for arn, ip in self.lb_ips.items()]
        health = [{"targetGroupArn": k[0], "target": k[1], "port": k[2], "state": v["state"],
                   "reason": v.get("reason")} for k, v in self.health.items()]
        services = []
        for account_id, region, ecs in _loaded(self.ecs_backends):
            for s in ecs.services.values():
                services.append({
                    "serviceArn": s.arn, "status": s.status, "desiredCount": s.desired_count,
                    "runningCount": s.running_count, "pendingCount": s.pending_count,
                    "deployments": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in d.items()}
                                    for d in s.deployments],
                    "events": [e["message"] for e in s.events[:10]],
                })
        return {
            "subnet": f"{self.subnet.prefix}.0/24", "instances": instances, "loadBalancers": lbs,
            "tasks": tasks, "services": services, "servers": servers, "targetHealth": health,
            "stages": self.stages,
        }


class _Dead:
    """Placeholder for a listener whose address could not be bound."""

    def stop(self):
        pass
