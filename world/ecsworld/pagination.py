"""Small pages: every paginated list or describe call ecsdeploy makes answers at most `page_size`
items per page (setting, default 2), with a working continuation token (switch `pagination`).

AWS pages these results (each API reference gives the page limits; the AWS API models'
paginators, botocore's paginators-1.json, name the token, limit and result members):
ECS ListServices returns up to 10 services unless maxResults (1..100) says otherwise, the other ECS
lists up to 100, DescribeCapacityProviders up to 10; IAM lists 100 unless MaxItems (1..1000), and
"IAM might return fewer results, even when there are more results available"; Auto Scaling 50 groups
or 100 activities, and "a response can contain fewer items than the value specified by MaxRecords";
ELBv2 up to PageSize (1..400); CloudWatch Logs 50 groups or streams, events up to 10,000 or 1 MB;
ECR 100 images; the Tagging API up to 100 resources, and "a query can return fewer than this
maximum". A client that reads only the first page misses what is on the others, and at tutorial scale
nothing ever reaches a second page. The world makes the pages small so that such a client fails in
the world as it would on a larger account.

What is paged, and how:
- A call pages when the API pages by default (ECS, IAM, Auto Scaling, ELBv2, Logs, ECR, Tagging, EC2
  DescribeInstanceTypes and the launch template calls), or when the client sent a limit or a token.
  EC2's other describe calls return all items when MaxResults is not given ("If this parameter is
  not specified, then all items are returned", DescribeSecurityGroups / DescribeSecurityGroupRules
  API reference; "unpaginated calls", EC2 developer guide, ec2-api-pagination.html), and so does the
  world. ECR DescribeImages with imageIds is not paged ("This option cannot be used when you specify
  images with imageIds").
- A page holds min(page_size, the client's limit) items: a larger limit is allowed to come back short,
  as AWS says of IAM, Auto Scaling and Tagging (for EC2, ECS, ELBv2 and Logs that is unsure: their
  pages are full in practice); a smaller one is honoured.
- The world asks moto for the whole list (following moto's own tokens, if it pages), keeps moto's
  order, and slices it. Its token is opaque: a cursor (the last item's ARN, id or name, and its
  position); a token that is not the world's goes to moto unchanged. The next page starts after
  that item, so items listed or unlisted between two pages (a deletion, the tagging index catching
  up) shift nothing; with offsets they did, and a listing skipped an item that was there all along.
- GetLogEvents is moto's own paging (forward and backward tokens; at the end of the stream the
  same token comes back), with its limit capped at page_size.
- The answer is the service's own wire format, rewritten in place: JSON (ECS, Logs, ECR, Tagging:
  nextToken / PaginationToken), the query XML (IAM: Marker and IsTruncated; Auto Scaling: NextToken;
  ELBv2: NextMarker, the request's Marker) and the EC2 XML (nextToken).

How it hooks: moto's dispatcher (DomainDispatcherApplication.__call__) is wrapped, below the world's
request log and lock (server.py), so one client request is one logged call however many moto calls
it takes. Only POST bodies are rewritten (form or JSON, as every SDK sends them).
"""

import base64
import functools
import io
import json
import logging
import xml.etree.ElementTree as ET
from urllib.parse import parse_qsl, urlencode

import botocore.session
from moto.core.utils import get_service_model
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from .settings import SETTINGS

log = logging.getLogger("ecsworld.pagination")

SWITCH = "pagination"
ALL = None  # no limit and no token: every item in one answer (EC2's unpaginated describe calls)
LOOP_LIMIT = 1000  # moto pages at most this many times for one whole list

# (botocore service, action) -> (AWS's default page size or ALL, AWS's maximum), from each API reference.
APIS = {
    ("ecs", "ListClusters"): (100, 100),
    ("ecs", "ListServices"): (10, 100),
    ("ecs", "ListTasks"): (100, 100),
    ("ecs", "ListTaskDefinitions"): (100, 100),
    ("ecs", "ListTaskDefinitionFamilies"): (100, 100),
    ("ecs", "ListContainerInstances"): (100, 100),
    ("ecs", "DescribeCapacityProviders"): (10, 10),
    ("ec2", "DescribeSecurityGroups"): (ALL, 1000),
    ("ec2", "DescribeSecurityGroupRules"): (ALL, 1000),
    ("ec2", "DescribeSubnets"): (ALL, 1000),
    ("ec2", "DescribeVpcs"): (ALL, 1000),
    ("ec2", "DescribeInstances"): (ALL, 1000),
    ("ec2", "DescribeImages"): (ALL, 1000),
    ("ec2", "DescribeTags"): (ALL, 1000),
    ("ec2", "DescribeInstanceTypes"): (100, 100),  # pages without MaxResults: boto/boto3#2888, aws/aws-sdk-php#3070
    ("ec2", "DescribeLaunchTemplates"): (200, 200),  # default unsure
    ("ec2", "DescribeLaunchTemplateVersions"): (200, 200),  # default unsure
    ("iam", "ListRoles"): (100, 1000),
    ("iam", "ListInstanceProfiles"): (100, 1000),
    ("iam", "ListAttachedRolePolicies"): (100, 1000),
    ("iam", "ListRolePolicies"): (100, 1000),
    ("iam", "ListRoleTags"): (100, 1000),
    ("iam", "ListInstanceProfilesForRole"): (100, 1000),
    ("autoscaling", "DescribeAutoScalingGroups"): (50, 100),
    ("autoscaling", "DescribeScalingActivities"): (100, 100),
    ("elbv2", "DescribeLoadBalancers"): (400, 400),  # default unsure (the maximum)
    ("elbv2", "DescribeTargetGroups"): (400, 400),
    ("elbv2", "DescribeListeners"): (400, 400),
    ("logs", "DescribeLogGroups"): (50, 50),
    ("logs", "DescribeLogStreams"): (50, 50),
    ("logs", "FilterLogEvents"): (10000, 10000),
    ("logs", "GetLogEvents"): (10000, 10000),
    ("ecr", "DescribeImages"): (100, 1000),
    ("ecr", "ListImages"): (100, 1000),
    ("resourcegroupstaggingapi", "GetResources"): (100, 100),
}

# Paged by AWS but without a paginator in the API models.
EXTRA_PAGINATORS = {
    ("ecs", "DescribeCapacityProviders"): {"input_token": "nextToken", "output_token": "nextToken",
                                           "limit_key": "maxResults", "result_key": "capacityProviders"},
    ("logs", "GetLogEvents"): {"limit_key": "limit"},
}
# A request naming its items is answered whole.
NOT_PAGED_WITH = {("ecr", "DescribeImages"): "imageIds"}
# moto's own paging, only its page size capped.
CAPPED_ONLY = {("logs", "GetLogEvents")}

# SigV4 signing name -> botocore service name.
SERVICES = {"ecs": "ecs", "ec2": "ec2", "iam": "iam", "autoscaling": "autoscaling", "elasticloadbalancing": "elbv2",
            "logs": "logs", "ecr": "ecr", "tagging": "resourcegroupstaggingapi"}
_TOKEN_MARK = "ecsworld-page:"


def page_size():
    return SETTINGS.page_size


# ------------------------------------------------------------------ the API's names on the wire
class Api:
    """One paginated operation: its protocol and the wire names of its token, limit and items."""

    def __init__(self, service, action):
        model = get_service_model(service)
        op = model.operation_model(action)
        self.key = (service, action)
        # json, query or ec2 (the Tagging API also speaks CBOR; the world pages its JSON)
        self.protocol = "json" if "json" in model.metadata.get("protocols", [model.protocol]) else model.protocol
        self.default, self.maximum = APIS[self.key]
        config = EXTRA_PAGINATORS.get(self.key) or _paginators(service).get_paginator(action)
        inputs, outputs = op.input_shape.members, op.output_shape.members
        self.limit = self._request_name(inputs, config["limit_key"])
        self.token = self._request_name(inputs, config["input_token"]) if "input_token" in config else None
        self.next = _wire(outputs, config.get("output_token"))
        result = config.get("result_key")
        self.items = _wire(outputs, result[0] if isinstance(result, list) else result)
        self.truncated = _wire(outputs, config.get("more_results"))
        self.wrapper = op.output_shape.serialization.get("resultWrapper")
        self.not_with = NOT_PAGED_WITH.get(self.key)

    def _request_name(self, members, name):
        shape = members[name]
        if self.protocol == "ec2":  # botocore's EC2 serializer: queryName, else the capitalised locationName
            named = shape.serialization.get("queryName") or shape.serialization.get("name")
            return named[0].upper() + named[1:] if named else name
        return shape.serialization.get("name", name)


@functools.lru_cache(maxsize=None)
def _paginators(service):
    return botocore.session.get_session().get_paginator_model(service)


def _wire(members, name):
    return members[name].serialization.get("name", name) if name else None


@functools.lru_cache(maxsize=None)
def api(service, action):
    return Api(service, action) if (service, action) in APIS else None


def _identity(item, whole=False):
    """What names a listed item whatever else about it changes: the item itself (an ARN), else
    its ARN, id, name and version members together (a launch template's versions share its id);
    `whole`, or without such members, all of it."""
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        members = [(k, str(v)) for k, v in item.items() if isinstance(v, (str, int)) and not isinstance(v, bool)]
    else:
        members = [(child.tag.rsplit("}", 1)[-1], child.text) for child in item if child.text and len(child) == 0]
    names = sorted(f"{k}={v}" for k, v in members if k.lower().endswith(("arn", "id", "name", "number", "version")))
    if names and not whole:
        return "&".join(names)
    return json.dumps(item, sort_keys=True) if isinstance(item, dict) else ET.tostring(item, encoding="unicode")


def _token(position, page, items):
    """A cursor: where the page ended and the item it ended with (named by its members when they
    tell the items apart, else whole). Like AWS's, it stays right when items are listed or
    unlisted between two pages (a deletion, the tagging index catching up)."""
    names = [_identity(i) for i in items]
    last = _identity(page[-1], whole=len(set(names)) < len(names))
    return base64.b64encode(json.dumps([_TOKEN_MARK, position, last]).encode()).decode()


def _position(token, items):
    """Where the page after `token` starts in `items`: after the item it ended with, or at its
    position when that item is gone; None for a token that is not the world's."""
    try:
        mark, position, last = json.loads(base64.b64decode(token, validate=True).decode())
    except (ValueError, UnicodeDecodeError, TypeError):
        return None
    if mark != _TOKEN_MARK or not isinstance(position, int):
        return None
    for whole in (False, True):
        names = [_identity(i, whole) for i in items]
        if last in names:
            return names.index(last) + 1
    return min(position, len(items))


# ------------------------------------------------------------------ request bodies
class JsonRequest:
    def __init__(self, body):
        self.params = json.loads(body or b"{}")

    def get(self, name):
        return self.params.get(name)

    def body(self, **changes):
        params = dict(self.params)
        for name, value in changes.items():
            if value is None:
                params.pop(name, None)
            else:
                params[name] = value
        return json.dumps(params).encode()


class FormRequest:
    def __init__(self, body):
        self.pairs = parse_qsl(body.decode(), keep_blank_values=True)

    def get(self, name):
        return next((v for k, v in self.pairs if k == name), None)

    def has_prefix(self, name):
        return any(k == name or k.startswith(name + ".") for k, _ in self.pairs)

    def body(self, **changes):
        pairs = [(k, v) for k, v in self.pairs if k not in changes]
        pairs += [(k, str(v)) for k, v in changes.items() if v is not None]
        return urlencode(pairs).encode()


# ------------------------------------------------------------------ answers
class JsonAnswer:
    def __init__(self, spec, body):
        self.spec = spec
        self.doc = json.loads(body)

    def items(self):
        return list(self.doc.get(self.spec.items) or [])

    def next_token(self):
        return self.doc.get(self.spec.next) if self.spec.next else None

    def render(self, items, token):
        self.doc[self.spec.items] = items
        if token is None:
            self.doc.pop(self.spec.next, None)
        else:
            self.doc[self.spec.next] = token
        return json.dumps(self.doc).encode()


class XmlAnswer:
    """The query and EC2 XML answers: the items are the children of one element, found by its
    wire name in the result wrapper (query) or the root (EC2)."""

    def __init__(self, spec, body):
        self.spec = spec
        self.declaration = body.split(b"?>", 1)[0] + b"?>" if body.lstrip().startswith(b"<?xml") else b""
        self.root = ET.fromstring(body)
        self.ns = self.root.tag[1:].split("}", 1)[0] if self.root.tag.startswith("{") else ""
        self.container = self.root if not spec.wrapper else self.root.find(self._q(spec.wrapper))

    def _q(self, name):
        return f"{{{self.ns}}}{name}" if self.ns else name

    def _child(self, name, create=False):
        found = self.container.find(self._q(name))
        if found is None and create:
            found = ET.SubElement(self.container, self._q(name))
        return found

    def items(self):
        found = self._child(self.spec.items)
        return list(found) if found is not None else []

    def next_token(self):
        found = self._child(self.spec.next)
        return found.text if found is not None and found.text else None

    def render(self, items, token):
        listed = self._child(self.spec.items, create=bool(items))
        if listed is not None:
            for child in list(listed):
                listed.remove(child)
            listed.extend(items)
        found = self._child(self.spec.next)
        if token is None:
            if found is not None:
                self.container.remove(found)
        else:
            if found is None:
                found = ET.SubElement(self.container, self._q(self.spec.next))
            found.text = token
        if self.spec.truncated:  # IAM
            self._child(self.spec.truncated, create=True).text = "true" if token else "false"
        text = ET.tostring(self.root, encoding="unicode", default_namespace=self.ns or None)
        return self.declaration + text.encode()


def _answer(spec, body):
    return (JsonAnswer if spec.protocol == "json" else XmlAnswer)(spec, body)


# ------------------------------------------------------------------ the hook
def _identify(environ, body):
    """(botocore service, action) of a POSTed AWS request, or None."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        signing = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")[3]
    except IndexError:
        return None
    service = SERVICES.get(signing)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rsplit(".", 1)[-1]
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    params = dict(parse_qsl(body.decode("utf-8", "replace")))
    if service == "elbv2" and params.get("Version") != "2015-12-01":
        return None  # the classic load balancer API signs with the same name
    return service, params.get("Action")


def _call(dispatch, environ, body):
    """moto's answer to environ with this body: (status, headers, body)."""
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(body)
    env["CONTENT_LENGTH"] = str(len(body))
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = status, headers

    data = b"".join(dispatch(env, start_response))
    return answer["status"], answer["headers"], data


def _respond(start_response, status, headers, data):
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"] + [("Content-Length", str(len(data)))]
    start_response(status, headers)
    return [data]


def serve(environ, start_response, dispatch):
    """Answer one AWS request through dispatch (moto), one page at a time when it is paginated."""
    if environ.get("REQUEST_METHOD") != "POST" or not SETTINGS.on(SWITCH):
        return dispatch(environ, start_response)
    stream = environ.get("wsgi.input")
    body = stream.read() if stream is not None else b""
    environ = dict(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    which = _identify(environ, body)
    spec = api(*which) if which and which[0] else None
    if spec is None or (spec.protocol == "json") != ("json" in environ.get("CONTENT_TYPE", "")):
        return dispatch(environ, start_response)
    try:
        return _paged(spec, environ, body, start_response, dispatch)
    except (ValueError, AttributeError, ET.ParseError):  # not a body or answer it can read: moto's as it is
        log.warning("%s %s: not paged", *spec.key, exc_info=True)
        return dispatch(environ, start_response)


def _paged(spec, environ, body, start_response, dispatch):
    request = (JsonRequest if spec.protocol == "json" else FormRequest)(body)
    limit, token = request.get(spec.limit), request.get(spec.token) if spec.token else None
    try:
        limit = int(limit) if limit is not None else None
    except ValueError:
        limit = None  # moto answers what it cannot parse
    size = page_size() if limit is None or limit < 1 else min(limit, page_size())

    if spec.key in CAPPED_ONLY:
        return _respond(start_response, *_call(dispatch, environ, request.body(**{spec.limit: size})))
    named = spec.not_with and (request.get(spec.not_with) if spec.protocol == "json" else request.has_prefix(spec.not_with))
    if (token and _position(token, []) is None) or named or (spec.default is ALL and limit is None and token is None):
        return dispatch(environ, start_response)

    # The whole list from moto, in its order, then this page of it.
    first, items, moto_token, seen = None, [], None, set()
    for _ in range(LOOP_LIMIT):
        status, headers, data = _call(dispatch, environ, request.body(**{spec.limit: None, spec.token: moto_token}))
        if not status.startswith("200"):
            return _respond(start_response, status, headers, data)
        answer = _answer(spec, data)
        first = first or (status, headers, answer)
        items += answer.items()
        moto_token = answer.next_token()
        if not moto_token or moto_token in seen:
            break
        seen.add(moto_token)
    status, headers, answer = first
    position = _position(token, items) if token else 0
    end = position + size
    page = items[position:end]
    next_token = _token(end, page, items) if end < len(items) and page else None
    log.debug("%s %s: items %d..%d of %d", *spec.key, position, position + len(page), len(items))
    return _respond(start_response, status, headers, answer.render(page, next_token))


_orig_dispatch = DomainDispatcherApplication.__call__


def __call__(self, environ, start_response):
    return serve(environ, start_response, lambda env, respond: _orig_dispatch(self, env, respond))


DomainDispatcherApplication.__call__ = __call__
