"""Self-check of the fault-injecting proxy (ecsworld.proxy), through boto3.

    .venv/bin/python world/proxy_selftest.py        (after scripts/world-setup)

Starts `scripts/world --exit-on-stdin-eof` and `python -m ecsworld.proxy` in
front of it (both die with this process), then proves forwarding, throttles
the SDK retries, error bodies botocore parses and classifies, latency,
fail_after_mutations, reset, the log, concurrency and clean shutdown. Prints
one line per check and a closing 'N passed, N failed' line; exits non-zero on
the first failure (printing the proxy's and the world's log tails).

botocore's standard retry mode backs off up to 1 s × 2^attempt on a throttle;
to keep 30 throttled calls within seconds, its delays are scaled by 1/50 here
(the decision to retry, which is what is tested, is botocore's own).
"""

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries import standard

from selfcheck import PASSED, Failed, check, step

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
LOG_KEYS = {"service", "action", "mutating", "start", "end", "status", "injected"}
SERVICES = ("ecs", "ec2", "iam", "autoscaling", "elasticloadbalancing", "logs", "sts")  # signing names
CLIENT_NAMES = {"elasticloadbalancing": "elbv2"}
BACKOFF_SCALE = 1 / 50

_delay_amount = standard.ExponentialBackoff.delay_amount
standard.ExponentialBackoff.delay_amount = lambda self, ctx: _delay_amount(self, ctx) * BACKOFF_SCALE
random.seed(1)  # botocore's jitter






# --------------------------------------------------------------------------- processes
class Proc:
    """A subprocess that prints one `NAME=URL` line when ready and dies when our stdin pipe closes."""

    def __init__(self, argv, prefix, env=None):
        self.log = tempfile.NamedTemporaryFile(prefix=f"{prefix}-", suffix=".log", delete=False)
        t0 = time.monotonic()
        self.proc = subprocess.Popen(argv + ["--exit-on-stdin-eof"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
                                     env=env)
        self.line = self.proc.stdout.readline().strip()
        self.start_seconds = time.monotonic() - t0
        self.url = self.line.split("=", 1)[1] if "=" in self.line else ""

    def log_tail(self, n=30):
        self.log.flush()
        return "\n".join(Path(self.log.name).read_text(errors="replace").splitlines()[-n:])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.unlink(self.log.name)


def start_proxy(upstream):
    env = dict(os.environ, PYTHONPATH=str(REPO / "world"), PYTHONUNBUFFERED="1")
    return Proc([sys.executable, "-m", "ecsworld.proxy", "--upstream", upstream, "--port", "0"], "ecsworld-proxy",
                env=env)


def http(method, url, body=None, headers=None):
    """(status, headers, body bytes) of a raw request."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


class Ctx:
    def __init__(self, world, proxy):
        self.world, self.proxy = world, proxy
        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name=REGION)
        names = [CLIENT_NAMES.get(s, s) for s in SERVICES]

        def make(name, retries):
            return session.client(name, endpoint_url=proxy.url, config=Config(
                retries=retries, max_pool_connections=16, connect_timeout=5, read_timeout=30))

        self.retrying = {n: make(n, {"mode": "standard", "max_attempts": 10}) for n in names}
        self.once = {n: make(n, {"mode": "standard", "total_max_attempts": 1}) for n in names}
        self.make = make

    def ctl(self, method, path, body=None):
        status, _, data = http(method, self.proxy.url + path, body, {"Content-Type": "application/json"})
        check(status == 200, f"{method} {path} -> HTTP {status}: {data[:300]!r}")
        return json.loads(data)

    def config(self, **cfg):
        return self.ctl("POST", "/_proxy/config", cfg)

    def reset(self):
        return self.ctl("POST", "/_proxy/reset")

    def log(self):
        return self.ctl("GET", "/_proxy/log")

    def world_requests(self):
        """The world's own request log, read through the proxy (/_sim/ is forwarded untouched)."""
        return self.ctl("GET", "/_sim/requests")


def check_entry(e):
    check(set(e) == LOG_KEYS, f"log entry keys {sorted(e)}")
    check(isinstance(e["service"], str) and isinstance(e["action"], str), f"service/action strings: {e}")
    check(isinstance(e["mutating"], bool), f"mutating is a bool: {e}")
    check(e["mutating"] == (not e["action"].startswith(("Describe", "List", "Get"))), f"mutating wrong: {e}")
    check(isinstance(e["start"], float) and isinstance(e["end"], float) and 0 <= e["start"] <= e["end"],
          f"start/end floats, start <= end: {e}")
    check(isinstance(e["status"], int), f"status int: {e}")
    check(e["injected"] in (None, "throttle", "error", "cut"), f"injected: {e}")


# One read call per service (signing name) for the round robin.
READS = {
    "ecs": [("ecs", "list_clusters", {}), ("ecs", "describe_clusters", {"clusters": ["proxy-a"]})],
    "ec2": [("ec2", "describe_vpcs", {}), ("ec2", "describe_security_groups", {})],
    "iam": [("iam", "list_roles", {}), ("iam", "get_role", {"RoleName": "proxy-role"})],
    "autoscaling": [("autoscaling", "describe_auto_scaling_groups", {})],
    "elasticloadbalancing": [("elbv2", "describe_load_balancers", {}), ("elbv2", "describe_target_groups", {})],
    "logs": [("logs", "describe_log_groups", {})],
    "sts": [("sts", "get_caller_identity", {})],
}

# What each protocol's injected errors look like to botocore: (HTTP status, code).
EXPECTED = {
    "json": {"throttle": (400, "ThrottlingException"), "error": (500, "InternalFailure"), "cut": (500, "InternalFailure")},
    "ec2": {"throttle": (503, "RequestLimitExceeded"), "error": (500, "InternalError"), "cut": (500, "InternalFailure")},
    "query": {"throttle": (400, "Throttling"), "error": (500, "InternalFailure"), "cut": (500, "InternalFailure")},
}
PROTOCOL = {"ecs": "json", "logs": "json", "ec2": "ec2", "iam": "query", "autoscaling": "query",
            "elasticloadbalancing": "query", "sts": "query"}


def call(clients, spec):
    name, op, kwargs = spec
    return getattr(clients[name], op)(**kwargs)


# ----------------------------------------------------------------------------- steps
@step("world and proxy ready; proxy printed one PROXY_URL line")
def t_ready(c):
    print(f"     world {c.world.start_seconds:.2f} s, proxy {c.proxy.start_seconds:.2f} s")
    check(c.world.url.startswith("http://127.0.0.1:"), f"world line {c.world.line!r}")
    check(c.proxy.line.startswith("PROXY_URL=http://127.0.0.1:"), f"proxy line {c.proxy.line!r}")
    check(c.proxy.start_seconds < 5, f"proxy took {c.proxy.start_seconds:.2f} s to start")


@step("plain forwarding: ECS CreateCluster, EC2 DescribeVpcs, IAM CreateRole reach the world unchanged")
def t_forward(c):
    c.reset()
    before = len(c.world_requests())
    cluster = c.once["ecs"].create_cluster(clusterName="proxy-a")["cluster"]
    check(cluster["clusterName"] == "proxy-a" and cluster["status"] == "ACTIVE", f"cluster {cluster}")
    vpcs = c.once["ec2"].describe_vpcs()["Vpcs"]
    check(any(v.get("IsDefault") for v in vpcs), f"no default VPC through the proxy: {vpcs}")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                                                    "Action": "sts:AssumeRole"}]}
    role = c.once["iam"].create_role(RoleName="proxy-role", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    check(role["Arn"].endswith(":role/proxy-role"), f"role {role}")
    check(c.once["iam"].get_role(RoleName="proxy-role")["Role"]["RoleName"] == "proxy-role", "role not found again")
    seen = [(r["service"], r["action"]) for r in c.world_requests()[before:]]
    check(seen == [("ecs", "CreateCluster"), ("ec2", "DescribeVpcs"), ("iam", "CreateRole"), ("iam", "GetRole")],
          f"the world saw {seen}")
    entries = c.log()
    got = [(e["service"], e["action"], e["mutating"], e["status"], e["injected"]) for e in entries]
    check(got == [("ecs", "CreateCluster", True, 200, None), ("ec2", "DescribeVpcs", False, 200, None),
                  ("iam", "CreateRole", True, 200, None), ("iam", "GetRole", False, 200, None)], f"proxy log {got}")
    for e in entries:
        check_entry(e)
    # Non-AWS paths: /_sim/ forwarded and unlogged; an unknown /_proxy/ path is a 404 naming the endpoints.
    status, _, body = http("GET", c.proxy.url + "/_sim/state")
    check(status == 200 and "instances" in json.loads(body), f"/_sim/state through the proxy: {status}")
    status, _, body = http("GET", c.proxy.url + "/_proxy/nope")
    check(status == 404 and b"/_proxy/config" in body, f"unknown control path: {status} {body[:200]!r}")
    check(len(c.log()) == len(entries), "/_sim/ requests must not be logged")
    # A GET with a query string: the same status and body as straight from the world.
    direct = http("GET", c.world.url + "/_sim/requests?x=1")
    proxied = http("GET", c.proxy.url + "/_sim/requests?x=1")
    check(direct[0] == proxied[0] == 200 and direct[2] == proxied[2], f"GET with a query: {direct[0]} vs {proxied[0]}")


@step("config is validated (unknown key, rate > 1, bad fail_after_mutations -> 400; omitted keys kept)")
def t_config(c):
    for bad in ({"nope": 1}, {"throttle_rate": 1.5}, {"error_rate": -0.1}, {"fail_after_mutations": -1},
                {"fail_after_mutations": 1.5}, {"latency_ms": "x"}, [1]):
        status, _, body = http("POST", c.proxy.url + "/_proxy/config", bad)
        check(status == 400 and b"error" in body, f"{bad} -> {status} {body[:200]!r}")
    status, _, body = http("POST", c.proxy.url + "/_proxy/config", b"{not json")
    check(status == 400, f"invalid JSON -> {status}")
    c.config(latency_ms=5, throttle_rate=0.25)
    cfg = c.config(error_rate=0.1)["config"]
    check(cfg == {"latency_ms": 5, "throttle_rate": 0.25, "error_rate": 0.1, "fail_after_mutations": None,
                  "seed": None, "deny": None, "answers": []}, f"config kept other keys? {cfg}")
    got = c.ctl("GET", "/_proxy/config")
    check(got["config"] == cfg and got["mutations_forwarded"] == 2 and got["requests"] == 4, f"GET /_proxy/config {got}")
    c.reset()
    cfg = c.ctl("GET", "/_proxy/config")["config"]
    check(cfg["latency_ms"] == 0 and cfg["throttle_rate"] == 0 and cfg["error_rate"] == 0
          and cfg["fail_after_mutations"] is None, f"reset left faults on: {cfg}")


@step("throttle_rate 0.5: 30 calls across 7 services all succeed (botocore retried) and every service was throttled")
def t_throttle_retry(c):
    c.reset()
    c.config(throttle_rate=0.5, seed=20)  # with seed 20 every service is throttled within the 30 calls
    before = len(c.world_requests())
    # Round robin over the services, each cycling through its reads: 30 calls, 4-5 per service.
    specs = [READS[s][(i // len(SERVICES)) % len(READS[s])] for i, s in zip(range(30), itertools.cycle(SERVICES))]
    retried = 0
    for spec in specs:
        out = call(c.retrying, spec)
        retried += out["ResponseMetadata"].get("RetryAttempts", 0)
    entries = c.log()
    throttled = {s: sum(1 for e in entries if e["service"] == s and e["injected"] == "throttle") for s in SERVICES}
    # Robust to any seed: call a service that was never throttled until it is (p = 0.5 per try).
    extra = 0
    for service in SERVICES:
        for _ in range(30):
            if throttled[service]:
                break
            call(c.retrying, READS[service][0])
            extra += 1
            throttled[service] = sum(1 for e in c.log() if e["service"] == service and e["injected"] == "throttle")
    entries = c.log()
    ok = [e for e in entries if e["injected"] is None]
    injected = [e for e in entries if e["injected"]]
    check(len(ok) == 30 + extra, f"{len(ok)} forwarded for {30 + extra} calls")
    print(f"     {len(entries)} attempts: {len(ok)} forwarded, {len(injected)} throttled ({throttled}); "
          f"botocore reported {retried} retries over the 30 calls")
    check(all(throttled.values()), f"services never throttled: {[s for s, n in throttled.items() if not n]}")
    check(all(e["injected"] == "throttle" for e in injected), "only throttles were injected")
    check(all(e["status"] == 200 for e in ok), f"forwarded statuses {[e['status'] for e in ok]}")
    for e in injected:
        want = EXPECTED[PROTOCOL[e["service"]]]["throttle"][0]
        check(e["status"] == want, f"throttle status for {e['service']}: {e['status']} (want {want})")
    check(retried > 0, "botocore reported no retries")
    world = c.world_requests()[before:]
    check(len(world) == len(ok), f"the world saw {len(world)} requests, the proxy forwarded {len(ok)}: "
                                 "throttled requests must not reach it")
    for e in entries:
        check_entry(e)
    starts = [e["start"] for e in entries]
    check(starts == sorted(starts), "log not in arrival order")


@step("the same seed gives the same faults (error_rate and throttle_rate together)")
def t_seed(c):
    def pattern():
        c.reset()
        c.config(throttle_rate=0.3, error_rate=0.3, seed=5)
        for _ in range(20):
            try:
                c.once["sts"].get_caller_identity()
            except ClientError:
                pass
        return [e["injected"] for e in c.log()]

    first, second = pattern(), pattern()
    check(first == second, f"two runs with seed 5 differ:\n{first}\n{second}")
    check({"throttle", "error", None} <= set(first), f"expected throttles, errors and successes: {first}")
    c.reset()


@step("injected errors parse in botocore with the expected code and are classified as throttling / transient")
def t_error_shapes(c):
    c.reset()
    before = len(c.world_requests())
    detector = standard.ThrottlingErrorDetector(standard.RetryEventAdapter())
    conditions = standard.StandardRetryConditions(max_attempts=10)
    transient = standard.TransientRetryableChecker()
    for kind, cfg in (("throttle", {"throttle_rate": 1.0}), ("error", {"error_rate": 1.0}),
                      ("cut", {"fail_after_mutations": 0})):
        c.reset()
        c.config(**cfg)
        for service in SERVICES:
            name, op, kwargs = READS[service][0]
            client = c.once[name]
            try:
                getattr(client, op)(**kwargs)
                raise Failed(f"{service} {op} succeeded with {cfg}")
            except ClientError as err:
                resp = err.response
            want_status, want_code = EXPECTED[PROTOCOL[service]][kind]
            code = resp["Error"]["Code"]
            status = resp["ResponseMetadata"]["HTTPStatusCode"]
            check((status, code) == (want_status, want_code),
                  f"{kind} {service}: botocore parsed HTTP {status} {code!r}, want {want_status} {want_code!r}")
            check(resp["Error"].get("Message"), f"{kind} {service}: no message")
            check(resp["ResponseMetadata"].get("RequestId"), f"{kind} {service}: no request id parsed")
            op_model = client.meta.service_model.operation_model(client.meta.method_to_api_mapping[op])
            context = standard.RetryContext(
                attempt_number=1, operation_model=op_model, parsed_response=resp,
                http_response=SimpleNamespace(status_code=status, headers=resp["ResponseMetadata"]["HTTPHeaders"]))
            check(conditions.is_retryable(context), f"{kind} {service}: botocore would not retry {code}")
            if kind == "throttle":
                check(detector.is_throttling_error_from_context(context),
                      f"{service}: botocore does not see {code} as throttling")
            else:
                check(transient.is_retryable(context), f"{kind} {service}: botocore does not see {code} as transient")
                check(not detector.is_throttling_error_from_context(context), f"{kind} {service}: seen as throttling")
        check([e["injected"] for e in c.log()] == [kind] * len(SERVICES), f"{kind}: log {c.log()}")
    check(len(c.world_requests()) == before, "an injected error reached the world")


@step("raw error bodies: JSON header + __type, EC2 <Response><Errors>, query <ErrorResponse xmlns> with Type")
def t_raw_bodies(c):
    c.reset()
    c.config(throttle_rate=1.0)

    def auth(service):
        return (f"AWS4-HMAC-SHA256 Credential=testing/20250101/{REGION}/{service}/aws4_request, "
                "SignedHeaders=host;x-amz-date, Signature=0")

    status, headers, body = http("POST", c.proxy.url + "/", b"{}", {
        "Authorization": auth("ecs"), "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListClusters",
        "Content-Type": "application/x-amz-json-1.1"})
    check(status == 400 and headers["x-amzn-errortype"] == "ThrottlingException"
          and headers["Content-Type"] == "application/x-amz-json-1.1"
          and json.loads(body) == {"__type": "ThrottlingException", "message": "Rate exceeded"},
          f"ECS throttle: {status} {dict(headers)} {body!r}")
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    status, headers, body = http("POST", c.proxy.url + "/", b"Action=DescribeVpcs&Version=2016-11-15",
                                 dict(form, Authorization=auth("ec2")))
    text = body.decode()
    check(status == 503 and text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
          and "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
              "</Error></Errors><RequestID>" in text and text.endswith("</RequestID></Response>"),
          f"EC2 throttle: {status} {text}")
    for service, action, ns in (("iam", "ListRoles", "https://iam.amazonaws.com/doc/2010-05-08/"),
                                ("autoscaling", "DescribeAutoScalingGroups", "http://autoscaling.amazonaws.com/doc/2011-01-01/"),
                                ("elasticloadbalancing", "DescribeLoadBalancers",
                                 "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"),
                                ("sts", "GetCallerIdentity", "https://sts.amazonaws.com/doc/2011-06-15/")):
        status, headers, body = http("POST", c.proxy.url + "/", f"Action={action}&Version=x".encode(),
                                     dict(form, Authorization=auth(service)))
        text = body.decode()
        check(status == 400 and headers["Content-Type"] == "text/xml"
              and text.startswith(f'<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type><Code>Throttling</Code>'
                                  "<Message>Rate exceeded</Message></Error><RequestId>")
              and text.endswith("</RequestId></ErrorResponse>"), f"{service} throttle: {status} {text}")
    got = [(e["service"], e["action"], e["injected"]) for e in c.log()]
    check(got[0] == ("ecs", "ListClusters", "throttle") and got[1] == ("ec2", "DescribeVpcs", "throttle")
          and len(got) == 6, f"log of raw calls {got}")
    c.reset()


@step("latency_ms 50 makes a call take >= 50 ms")
def t_latency(c):
    c.reset()
    sts = c.once["sts"]
    sts.get_caller_identity()  # connection warm
    t0 = time.monotonic()
    sts.get_caller_identity()
    base = time.monotonic() - t0
    c.config(latency_ms=50)
    t0 = time.monotonic()
    sts.get_caller_identity()
    took = time.monotonic() - t0
    entry = c.log()[-1]
    print(f"     without {base * 1000:.0f} ms, with {took * 1000:.0f} ms; logged {1000 * (entry['end'] - entry['start']):.0f} ms")
    check(took >= 0.05, f"call took {took * 1000:.0f} ms")
    check(entry["end"] - entry["start"] >= 0.05 and entry["injected"] is None and entry["status"] == 200,
          f"log entry {entry}")


@step("fail_after_mutations 2: exactly 2 mutating calls reach the world, then every call fails with InternalFailure")
def t_cut(c):
    c.reset()
    c.config(fail_after_mutations=2)
    before = len(c.world_requests())
    o = c.once
    o["ecs"].list_clusters()
    o["ecs"].create_cluster(clusterName="cut-1")                       # mutation 1
    o["ec2"].describe_vpcs()
    o["logs"].create_log_group(logGroupName="/proxy/cut")             # mutation 2
    failures = []  # from now on everything fails, reads first
    for name, op, kwargs in (("iam", "list_roles", {}), ("ecs", "create_cluster", {"clusterName": "cut-2"}),
                             ("ecs", "list_clusters", {}), ("sts", "get_caller_identity", {}),
                             ("ec2", "describe_vpcs", {})):
        try:
            getattr(o[name], op)(**kwargs)
            failures.append(f"{name} {op} succeeded")
        except ClientError as err:
            if err.response["Error"]["Code"] != "InternalFailure" or err.response["ResponseMetadata"]["HTTPStatusCode"] != 500:
                failures.append(f"{name} {op}: {err.response['Error']}")
    check(not failures, f"after the cut: {failures}")
    world = [(r["service"], r["action"]) for r in c.world_requests()[before:]]
    check(world == [("ecs", "ListClusters"), ("ecs", "CreateCluster"), ("ec2", "DescribeVpcs"),
                    ("logs", "CreateLogGroup")], f"the world saw {world}")
    check("cut-2" not in str(c.world_requests()), "cut-2 reached the world")
    entries = c.log()
    check([e["injected"] for e in entries] == [None] * 4 + ["cut"] * 5, f"log {[e['injected'] for e in entries]}")
    check([e["status"] for e in entries] == [200] * 4 + [500] * 5, f"statuses {[e['status'] for e in entries]}")
    check(c.ctl("GET", "/_proxy/config")["mutations_forwarded"] == 2, "mutation counter")
    # A retrying client gets InternalFailure on every attempt (11 = 1 + max_attempts 10).
    try:
        c.retrying["sts"].get_caller_identity()
        raise Failed("a retrying client got through the cut")
    except ClientError as err:
        attempts = err.response["ResponseMetadata"].get("RetryAttempts", 0) + 1
        check(err.response["Error"]["Code"] == "InternalFailure" and attempts == 11,
              f"retrying client: {err.response['Error']} after {attempts} attempts")


@step("fail_after_mutations 3 with 8 concurrent CreateLogGroup calls: exactly 3 reach the world")
def t_cut_concurrent(c):
    c.reset()
    clients = [c.make("logs", {"mode": "standard", "total_max_attempts": 1}) for _ in range(8)]
    c.config(fail_after_mutations=3, latency_ms=50)
    before = len(c.world_requests())
    results, barrier = [None] * 8, threading.Barrier(8)

    def run(i):
        barrier.wait(5)
        try:
            clients[i].create_log_group(logGroupName=f"/proxy/race-{i}")
            results[i] = "ok"
        except ClientError as err:
            results[i] = err.response["Error"]["Code"]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    check(sorted(results) == ["InternalFailure"] * 5 + ["ok"] * 3, f"results {results}")
    world = [r["action"] for r in c.world_requests()[before:]]
    check(world == ["CreateLogGroup"] * 3, f"the world saw {world}")
    c.reset()


@step("answers: the first N calls of an action get the scripted AWS error, the next ones reach the world")
def t_answers(c):
    c.reset()
    for bad in ({"answers": [{"action": "CreateCluster"}]}, {"answers": [{"action": "X", "code": "Y", "times": 0}]},
                {"answers": {"action": "X", "code": "Y"}}, {"answers": [{"action": "X", "code": "Y", "nope": 1}]}):
        status, _, body = http("POST", c.proxy.url + "/_proxy/config", bad)
        check(status == 400 and b"error" in body, f"{bad} -> {status} {body[:200]!r}")
    message = "Unable to assume the service linked role. Please verify that the ECS service linked role exists."
    c.config(answers=[{"action": "CreateCluster", "code": "InvalidParameterException", "message": message, "times": 2}])
    for _ in range(2):
        try:
            c.once["ecs"].create_cluster(clusterName="scripted")
            raise Failed("the scripted answer was not given")
        except ClientError as err:
            check((err.response["Error"]["Code"], err.response["Error"]["Message"]) == ("InvalidParameterException", message),
                  f"{err.response['Error']}")
    c.once["ecs"].create_cluster(clusterName="scripted")
    check([e["injected"] for e in c.log()] == ["answer", "answer", None], f"log {c.log()}")
    check(c.ctl("GET", "/_proxy/config")["config"]["answers"][0]["left"] == 0, "answers used up")
    c.reset()


@step("reset restores plain forwarding and clears the log")
def t_reset(c):
    c.reset()
    check(c.log() == [], "log not empty after reset")
    before = len(c.world_requests())
    c.once["ecs"].create_cluster(clusterName="after-reset")
    c.once["sts"].get_caller_identity()
    check([e["injected"] for e in c.log()] == [None, None], f"log {c.log()}")
    check(len(c.world_requests()) == before + 2, "requests after reset did not reach the world")


@step("8 concurrent calls with 200 ms latency each finish together (forwarded in parallel)")
def t_concurrency(c):
    c.reset()
    clients = [c.make("sts", {"mode": "standard", "total_max_attempts": 1}) for _ in range(8)]
    for cl in clients:
        cl.get_caller_identity()  # connect before timing
    c.reset()
    c.config(latency_ms=200)
    errors, barrier = [], threading.Barrier(8)

    def run(cl):
        try:
            barrier.wait(5)
            cl.get_caller_identity()
        except Exception as err:  # noqa: BLE001  (reported below)
            errors.append(err)

    threads = [threading.Thread(target=run, args=(cl,)) for cl in clients]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    took = time.monotonic() - t0
    entries = c.log()
    print(f"     8 × 200 ms in {took * 1000:.0f} ms (serial would be 1600 ms)")
    check(not errors, f"errors: {errors}")
    check(len(entries) == 8 and all(e["status"] == 200 for e in entries), f"log {entries}")
    check(took < 1.2, f"8 concurrent calls took {took:.2f} s (serial: 1.6 s)")
    check(max(e["start"] for e in entries) < min(e["end"] for e in entries), "the 8 requests did not overlap")


@step("SIGTERM, SIGINT and stdin EOF each stop a proxy with exit 0 and nothing more on stdout")
def t_stop(c):
    for how in ("SIGTERM", "SIGINT", "EOF"):
        p = start_proxy(c.world.url)
        try:
            check(p.url.startswith("http://127.0.0.1:"), f"second proxy line {p.line!r}")
            check(http("GET", p.url + "/_proxy/log")[0] == 200, "second proxy does not answer")
            if how == "EOF":
                p.proc.stdin.close()
            else:
                p.proc.send_signal(getattr(signal, how))
            code = p.proc.wait(5)
            rest = p.proc.stdout.read()
            check(code == 0, f"{how}: exit {code}\n{p.log_tail()}")
            check(rest == "", f"{how}: more on stdout: {rest!r}")
        finally:
            p.kill()


def main():
    t0 = time.monotonic()
    world = Proc([str(REPO / "scripts" / "world")], "ecsworld-proxytest")
    proxy = None
    failed = None
    try:
        check(world.line.startswith("AWS_ENDPOINT_URL="), f"world did not print its endpoint (got {world.line!r})")
        proxy = start_proxy(world.url)
        c = Ctx(world, proxy)
        # This checks the proxy's forwarding, not the world: the first CreateCluster of a fresh account
        # would otherwise meet ECS's new service-linked role (world switch service_linked_role).
        c.ctl("POST", "/_sim/config", {"switches": {"service_linked_role": False}})
        t_ready(c)
        t_forward(c)
        t_config(c)
        t_throttle_retry(c)
        t_seed(c)
        t_error_shapes(c)
        t_raw_bodies(c)
        t_latency(c)
        t_cut(c)
        t_cut_concurrent(c)
        t_answers(c)
        t_reset(c)
        t_concurrency(c)
        t_stop(c)
        errors = [line for line in Path(proxy.log.name).read_text(errors="replace").splitlines()
                  if "Traceback" in line or " ERROR " in line or " WARNING " in line]
        check(not errors, f"the proxy logged errors: {errors[:3]}")
        PASSED.append("proxy log has no errors")
        print("ok   proxy log has no errors", flush=True)
    except Exception as err:  # report, with both logs
        failed = err
        if not isinstance(err, Failed):
            traceback.print_exc()
        print(f"FAIL {type(err).__name__}: {err}", flush=True)
        if proxy is not None:
            print("---- proxy log tail ----\n" + proxy.log_tail(), flush=True)
        print("---- world log tail ----\n" + world.log_tail(), flush=True)
    finally:
        if proxy is not None:
            proxy.kill()
        world.kill()
    print(f"proxy selftest took {time.monotonic() - t0:.1f} s")
    print(f"{len(PASSED)} passed, {1 if failed else 0} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
