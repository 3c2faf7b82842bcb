"""Names, texts, tags and counts that AWS refuses, refused (switch name_rules).

moto 5.2.5 stores almost any string it is given; AWS checks each parameter
against the constraints its API reference documents (pattern, length, value
range) and answers HTTP 400 before anything is created. This module makes the
world answer the same way for the API calls ecsdeploy makes, with each
service's error code and, where AWS's wording could be found, its wording:

  IAM, Auto Scaling, ELBv2 tags, CloudWatch Logs, ECS: the validation layer's
      "1 validation error detected: Value 'X' at 'roleName' failed to satisfy
      constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
      ("N validation errors detected: A; B" when several fail; the parameter
      is named in lowerCamelCase, list items as 'tags.1.member.value').
      Wording as AWS answers it: aws/aws-cli#790, serverless/examples#405,
      legion-platform/legion#530 (ValidationError, HTTP 400, roleName length),
      hashicorp/terraform-provider-aws#14505 (role description pattern),
      SWO-GS/auto-tag#90 (IAM 'tags.6.member.value'),
      szuecs/kube-static-egress-controller#35 (a query API's tag value length).
  EC2, ELBv2 names: their own sentences (sources at each rule).

Every rule names the API reference page that documents the constraint. Where
AWS's exact answer is not documented anywhere that could be found, the rule
says "unsure" and uses the closest documented form.

How it hooks: every moto API request goes through BaseResponse.call_action
(IAM, EC2, ELBv2, Auto Scaling, Logs and ECS alike). Before the action runs,
the request's parameters, parsed with moto's own parser from the botocore
model (so query, EC2-query and JSON requests look alike), are checked against
the rules of (service, action); a refusal then takes the action's place for
that request, so moto's own error handling answers it in the service's
protocol, HTTP 400. Only API calls are checked: the simulator reads and writes
moto's backends directly (the AmazonECSManaged tag, awslogs groups).
"""

import functools
import logging
import re

from moto.core.parse import PROTOCOL_PARSERS
from moto.core.request import determine_request_protocol
from moto.core.responses import BaseResponse
from moto.core.utils import camelcase_to_underscores, get_service_model
from moto.autoscaling.exceptions import ValidationError as AutoScalingValidationError
from moto.ec2.exceptions import EC2ClientError
from moto.ecs.exceptions import InvalidParameterException as EcsInvalidParameter
from moto.elbv2.exceptions import ELBClientError
from moto.iam.exceptions import ValidationError as IamValidationError
from moto.logs.exceptions import InvalidParameterException as LogsInvalidParameter

from .settings import SETTINGS

log = logging.getLogger("ecsworld.validation")

SWITCH = "name_rules"
INT32_MAX = 2**31 - 1


# --------------------------------------------------------------- the validation layer's sentences
# A check returns the request's violations in this form (the service's error lists all of them),
# or raises the service's own error where AWS answers with a sentence of its own (EC2, ELBv2 names).
def _java_length(text):
    # AWS counts a string's length as Java does, in UTF-16 code units.
    return len(text.encode("utf-16-le")) // 2


def _violation(path, value, constraint):
    return f"Value '{value}' at '{path}' failed to satisfy constraint: {constraint}"


def _pattern(path, value, regex, shown):
    """shown: the pattern as AWS prints it (its model's Java regex)."""
    if value is None or regex.fullmatch(value):
        return []
    return [_violation(path, value, f"Member must satisfy regular expression pattern: {shown}")]


def _length(path, value, low, high):
    if value is None:
        return []
    n = _java_length(value)
    if n > high:
        return [_violation(path, value, f"Member must have length less than or equal to {high}")]
    if n < low:
        return [_violation(path, value, f"Member must have length greater than or equal to {low}")]
    return []


def _range(path, value, low, high):
    # Wording unsure: the validation layer's integer-range sentence; not documented for these fields.
    if value is None:
        return []
    if int(value) < low:
        return [_violation(path, value, f"Member must have value greater than or equal to {low}")]
    if int(value) > high:
        return [_violation(path, value, f"Member must have value less than or equal to {high}")]
    return []


def _detected(violations):
    n = len(violations)
    return f"{n} validation error{'s' if n > 1 else ''} detected: " + "; ".join(violations)


def _tag_list(tags, key_name="Key", value_name="Value", path="tags"):
    """Tag keys 1..128, values 0..256 characters, as 'tags.1.member.key'."""
    out = []
    for i, tag in enumerate(tags or [], 1):
        out += _length(f"{path}.{i}.member.{key_name[0].lower()}{key_name[1:]}", tag.get(key_name), 1, 128)
        out += _length(f"{path}.{i}.member.{value_name[0].lower()}{value_name[1:]}", tag.get(value_name), 0, 256)
    return out


# ---------------------------------------------------------------------------------------- IAM
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html
#   RoleName: 1..64, pattern [\w+=,.@-]+; Description: up to 1000, pattern
#   [\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]* (Latin-1: an em dash is refused);
#   AssumeRolePolicyDocument: 1..131072, pattern [\u0009\u000A\u000D\u0020-\u00FF]+.
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateRole.html,
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateRoleDescription.html: RoleName, Description.
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html
#   PolicyName: 1..128, pattern [\w+=,.@-]+; PolicyDocument as AssumeRolePolicyDocument.
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateInstanceProfile.html
#   InstanceProfileName: 1..128, pattern [\w+=,.@-]+.
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_Tag.html: Key 1..128, Value 0..256.
# Error: ValidationError, HTTP 400 (API reference "Errors"; wording: module docstring).
IAM_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)  # Java's \w is ASCII
IAM_NAME_SHOWN = r"[\w+=,.@-]+"
ROLE_DESCRIPTION = re.compile("[\t\n\r\u0020-\u007e\u00a1-\u00ff]*")
ROLE_DESCRIPTION_SHOWN = r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*"
POLICY_DOCUMENT = re.compile("[\t\n\r\u0020-\u00ff]+")
POLICY_DOCUMENT_SHOWN = r"[\u0009\u000A\u000D\u0020-\u00FF]+"


def _role_name(p):
    return _pattern("roleName", p.get("RoleName"), IAM_NAME, IAM_NAME_SHOWN) + _length("roleName", p.get("RoleName"), 1, 64)


def _role_description(p):
    return (_pattern("description", p.get("Description"), ROLE_DESCRIPTION, ROLE_DESCRIPTION_SHOWN)
            + _length("description", p.get("Description"), 0, 1000))


def _policy_document(path, value):
    return _pattern(path, value, POLICY_DOCUMENT, POLICY_DOCUMENT_SHOWN) + _length(path, value, 1, 131072)


def _iam_create_role(p):
    return (_role_name(p) + _policy_document("assumeRolePolicyDocument", p.get("AssumeRolePolicyDocument"))
            + _role_description(p))


def _iam_update_role(p):
    return _role_name(p) + _role_description(p)


def _iam_put_role_policy(p):
    name = p.get("PolicyName")
    return (_role_name(p) + _pattern("policyName", name, IAM_NAME, IAM_NAME_SHOWN) + _length("policyName", name, 1, 128)
            + _policy_document("policyDocument", p.get("PolicyDocument")))


def _iam_instance_profile(p):
    name = p.get("InstanceProfileName")
    return _pattern("instanceProfileName", name, IAM_NAME, IAM_NAME_SHOWN) + _length("instanceProfileName", name, 1, 128)


# -------------------------------------------------------------------------------- Auto Scaling
# https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html,
# https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_UpdateAutoScalingGroup.html,
# https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SetDesiredCapacity.html:
#   MinSize, MaxSize, DesiredCapacity are Integer (a group's size: 0 and up; 32-bit).
#   A negative size is refused with ValidationError; the wording is unsure (not documented):
#   the validation layer's range sentence is used.
# https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_Tag.html: Key 1..128, Value 0..256
#   (CreateAutoScalingGroup, CreateOrUpdateTags); ValidationError, wording unsure (IAM's form).
def _asg_sizes(p):
    return (_range("minSize", p.get("MinSize"), 0, INT32_MAX) + _range("maxSize", p.get("MaxSize"), 0, INT32_MAX)
            + _range("desiredCapacity", p.get("DesiredCapacity"), 0, INT32_MAX))


# ------------------------------------------------------------------------------ CloudWatch Logs
# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
#   logGroupName: 1..512, pattern [\.\-_/#A-Za-z0-9]+ -> InvalidParameterException
#   (wording: awslabs/aws-embedded-metrics-java#65, aws/serverless-application-model#182).
#   tags: a map, key 1..128, value 0..256 (TagResource, TagLogGroup alike). AWS names the whole
#   map and the member's constraints (SWO-GS/auto-tag#77):
#   Value '{k=v}' at 'tags' failed to satisfy constraint: Map value must satisfy constraint:
#   [Member must have length less than or equal to 256, Member must have length greater than or
#   equal to 0, Member must satisfy regular expression pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$]
#   The key's sentence is unsure (written as the value's, with the key's constraints).
LOG_GROUP_NAME = re.compile(r"[.\-_/#A-Za-z0-9]+")
LOG_GROUP_NAME_SHOWN = r"[\.\-_/#A-Za-z0-9]+"
LOGS_TAG_VALUE = ("Map value must satisfy constraint: [Member must have length less than or equal to 256, "
                  r"Member must have length greater than or equal to 0, Member must satisfy regular expression "
                  r"pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$]")
LOGS_TAG_KEY = ("Map key must satisfy constraint: [Member must have length less than or equal to 128, "
                r"Member must have length greater than or equal to 1, Member must satisfy regular expression "
                r"pattern: ^([\p{L}\p{Z}\p{N}_.:/=+\-@]+)$]")


def _logs_group_name(p):
    name = p.get("logGroupName")
    return _pattern("logGroupName", name, LOG_GROUP_NAME, LOG_GROUP_NAME_SHOWN) + _length("logGroupName", name, 1, 512)


def _logs_tags(p):
    tags = p.get("tags")
    if not tags:
        return []
    shown = "{" + ", ".join(f"{k}={v}" for k, v in tags.items()) + "}"  # Java's Map.toString
    out = []
    if any(not 1 <= _java_length(k) <= 128 for k in tags):
        out.append(_violation("tags", shown, LOGS_TAG_KEY))
    if any(_java_length(v) > 256 for v in tags.values()):
        out.append(_violation("tags", shown, LOGS_TAG_VALUE))
    return out


# ------------------------------------------------------------------------------------------ ECS
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html,
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_UpdateService.html: desiredCount is
#   an Integer, the number of tasks (0 and up). A negative count is refused with
#   InvalidParameterException; the wording is unsure (not documented): "desiredCount can't be
#   less than 0" (and "... greater than 2147483647" above 32 bits, also unsure).
# https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Tag.html: key 1..128, value
#   0..256 (every action with tags: CreateCluster, RegisterTaskDefinition, CreateService,
#   CreateCapacityProvider, TagResource, RunTask); InvalidParameterException, wording unsure
#   (the validation layer's, 'tags.1.member.value').
def _ecs_desired_count(p):
    count = p.get("desiredCount")
    if count is None:
        return []
    if int(count) < 0:
        raise EcsInvalidParameter("desiredCount can't be less than 0")
    if int(count) > INT32_MAX:
        raise EcsInvalidParameter(f"desiredCount can't be greater than {INT32_MAX}")
    return []


# ------------------------------------------------------------------------------------------ EC2
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html
#   GroupDescription: up to 255 characters; a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*
#   GroupName: the same, and can't start with sg-.
# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html (and API_Ipv6Range,
# API_UserIdGroupPair, API_PrefixListId): a rule's Description, the same set, up to 255.
# All InvalidParameterValue:
#   non-ASCII description: "Value (X) for parameter GroupDescription is invalid. Character sets
#     beyond ASCII are not supported." (hashicorp/terraform-provider-aws#43854, psd401/aistudio#1049,
#     langchain-ai/terraform#43);
#   other characters or too long: "Invalid security group description. Valid descriptions are
#     strings less than 256 characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"
#     (cds-snc/notification-terraform#561; two spaces after "set:" as quoted there);
#   a rule's: "Invalid rule description. Valid descriptions are strings less than 256 characters
#     from the following set: a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*" (aws-cloudformation/cfn-lint#173;
#     a non-ASCII rule description gets the same sentence: unsure);
#   group name sg-*: "Value (X) for parameter GroupName is invalid. Group names may not be in the
#     format sg-*." (pulumi/pulumi-awsx#328); a non-ASCII name: as the description's (unsure); other
#     characters or too long: "Invalid security group name. Valid names are strings less than 256
#     characters from the following set:  a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*" (unsure: written as the
#     description's).
# Tags (TagSpecifications of any action, CreateTags):
#   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions (key up to
#   128, value up to 256; API_Tag.html says 127 for keys) -> InvalidParameterValue "Tag value exceeds
#   the maximum length of 256 characters" (iriusrisk/GoCD-EC2-Elastic-Agent-Plugin#24); the key's
#   sentence "Tag key exceeds the maximum length of 128 characters" is unsure.
EC2_TEXT = re.compile(r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}")
EC2_SET = "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"


def _ascii(text):
    return all(ord(c) < 128 for c in text)


def _ec2_security_group(p):
    name, description = p.get("GroupName"), p.get("Description")
    if description is not None:
        if not _ascii(description):
            raise EC2ClientError("InvalidParameterValue", f"Value ({description}) for parameter GroupDescription is "
                                 "invalid. Character sets beyond ASCII are not supported.")
        if not EC2_TEXT.fullmatch(description):
            raise EC2ClientError("InvalidParameterValue", "Invalid security group description. Valid descriptions are "
                                 f"strings less than 256 characters from the following set:  {EC2_SET}")
    if name is not None:
        if name.startswith("sg-"):
            raise EC2ClientError("InvalidParameterValue", f"Value ({name}) for parameter GroupName is invalid. Group "
                                 "names may not be in the format sg-*.")
        if not _ascii(name):
            raise EC2ClientError("InvalidParameterValue", f"Value ({name}) for parameter GroupName is invalid. "
                                 "Character sets beyond ASCII are not supported.")
        if not EC2_TEXT.fullmatch(name):
            raise EC2ClientError("InvalidParameterValue", "Invalid security group name. Valid names are strings less "
                                 f"than 256 characters from the following set:  {EC2_SET}")
    return []


def _ec2_rule_descriptions(p):
    for permission in p.get("IpPermissions") or []:
        for key in ("IpRanges", "Ipv6Ranges", "UserIdGroupPairs", "PrefixListIds"):
            for item in permission.get(key) or []:
                description = item.get("Description")
                if description is not None and not EC2_TEXT.fullmatch(description):
                    raise EC2ClientError("InvalidParameterValue", "Invalid rule description. Valid descriptions are "
                                         f"strings less than 256 characters from the following set: {EC2_SET}")
    return []


def _ec2_tags(p):
    tags = list(p.get("Tags") or [])
    for spec in p.get("TagSpecifications") or []:
        tags += spec.get("Tags") or []
    for tag in tags:
        if _java_length(tag.get("Key") or "") > 128:
            raise EC2ClientError("InvalidParameterValue", "Tag key exceeds the maximum length of 128 characters")
        if _java_length(tag.get("Value") or "") > 256:
            raise EC2ClientError("InvalidParameterValue", "Tag value exceeds the maximum length of 256 characters")
    return []


# ---------------------------------------------------------------------------------------- ELBv2
# https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html
#   Name: at most 32 characters, only alphanumeric characters and hyphens, must not begin or end
#   with a hyphen, and must not begin with "internal-".
# https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html
#   Name: at most 32 characters, only alphanumeric characters or hyphens, must not begin or end
#   with a hyphen.
# ValidationError:
#   "The load balancer name 'X' cannot be longer than '32' characters" (aws-cloudformation/cfn-lint#3259);
#   "Target group name 'X' cannot be longer than '32' characters" (hashicorp/terraform#11699);
#   the character, hyphen and internal- sentences are unsure: written like the length ones
#   ("... can only contain characters that are alphanumeric characters or hyphens(-)",
#   "... cannot begin or end with '-'", "... cannot begin with 'internal-'").
# https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Tag.html: Key 1..128,
#   Value 0..256 (CreateLoadBalancer, CreateTargetGroup, AddTags); ValidationError, wording unsure
#   (IAM's form, 'tags.1.member.value').
ELB_NAME = re.compile(r"[A-Za-z0-9-]+")


def _elb_name(subject, name, load_balancer):
    if name is None:
        return []
    if len(name) > 32:
        raise ELBClientError("ValidationError", f"{subject} '{name}' cannot be longer than '32' characters")
    if not ELB_NAME.fullmatch(name):
        raise ELBClientError("ValidationError", f"{subject} '{name}' can only contain characters that are "
                             "alphanumeric characters or hyphens(-)")
    if name.startswith("-") or name.endswith("-"):
        raise ELBClientError("ValidationError", f"{subject} '{name}' cannot begin or end with '-'")
    if load_balancer and name.startswith("internal-"):
        raise ELBClientError("ValidationError", f"{subject} '{name}' cannot begin with 'internal-'")
    return []


def _elb_load_balancer(p):
    return _elb_name("The load balancer name", p.get("Name"), True)


def _elb_target_group(p):
    return _elb_name("Target group name", p.get("Name"), False)


# ------------------------------------------------------------------------------------ the table
RULES = {
    ("iam", "CreateRole"): [_iam_create_role],
    ("iam", "UpdateRole"): [_iam_update_role],
    ("iam", "UpdateRoleDescription"): [_iam_update_role],
    ("iam", "PutRolePolicy"): [_iam_put_role_policy],
    ("iam", "CreateInstanceProfile"): [_iam_instance_profile],
    ("iam", "TagRole"): [_role_name],
    ("iam", "TagInstanceProfile"): [_iam_instance_profile],
    ("logs", "CreateLogGroup"): [_logs_group_name],
    ("logs", "TagLogGroup"): [_logs_group_name],
    ("ec2", "CreateSecurityGroup"): [_ec2_security_group],
    ("ec2", "AuthorizeSecurityGroupIngress"): [_ec2_rule_descriptions],
    ("ec2", "AuthorizeSecurityGroupEgress"): [_ec2_rule_descriptions],
    ("elbv2", "CreateLoadBalancer"): [_elb_load_balancer],
    ("elbv2", "CreateTargetGroup"): [_elb_target_group],
    ("ecs", "CreateService"): [_ecs_desired_count],
    ("ecs", "UpdateService"): [_ecs_desired_count],
    ("autoscaling", "CreateAutoScalingGroup"): [_asg_sizes],
    ("autoscaling", "UpdateAutoScalingGroup"): [_asg_sizes],
    ("autoscaling", "SetDesiredCapacity"): [_asg_sizes],
}

# Tags of any action that takes them, per service (the input member that holds them).
TAG_RULES = {
    "iam": ("Tags", lambda p: _tag_list(p.get("Tags"))),
    "elbv2": ("Tags", lambda p: _tag_list(p.get("Tags"))),
    "autoscaling": ("Tags", lambda p: _tag_list(p.get("Tags"))),
    "ecs": ("tags", lambda p: _tag_list(p.get("tags"), "key", "value")),
    "logs": ("tags", _logs_tags),
    "ec2": ("Tags", _ec2_tags),
}

# How each service answers the validation layer's violations.
REFUSAL = {
    "iam": lambda message: IamValidationError(message),
    "autoscaling": lambda message: AutoScalingValidationError(message),
    "elbv2": lambda message: ELBClientError("ValidationError", message),
    "logs": lambda message: LogsInvalidParameter(msg=message),
    "ecs": lambda message: EcsInvalidParameter(message),
}


@functools.lru_cache(maxsize=None)
def _checks(service, model_name, action):
    """The rules for one action: its own, plus the service's tag rule when its input takes tags."""
    checks = list(RULES.get((service, action), []))
    tag_rule = TAG_RULES.get(service)
    if tag_rule is not None:
        try:
            members = get_service_model(model_name).operation_model(action).input_shape.members
        except Exception:  # not in the model: nothing to check
            members = {}
        if tag_rule[0] in members or (service == "ec2" and "TagSpecifications" in members):
            checks.append(tag_rule[1])
    return tuple(checks)


def _parsed(response):
    """The request's parameters as moto parses them from the botocore model."""
    if response.automated_parameter_parsing:
        return response.params
    request = response.normalized_request
    service_model = get_service_model(response.boto3_service_name)
    protocol = determine_request_protocol(service_model, request.content_type)
    parser = PROTOCOL_PARSERS[protocol](service_model.operation_model(response._get_action()),
                                        map_type=response.PROTOCOL_PARSER_MAP_TYPE)
    return parser.parse({"method": request.method, "values": request.values, "headers": request.headers,
                         "body": request.data, "url_path": request.path, "url_params": response.uri_match})


def refusal(response):
    """The error AWS answers this request with, or None."""
    service = response.service_name
    if service not in TAG_RULES:  # the services ecsdeploy writes to
        return None
    action = response._get_action()
    checks = _checks(service, response.boto3_service_name, action)
    if not checks:
        return None
    try:
        params = _parsed(response)
    except Exception:  # moto answers what it cannot parse itself
        log.debug("%s %s: parameters not parsed", service, action, exc_info=True)
        return None
    try:
        violations = [v for check in checks for v in check(params)]
    except (EC2ClientError, ELBClientError, EcsInvalidParameter) as err:
        return err
    return REFUSAL[service](_detected(violations)) if violations else None


_orig_call_action = BaseResponse.call_action


def call_action(self):
    if SETTINGS.on(SWITCH):
        error = refusal(self)
        if error is not None:
            log.debug("%s %s refused: %s", self.service_name, self._get_action(), error)

            def refuse():
                raise error

            # For this request only, the action is the refusal: moto's call_action serialises
            # it as it does the service's own errors (protocol, status 400, request id).
            setattr(self, camelcase_to_underscores(self._get_action()), refuse)
    return _orig_call_action(self)


BaseResponse.call_action = call_action
