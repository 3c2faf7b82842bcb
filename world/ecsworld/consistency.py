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

Durations come from the timing profile (`iam_propagation`, `listener_propagation`); the switches
are `iam_propagation` and `listener_propagation`.
"""

from moto.ec2.exceptions import EC2ClientError
from moto.ecs.exceptions import InvalidParameterException
from moto.elbv2.models import ELBv2Backend
from moto.iam.models import IAMBackend

from . import simulator
from .settings import SETTINGS
from .timing import profile

# instance profile name -> simulator time when it (or its newest role) was written
_written = {}
# target group ARN -> simulator time a listener began forwarding to it
_forwarded = {}


def reset():
    _written.clear()
    _forwarded.clear()


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
