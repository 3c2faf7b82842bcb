"""Elastic Load Balancing as ECS services meet it: load balancer provisioning,
target registration by ECS, health checks, draining, and the listeners.

- CreateLoadBalancer answers State `provisioning`; the load balancer becomes
  `active` after the profile's provisioning time (TF elbv2
  waitLoadBalancerActive) and only then forwards traffic. moto made it active
  on the first Describe call; here the simulator owns the state.
- ECS registers each RUNNING task's instance + host port in the service's
  target groups (event `registered 1 targets in (target-group …)`).
- Health checks: HTTP GET of the group's path on each target, matcher
  HttpCode, every HealthCheckIntervalSeconds; healthy after
  HealthyThresholdCount successes, unhealthy after UnhealthyThresholdCount
  failures (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html;
  fast profile: 0.2 s and at most 2). DescribeTargetHealth: `initial`
  (Elb.RegistrationInProgress), `healthy`, `unhealthy`
  (Target.ResponseCodeMismatch / Target.FailedHealthChecks), `unused`
  (Target.NotInUse when no load balancer uses the group), `draining`.
- Draining (switch target_draining): when a task stops, ECS deregisters its
  targets in DEACTIVATING and waits for them to drain: the target is
  `draining` (Target.DeregistrationInProgress) for the group's
  deregistration_delay.timeout_seconds, gets no new requests, and the task
  moves on to STOPPING only then
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-target-groups.html#deregistration-delay;
  task lifecycle: "the load balancer deregistration occurs during this state").
- Listeners are real HTTP forwarders (network.py), round robin over healthy
  targets, 503 when none, as an ALB.
"""

import logging
import re

from moto.elbv2.models import ELBv2Backend, FakeHealthStatus, FakeLoadBalancer, FakeTargetGroup

from . import network, simulator
from .settings import SETTINGS
from .timing import profile

log = logging.getLogger("ecsworld.loadbalancing")


class _Dead:
    """Placeholder for a listener whose address could not be bound."""

    def stop(self):
        pass


class LoadBalancing:
    def __init__(self, sim):
        self.sim = sim
        self.forwarders = {}  # (ip, port) -> Forwarder
        self.reset()

    def reset(self):
        self.close()
        self.lb_ips = {}  # load balancer arn -> ip
        self.created_at = {}  # load balancer arn -> monotonic time of CreateLoadBalancer
        self.listener_targets = {}  # (ip, port) -> [(ip, port)] healthy targets
        self.health = {}  # (tg arn, target id, port) -> {"state", "ok", "fail", "last", "reason", "description"}
        self.target_tasks = {}  # (tg arn, target id, port) -> task id

    def close(self):
        for fwd in self.forwarders.values():
            fwd.stop()
        self.forwarders = {}

    def assign_lb_ip(self, arn):
        if arn not in self.lb_ips:
            self.lb_ips[arn] = self.sim.subnet.allocate()
        return self.lb_ips[arn]

    def health_state(self, tg_arn, target_id, port):
        return self.health.get((tg_arn, target_id, str(port)), {}).get("state")

    def target_health(self, tg_arn, target_id, port):
        h = self.health.get((tg_arn, target_id, str(port)))
        if h is None or h["state"] == "initial":
            return "initial", "Elb.RegistrationInProgress", "Target registration is in progress"
        return h["state"], h.get("reason"), h.get("description")

    def _target_ip(self, target_id):
        if re.match(r"^\d+\.\d+\.\d+\.\d+$", target_id):
            return target_id
        return self.sim.capacity.instance_ips.get(target_id)

    def _elb(self, st):
        return self.sim.elbv2_backends[st.backend.account_id][st.backend.region_name]

    def _service_of(self, st):
        return st.backend.services.get(st.service_key) if st.service_key else None

    # ------------------------------------------------------- ECS registration
    def register_targets(self, st):
        service = self._service_of(st)
        if service is None or not st.instance_id:
            return
        elb = self._elb(st)
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
            key = (tg.arn, st.instance_id, str(port))
            self.health[key] = {"state": "initial", "ok": 0, "fail": 0, "last": 0}
            self.target_tasks[key] = st.task.id
            st.targets.append((tg.arn, st.instance_id, port))
            self.sim.scheduler.event(service, f"(service {service.name}) registered 1 targets in (target-group {tg.arn})")

    def start_draining(self, st):
        """ECS deregisters a stopping task's targets; returns how long they drain."""
        if not st.targets:
            return 0.0
        if not SETTINGS.on("target_draining"):
            self.deregister_now(st)
            return 0.0
        service = self._service_of(st)
        elb = self._elb(st)
        longest = 0.0
        for tg_arn, target_id, port in st.targets:
            tg = elb.target_groups.get(tg_arn)
            if tg is None:
                continue
            seconds = profile().deregistration_delay(tg)
            longest = max(longest, seconds)
            self.health[(tg_arn, target_id, str(port))] = {
                "state": "draining", "reason": "Target.DeregistrationInProgress",
                "description": "Target deregistration is in progress", "ok": 0, "fail": 0, "last": 0}
            self.sim.timeline.add("target-draining", st.task.id, {"targetGroupArn": tg_arn, "target": target_id,
                                                                  "port": port, "seconds": round(seconds, 3)})
            if service is not None:
                self.sim.scheduler.event(service, f"(service {service.name}) deregistered 1 targets in "
                                                  f"(target-group {tg_arn})")
        st.draining = True
        return longest

    def finish_draining(self, st):
        """The deregistration delay is over: the targets are gone."""
        self._remove_targets(st, announce=False)

    def deregister_now(self, st):
        """Deregister without draining (the task failed, or its host went away)."""
        self._remove_targets(st, announce=not st.draining)

    def _remove_targets(self, st, announce):
        if not st.targets:
            return
        service = self._service_of(st)
        elb = self._elb(st)
        for tg_arn, target_id, port in st.targets:
            tg = elb.target_groups.get(tg_arn)
            key = (tg_arn, target_id, str(port))
            self.health.pop(key, None)
            self.target_tasks.pop(key, None)
            if tg is not None and tg.targets.get(target_id, {}).get("Port") == port:
                tg.deregister([{"Id": target_id, "Port": port}])
                if announce and service is not None:
                    self.sim.scheduler.event(service, f"(service {service.name}) deregistered 1 targets in "
                                                      f"(target-group {tg_arn})")
        st.targets = []
        st.draining = False

    # ------------------------------------------------------- load balancers
    def tick(self, now):
        """Provisioning -> active, and one forwarder per listener of an active
        load balancer, forwarding to the targets that are healthy now."""
        wanted = {}
        for account_id, region, elb in self.sim.loaded(self.sim.elbv2_backends):
            for lb in list(elb.load_balancers.values()):
                ip = self.assign_lb_ip(lb.arn)
                lb.dns_name = ip
                created = self.created_at.setdefault(lb.arn, now)
                if lb.state == "provisioning" and now - created >= profile().alb_provisioning:
                    lb.state = "active"
                    self.sim.timeline.add("lb-active", lb.arn)
                    log.info("load balancer %s active", lb.name)
                if lb.state != "active":
                    continue
                for listener in list(lb.listeners.values()):
                    healthy = []
                    for action in listener.default_actions:
                        if action.type != "forward":
                            continue
                        for tg_arn in elb._get_target_group_arns_from(action_data=action.data):
                            tg = elb.target_groups.get(tg_arn)
                            for t in list(tg.targets.values()) if tg else []:
                                tip = self._target_ip(t["Id"])
                                if self.health_state(tg_arn, t["Id"], t["Port"]) == "healthy" and tip:
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

    # ---------------------------------------------------------- health checks
    def due_health_checks(self, now):
        """The checks to run now (outside the world lock)."""
        p = profile()
        checks = []
        for account_id, region, elb in self.sim.loaded(self.sim.elbv2_backends):
            active = {arn for arn, lb in elb.load_balancers.items() if lb.state == "active"}
            for tg in list(elb.target_groups.values()):
                if not set(tg.load_balancer_arns) & active:
                    continue
                for t in list(tg.targets.values()):
                    key = (tg.arn, t["Id"], str(t["Port"]))
                    h = self.health.setdefault(key, {"state": "initial", "ok": 0, "fail": 0, "last": 0})
                    ip = self._target_ip(t["Id"])
                    if ip is None or h["state"] == "draining" or now - h["last"] < p.health_interval(tg):
                        continue
                    h["last"] = now
                    port = t["Port"] if tg.health_check_port in (None, "traffic-port") else tg.health_check_port
                    codes = (tg.matcher or {}).get("HttpCode", "200") if getattr(tg, "matcher", None) else "200"
                    checks.append({"key": key, "ip": ip, "port": port, "path": tg.health_check_path or "/",
                                   "codes": codes, "healthy": p.healthy_threshold(tg),
                                   "unhealthy": p.unhealthy_threshold(tg)})
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

    def apply_health_results(self, results):
        for check, status in results:
            h = self.health.get(check["key"])
            if h is None or h["state"] == "draining":
                continue  # deregistered meanwhile
            if status is not None and self._code_matches(status, check["codes"]):
                h["ok"], h["fail"] = h["ok"] + 1, 0
                if h["ok"] >= check["healthy"] and h["state"] != "healthy":
                    h.update(state="healthy", reason=None, description=None)
                    tg_arn, target_id, port = check["key"]
                    self.sim.timeline.add("target-healthy", self.target_tasks.get(check["key"]),
                                          {"targetGroupArn": tg_arn, "target": target_id, "port": int(port)})
            else:
                h["ok"], h["fail"] = 0, h["fail"] + 1
                if status is None:
                    reason, desc = "Target.FailedHealthChecks", "Health checks failed"
                else:
                    reason, desc = "Target.ResponseCodeMismatch", f"Health checks failed with these codes: [{status}]"
                if h["fail"] >= check["unhealthy"]:
                    h.update(state="unhealthy", reason=reason, description=desc)

    def snapshot(self):
        servers = [{"kind": "alb", "ip": ip, "port": port, "healthyTargets": self.listener_targets.get((ip, port), [])}
                   for (ip, port), f in self.forwarders.items() if not isinstance(f, _Dead)]
        lbs = [{"arn": arn, "ip": ip} for arn, ip in self.lb_ips.items()]
        health = [{"targetGroupArn": k[0], "target": k[1], "port": k[2], "state": v["state"],
                   "reason": v.get("reason")} for k, v in self.health.items()]
        return lbs, servers, health


# --- moto: load balancers and target health ---------------------------------------------------
_orig_create_lb = ELBv2Backend.create_load_balancer
_orig_health_for = FakeTargetGroup.health_for


def create_load_balancer(self, *args, **kwargs):
    lb = _orig_create_lb(self, *args, **kwargs)
    sim = simulator.SIM
    # The DNS name users curl: an address of this world's loopback /24.
    lb.dns_name = sim.lb.assign_lb_ip(lb.arn)
    sim.lb.created_at[lb.arn] = sim.now()
    return lb


def health_for(self, target, ec2_backend):
    status = _orig_health_for(self, target, ec2_backend)
    if status.status != "healthy":
        return status
    if not self.load_balancer_arns:
        return FakeHealthStatus(
            status.instance_id, status.port, self.health_check_port, "unused", "Target.NotInUse",
            "Target group is not configured to receive traffic from the load balancer",
        )
    state, reason, description = simulator.SIM.lb.target_health(self.arn, status.instance_id, status.port)
    return FakeHealthStatus(status.instance_id, status.port, self.health_check_port, state, reason, description)


ELBv2Backend.create_load_balancer = create_load_balancer
FakeTargetGroup.health_for = health_for
FakeLoadBalancer.activate = lambda self: None  # provisioning -> active is the simulator's (tick above)
