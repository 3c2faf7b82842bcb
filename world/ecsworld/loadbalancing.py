"""Elastic Load Balancing as ECS services meet it: load balancer provisioning,
target registration by ECS, health checks, draining, and the listeners.

- CreateLoadBalancer answers State `provisioning`; the load balancer becomes
  `active` after the profile's provisioning time (TF elbv2
  waitLoadBalancerActive) and only then forwards traffic. moto made it active
  on the first Describe call; here the simulator owns the state.
- ECS registers each RUNNING task in the service's target groups (event
  `registered 1 targets in (target-group …)`): a bridge/host task as its
  instance + host port (`instance` groups), an awsvpc task as its ENI's private
  address + containerPort (`ip` groups, enis.py). CreateService/UpdateService
  refuse a group of the other kind (switch target_type_network_mode):
  `The provided target group ARN has target type instance, which is
  incompatible with the awsvpc network mode specified in the task definition.`
  (hashicorp/terraform-provider-aws and CloudFormation users quote it; the
  `ip`/`bridge` form likewise).
- CreateLoadBalancer of an application load balancer needs subnets in at least
  two Availability Zones (switch alb_two_azs): `ValidationError: At least two
  subnets in two different Availability Zones must be specified` (as
  CloudFormation and Elastic Beanstalk users quote ELBv2's answer; the
  API_CreateLoadBalancer reference: "you must specify subnets from at least two
  Availability Zones"). Without SecurityGroups it gets the VPC's default group.
- Health checks: HTTP GET of the group's path on each target, from the load
  balancer's address, matcher HttpCode, every HealthCheckIntervalSeconds; a
  target whose security groups do not let the load balancer in gets no answer:
  `Target.Timeout`, "Request timed out" (firewall.py; API_TargetHealth:
  "Target.Timeout - The health check requests timed out"); healthy after
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

from moto.ecs.exceptions import InvalidParameterException
from moto.elbv2.exceptions import ELBClientError
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
        if st.eni is not None:
            target_id, kind = st.eni.private_ip, "ip"
        else:
            target_id, kind = st.instance_id, "instance"
        if service is None or not target_id:
            return
        elb = self._elb(st)
        for lb in service.load_balancers or []:
            tg = elb.target_groups.get(lb.get("targetGroupArn"))
            port = next((hp for n, cp, hp in st.host_ports
                         if n == lb.get("containerName") and cp == int(lb.get("containerPort") or 0)), None)
            if tg is None or port is None or tg.target_type != kind:
                continue
            try:
                tg.register([{"Id": target_id, "Port": port}])
            except Exception as err:  # e.g. instance no longer running
                log.warning("could not register %s:%s in %s: %s", target_id, port, tg.name, err)
                continue
            key = (tg.arn, target_id, str(port))
            self.health[key] = {"state": "initial", "ok": 0, "fail": 0, "last": 0}
            self.target_tasks[key] = st.task.id
            st.targets.append((tg.arn, target_id, port))
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
                        key[0], key[1], lambda key=key: self.listener_targets.get(key, []), self.sim.firewall.allows
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
                checking = [arn for arn in tg.load_balancer_arns if arn in active]
                if not checking:
                    continue
                source = self.lb_ips.get(checking[0])
                for t in list(tg.targets.values()):
                    key = (tg.arn, t["Id"], str(t["Port"]))
                    h = self.health.setdefault(key, {"state": "initial", "ok": 0, "fail": 0, "last": 0})
                    ip = self._target_ip(t["Id"])
                    if ip is None or h["state"] == "draining" or now - h["last"] < p.health_interval(tg):
                        continue
                    h["last"] = now
                    port = t["Port"] if tg.health_check_port in (None, "traffic-port") else tg.health_check_port
                    codes = (tg.matcher or {}).get("HttpCode", "200") if getattr(tg, "matcher", None) else "200"
                    # Dropped by the target's security groups: no answer, without waiting for it.
                    blocked = not self.sim.firewall.allows(ip, port, source)
                    checks.append({"key": key, "ip": ip, "port": port, "path": tg.health_check_path or "/",
                                   "codes": codes, "healthy": p.healthy_threshold(tg),
                                   "unhealthy": p.unhealthy_threshold(tg), "source": source, "blocked": blocked})
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
            if isinstance(status, int) and self._code_matches(status, check["codes"]):
                h["ok"], h["fail"] = h["ok"] + 1, 0
                if h["ok"] >= check["healthy"] and h["state"] != "healthy":
                    h.update(state="healthy", reason=None, description=None)
                    tg_arn, target_id, port = check["key"]
                    self.sim.timeline.add("target-healthy", self.target_tasks.get(check["key"]),
                                          {"targetGroupArn": tg_arn, "target": target_id, "port": int(port)})
            else:
                h["ok"], h["fail"] = 0, h["fail"] + 1
                if status == network.TIMEOUT:
                    reason, desc = "Target.Timeout", "Request timed out"
                elif status is None:
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


TWO_AZS = "At least two subnets in two different Availability Zones must be specified"


def create_load_balancer(self, name, security_groups, subnet_ids, subnet_mappings=None, scheme="internet-facing",
                         loadbalancer_type=None, *args, **kwargs):
    if (loadbalancer_type or "application") == "application" and SETTINGS.on("alb_two_azs"):
        ids = list(subnet_ids or []) + [m.get("SubnetId") for m in subnet_mappings or []]
        zones = {getattr(self.ec2_backend.get_subnet(i), "availability_zone", None) for i in ids if i}
        if ids and len(zones) < 2:
            raise ELBClientError("ValidationError", TWO_AZS)
    lb = _orig_create_lb(self, name, security_groups, subnet_ids, subnet_mappings, scheme, loadbalancer_type,
                         *args, **kwargs)
    if lb.type == "application" and not lb.security_groups:
        default = self.ec2_backend.get_default_security_group(lb.vpc_id)
        lb.security_groups = [default.id] if default else []
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


def check_target_types(backend, td, load_balancers):
    """CreateService / UpdateService: the target group's type must suit the
    task definition's network mode (awsvpc -> ip, bridge/host -> instance)."""
    if td is None or not SETTINGS.on("target_type_network_mode"):
        return
    from moto.elbv2.models import elbv2_backends

    elb = elbv2_backends[backend.account_id][backend.region_name]
    mode = td.network_mode or "bridge"
    for item in load_balancers or []:
        tg = elb.target_groups.get(item.get("targetGroupArn") or "")
        if tg is None or tg.target_type not in ("ip", "instance"):
            continue
        if (mode == "awsvpc") != (tg.target_type == "ip"):
            raise InvalidParameterException(
                f"The provided target group {tg.arn} has target type {tg.target_type}, which is incompatible with "
                f"the {mode} network mode specified in the task definition."
            )


ELBv2Backend.create_load_balancer = create_load_balancer
FakeTargetGroup.health_for = health_for
FakeLoadBalancer.activate = lambda self: None  # provisioning -> active is the simulator's (tick above)
