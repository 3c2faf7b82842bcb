"""Security groups, enforced on everything the world serves on loopback:
instance host ports (bridge and host tasks), load balancer listeners, and the
addresses of awsvpc task ENIs (enis.py).

AWS (https://docs.aws.amazon.com/vpc/latest/userguide/security-group-rules.html,
"Security group rules"): you can specify allow rules, but not deny rules; a new
security group has no inbound rules, "therefore, no inbound traffic is allowed
until you add inbound rules"; when several groups are associated with a
resource their rules are aggregated; security groups are stateful. Traffic no
rule allows is dropped, not refused: the client waits and times out (ELB reports
an unreachable target as `Target.Timeout`, "The health check requests timed
out", API_TargetHealth). The default group of a VPC allows inbound traffic from
itself (https://docs.aws.amazon.com/vpc/latest/userguide/default-security-group.html);
moto created it without that rule, patched below.

The world's model (switch security_groups):
- A connection to a served address is allowed when one inbound rule of one of
  the resource's groups matches: protocol tcp or all (-1), the port within
  FromPort..ToPort (all ports for -1), and the source: a CIDR rule containing
  the caller's address, or a group rule naming one of the caller's groups.
- The caller is either the world itself acting as a resource (a load balancer's
  forwarder and health checker connect from the load balancer's own loopback
  address, so the target sees which load balancer calls) or anyone else: a test,
  curl, ecsdeploy, taken to come from the internet with the public address of
  the setting `caller_address` (default 165.124.160.10, inside the tutorial's
  NU VPN CIDR 165.124.160.0/21).
- A load balancer as a source: its security groups; a CIDR rule matches it when
  it covers every subnet of the load balancer (its nodes' addresses lie there).
- A task ENI's private address is not reachable from the internet at all.
- Which groups: an instance's (RunInstances' or its launch template's, as moto
  records them on the instance and its network interfaces); a load balancer's
  SecurityGroups; an ENI's (the task's awsvpcConfiguration.securityGroups). No
  group given: the VPC's default group, as AWS assigns it.
- A dropped connection is accepted and never answered (network.py parks the
  socket), so the client sees a timeout, not a refusal.
Not modelled: outbound (egress) rules, prefix-list and IPv6 rules (never
match), network ACLs, connection tracking of established connections after a
rule is revoked (a kept-alive connection stays allowed).

The rules are compiled under the world lock once per tick (and after a config
change) into a plain view that the HTTP servers' threads read without the lock.
"""

import ipaddress
import logging

from moto.ec2.models.security_groups import SecurityGroupBackend

from .settings import SETTINGS

log = logging.getLogger("ecsworld.firewall")


class _View:
    """What the servers' threads read: compiled rules per served address."""

    def __init__(self, caller, endpoints, sources):
        self.caller = caller  # ipaddress.IPv4Address of the outside caller
        self.endpoints = endpoints  # ip -> (kind, rules, private)
        self.sources = sources  # ip -> (frozenset of group ids, [networks])


def _compile(groups):
    """[(all_protocols, from, to, [networks], {group ids})] of the groups' inbound rules."""
    rules = []
    for group in groups:
        for rule in group.ingress_rules:
            proto = str(rule.ip_protocol or "")
            if proto not in ("-1", "tcp", "6"):
                continue
            lo, hi = (0, 65535) if proto == "-1" else (int(rule.from_port), int(rule.to_port))
            nets, srcs = [], set()
            cidr = (rule.ip_range or {}).get("CidrIp")
            if cidr:
                try:
                    nets.append(ipaddress.ip_network(cidr, strict=False))
                except ValueError:
                    pass
            gid = (rule.source_group or {}).get("GroupId")
            if gid:
                srcs.add(gid)
            if nets or srcs:
                rules.append((lo, hi, nets, srcs))
    return rules


class Firewall:
    def __init__(self, sim):
        self.sim = sim
        self.reset()

    def reset(self):
        self._view = _View(ipaddress.ip_address(SETTINGS.caller_address), {}, {})

    # ------------------------------------------------------------- decisions
    def allows(self, dst_ip, port, src_ip):
        """Whether a TCP connection from src_ip to dst_ip:port gets through.
        Called from the servers' threads: reads the compiled view only."""
        if not SETTINGS.on("security_groups"):
            return True
        view = self._view
        endpoint = view.endpoints.get(dst_ip)
        if endpoint is None:
            return True  # not a resource of the world (the claim socket, say)
        _kind, rules, private = endpoint
        source = view.sources.get(src_ip)
        if source is None and private:
            return False  # a private address: no route from the internet
        port = int(port)
        for lo, hi, nets, srcs in rules:
            if not lo <= port <= hi:
                continue
            if source is None:
                if any(view.caller in net for net in nets):
                    return True
            else:
                groups, subnets = source
                if srcs & groups:
                    return True
                if subnets and any(all(s.subnet_of(net) for s in subnets) for net in nets if net.version == 4):
                    return True
        return False

    # ------------------------------------------------------- compiled view
    def refresh(self):
        """Recompile the view (under the world lock)."""
        try:
            caller = ipaddress.ip_address(SETTINGS.caller_address)
        except ValueError:
            caller = self._view.caller
        endpoints, sources = {}, {}
        for account_id, region, ec2 in self.sim.loaded(self.sim.ec2_backends):
            for instance in ec2.all_instances():
                ip = self.sim.capacity.instance_ips.get(instance.id)
                if ip:
                    endpoints[ip] = ("instance", _compile(self.instance_groups(ec2, instance)), False)
            for eni in self.sim.enis.records():
                if eni.backend is not ec2:
                    continue
                groups = [g for g in (ec2.get_security_group_from_id(gid) for gid in eni.group_ids) if g]
                rules = _compile(groups)
                endpoints[eni.private_ip] = ("eni", rules, True)
                if eni.public_ip:
                    endpoints[eni.public_ip] = ("eni-public", rules, False)
        for account_id, region, elb in self.sim.loaded(self.sim.elbv2_backends):
            ec2 = self.sim.ec2_backends[account_id][region]
            for lb in list(elb.load_balancers.values()):
                ip = self.sim.lb.lb_ips.get(lb.arn)
                if not ip:
                    continue
                groups = self.load_balancer_groups(ec2, lb)
                endpoints[ip] = ("load-balancer", _compile(groups), False)
                nets = []
                for subnet in lb.subnets:
                    try:
                        nets.append(ipaddress.ip_network(subnet.cidr_block))
                    except (ValueError, AttributeError):
                        pass
                sources[ip] = (frozenset(g.id for g in groups), nets)
        self._view = _View(caller, endpoints, sources)

    @staticmethod
    def _default_group(ec2, vpc_id):
        try:
            return ec2.get_default_security_group(vpc_id)
        except Exception:
            return None

    def instance_groups(self, ec2, instance):
        ids = []
        for g in getattr(instance, "security_groups", None) or []:
            ids.append(g if isinstance(g, str) else g.id)
        for nic in (getattr(instance, "nics", None) or {}).values():
            for g in getattr(nic, "_group_set", None) or []:
                ids.append(g.id)
        groups = [g for g in (ec2.get_security_group_from_id(i) for i in dict.fromkeys(ids)) if g]
        if not groups:
            default = self._default_group(ec2, getattr(instance, "vpc_id", None))
            groups = [default] if default else []
        return groups

    def load_balancer_groups(self, ec2, lb):
        groups = [g for g in (ec2.get_security_group_from_id(i) for i in lb.security_groups or []) if g]
        if not groups:
            default = self._default_group(ec2, lb.vpc_id)
            groups = [default] if default else []
        return groups


# --- moto: the default security group allows traffic from itself ------------------------------
_orig_create_security_group = SecurityGroupBackend.create_security_group


def create_security_group(self, name, description, vpc_id=None, tags=None, force=False, is_default=None):
    group = _orig_create_security_group(self, name, description, vpc_id=vpc_id, tags=tags, force=force,
                                        is_default=is_default)
    if is_default:
        # AWS's default group: inbound, all traffic, from the group itself.
        self.authorize_security_group_ingress(
            group.id, "-1", None, None, [], source_groups=[{"GroupId": group.id, "UserId": self.account_id}],
            vpc_id=group.vpc_id,
        )
    return group


SecurityGroupBackend.create_security_group = create_security_group
