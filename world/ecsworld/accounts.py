"""The AWS account the world plays: its free-tier plan, and launch refusals.

1. Free tier per account plan (settings.account_plan). Accounts created on or
   after 2025-07-15 are on the free plan: only free-tier-eligible instance types
   launch, and t2.micro is not one of them
   (https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/free-tier-plans.html;
   reference rows 1 and 20: RhinoSecurityLabs/cloudgoat#375,
   nilbuild/developer-roadmap#10171, brikis98/devops-book#7). Older ("legacy")
   accounts have the 12-month free tier on t2.micro (t3.micro only in regions
   without t2.micro; us-east-1 has it: btkrausen/hashicorp#35).
   DescribeInstanceTypes reports FreeTierEligible per plan and honours the
   filter free-tier-eligible=true (the EC2 API's way to ask "free for this
   account?"). moto's data marks the free-plan list (plus t8i.micro/small) for
   every account; it is set per plan here.
2. On the free plan, RunInstances of a type that is not eligible fails with
   InvalidParameterCombination (switch free_tier). An Auto Scaling group meets
   the same error on each launch and records it as a Failed scaling activity
   (autoscaling.py).
3. An instance type whose architectures do not include the AMI's fails with
   InvalidParameterValue (switch instance_architecture); text as AWS answers it
   (aws/eks-hybrid#228, skypilot-org/skypilot#6315, aws/aws-parallelcluster#3795;
   inside a group's activity: AndrewGuenther/fck-nat#56).
4. The AWS Free Tier API's GetAccountPlanState (JSON 1.0, target prefix
   AWSFreeTierService, signing name freetier; botocore's freetier model):
   https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_freetier_GetAccountPlanState.html
   moto has no freetier service, so server.py routes it here.
5. The ECS service-linked role (switch service_linked_role). A fresh account has
   no AWSServiceRoleForECS (IAM path /aws-service-role/ecs.amazonaws.com/). ECS
   creates it on first use, but "this process does not complete before the
   initial API call finishes": CreateCluster answers InvalidParameterException
   "Unable to assume the service linked role. Please verify that the ECS service
   linked role exists." until the role has propagated. terraform-provider-aws
   retries CreateCluster (internal/service/ecs/cluster.go, retryClusterCreate) and
   CreateService (service.go, retryServiceCreate) on that message; RunTask answers
   the same in a fresh account (awslabs/fargatecli#35,
   aws-solutions/cost-optimizer-for-amazon-workspaces#13); "on a second deployment
   it worked" (aws-samples/run-selenium-tests-at-scale-using-ecs-fargate#2,
   aws-samples/baseline-environment-on-aws#238). Here the first of those three
   calls creates the role in IAM at once (ListRoles shows it) and every one of
   them fails for the profile's `service_linked_role` seconds; a role made with
   iam CreateServiceLinkedRole (ecs.amazonaws.com) propagates the same way
   (unsure: how long AWS takes is not documented). CreateCapacityProvider and
   PutClusterCapacityProviders are not refused (no source found). POST
   /_sim/reset drops IAM, so the account is fresh again. The Elastic Load
   Balancing and Auto Scaling service-linked roles have no documented first-use
   failure that could be found: not simulated.
"""

import datetime
import json
import time
import uuid

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.instance_types import INSTANCE_TYPES, InstanceTypeBackend
from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import EC2ContainerServiceBackend
from moto.iam.models import IAMBackend, iam_backends

from .settings import SETTINGS
from .tasks import Tasks
from .timing import profile

ELIGIBLE = {
    "free-plan": {"t3.micro", "t3.small", "t4g.micro", "t4g.small", "c7i-flex.large", "m7i-flex.large"},
    "legacy": {"t2.micro"},
}

FREE_TIER_MESSAGE = (
    "The specified instance type is not eligible for Free Tier. For a list of Free Tier instance types, "
    "run 'describe-instance-types' with the filter 'free-tier-eligible=true'."
)

# When the account was "created": the free plan lasts six months from then.
_created = {"at": time.time()}
FREE_PLAN_CREDITS_USD = 100.0
FREE_PLAN_MONTHS_DAYS = 183


# account id -> monotonic time ECS's service-linked role was created
_slr_created = {}


def reset():
    _created["at"] = time.time()
    _slr_created.clear()


def eligible(instance_type):
    return instance_type in ELIGIBLE[SETTINGS.account_plan]


# --- DescribeInstanceTypes: FreeTierEligible as this account's plan says ------------
_orig_describe_instance_types = InstanceTypeBackend.describe_instance_types


def describe_instance_types(self, instance_types=None, filters=None):
    # moto's InstanceType objects are shared by every backend; they are set
    # under the world lock right before moto reads and filters them.
    for itype in InstanceTypeBackend.instance_types:
        itype["FreeTierEligible"] = eligible(itype["InstanceType"])
    return _orig_describe_instance_types(self, instance_types, filters)


InstanceTypeBackend.describe_instance_types = describe_instance_types


# --- RunInstances refusals (called by capacity.py's RunInstances patch) -------------
def check_launch(ec2_backend, image_id, instance_type):
    """Raise the EC2 error AWS gives for this launch on this account, if any.
    Free tier first, then architecture (which AWS checks first is unsure)."""
    if SETTINGS.on("free_tier") and SETTINGS.account_plan == "free-plan" and not eligible(instance_type):
        raise EC2ClientError("InvalidParameterCombination", FREE_TIER_MESSAGE)
    if SETTINGS.on("instance_architecture"):
        type_archs = (INSTANCE_TYPES.get(instance_type) or {}).get("ProcessorInfo", {}).get("SupportedArchitectures")
        images = ec2_backend.describe_images(filters={"image-id": [image_id]}) if image_id else []
        if type_archs and images and images[0].architecture not in type_archs:
            # AWS lists a type's architectures as 'x86_64,i386' (gardener/gardener-extension-provider-aws#694).
            shown = ",".join(sorted(type_archs, reverse=True))
            raise EC2ClientError(
                "InvalidParameterValue",
                f"The architecture '{shown}' of the specified instance type does not match the architecture "
                f"'{images[0].architecture}' of the specified AMI. Specify an instance type and an AMI that have "
                "matching architectures, and try again. You can use 'describe-instance-types' or 'describe-images' "
                "to discover the architecture of the instance type or AMI.",
            )


# --- The Free Tier API ------------------------------------------------------------------
def account_plan_state():
    if SETTINGS.account_plan == "free-plan":
        expires = datetime.datetime.fromtimestamp(_created["at"], datetime.timezone.utc) + datetime.timedelta(
            days=FREE_PLAN_MONTHS_DAYS)
        return {
            "accountId": DEFAULT_ACCOUNT_ID,
            "accountPlanType": "FREE",
            "accountPlanStatus": "ACTIVE",
            "accountPlanRemainingCredits": {"amount": FREE_PLAN_CREDITS_USD, "unit": "USD"},
            # The model types it timestampFormat iso8601 (not epoch seconds).
            "accountPlanExpirationDate": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    # What a legacy account answers is unsure: a paid plan, active, no credits.
    return {"accountId": DEFAULT_ACCOUNT_ID, "accountPlanType": "PAID", "accountPlanStatus": "ACTIVE"}


def freetier(environ):
    """(status, headers, body) for a request signed for `freetier`."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    action = target.rsplit(".", 1)[-1]
    if target == "AWSFreeTierService.GetAccountPlanState":
        status, payload = 200, account_plan_state()
    else:
        status, payload = 400, {"__type": "UnknownOperationException",
                                "message": f"The world does not simulate the Free Tier operation {action!r}."}
    headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", str(uuid.uuid4()))]
    if status != 200:
        headers.append(("x-amzn-ErrorType", payload["__type"]))
    return status, headers, json.dumps(payload).encode()


# --- The ECS service-linked role on first use -----------------------------------------------
ECS_PRINCIPAL = "ecs.amazonaws.com"
ECS_SLR = "AWSServiceRoleForECS"
SLR_MESSAGE = "Unable to assume the service linked role. Please verify that the ECS service linked role exists."

ECS_SLR_POLICY = "arn:aws:iam::aws:policy/aws-service-role/AmazonECSServiceRolePolicy"

_orig_create_slr = IAMBackend.create_service_linked_role


def _create_ecs_slr(iam, description):
    # moto would name it AWSServiceRoleForecs; AWS's name, path and policy are these.
    trust = {"Version": "2012-10-17", "Statement": [
        {"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"Service": [ECS_PRINCIPAL]}}]}
    role = iam.create_role(ECS_SLR, json.dumps(trust), f"/aws-service-role/{ECS_PRINCIPAL}/", permissions_boundary=None,
                           description=description or "Role to enable Amazon ECS to manage your cluster.", tags=[],
                           max_session_duration="3600", linked_service=ECS_PRINCIPAL)
    try:
        iam.attach_role_policy(ECS_SLR_POLICY, ECS_SLR)
    except Exception:  # moto may not know the managed policy; the role is what matters here
        pass
    _slr_created[iam.account_id] = time.monotonic()
    return role


def create_service_linked_role(self, service_name, description, suffix):
    if service_name == ECS_PRINCIPAL and not suffix:
        return _create_ecs_slr(self, description)
    return _orig_create_slr(self, service_name, description, suffix)


IAMBackend.create_service_linked_role = create_service_linked_role


def check_service_linked_role(account_id):
    """ECS's first use in an account creates its service-linked role; until that has
    propagated, the call answers InvalidParameterException."""
    iam = iam_backends[account_id]["aws"]
    exists = any(role.name == ECS_SLR for role in iam.roles.values())
    if not exists:
        _create_ecs_slr(iam, "")  # what ECS does on first use
    if not SETTINGS.on("service_linked_role"):
        return
    created = _slr_created.get(account_id)
    if created is not None and time.monotonic() - created < profile().service_linked_role:
        raise InvalidParameterException(SLR_MESSAGE)


_orig_create_cluster = EC2ContainerServiceBackend.create_cluster
_orig_create_service = EC2ContainerServiceBackend.create_service
_orig_run_task = Tasks.run_task


def create_cluster(self, *args, **kwargs):
    check_service_linked_role(self.account_id)
    return _orig_create_cluster(self, *args, **kwargs)


def create_service(self, *args, **kwargs):
    check_service_linked_role(self.account_id)
    return _orig_create_service(self, *args, **kwargs)


def run_task(self, backend, *args, **kwargs):
    check_service_linked_role(backend.account_id)
    return _orig_run_task(self, backend, *args, **kwargs)


EC2ContainerServiceBackend.create_cluster = create_cluster
EC2ContainerServiceBackend.create_service = create_service
Tasks.run_task = run_task
