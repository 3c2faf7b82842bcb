"""ECS tasks: creation, placement on a container instance, the lifecycle, image
pulls, awslogs lines, and RunTask.

The lifecycle is AWS's (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html):
PROVISIONING -> PENDING (image pull) -> RUNNING -> DEACTIVATING (load-balancer
deregistration: the targets drain, loadbalancing.py) -> STOPPING ->
DEPROVISIONING -> STOPPED, with the durations of the timing profile. A task
waiting for capacity (capacity.py: a capacity provider with managed scaling and
no instance with room) stays PROVISIONING without a container instance until
one appears. Texts of failures as AWS writes them:
- image missing from ECR: `CannotPullContainerError: pull image manifest has
  been retried 5 time(s): failed to resolve ref …: not found`
  (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/stopped-task-error-codes.html);
- awslogs group missing without awslogs-create-group: `ResourceInitializationError:
  failed to validate logger args: …` (same page);
- host port taken: docker's `port is already allocated` (network.bind_error_text);
- a Fargate task without a route to its registry: enis.registry_problem.
awsvpc tasks (EC2 or Fargate) get their ENI at placement and their servers on
its addresses (enis.py); every server is guarded by security groups (firewall.py).
RunTask answers as the API reference says: placed tasks in `tasks`, one
`failures` entry per task that could not be placed
(https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html).
"""

import logging
import re
import threading
import time
import uuid

from moto.core.utils import unix_time_millis, utcnow

from . import network
from .timing import profile

log = logging.getLogger("ecsworld.tasks")

DYNAMIC_PORTS = range(32768, 61000)  # the ECS agent's ephemeral host-port range

ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/"
    r"(?P<repo>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>sha256:[0-9a-fA-F]+))?$"
)


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

    def __init__(self, backend, task, td, reqs, service_key, deployment_id, fargate):
        self.backend = backend
        self.task = task
        self.td = td
        self.ci = None  # container instance, once placed
        self.instance_id = None
        self.ip = None
        self.reqs = reqs  # {"cpu", "memory", "ports": [static host ports]}
        self.service_key = service_key
        self.deployment_id = deployment_id
        self.fargate = fargate
        self.waiting_for = None  # capacity provider name while waiting for an instance
        self.next_at = None  # when the current step ends (None: not scheduled)
        self.servers = []
        self.access_log = network.new_access_log()
        self.host_ports = []  # [(container name, container port, host port)]
        self.targets = []  # [(target group arn, target id, port)]
        self.eni = None  # enis.EniRecord of an awsvpc task, once placed
        self.draining = False  # its targets are draining (loadbalancing.py)
        self.failed = False  # stopped for a reason other than the scheduler/user
        self.accounted = False  # stop already counted by its service
        self.running_since = None
        self.healthy_seen = False  # task-healthy already on the timeline
        self.docs_seen = threading.Event()  # docs-200 already on the timeline

    @property
    def status(self):
        return self.task.last_status


def requirements(td):
    """CPU units, MiB, static host ports and ENIs a task of this definition reserves."""
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
    return {"cpu": cpu, "memory": memory, "ports": ports, "eni": 1 if td.network_mode == "awsvpc" else 0}


class Tasks:
    def __init__(self, sim):
        self.sim = sim
        self.reset()

    def reset(self):
        self.by_arn = {}  # task arn -> SimTask
        self.stages = {}

    def close(self):
        for st in self.by_arn.values():
            self._stop_servers(st)

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

    # ---------------------------------------------------------- resources
    def usage(self, ci, include_releasing=True):
        """CPU, memory and ports held by tasks on this container instance.
        A task holds its resources until it is STOPPED."""
        cpu = memory = 0
        ports = set()
        for st in self.by_arn.values():
            if st.ci is not ci or st.status == "STOPPED":
                continue
            if not include_releasing and st.task.desired_status == "STOPPED":
                continue
            cpu += st.reqs["cpu"]
            memory += st.reqs["memory"]
            ports.update(st.reqs["ports"])
            if st.td.network_mode != "awsvpc":  # an awsvpc task's ports are on its own ENI
                ports.update(hp for _, _, hp in st.host_ports)
        return cpu, memory, ports

    def enis_used(self, ci):
        """Task ENIs on this container instance (held until the task is STOPPED)."""
        return sum(st.reqs.get("eni", 0) for st in self.by_arn.values() if st.ci is ci and st.status != "STOPPED")

    def alive_on(self, ci):
        return [st for st in self.by_arn.values() if st.ci is ci and st.status != "STOPPED"]

    # ----------------------------------------------------------- creation
    def create(self, backend, cluster, td, ci, *, fargate, started_by, group, launch_type, capacity_provider,
               overrides, tags, network_configuration, service_key=None, deployment_id=None):
        """A new task in PROVISIONING: placed on `ci` now, or (ci None, EC2)
        waiting for capacity from its capacity provider."""
        from moto.ecs.models import Task

        task = Task(
            cluster, td, None, None, backend=backend, group=group,
            launch_type=launch_type or ("FARGATE" if fargate else "EC2"), overrides=overrides or {},
            started_by=started_by or "", tags=tags or [],
            networking_configuration=self.sim.enis.moto_network_configuration(backend, td, network_configuration),
            capacity_provider_name=capacity_provider,
        )
        self.sim.enis.forget_moto_eni(backend, task)
        task.id = uuid.uuid4().hex  # AWS task ids are 32 hex digits
        task.container_instance_arn = None
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
        task.containers = [Container(task.task_arn, c, self._behaviour(c)) for c in td.container_definitions]
        backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        st = SimTask(backend, task, td, requirements(td), service_key, deployment_id, fargate)
        self.by_arn[task.task_arn] = st
        self.sim.timeline.add("task-created", task.id, {"deployment": deployment_id,
                                                        "capacityProvider": capacity_provider})
        if ci is not None or fargate:
            self.place(st, ci)
        else:
            st.waiting_for = capacity_provider
            log.info("task %s (%s) waits in PROVISIONING for capacity from %s", task.id, td.family,
                     capacity_provider)
        return st

    def place(self, st, ci):
        """The task got its container instance (None: Fargate); its
        PROVISIONING step runs from now."""
        task = st.task
        st.waiting_for = None
        st.next_at = time.monotonic() + profile().task_provisioning
        if ci is not None:
            st.ci = ci
            st.instance_id = ci.ec2_instance_id
            st.ip = self.sim.capacity.instance_ips.get(st.instance_id)
            task.container_instance_arn = ci.container_instance_arn
            ec2 = self.sim.ec2_backends[st.backend.account_id][st.backend.region_name]
            inst = ec2.get_instance_by_id(st.instance_id)
            task.availability_zone = getattr(inst.placement, "zone", None) if inst else None
            if st.td.network_mode in ("bridge", "host"):
                self._assign_host_ports(st)
            task.version += 1
        self.sim.enis.attach(st)
        self.sim.timeline.add("task-placed", task.id, {"instanceId": st.instance_id,
                                                       "containerInstanceArn": task.container_instance_arn})
        log.info("task %s (%s) placed on %s", task.id, st.td.family, st.ip or "fargate")

    def _start_servers(self, st):
        """Real sockets: on an awsvpc task's ENI addresses at each containerPort,
        else on the instance's address at the host ports. None, or the failure."""
        task = st.task
        guard = self.sim.firewall.allows
        if st.eni is not None:
            for c in task.containers:
                for pm in c._def.get("portMappings") or []:
                    cport = int(pm.get("containerPort"))
                    st.host_ports.append((c.name, cport, cport))
                    for ip in (st.eni.private_ip, st.eni.public_ip):
                        if not ip:
                            continue
                        try:
                            st.servers.append(network.AppServer(ip, cport, c._stage["docs_status"], task.id,
                                                                st.access_log, self._docs_200_reporter(st), guard,
                                                                c.name))
                        except OSError as err:
                            return network.bind_error_text(err, cport), c
            return None
        if st.ip and st.td.network_mode != "awsvpc":
            for name, _cport, hport in st.host_ports:
                c = next(c for c in task.containers if c.name == name)
                try:
                    st.servers.append(network.AppServer(st.ip, hport, c._stage["docs_status"], task.id,
                                                        st.access_log, self._docs_200_reporter(st), guard, name))
                except OSError as err:
                    return network.bind_error_text(err, hport), c
        return None

    def waiting(self):
        return [st for st in self.by_arn.values()
                if st.waiting_for and st.status == "PROVISIONING" and st.task.desired_status == "RUNNING"]

    def _assign_host_ports(self, st):
        """Static host ports as given; bridge mode without hostPort gets a
        dynamic one from the agent's ephemeral range."""
        _, _, used = self.usage(st.ci)
        used |= set(int(p) for p in self.sim.capacity.registered_resource(st.ci, "PORTS")["stringSetValue"])
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
        """RunTask (called from patches.py under the world lock)."""
        from moto.ecs.exceptions import InvalidParameterException

        cp = strategy[0]["capacityProvider"] if strategy else None
        fargate = launch_type == "FARGATE" or cp in ("FARGATE", "FARGATE_SPOT")
        if fargate and "FARGATE" not in (td.compatibilities or []):
            raise InvalidParameterException("Task definition does not support launch_type FARGATE.")
        if td.network_mode == "awsvpc" and not network_configuration:
            raise InvalidParameterException(
                "Network Configuration must be provided when networkMode 'awsvpc' is specified."
            )
        capacity = self.sim.capacity
        provider = None if fargate else capacity.provider(backend, cp)
        tasks, failures = [], []
        for _ in range(count):
            ci = None
            if not fargate:
                ci, problem = capacity.place(backend, cluster, requirements(td), provider, may_wait=False)
                if ci is None and not capacity.waits_for_capacity(provider):
                    reason, closest = problem
                    if reason == "NO_INSTANCES":
                        if not tasks:
                            raise InvalidParameterException("No Container Instances were found in your cluster.")
                        break
                    if reason == "NO_PROVIDER_INSTANCES":
                        # The failure's form is unsure: AWS documents the text for service events only.
                        failures.append({"arn": provider.capacity_provider_arn,
                                         "reason": "No Container Instances were found in your capacity provider"})
                        continue
                    failures.append({"arn": closest.container_instance_arn, "reason": f"RESOURCE:{reason}"})
                    continue
            st = self.create(
                backend, cluster, td, ci, fargate=fargate, started_by=started_by, group=group,
                launch_type=launch_type if not strategy else None, capacity_provider=cp, overrides=overrides,
                tags=tags, network_configuration=network_configuration,
            )
            tasks.append(st.task)
        self.refresh_counts()
        return tasks, failures

    # ------------------------------------------------------- task lifecycle
    def request_stop(self, task, reason, stop_code, failed=False):
        if task.desired_status == "STOPPED":
            return
        st = self.by_arn.get(task.task_arn)
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
        self.finish_stop(st)
        log.info("task %s failed to start: %s", task.id, reason)

    def instance_gone(self, st, instance_id, terminated):
        """Its host terminated or stopped: the task stops at once."""
        st.task.desired_status = "STOPPED"
        st.task.stopped_reason = f"Host EC2 (instance {instance_id}) {'terminated' if terminated else 'stopped'}."
        st.task.stop_code = "TerminationNotice" if terminated else "ServiceSchedulerInitiated"
        st.failed = False
        for c in st.task.containers:
            c.last_status = "STOPPED"
        self.finish_stop(st)

    def finish_stop(self, st):
        task = st.task
        now = utcnow()
        self._stop_servers(st)
        self.sim.lb.deregister_now(st)
        self.sim.enis.detach(st)
        task.last_status = "STOPPED"
        task.stopping_at = getattr(task, "stopping_at", None) or now
        task.execution_stopped_at = now
        task.stopped_at = now
        task.connectivity = None
        task.version += 1
        st.waiting_for = None
        self.sim.timeline.add("task-stopped", task.id, {"stopCode": task.stop_code,
                                                        "stoppedReason": task.stopped_reason})

    def tick(self, now):
        for st in list(self.by_arn.values()):
            self.sim.guarded(st.task.task_arn, self._advance, st, now)

    def _advance(self, st, now):
        task = st.task
        status = task.last_status
        if status == "STOPPED":
            return
        if task.desired_status == "STOPPED" and status in ("PROVISIONING", "PENDING", "ACTIVATING"):
            for c in task.containers:
                c.last_status = "STOPPED"
            self.finish_stop(st)
            return
        if status == "RUNNING":
            return self._running(st, now)
        if st.next_at is None or now < st.next_at:
            return  # waiting for capacity, or the current step is not over
        if status == "PROVISIONING":
            task.last_status = "PENDING"
            task.pull_started_at = utcnow()
            task.version += 1
            st.next_at = now + profile().image_pull
            self.sim.timeline.add("task-pulling", task.id)
        elif status == "PENDING":
            self._start_containers(st, now)
        elif status == "DEACTIVATING":
            self.sim.lb.finish_draining(st)
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
            st.next_at = now + profile().stop_step
        elif status == "STOPPING":
            task.last_status = "DEPROVISIONING"
            task.execution_stopped_at = utcnow()
            task.version += 1
            st.next_at = now + profile().stop_step
        elif status == "DEPROVISIONING":
            self.finish_stop(st)

    def _start_containers(self, st, now):
        task = st.task
        task.pull_stopped_at = utcnow()
        for c in task.containers:
            problem = self.sim.enis.registry_problem(st, c.image) or self._pull_problem(c.image)
            if problem:
                return self._fail_to_start(st, problem, c)
        for c in task.containers:
            problem = self._open_log_stream(st, c)
            if problem:
                return self._fail_to_start(st, problem, c)
        failure = self._start_servers(st)
        if failure:
            return self._fail_to_start(st, *failure)
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
        self.sim.timeline.add("task-running", task.id)
        self.sim.lb.register_targets(st)
        log.info("task %s RUNNING on %s ports %s", task.id, st.eni.private_ip if st.eni else st.ip,
                 [h for _, _, h in st.host_ports])

    def _docs_200_reporter(self, st):
        """Called from the app server's thread on each 200 to GET /docs."""
        def report():
            if not st.docs_seen.is_set():
                st.docs_seen.set()
                self.sim.timeline.add("docs-200", st.task.id)

        return report

    def _running(self, st, now):
        task = st.task
        self._drain_access_log(st)
        if task.desired_status == "STOPPED":
            task.last_status = "DEACTIVATING"
            task.version += 1
            # ECS deregisters the task's targets now; the step lasts while they drain.
            st.next_at = now + max(profile().stop_step, self.sim.lb.start_draining(st))
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
            if only_container is None or server.container == only_container:
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
        ecr_backends = self.sim.ecr_backends
        if account in ecr_backends and region in ecr_backends[account].keys():
            repository = ecr_backends[account][region].repositories.get(repo)
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
        logs = self.sim.logs_backends[st.backend.account_id][region]
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

    # --------------------------------------------------------------- counts
    def refresh_counts(self):
        """Cluster and container-instance task counts, as DescribeClusters and
        DescribeContainerInstances report them."""
        for account_id, region, ecs in self.sim.loaded(self.sim.ecs_backends):
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
        for st in self.by_arn.values():
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

    def snapshot(self):
        out = []
        for st in self.by_arn.values():
            t = st.task
            out.append({
                "taskArn": t.task_arn, "cluster": t.cluster_name, "taskDefinitionArn": t.task_definition_arn,
                "lastStatus": t.last_status, "desiredStatus": t.desired_status, "group": t.group,
                "startedBy": t.started_by, "ip": st.ip, "instanceId": st.instance_id,
                "capacityProviderName": t.capacity_provider_name, "waitingForCapacity": st.waiting_for,
                "hostPorts": [hp for _, _, hp in st.host_ports], "stopCode": t.stop_code,
                "stoppedReason": t.stopped_reason, "eni": self.sim.enis.snapshot(st),
                "containers": [{"name": c.name, "image": c.image, "lastStatus": c.last_status,
                                "exitCode": c.exit_code, "reason": c.reason} for c in t.containers],
            })
        return out
