"""The world's one settings table: which account it plays, how fast time runs,
and which AWS behaviours are on.

Tests change it through the control API (POST /_sim/config, see server.py);
POST /_sim/reset puts the defaults back. Defaults are AWS as a new account
meets it today (design §4: the world is as unforgiving as AWS by default):

  account_plan  "free-plan"  accounts created since 2025-07-15 (accounts.py);
                "legacy"     an older account on the 12-month free tier
  timing        "fast"       compressed durations, same order of events;
                "realistic"  AWS's durations x time_scale (timing.py)
  time_scale    0.05         multiplies the realistic durations only
  caller_address "165.124.160.10"  the public IPv4 address callers from outside
                the world (tests, curl, ecsdeploy) are taken to have: security
                group rules are matched against it, and GET /checkip answers
                it. The default lies in the tutorial's NU VPN CIDR
                165.124.160.0/21 (firewall.py)
  clock_offset  -120.0  seconds AWS's clock is ahead of this machine's (negative:
                behind). Every time the world reports (events, deployments,
                tasks, scaling activities, log events, the HTTP Date header) is
                AWS's time (consistency.py). The default puts AWS two minutes
                behind the caller, so a client that keeps only events newer than
                its own start time sees none of them
  page_size     2           the most items a paginated list or describe call answers per
                page while the switch pagination is on (1..100; pagination.py)
  switches      every behaviour below on; each can be turned off alone,
                for the world's own self-check only

Every simulated AWS behaviour that refuses, delays or hides something has a
switch here, named in SWITCHES with the module that implements it.
"""

import copy
import ipaddress

PLANS = ("free-plan", "legacy")
TIMINGS = ("fast", "realistic")

SWITCHES = {
    "free_tier": "accounts.py: on a free-plan account RunInstances refuses types that are not free-tier eligible",
    "instance_architecture": "accounts.py: RunInstances refuses an instance type whose architecture is not the AMI's",
    "scaling_activities": "autoscaling.py: Auto Scaling launch errors become Failed scaling activities, retried "
                          "in the background, and the API call succeeds",
    "capacity_provider_placement": "capacity.py: a capacity-provider task is placed only on instances registered "
                                   "with that provider",
    "managed_scaling": "capacity.py: ECS resizes the group of a provider with managed scaling ENABLED",
    "managed_termination_protection": "capacity.py: CreateCapacityProvider checks the group's scale-in protection; "
                                      "managed scale-in terminates only instances without tasks",
    "ecs_managed_tag": "capacity.py: CreateCapacityProvider with managed scaling tags the group AmazonECSManaged",
    "target_draining": "loadbalancing.py: a stopping task's targets drain for the deregistration delay before "
                       "the task stops",
    "name_rules": "validation.py: names, descriptions, policy texts, tags and counts AWS refuses are refused with "
                  "the service's validation error",
    "security_groups": "firewall.py: instance ports, load balancer listeners and task ENIs serve only what one of "
                       "the resource's security groups allows; the rest is dropped (the client times out)",
    "awsvpc_networking": "enis.py: each awsvpc task (EC2 or Fargate) gets an ENI with a private loopback address, a "
                         "public one with assignPublicIp ENABLED, its own HTTP server, and ip targets",
    "eni_limit": "capacity.py: an awsvpc task on EC2 needs a free ENI of the instance type (t3.micro: 1 after the "
                 "primary), else RESOURCE:ENI",
    "public_ip_fargate_only": "enis.py: assignPublicIp ENABLED is refused for the EC2 launch type and EC2 capacity "
                              "providers",
    "fargate_internet_route": "enis.py: a Fargate task needs a route to the registry (public IP + internet gateway, "
                              "NAT gateway, or ECR endpoints), else ResourceInitializationError",
    "alb_two_azs": "loadbalancing.py: CreateLoadBalancer (application) needs subnets in two Availability Zones",
    "target_type_network_mode": "loadbalancing.py: CreateService/UpdateService refuse an instance target group for "
                                "awsvpc and an ip target group for bridge/host",
    "iam_propagation": "consistency.py: a launch naming an instance profile IAM wrote moments ago fails "
                       "(Invalid IAM Instance Profile), as a Failed scaling activity the group retries",
    "listener_propagation": "consistency.py: CreateService on a target group whose listener was made moments ago "
                            "fails (does not have an associated load balancer)",
    "capacity_provider_deletion": "deletion.py: DeleteCapacityProvider answers DELETE_IN_PROGRESS and the provider is "
                                  "INACTIVE later; DELETE_FAILED while a cluster uses it",
    "one_provider_per_group": "deletion.py: CreateCapacityProvider refuses a group another provider already uses",
    "provider_in_use": "deletion.py: PutClusterCapacityProviders refuses to remove a provider that tasks or services use",
    "cluster_attachments": "deletion.py: after PutClusterCapacityProviders the attachments are UPDATE_IN_PROGRESS a "
                           "moment; another Put or DeleteCluster meanwhile is refused",
    "cluster_deletion": "deletion.py: DeleteCluster refuses while services, container instances or tasks remain",
    "service_draining": "deletion.py: DeleteService -> DRAINING until its tasks stop, then INACTIVE; CreateService "
                        "of a DRAINING name is refused",
    "instance_shutdown": "deletion.py: a terminated instance is shutting-down a while before terminated",
    "asg_deletion": "deletion.py: DeleteAutoScalingGroup refuses while activities run or (without ForceDelete) "
                    "instances remain; the group is 'Delete in progress' until its instances are gone",
    "security_group_dependencies": "deletion.py: DeleteSecurityGroup refuses (DependencyViolation) while an instance, "
                                   "ENI, load balancer or another group's rule uses the group",
    "lb_eni_linger": "deletion.py: a deleted load balancer's ENIs keep its security groups in use a while",
    "service_linked_role": "accounts.py: a fresh account has no AWSServiceRoleForECS; ECS creates it on first use and "
                           "CreateCluster, CreateService, RunTask fail (Unable to assume the service linked role) "
                           "while it propagates",
    "role_propagation": "consistency.py: a service whose task definition names a task or execution role IAM wrote "
                        "moments ago fails to launch tasks (ECS was unable to assume the role) and retries later",
    "ec2_propagation": "consistency.py: calls naming a security group created moments ago answer InvalidGroup.NotFound",
    "read_lag": "consistency.py: GetResources (Tagging API) and DescribeSecurityGroupRules show the state from before "
                "a recent write for a moment",
    "pagination": "pagination.py: every paginated list/describe call answers at most page_size items per page, "
                  "with a token for the rest",
}

DEFAULTS = {
    "account_plan": "free-plan",
    "timing": "fast",
    "time_scale": 0.05,
    "caller_address": "165.124.160.10",
    "clock_offset": -120.0,
    "page_size": 2,
    "switches": {name: True for name in SWITCHES},
}


class SettingsError(ValueError):
    """A rejected POST /_sim/config body; the message is the 400 answer."""


class Settings:
    def __init__(self):
        self.reset()

    def reset(self):
        self._values = copy.deepcopy(DEFAULTS)

    def as_dict(self):
        return copy.deepcopy(self._values)

    @property
    def account_plan(self):
        return self._values["account_plan"]

    @property
    def timing(self):
        return self._values["timing"]

    @property
    def time_scale(self):
        return self._values["time_scale"]

    @property
    def caller_address(self):
        return self._values["caller_address"]

    @property
    def clock_offset(self):
        return self._values["clock_offset"]

    @property
    def page_size(self):
        return self._values["page_size"]

    def on(self, switch):
        return self._values["switches"][switch]

    def update(self, body):
        """Apply a subset of the keys, all or nothing; SettingsError says what is wrong."""
        if not isinstance(body, dict):
            raise SettingsError("body must be a JSON object with any of: " + ", ".join(DEFAULTS))
        unknown = sorted(set(body) - set(DEFAULTS))
        if unknown:
            raise SettingsError(f"unknown keys {unknown}; known keys: {', '.join(DEFAULTS)}")
        new = copy.deepcopy(self._values)
        if "account_plan" in body:
            if body["account_plan"] not in PLANS:
                raise SettingsError(f"account_plan must be one of {list(PLANS)}, got {body['account_plan']!r}")
            new["account_plan"] = body["account_plan"]
        if "timing" in body:
            if body["timing"] not in TIMINGS:
                raise SettingsError(f"timing must be one of {list(TIMINGS)}, got {body['timing']!r}")
            new["timing"] = body["timing"]
        if "time_scale" in body:
            scale = body["time_scale"]
            if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale <= 10:
                raise SettingsError(f"time_scale must be a number > 0 and <= 10, got {scale!r}")
            new["time_scale"] = float(scale)
        if "caller_address" in body:
            address = body["caller_address"]
            try:
                if not isinstance(address, str) or ipaddress.ip_address(address).version != 4:
                    raise ValueError
            except ValueError:
                raise SettingsError(f"caller_address must be an IPv4 address such as \"203.0.113.7\", got {address!r}")
            new["caller_address"] = address
        if "clock_offset" in body:
            offset = body["clock_offset"]
            if isinstance(offset, bool) or not isinstance(offset, (int, float)) or not -86400 <= offset <= 86400:
                raise SettingsError(f"clock_offset must be a number of seconds from -86400 to 86400, got {offset!r}")
            new["clock_offset"] = float(offset)
        if "page_size" in body:
            size = body["page_size"]
            if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 100:
                raise SettingsError(f"page_size must be an integer from 1 to 100, got {size!r}")
            new["page_size"] = size
        if "switches" in body:
            switches = body["switches"]
            if not isinstance(switches, dict):
                raise SettingsError("switches must be an object of switch name -> true|false")
            bad = sorted(set(switches) - set(SWITCHES))
            if bad:
                raise SettingsError(f"unknown switches {bad}; switches: {', '.join(SWITCHES)}")
            for name, value in switches.items():
                if not isinstance(value, bool):
                    raise SettingsError(f"switch {name} must be true or false, got {value!r}")
                new["switches"][name] = value
        self._values = new


SETTINGS = Settings()
