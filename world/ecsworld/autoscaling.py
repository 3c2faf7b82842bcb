"""EC2 Auto Scaling's side of launching: scaling activities, and launch errors
hidden in them.

On AWS, CreateAutoScalingGroup, UpdateAutoScalingGroup and SetDesiredCapacity
succeed whatever happens to the launches they cause: a launch that EC2 refuses
(free tier, architecture, quota, bad AMI, …) is a `Failed` scaling activity,
and the group keeps retrying in the background while desired > actual
(reference row 20; TF autoscaling/group.go fails its wait on such an activity).
moto launched synchronously and let the EC2 error escape through the API call;
here (switch scaling_activities) the error becomes an activity and the group
retries every profile.launch_retry seconds, one Failed activity per attempt.

Activities are worded as AWS writes them (DescribeScalingActivities examples,
https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_DescribeScalingActivities.html,
and the CLI reference):
  Description  `Launching a new EC2 instance: i-…`, `Terminating EC2 instance: i-…`,
               `Launching a new EC2 instance.  Status Reason: <EC2 message> Launching EC2 instance failed.`
  StatusMessage (Failed) `<EC2 message> Launching EC2 instance failed.`
  Cause        `At <time> a user request created an AutoScalingGroup changing the desired
               capacity from 0 to 1.  At <time> an instance was started in response to a
               difference between desired and actual capacity, increasing the capacity from 0 to 1.`
               with `a user request update of AutoScalingGroup constraints to min: A, max: B,
               desired: C`, `a user request explicitly set group desired capacity`, or ECS's
               `a monitor alarm TargetTracking-<group>-AlarmHigh-<uuid> in state ALARM triggered
               policy ECSManagedAutoScalingPolicy-<uuid>` as the first sentence's subject; a scale-in:
               `… an instance was taken out of service in response to a difference between desired
               and actual capacity, shrinking the capacity from 1 to 0.  At <time> instance i-… was
               selected for termination.`
DescribeScalingActivities returns them newest first (moto answered an empty list).
"""

import logging
import uuid

from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

from . import simulator
from .settings import SETTINGS
from .timing import profile

log = logging.getLogger("ecsworld.autoscaling")

# Why the desired capacity is changing, set by the API call (or ECS) that changes it.
_why = {"kind": None, "alarm": None}


def _key(group):
    return (group.account_id, group.region, group.name)


def _at(ts):
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


class AutoScaling:
    def __init__(self, sim):
        self.sim = sim
        self.reset()

    def reset(self):
        self.activities = {}  # group key -> [activity, newest first]
        self.causes = {}  # group key -> the desired-capacity change the next activity reports
        self.retry_at = {}  # group key -> monotonic time of the next launch attempt
        self.alarms = {}  # capacity provider arn -> (alarm uuid, policy uuid)

    def record(self, group, description, cause, status, message=None, started=None):
        activity = {
            "ActivityId": str(uuid.uuid4()),
            "AutoScalingGroupName": group.name,
            "AutoScalingGroupARN": group.arn,
            "Description": description,
            "Cause": cause,
            "StartTime": started or utcnow(),
            "EndTime": utcnow(),
            "StatusCode": status,
            "Progress": 100,
            "Details": "{}",
        }
        if message:
            activity["StatusMessage"] = message
        self.activities.setdefault(_key(group), []).insert(0, activity)
        log.info("scaling activity %s: %s", status, description)

    def set_desired_by_alarm(self, group, desired, provider, alarm):
        """ECS's target-tracking policy changes the group (capacity.py)."""
        alarm_id, policy_id = self.alarms.setdefault(provider.capacity_provider_arn,
                                                     (str(uuid.uuid4()), str(uuid.uuid4())))
        _why.update(kind="alarm", alarm=f"a monitor alarm TargetTracking-{group.name}-{alarm}-{alarm_id} in state "
                                        f"ALARM triggered policy ECSManagedAutoScalingPolicy-{policy_id}")
        try:
            group.autoscaling_backend.set_desired_capacity(group.name, desired)
        finally:
            _why.update(kind=None, alarm=None)

    def tick(self, now):
        """Groups whose last launch failed try again."""
        from moto.autoscaling.models import autoscaling_backends

        for key, at in list(self.retry_at.items()):
            if now < at:
                continue
            account_id, region, name = key
            group = autoscaling_backends[account_id][region].autoscaling_groups.get(name)
            missing = group.desired_capacity - len(group.active_instances()) if group else 0
            if missing <= 0 or not SETTINGS.on("scaling_activities"):
                del self.retry_at[key]
                continue
            self.retry_at[key] = now + profile().launch_retry
            group.replace_autoscaling_group_instances(missing, group.get_propagated_tags())
            group.autoscaling_backend.update_attached_target_groups(name)

    def for_group(self, account_id, region, name, ids=None):
        out = []
        for key, activities in self.activities.items():
            if key[:2] == (account_id, region) and (not name or key[2] == name):
                out.extend(activities)
        if ids:
            out = [a for a in out if a["ActivityId"] in ids]
        return sorted(out, key=lambda a: a["StartTime"], reverse=True)


def _reason(group, new):
    """The first sentence's subject: who changed the desired capacity."""
    if _why["kind"] == "alarm":
        return _why["alarm"]
    if _why["kind"] == "create":
        return "a user request created an AutoScalingGroup"
    if _why["kind"] == "set":
        return "a user request explicitly set group desired capacity"
    return f"a user request update of AutoScalingGroup constraints to min: {group.min_size}, max: {group.max_size}, desired: {new}"


# --- moto: the calls that change the desired capacity say why ---------------------------------
def _saying(kind, fn):
    def wrapper(self, *args, **kwargs):
        _why["kind"] = kind
        try:
            return fn(self, *args, **kwargs)
        finally:
            _why["kind"] = None

    return wrapper


AutoScalingBackend.create_auto_scaling_group = _saying("create", AutoScalingBackend.create_auto_scaling_group)
AutoScalingBackend.update_auto_scaling_group = _saying("update", AutoScalingBackend.update_auto_scaling_group)
_orig_backend_set_desired = AutoScalingBackend.set_desired_capacity


def backend_set_desired_capacity(self, group_name, desired_capacity):
    if _why["kind"] is None:
        _why["kind"] = "set"
        try:
            return _orig_backend_set_desired(self, group_name, desired_capacity)
        finally:
            _why["kind"] = None
    return _orig_backend_set_desired(self, group_name, desired_capacity)


AutoScalingBackend.set_desired_capacity = backend_set_desired_capacity

_orig_delete_group = AutoScalingBackend.delete_auto_scaling_group


def delete_auto_scaling_group(self, group_name):
    _orig_delete_group(self, group_name)
    sim = simulator.SIM
    key = (self.account_id, self.region_name, group_name)
    sim.autoscaling.retry_at.pop(key, None)
    sim.autoscaling.activities.pop(key, None)  # AWS shows them only with IncludeDeletedGroups


AutoScalingBackend.delete_auto_scaling_group = delete_auto_scaling_group


# --- moto: the group's own capacity changes and launches -------------------------------------
_orig_group_set_desired = FakeAutoScalingGroup.set_desired_capacity
_orig_replace = FakeAutoScalingGroup.replace_autoscaling_group_instances


def group_set_desired_capacity(self, new_capacity):
    sim = simulator.SIM
    if sim is None or not SETTINGS.on("scaling_activities"):
        return _orig_group_set_desired(self, new_capacity)
    old = getattr(self, "desired_capacity", None) or 0  # unset while the group is being created
    new = self.min_size if new_capacity is None else new_capacity
    if new != old:
        sim.autoscaling.causes[_key(self)] = (
            f"At {_at(utcnow())} {_reason(self, new)} changing the desired capacity from {old} to {new}.")
    before = [s.instance.id for s in self.instance_states]
    _orig_group_set_desired(self, new_capacity)
    after = {s.instance.id for s in self.instance_states}
    gone = [iid for iid in before if iid not in after]
    if gone:
        cause = sim.autoscaling.causes.pop(_key(self), None)
        ts = _at(utcnow())
        for iid in gone:
            text = (f"At {ts} an instance was taken out of service in response to a difference between desired and "
                    f"actual capacity, shrinking the capacity from {len(before)} to {len(after)}.  "
                    f"At {ts} instance {iid} was selected for termination.")
            sim.autoscaling.record(self, f"Terminating EC2 instance: {iid}",
                                   f"{cause}  {text}" if cause else text, "Successful")


def replace_autoscaling_group_instances(self, count_needed, propagated_tags):
    sim = simulator.SIM
    if sim is None or not SETTINGS.on("scaling_activities"):
        return _orig_replace(self, count_needed, propagated_tags)
    key = _key(self)
    started = utcnow()
    current = len(self.active_instances())
    launch = (f"At {_at(started)} an instance was started in response to a difference between desired and actual "
              f"capacity, increasing the capacity from {current} to {self.desired_capacity}.")
    cause = sim.autoscaling.causes.pop(key, None)
    cause = f"{cause}  {launch}" if cause else launch
    before = {s.instance.id for s in self.instance_states}
    try:
        _orig_replace(self, count_needed, propagated_tags)
    except ServiceException as err:  # EC2 refused the launch: AWS hides it in an activity
        message = f"{err.message} Launching EC2 instance failed."
        sim.autoscaling.record(self, f"Launching a new EC2 instance.  Status Reason: {message}", cause, "Failed",
                               message=message, started=started)
        sim.autoscaling.retry_at[key] = sim.now() + profile().launch_retry
        return
    sim.autoscaling.retry_at.pop(key, None)
    for state in self.instance_states:
        if state.instance.id not in before:
            sim.autoscaling.record(self, f"Launching a new EC2 instance: {state.instance.id}", cause, "Successful",
                                   started=started)


FakeAutoScalingGroup.set_desired_capacity = group_set_desired_capacity
FakeAutoScalingGroup.replace_autoscaling_group_instances = replace_autoscaling_group_instances


# --- moto: DescribeScalingActivities ------------------------------------------------------------
def describe_scaling_activities(self):
    backend = self.autoscaling_backend
    activities = simulator.SIM.autoscaling.for_group(
        backend.account_id, backend.region_name, self._get_param("AutoScalingGroupName"),
        self._get_param("ActivityIds", []))
    return ActionResult({"Activities": activities[: int(self._get_param("MaxRecords") or 100)]})


AutoScalingResponse.describe_scaling_activities = describe_scaling_activities
