"""The ECS service scheduler for REPLICA services with the ECS deployment
controller: deployments, rolling updates, the circuit breaker, service events.

Modelled on https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-type-ecs.html
and the service event texts of
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-event-messages-list.html:
- CreateService / UpdateService (new task definition, strategy, load
  balancers, network configuration, forceNewDeployment) make a new PRIMARY
  deployment `ecs-svc/<19 digits>`, IN_PROGRESS; the previous one is ACTIVE.
- Tasks start for the PRIMARY within maximumPercent; old ones stop as far as
  minimumHealthyPercent allows. A task counts once it has run for the
  profile's `stable` time and is healthy in every target group.
- Placement failures write `(service S) was unable to place a task because no
  container instance met all of its requirements. …` (at most one per text per
  profile.placement_event_every); a task of a capacity provider with managed
  scaling instead waits in PROVISIONING (capacity.py).
- Failed tasks are replaced after a backoff (service throttle logic,
  https://docs.aws.amazon.com/AmazonECS/latest/developerguide/service-throttle-logic.html).
- Circuit breaker: threshold min(max(ceil(0.5 x desired), 3), 200) consecutive
  failures (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-circuit-breaker.html),
  with rollback to the last COMPLETED deployment's task definition.
- Unhealthy targets past the grace period are replaced.
"""

import logging
import math
import random
import time
import uuid

from moto.core.utils import utcnow

from . import consistency
from .tasks import requirements
from .timing import profile

log = logging.getLogger("ecsworld.scheduler")


def _deployment_id():
    return "ecs-svc/" + str(random.randint(10**18, 10**19 - 1))


def _short(arn):
    return arn.split("/")[-1]


class SimService:
    def __init__(self):
        self.failures = {}  # deployment id -> consecutive failures
        self.next_launch = {}  # deployment id -> monotonic time
        self.last_completed = None  # (deployment id, task definition arn)
        self.steady = False
        self.event_times = {}


class Scheduler:
    def __init__(self, sim):
        self.sim = sim
        self.reset()

    def reset(self):
        self.services = {}  # service arn -> SimService

    # ------------------------------------------------------------ deployments
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
        self.sim.timeline.add("deployment-created", dep_id, {"service": service.arn})
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

    # ----------------------------------------------------------------- events
    def event(self, service, message, throttle=False):
        now = time.monotonic()
        ss = self.services.setdefault(service.arn, SimService())
        if throttle:
            last = ss.event_times.get(message)
            if last is not None and now - last < profile().placement_event_every:
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
        elif reason == "NO_PROVIDER_INSTANCES":
            msg = f"{prefix} Reason: No Container Instances were found in your capacity provider. {suffix}"
        else:
            what = {
                "MEMORY": "has insufficient memory available.",
                "CPU": "has insufficient CPU units available.",
                "PORTS": "is already using a port required by your task.",
                "ENI": 'encountered error "RESOURCE:ENI".',
            }[reason]
            msg = f"{prefix} The closest matching (container-instance {_short(ci.container_instance_arn)}) {what} {suffix}"
        self.event(service, msg, throttle=True)

    def healthy(self, st):
        """RUNNING for the profile's stable time, and healthy in every target group it is in."""
        if st.status != "RUNNING" or st.task.desired_status != "RUNNING":
            return False
        # A task that dies right after starting never counts (nor resets the
        # circuit breaker): ECS, too, waits for tasks to stay up.
        if time.monotonic() - (st.running_since or 0) < profile().stable:
            return False
        return all(self.sim.lb.health_state(tg, tid, p) == "healthy" for tg, tid, p in st.targets)

    # -------------------------------------------------------------------- tick
    def tick(self, now):
        for account_id, region, ecs in self.sim.loaded(self.sim.ecs_backends):
            for service in list(ecs.services.values()):
                if service.status == "INACTIVE":
                    continue
                if service.scheduling_strategy not in (None, "REPLICA"):
                    continue  # DAEMON services are not simulated
                if (service.deployment_controller or {}).get("type", "ECS") != "ECS":
                    continue  # CODE_DEPLOY / EXTERNAL controllers are not simulated
                self.sim.guarded(service.arn, self._schedule, ecs, service, now)

    def _schedule(self, backend, service, now):
        ss = self.services.get(service.arn)
        if ss is None:
            self.init_service(backend, service)
            ss = self.services[service.arn]
        tasks = self.sim.tasks
        cluster = backend.clusters.get(service.cluster_name)
        mine = [st for st in tasks.by_arn.values() if st.service_key == f"{service.cluster_name}:{service.name}"
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
                    p = profile()
                    ss.next_launch[dep["id"]] = now + min(p.restart_first * (2 ** (n - 1)), p.restart_cap)
                    ss.steady = False

        if service.status in ("DRAINING", "INACTIVE"):
            for st in alive:
                if st.task.desired_status != "STOPPED":
                    tasks.request_stop(st.task, f"Scaling activity initiated by (deployment {primary['id']})",
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

        for st in running:
            if not st.healthy_seen and self.healthy(st):
                st.healthy_seen = True
                self.sim.timeline.add("task-healthy", st.task.id, {"deployment": st.deployment_id})

        # Unhealthy targets past the grace period are replaced (ECS does this).
        grace = profile().grace(getattr(service, "health_check_grace_period_seconds", None))
        for st in running:
            for tg, tid, port in st.targets:
                h = self.sim.lb.health.get((tg, tid, str(port)), {})
                if h.get("state") == "unhealthy" and st.running_since and now - st.running_since >= grace:
                    self.event(service, f"(service {service.name}) (task {st.task.id}) (port {port}) is unhealthy in "
                                        f"(target-group {tg}) due to (reason {h.get('description')}).")
                    tasks.request_stop(st.task, f"Task failed ELB health checks in (target-group {tg})",
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
                return self._schedule(backend, service, now)

        # Scale in the primary when it has too many tasks (not yet running ones first).
        if len(prim) > desired:
            extra = sorted(prim, key=lambda st: (st.status == "RUNNING", st.task.created_at))
            extra = extra[: len(prim) - desired]
            for st in extra:
                tasks.request_stop(st.task, f"Scaling activity initiated by (deployment {primary['id']})",
                                   "ServiceSchedulerInitiated")
            self.event(service, f"(service {service.name}) has stopped {len(extra)} running tasks: "
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
            started = self._start_tasks(backend, service, cluster, primary, min(need, room))
            mine.extend(started)
            prim.extend(started)
            if started:
                ss.steady = False
                self.event(service, f"(service {service.name}) has started {len(started)} tasks: "
                           + " ".join(f"(task {st.task.id})" for st in started) + ".")

        # Stop old-deployment tasks as far as minimumHealthyPercent allows
        # (not while the primary has failed: the old tasks are what still serves).
        if primary["rolloutState"] == "FAILED":
            old = []
        min_healthy = math.ceil(desired * min_pct / 100)
        healthy = sum(1 for st in prim + old if self.healthy(st))
        stoppable = max(0, healthy - min_healthy)
        to_stop = [st for st in old if not self.healthy(st)]  # not serving: stopping costs nothing
        for st in sorted((st for st in old if self.healthy(st)), key=lambda st: st.task.created_at):
            if stoppable <= 0:
                break
            to_stop.append(st)
            stoppable -= 1
        if to_stop:
            for st in to_stop:
                tasks.request_stop(st.task, f"Scaling activity initiated by (deployment {primary['id']})",
                                   "ServiceSchedulerInitiated")
            self.event(service, f"(service {service.name}) has stopped {len(to_stop)} running tasks: "
                       + " ".join(f"(task {st.task.id})" for st in to_stop) + ".")

        # Old deployments with nothing left are removed once the primary is done.
        self._update_counts(service, mine)
        others_alive = any(st.status != "STOPPED" and st.deployment_id != primary["id"] for st in mine)
        prim_alive = [st for st in mine if st.deployment_id == primary["id"] and st.status != "STOPPED"]
        done = (
            primary["rolloutState"] != "FAILED"
            and not others_alive
            and len(prim_alive) == desired
            and all(self.healthy(st) for st in prim_alive)
        )
        if done:
            if primary["rolloutState"] == "IN_PROGRESS":
                primary["rolloutState"] = "COMPLETED"
                primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
                primary["updatedAt"] = utcnow()
                ss.last_completed = (primary["id"], primary["taskDefinition"])
                self.event(service, f"(service {service.name}) (deployment {primary['id']}) deployment completed.")
                self.sim.timeline.add("deployment-completed", primary["id"], {"service": service.arn})
            del deps[1:]
            if not ss.steady:
                ss.steady = True
                ss.failures[primary["id"]] = 0
                self.event(service, f"(service {service.name}) has reached a steady state.")
        elif primary["rolloutState"] == "COMPLETED" and len(prim_alive) != desired:
            ss.steady = False

    def _start_tasks(self, backend, service, cluster, primary, count):
        """Place up to `count` new tasks of the PRIMARY; stop at the first that
        cannot be placed (an event, or quiet waiting)."""
        capacity = self.sim.capacity
        td = backend.describe_task_definition(primary["taskDefinition"])
        strategy = primary.get("capacityProviderStrategy")
        cp = strategy[0].get("capacityProvider") if strategy else None
        fargate = primary.get("launchType") == "FARGATE" or cp in ("FARGATE", "FARGATE_SPOT")
        provider = None if fargate else capacity.provider(backend, cp)
        role_error = consistency.task_role_problem(td)
        if role_error:  # no task is created; the scheduler tries again later
            self.event(service, f"(service {service.name}) failed to launch a task with (error {role_error}).")
            self.services[service.arn].next_launch[primary["id"]] = time.monotonic() + profile().role_retry
            return []
        started = []
        for _ in range(count):
            ci = None
            if not fargate:
                ci, problem = capacity.place(backend, cluster, requirements(td), provider)
                if ci is None:
                    if problem == "wait":
                        break  # room is being freed by stopping tasks
                    if not capacity.waits_for_capacity(provider):
                        self._placement_event(service, *problem)
                        break
            started.append(self.sim.tasks.create(
                backend, cluster, td, ci, fargate=fargate, started_by=primary["id"], group=f"service:{service.name}",
                launch_type=primary.get("launchType"), capacity_provider=cp, overrides=None,
                tags=self._propagated_tags(service, td), network_configuration=service.network_configuration or None,
                service_key=f"{service.cluster_name}:{service.name}", deployment_id=primary["id"],
            ))
        return started

    def _trip_breaker(self, backend, service, ss, primary, rollback):
        primary["rolloutState"] = "FAILED"
        primary["rolloutStateReason"] = "ECS deployment circuit breaker: tasks failed to start."
        primary["updatedAt"] = utcnow()
        self.event(service, f"(service {service.name}) deployment {primary['id']} deployment failed: tasks failed to start.")
        if rollback and ss.last_completed:
            good_id, good_td = ss.last_completed
            service.task_definition = good_td
            self.new_deployment(backend, service, rollback_to=good_id)
            self.event(service, f"(service {service.name}) rolling back to deployment {good_id}.")

    @staticmethod
    def _propagated_tags(service, td):
        if service.propagate_tags == "SERVICE":
            return list(service.tags or [])
        if service.propagate_tags == "TASK_DEFINITION":
            return list(td.tags or [])
        return []

    @staticmethod
    def _update_counts(service, mine):
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

    def snapshot(self):
        services = []
        for account_id, region, ecs in self.sim.loaded(self.sim.ecs_backends):
            for s in ecs.services.values():
                services.append({
                    "serviceArn": s.arn, "status": s.status, "desiredCount": s.desired_count,
                    "runningCount": s.running_count, "pendingCount": s.pending_count,
                    "deployments": [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in d.items()}
                                    for d in s.deployments],
                    "events": [e["message"] for e in s.events[:10]],
                })
        return services
