"""Eventual consistency: what a just-made write is not yet usable for.

- IAM propagation of a new instance profile (or a role just added to one): for a few seconds EC2
  does not know it, and a launch that names it fails. "Changes that you make in IAM ... are
  eventually consistent ... can take some time" (IAM User Guide, "Troubleshoot IAM: changes I make
  are not always immediately visible":
  https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency).
  RunInstances answers `InvalidParameterValue` "Value (NAME) for parameter iamInstanceProfile.name
  is invalid. Invalid IAM Instance Profile name" (".arn ... Invalid IAM Instance Profile ARN" when
  named by ARN), which an Auto Scaling group reports in a Failed scaling activity and retries.
  terraform-provider-aws ignores exactly those failed activities while it waits for capacity,
  "since they'll be retried" (hashicorp/terraform-provider-aws#31282, for #29866).

- A new listener's association of its target group with the load balancer reaches ECS late:
  CreateService right after CreateListener can fail with `InvalidParameterException` "The target
  group with targetGroupArn ARN does not have an associated load balancer.", and
  terraform-provider-aws retries CreateService on exactly that message while the association
  propagates (internal/service/ecs/service.go, its create retry).

- ECS cannot yet assume a task or execution role IAM created moments ago (switch
  `role_propagation`, for `iam_propagation` seconds): the service scheduler writes the event
  "(service NAME) failed to launch a task with (error ECS was unable to assume the role 'ARN' that
  was provided for this task. Please verify that the role being passed has the proper trust
  relationship and permissions and that your IAM user has permissions to pass this role.)." and
  tries again `role_retry` later (pulumi/pulumi-awsx#927: a new role, the event, the task started
  ~30 s later; the text also in telia-oss/terraform-aws-ecs-fargate#58, aws-samples/
  aws-modern-application-workshop#88). Unsure: those events are older than ECS's "(service NAME)"
  form and read "service NAME failed to launch ..."; the world writes the form its other events
  use. What RunTask answers for such a role could not be found: RunTask is not refused.

- EC2 propagation of a new security group (switch `ec2_propagation`, for `ec2_propagation`
  seconds): "if you run a command to modify or describe the resource that you just created, its ID
  might not have propagated throughout the system" and InvalidGroup.NotFound is the documented
  example after CreateSecurityGroup (EC2 API guide, "Eventual consistency in the Amazon EC2 API":
  https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html). AuthorizeSecurity-
  GroupIngress/Egress and DescribeSecurityGroups naming the id answer `InvalidGroup.NotFound` "The
  security group 'sg-…' does not exist" (as AWS words both; aws CLI output quoted in many READMEs);
  RunInstances (directly, from a launch template, or an Auto Scaling group's launch) answers "The
  security group 'sg-…' does not exist in VPC 'vpc-…'" (hashicorp/packer#1322); CreateTags answers
  the first text (unsure: no quote found; terraform retries CreateTags on any `.NotFound` code).
  terraform-provider-aws waits for a new group to be seen (internal/service/ec2, RetryWhenNotFound
  on errCodeInvalidGroupNotFound, ec2PropagationTimeout).

- Reads that lag writes (switch `read_lag`, for `read_lag` seconds):
  * the Resource Groups Tagging API's GetResources answers from an index that follows changes
    late: a new resource or new tags appear only after the lag, a deleted resource (or its old
    tags) stays listed for it (aws/aws-cli#4173, where AWS calls it eventual consistency;
    aws/aws-sdk#676, #302). A change is timed from when the world notices it (at most 0.2 s after
    the call that made it, or at a GetResources call);
  * DescribeSecurityGroupRules does not list a rule AuthorizeSecurityGroupIngress/Egress added
    moments ago (EC2 eventual consistency page above; reference row 10).
  Not simulated: DescribeServices right after UpdateService (the ECS API reference says only, on
  RunTask, that "the result of an API command ... might not be immediately visible"), DescribeTags.

- The server clock (setting `clock_offset`, seconds, default -120): every time AWS reports comes
  from AWS's clock, not the caller's. moto and the simulator take every timestamp from
  moto.core.utils.utcnow (ECS events, deployments, tasks, scaling activities, log events and
  ingestion times, moto's HTTP Date header); it is replaced here by one that adds the offset, in
  every module that imported it. moto checks no request signature (auth is off unless
  INITIAL_NO_AUTH_ACTION_COUNT is set), so a client whose clock differs still gets answers, as AWS
  answers within its 5-minute skew allowance.

Durations come from the timing profile (`iam_propagation`, `listener_propagation`, `role_retry`,
`ec2_propagation`, `read_lag`).
"""

import datetime
import sys
import time

import moto.core.utils as moto_utils

from .settings import SETTINGS

# --- the server clock (first: every later `from moto.core.utils import utcnow` gets AWS's) -----
_machine_utcnow = moto_utils.utcnow


def aws_utcnow():
    """AWS's clock: the machine's, offset by settings.clock_offset."""
    return _machine_utcnow() + datetime.timedelta(seconds=SETTINGS.clock_offset)


def _install_clock():
    moto_utils.utcnow = aws_utcnow  # unix_time and unix_time_millis call it by its global name
    for name, module in list(sys.modules.items()):
        if name.startswith(("moto.", "ecsworld.")) and getattr(module, "utcnow", None) is _machine_utcnow:
            module.utcnow = aws_utcnow


_install_clock()

from moto.core.resource_tagging import TaggedResource, iter_taggable_backends, make_tag_matcher, match_resource_type  # noqa: E402
from moto.core.responses import BaseResponse  # noqa: E402
from moto.ec2.exceptions import EC2ClientError  # noqa: E402
from moto.ec2.models.security_groups import SecurityGroupBackend  # noqa: E402
from moto.ec2.models.tags import TagBackend  # noqa: E402
from moto.ec2.responses.security_groups import SecurityGroups as SecurityGroupsResponse  # noqa: E402
from moto.ecs.exceptions import InvalidParameterException  # noqa: E402
from moto.elbv2.models import ELBv2Backend  # noqa: E402
from moto.iam.models import IAMBackend  # noqa: E402
from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend  # noqa: E402

from . import simulator  # noqa: E402
from .timing import profile  # noqa: E402

# instance profile name -> simulator time when it (or its newest role) was written
_written = {}
# target group ARN -> simulator time a listener began forwarding to it
_forwarded = {}
# IAM role name -> monotonic time it was created or its trust policy changed
_roles = {}
# security group id -> monotonic time it was created
_new_groups = {}
# security group rule id -> monotonic time it was authorized
_new_rules = {}
# (account, region) -> the Tagging API's index: {"shown": {arn: TaggedResource}, "pending": {arn: (value, since)}}
_index = {}
_observe = {"dirty": True, "at": 0.0}


def reset():
    _written.clear()
    _forwarded.clear()
    _roles.clear()
    _new_groups.clear()
    _new_rules.clear()
    _index.clear()
    _observe.update(dirty=True, at=0.0)  # index the fresh world at once, so later changes lag


def _wrote(name):
    sim = simulator.SIM
    if sim is not None:
        _written[name] = sim.now()


_orig_create_profile = IAMBackend.create_instance_profile
_orig_add_role = IAMBackend.add_role_to_instance_profile


def create_instance_profile(self, name, *args, **kwargs):
    out = _orig_create_profile(self, name, *args, **kwargs)
    _wrote(name)
    return out


def add_role_to_instance_profile(self, profile_name, role_name):
    out = _orig_add_role(self, profile_name, role_name)
    _wrote(profile_name)
    return out


IAMBackend.create_instance_profile = create_instance_profile
IAMBackend.add_role_to_instance_profile = add_role_to_instance_profile


def check_launch_profile(ec2_backend, kwargs):
    """Refuse a launch whose launch template names an instance profile IAM has not propagated yet."""
    sim = simulator.SIM
    if sim is None or not SETTINGS.on("iam_propagation") or not kwargs.get("launch_template"):
        return
    version = ec2_backend._get_template_from_args(kwargs["launch_template"])
    spec = version.data.get("IamInstanceProfile") or {}
    by_name = spec.get("Name")
    value = by_name or spec.get("Arn") or ""
    name = by_name or value.rsplit("/", 1)[-1]
    written = _written.get(name)
    if not name or written is None or sim.now() - written >= profile().iam_propagation:
        return
    if by_name:
        raise EC2ClientError("InvalidParameterValue",
                             f"Value ({value}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name")
    raise EC2ClientError("InvalidParameterValue",
                         f"Value ({value}) for parameter iamInstanceProfile.arn is invalid. Invalid IAM Instance Profile ARN")


_orig_create_listener = ELBv2Backend.create_listener


def create_listener(self, load_balancer_arn, protocol, port, ssl_policy, certificate, actions, *args, **kwargs):
    out = _orig_create_listener(self, load_balancer_arn, protocol, port, ssl_policy, certificate, actions, *args, **kwargs)
    sim = simulator.SIM
    if sim is not None:
        for action in actions or []:
            if action.get("TargetGroupArn"):
                _forwarded[action["TargetGroupArn"]] = sim.now()
    return out


ELBv2Backend.create_listener = create_listener


def check_target_group_associated(arn):
    """Refuse a service on a target group whose listener ECS does not see yet."""
    sim = simulator.SIM
    at = _forwarded.get(arn)
    if sim is None or at is None or not SETTINGS.on("listener_propagation") or sim.now() - at >= profile().listener_propagation:
        return
    raise InvalidParameterException(f"The target group with targetGroupArn {arn} does not have an associated load balancer.")


# --- task and execution roles ECS cannot assume yet ---------------------------------------
_orig_create_role = IAMBackend.create_role
_orig_update_trust = IAMBackend.update_assume_role_policy


def create_role(self, role_name, *args, **kwargs):
    out = _orig_create_role(self, role_name, *args, **kwargs)
    _roles[role_name] = time.monotonic()
    return out


def update_assume_role_policy(self, role_name, policy_document):
    out = _orig_update_trust(self, role_name, policy_document)
    _roles[role_name] = time.monotonic()
    return out


IAMBackend.create_role = create_role
IAMBackend.update_assume_role_policy = update_assume_role_policy


def task_role_problem(td):
    """The error ECS meets launching a task of this definition while its role propagates, or None."""
    if not SETTINGS.on("role_propagation"):
        return None
    for arn in (getattr(td, "task_role_arn", None), getattr(td, "execution_role_arn", None)):
        written = _roles.get((arn or "").rsplit("/", 1)[-1])
        if written is not None and time.monotonic() - written < profile().iam_propagation:
            return (f"ECS was unable to assume the role '{arn}' that was provided for this task. Please verify that "
                    "the role being passed has the proper trust relationship and permissions and that your IAM user "
                    "has permissions to pass this role.")
    return None


# --- EC2: a new security group is not known everywhere yet --------------------------------
def _is_new_group(group_id):
    at = _new_groups.get(group_id)
    return (at is not None and SETTINGS.on("ec2_propagation")
            and time.monotonic() - at < profile().ec2_propagation)


def _refuse_new_groups(ids, vpc_id=None):
    for gid in ids or []:
        if _is_new_group(gid):
            where = f" in VPC '{vpc_id}'" if vpc_id else ""
            raise EC2ClientError("InvalidGroup.NotFound", f"The security group '{gid}' does not exist{where}")


_orig_create_sg = SecurityGroupBackend.create_security_group
_orig_describe_sgs_response = SecurityGroupsResponse.describe_security_groups
_orig_authorize_in = SecurityGroupBackend.authorize_security_group_ingress
_orig_authorize_out = SecurityGroupBackend.authorize_security_group_egress
_orig_describe_rules = SecurityGroupBackend.describe_security_group_rules
_orig_create_tags = TagBackend.create_tags


def create_security_group(self, name, *args, **kwargs):
    group = _orig_create_sg(self, name, *args, **kwargs)
    if name != "default":  # a VPC's own default group is there as soon as the VPC is
        _new_groups[group.id] = time.monotonic()
    return group


def describe_security_groups_response(self):
    # At the API only: moto's ECS also looks groups up through the backend, and what ECS answers
    # for a group EC2 has not propagated is not documented.
    _refuse_new_groups(self._get_param("GroupIds", []))
    return _orig_describe_sgs_response(self)


def _authorize(orig):
    def authorize(self, group_name_or_id, *args, **kwargs):
        _refuse_new_groups([group_name_or_id])
        rules, group = orig(self, group_name_or_id, *args, **kwargs)
        for rule in rules:
            _new_rules[rule.id] = time.monotonic()
        return rules, group
    return authorize


def describe_security_group_rules(self, *args, **kwargs):
    rules = _orig_describe_rules(self, *args, **kwargs)
    if not SETTINGS.on("read_lag"):
        return rules
    now, lag = time.monotonic(), profile().read_lag
    return [r for r in rules if now - _new_rules.get(r.id, -lag) >= lag]


def create_tags(self, resource_ids, tags):
    _refuse_new_groups([rid for rid in resource_ids or [] if rid.startswith("sg-")])
    return _orig_create_tags(self, resource_ids, tags)


SecurityGroupBackend.create_security_group = create_security_group
SecurityGroupsResponse.describe_security_groups = describe_security_groups_response
SecurityGroupBackend.authorize_security_group_ingress = _authorize(_orig_authorize_in)
SecurityGroupBackend.authorize_security_group_egress = _authorize(_orig_authorize_out)
SecurityGroupBackend.describe_security_group_rules = describe_security_group_rules
TagBackend.create_tags = create_tags


def check_launch_groups(ec2_backend, kwargs):
    """Refuse a launch (RunInstances, a launch template's, a group's) naming a group EC2 has not propagated."""
    ids = list(kwargs.get("security_group_ids") or [])
    if kwargs.get("launch_template"):
        data = ec2_backend._get_template_from_args(kwargs["launch_template"]).data
        ids += data.get("SecurityGroupIds") or []
        for nic in data.get("NetworkInterfaces") or []:
            ids += nic.get("Groups") or []
    for gid in ids:
        if _is_new_group(gid):
            group = ec2_backend.get_security_group_from_id(gid)
            _refuse_new_groups([gid], getattr(group, "vpc_id", None))


# --- the Tagging API's index lags -----------------------------------------------------------
_orig_call_action = BaseResponse.call_action
_orig_get_resources = ResourceGroupsTaggingAPIBackend._get_resources_generator
OBSERVE_EVERY = 0.2  # seconds between two looks at what changed (the simulator's, not AWS's)


def call_action(self):
    out = _orig_call_action(self)
    if not self._get_action().startswith(("Describe", "List", "Get")):
        _observe["dirty"] = True  # something may have changed what GetResources should list
    return out


BaseResponse.call_action = call_action


def _look(account_id, region, now):
    """Bring the index up to date with what moto holds now, each change shown only after the lag."""
    live = {}
    for backend in iter_taggable_backends(account_id, region):
        for r in backend.iter_tagged_resources():
            live[r.arn] = TaggedResource(arn=r.arn, tags=dict(r.tags), resource_type=r.resource_type,
                                         extra=dict(r.extra))
    index = _index.get((account_id, region))
    if index is None:  # first look: what exists now is indexed already
        _index[(account_id, region)] = {"shown": live, "pending": {}}
        return
    shown, pending, lag = index["shown"], index["pending"], profile().read_lag
    for arn in set(live) | set(shown) | set(pending):
        want = live.get(arn)
        if want == shown.get(arn):
            pending.pop(arn, None)
            continue
        if arn not in pending or pending[arn][0] != want:
            pending[arn] = (want, now)
        if now - pending[arn][1] >= lag:
            if want is None:
                shown.pop(arn, None)
            else:
                shown[arn] = want
            pending.pop(arn)


def tick(now):
    """Called by the simulator: look at what changed since the last write, at most every OBSERVE_EVERY."""
    if not _observe["dirty"] or not SETTINGS.on("read_lag") or now - _observe["at"] < OBSERVE_EVERY:
        return
    keys = [(account, region) for account, region, _ in simulator.SIM.loaded(simulator.SIM.ec2_backends)]
    _observe.update(dirty=not keys, at=now)  # before EC2's backend exists there is nothing to index
    for account, region in keys:
        _look(account, region, now)


def get_resources_generator(self, tag_filters=None, resource_type_filters=None, resource_arn_list=None):
    if not SETTINGS.on("read_lag"):
        yield from _orig_get_resources(self, tag_filters, resource_type_filters, resource_arn_list)
        return
    _look(self.account_id, self.region_name, time.monotonic())
    tag_matcher = make_tag_matcher(tag_filters)
    # The same filters as moto's generator, on the index instead of the live resources.
    for r in list(_index[(self.account_id, self.region_name)]["shown"].values()):
        if not r.tags and not r.extra.get("include_untagged"):
            continue
        if not match_resource_type(r.resource_type, resource_type_filters) or not tag_matcher(r.tags):
            continue
        if resource_arn_list and r.arn not in resource_arn_list:
            continue
        yield r


ResourceGroupsTaggingAPIBackend._get_resources_generator = get_resources_generator
