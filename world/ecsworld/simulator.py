"""The ECS control plane that moto lacks, played inside the moto process.

One background thread ticks every TICK seconds and, under the world lock,
reads and adjusts moto's backends for every loaded account and region. The
behaviour lives in one module per area, each saying what AWS does and where
that is documented:

  capacity.py       instances pending -> running, the ECS agent, capacity
                    providers, placement, managed scaling
  autoscaling.py    Auto Scaling activities, launch failures and retries
  tasks.py          the task lifecycle, image pulls, awslogs, RunTask
  scheduler.py      service deployments, rolling updates, circuit breaker, events
  loadbalancing.py  load balancer state, target registration, health checks,
                    draining, listeners
  accounts.py       free tier per account plan, launch refusals, the Free Tier API
  network.py        loopback addresses and the real HTTP servers
  firewall.py       security groups on everything the world serves
  enis.py           awsvpc task ENIs, public addresses, Fargate's route to
                    its registry
  deletion.py       slow and refused deletions (capacity providers, cluster
                    attachments, groups, instances, security groups)
  settings.py, timing.py, timeline.py   the settings table, the timing
                    profile, the event log

This module keeps the shared state (moto's backends, the subnet) and the
order of a tick. Durations come from timing.profile(); what the world does not
model is listed in world/README.md.
"""

import logging
import threading
import time

from . import autoscaling, capacity, consistency, enis, firewall, loadbalancing, network, scheduler, tasks
from .settings import SETTINGS
from .timeline import Timeline

log = logging.getLogger("ecsworld.sim")

# One lock for all of moto's state: request handlers (server.py) and the tick.
LOCK = threading.RLock()
SIM = None  # the running Simulator, for the moto patches

TICK = 0.05  # the simulator's own clock, not an AWS duration


def _backends():
    """Imported late: moto must see the environment set in __main__ first."""
    from moto.autoscaling.models import autoscaling_backends
    from moto.ec2.models import ec2_backends
    from moto.ecr.models import ecr_backends
    from moto.ecs.models import ecs_backends
    from moto.elbv2.models import elbv2_backends
    from moto.logs.models import logs_backends

    return ecs_backends, ec2_backends, ecr_backends, elbv2_backends, logs_backends, autoscaling_backends


class Simulator:
    def __init__(self, subnet):
        self.subnet = subnet
        self.settings = SETTINGS
        self.timeline = Timeline()
        (self.ecs_backends, self.ec2_backends, self.ecr_backends, self.elbv2_backends,
         self.logs_backends, self.autoscaling_backends) = _backends()
        self.capacity = capacity.Capacity(self)
        self.autoscaling = autoscaling.AutoScaling(self)
        self.tasks = tasks.Tasks(self)
        self.scheduler = scheduler.Scheduler(self)
        self.lb = loadbalancing.LoadBalancing(self)
        self.enis = enis.Enis(self)
        self.firewall = firewall.Firewall(self)
        self._logged_errors = set()
        self._stop = threading.Event()
        self._thread = None

    @staticmethod
    def now():
        return time.monotonic()

    @staticmethod
    def loaded(backend_dict):
        """All (account, region, backend) already created; never creates one."""
        out = []
        for account_id, per_account in list(backend_dict.items()):
            for region, backend in list(per_account.items()):
                out.append((account_id, region, backend))
        return out

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
                    checks = self.lb.due_health_checks(time.monotonic())
                # Health checks are real HTTP requests: made without the lock.
                results = [(c, network.TIMEOUT if c["blocked"] else
                            network.http_check(c["ip"], c["port"], c["path"], source=c["source"])) for c in checks]
                if results:
                    with LOCK:
                        self.lb.apply_health_results(results)
            except Exception:  # keep the world alive; the trace says what broke
                log.exception("simulator tick failed")

    def reset(self):
        """Forget everything (called under LOCK, just before moto's own reset)."""
        self._close_servers()
        for part in (self.capacity, self.autoscaling, self.tasks, self.scheduler, self.lb, self.enis, self.firewall,
                     self.timeline):
            part.reset()
        self._logged_errors = set()
        self.subnet.reset()
        consistency.reset()
        from . import deletion  # imported late: it must wrap patches.py's handlers, which import this module
        deletion.reset()

    def _close_servers(self):
        self.tasks.close()
        self.lb.close()

    # ------------------------------------------------------------------- tick
    def guarded(self, key, fn, *args):
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
        self.capacity.tick(now)  # instances, agent, waiting tasks, managed scaling
        self.guarded("auto scaling retries", self.autoscaling.tick, now)
        self.tasks.tick(now)
        self.scheduler.tick(now)
        self.guarded("counts", self.tasks.refresh_counts)
        self.guarded("resources", self.capacity.refresh_resources)
        self.guarded("load balancers", self.lb.tick, now)
        from . import deletion
        self.guarded("deletions", deletion.tick, now)
        self.guarded("security groups", self.firewall.refresh)
        self.guarded("read lag", consistency.tick, now)

    # ----------------------------------------------------------------- state
    def stage(self, spec):
        return self.tasks.stage(spec)

    def snapshot(self):
        """JSON-able view for GET /_sim/state (called under LOCK)."""
        lbs, alb_servers, health = self.lb.snapshot()
        servers = [{"kind": "app", "ip": s.ip, "port": s.port, "task": st.task.id}
                   for st in self.tasks.by_arn.values() for s in st.servers]
        return {
            "settings": self.settings.as_dict(), "subnet": f"{self.subnet.prefix}.0/24",
            "instances": self.capacity.snapshot(), "loadBalancers": lbs, "tasks": self.tasks.snapshot(),
            "services": self.scheduler.snapshot(), "servers": servers + alb_servers, "targetHealth": health,
            "stages": self.tasks.stages,
        }
