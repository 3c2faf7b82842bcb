"""How long things take in the world: one profile gives every duration the
simulator uses (seconds of world time).

Two profiles, chosen by settings.timing:

  fast       compressed durations, so that a deploy takes seconds: the same
             events in the same order as on AWS, only sooner.
  realistic  AWS's durations (REALISTIC below, one source per row) multiplied
             by settings.time_scale (default 0.05: a 150 s ALB provisioning
             takes 7.5 s). Target-group health checks then run at the group's
             own HealthCheckIntervalSeconds and thresholds, the deregistration
             delay is the group's deregistration_delay.timeout_seconds, and
             the instance warm-up is the provider's instanceWarmupPeriod.

No AWS duration lives anywhere else (the simulator's 50 ms tick, socket
timeouts and a staged container's run_seconds are not AWS's): every module
asks `profile()` at the moment it schedules something, so a change of timing
applies to what is scheduled next.
"""

from .settings import SETTINGS

# fast: the compressed values the world has always used.
FAST = {
    "instance_launch": 0.0,        # RunInstances -> running at once
    "agent_registration": 0.5,     # running -> container instance registered
    "task_provisioning": 0.2,      # PROVISIONING -> PENDING once placed
    "image_pull": 0.3,             # PENDING (pull) -> RUNNING
    "stop_step": 0.12,             # each of DEACTIVATING, STOPPING, DEPROVISIONING
    "stable": 0.5,                 # RUNNING this long before the scheduler counts a task
    "alb_provisioning": 0.0,       # provisioning -> active (on the next tick)
    "scaling_period": 0.5,         # managed scaling evaluates every period
    "scale_in_after": 5.0,         # continuous lower need before managed scale-in
    "launch_retry": 1.0,           # a group retries a failed launch this often
    "iam_propagation": 2.0,        # a new instance profile is unknown to EC2 this long
    "listener_propagation": 1.0,   # a new listener's target group looks unattached to ECS this long
    "service_linked_role": 1.0,    # ECS cannot assume its new service-linked role this long
    "role_retry": 0.5,             # a service retries a launch ECS could not assume the role for
    "ec2_propagation": 0.5,        # a new security group is unknown to other EC2 calls this long
    "read_lag": 0.5,               # reads show the state from before a write this long
    "placement_event_every": 5.0,  # one "unable to place" event per text per period
    "capacity_provider_delete": 0.5,   # DELETE_IN_PROGRESS -> INACTIVE
    "inactive_provider_visible": 2.0,  # an INACTIVE provider is still described by name this long
    "cluster_attachments": 0.5,    # attachmentsStatus UPDATE_IN_PROGRESS after PutClusterCapacityProviders
    "instance_termination": 1.0,   # EC2 shutting-down -> terminated
    "lb_eni_linger": 2.0,          # a deleted load balancer's ENIs keep its security groups in use
    "restart_first": 0.3,          # failed service tasks: first restart delay,
    "restart_cap": 2.0,            # doubling up to this
}
FAST_HEALTH_INTERVAL = 0.2
FAST_HEALTH_THRESHOLD_CAP = 2  # min(group's threshold, 2)
FAST_GRACE_FACTOR = 0.1        # healthCheckGracePeriodSeconds 10 -> 1 s
FAST_DEREGISTRATION_CAP = 0.2  # min(deregistration delay, 0.2 s)
FAST_WARMUP_CAP = 1.0          # min(instanceWarmupPeriod, 1 s): past the agent's registration

# realistic: AWS's durations in seconds, before time_scale.
REALISTIC = {
    # EC2 pending -> running for an Amazon Linux 2 ECS AMI (EC2 docs "Instance
    # lifecycle"; TF ec2 waitInstanceRunning polls for minutes). Typical, unsure.
    "instance_launch": 40.0,
    # ecs-init starts the agent after boot; it registers ~20 s after running (typical, unsure).
    "agent_registration": 20.0,
    # PROVISIONING -> PENDING once placed (ECS task lifecycle docs; typical, unsure).
    "task_provisioning": 5.0,
    # First pull of an ML image onto a t2/t3.micro: 20-120 s (reference row 8, unsure of size).
    "image_pull": 45.0,
    # Each stop step (task lifecycle docs; typical, unsure).
    "stop_step": 2.0,
    # How long a task must run before ECS counts it: not documented (unsure).
    "stable": 5.0,
    # ALB provisioning -> active takes minutes (TF elbv2 waitLoadBalancerActive; typical 2-3 min).
    "alb_provisioning": 150.0,
    # CapacityProviderReservation is published every minute; scale-out after one datapoint
    # (cluster-auto-scaling.html; "Deep Dive on Amazon ECS Cluster Auto Scaling" blog).
    "scaling_period": 60.0,
    # Scale-in after 15 datapoints below target (same blog; aws/containers-roadmap#653 "~15 min").
    "scale_in_after": 900.0,
    # Auto Scaling retries a failed launch on its own; the interval is not documented (unsure).
    "launch_retry": 30.0,
    # IAM: "can take some time" (troubleshoot_general.html#troubleshoot_general_eventual-consistency);
    # seconds in practice, not documented precisely (unsure).
    "iam_propagation": 10.0,
    # The listener → target group association as ECS sees it: seconds (unsure; terraform retries).
    "listener_propagation": 5.0,
    # DeleteCapacityProvider -> INACTIVE: CloudFormation saw ~23 s (aws/aws-cdk#18179); unsure.
    "capacity_provider_delete": 25.0,
    # How long an INACTIVE provider stays describable: not documented (unsure).
    "inactive_provider_visible": 600.0,
    # Cluster attachments UPDATE_IN_PROGRESS -> UPDATE_COMPLETE: not documented (unsure; seconds).
    "cluster_attachments": 10.0,
    # EC2 shutting-down -> terminated (EC2 "Instance lifecycle"): typically under a minute (unsure).
    "instance_termination": 45.0,
    # A deleted ALB's ENIs are cleaned up asynchronously (terraform elbv2 cleanupALBNetworkInterfaces): minutes (unsure).
    "lb_eni_linger": 180.0,
    # The service-linked role ECS creates on first use: "does not complete before the initial API call
    # finishes" (terraform-provider-aws ecs/cluster.go, which retries for its 2-minute propagationTimeout);
    # seconds in practice, not documented (unsure).
    "service_linked_role": 10.0,
    # A service retried the launch ~30 s after "ECS was unable to assume the role" (pulumi/pulumi-awsx#927).
    "role_retry": 30.0,
    # EC2: a new id "might not have propagated throughout the system" (EC2 API eventual consistency page);
    # how long is not documented (unsure; terraform waits up to ec2PropagationTimeout, 5 minutes).
    "ec2_propagation": 2.0,
    # Read-after-write lag of the Tagging API's index and of EC2 rule reads: not documented (unsure).
    "read_lag": 5.0,
    # Service event throttling is not documented (unsure): as fast.
    "placement_event_every": 5.0,
    # Service throttle logic: restarts of failing tasks back off up to 27 minutes
    # (service-throttle-logic.html); the first delay is not documented (unsure).
    "restart_first": 10.0,
    "restart_cap": 1620.0,
}


class Profile:
    def __init__(self, name, scale):
        self.name = name
        self.scale = scale
        self.realistic = name == "realistic"
        table = REALISTIC if self.realistic else FAST
        factor = scale if self.realistic else 1.0
        for key, seconds in table.items():
            setattr(self, key, seconds * factor)

    # Durations that belong to an AWS resource's own settings.
    def health_interval(self, tg):
        if self.realistic:
            return float(tg.health_check_interval_seconds or 30) * self.scale
        return FAST_HEALTH_INTERVAL

    def healthy_threshold(self, tg):
        value = int(tg.healthy_threshold_count or 5)
        return value if self.realistic else min(value, FAST_HEALTH_THRESHOLD_CAP)

    def unhealthy_threshold(self, tg):
        value = int(tg.unhealthy_threshold_count or 2)
        return value if self.realistic else min(value, FAST_HEALTH_THRESHOLD_CAP)

    def grace(self, seconds):
        return (seconds or 0) * (self.scale if self.realistic else FAST_GRACE_FACTOR)

    def deregistration_delay(self, tg):
        delay = float(tg.attributes.get("deregistration_delay.timeout_seconds", 300))
        return delay * self.scale if self.realistic else min(delay, FAST_DEREGISTRATION_CAP)

    def instance_warmup(self, provider):
        period = float((provider.auto_scaling_group_provider.get("managedScaling") or {})
                       .get("instanceWarmupPeriod") or 300)
        return period * self.scale if self.realistic else min(period, FAST_WARMUP_CAP)


_PROFILES = {}


def profile():
    """The profile the settings choose now."""
    key = (SETTINGS.timing, SETTINGS.time_scale)
    if key not in _PROFILES:
        _PROFILES[key] = Profile(*key)
    return _PROFILES[key]
