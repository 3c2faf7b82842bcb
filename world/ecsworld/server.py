"""The world's one HTTP port: moto's AWS endpoints plus the /_sim control API.

Every AWS request is recorded (service, action, time) and then handed to
moto's own dispatcher, exactly as moto's ThreadedMotoServer builds it, while
holding the world lock so that the simulator never sees half-applied state.
Requests signed for a service moto does not know but the world plays (the
Free Tier API, signing name `freetier`) are answered by accounts.py. An
unsigned `GET /checkip` answers as https://checkip.amazonaws.com/ does: the
caller's public address and a newline, as text/plain (the setting
`caller_address`); ecsdeploy reaches it through ECSDEPLOY_CHECKIP_URL.
"""

import datetime
import io
import json
import logging
import re
import threading
import time
from urllib.parse import parse_qs

from werkzeug.http import http_date
from werkzeug.serving import make_server

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict, backend_lock
from moto.core.model_instances import reset_model_data
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

from . import accounts, consistency, simulator
from .settings import SETTINGS, SettingsError
from .simulator import LOCK

log = logging.getLogger("ecsworld.server")

# Services the world is for; their moto apps are built right after start-up
# so that the first real request does not pay for it.
WARM_SERVICES = ("ecs", "ec2", "autoscaling", "elbv2", "logs", "ecr", "iam", "sts")


_ERROR_CODE = re.compile(r'"__type"\s*:\s*"([^"]+)"|<Code>([^<]+)</Code>')


class RequestLog:
    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self._entries = []
            self._epoch = time.monotonic()

    def add(self, service, action):
        """Record a request; the caller fills in its answer with `answered`."""
        entry = {"service": service, "action": action, "ts": round(time.monotonic() - self._epoch, 4)}
        with self._lock:
            self._entries.append(entry)
        return entry

    @staticmethod
    def answered(entry, status, body):
        """The HTTP status, and for an error the AWS error code (JSON `__type`, XML `<Code>`), so
        that a test can show which refusals a run met and survived."""
        entry["status"] = status
        if status >= 400:
            match = _ERROR_CODE.search(body[:4096].decode("utf-8", "replace"))
            entry["code"] = next(g for g in match.groups() if g).rsplit("#", 1)[-1] if match else None

    def entries(self):
        with self._lock:
            return list(self._entries)


def _identify(environ, body):
    """(service, action) of an AWS request: the SigV4 credential scope names
    the service; X-Amz-Target (JSON protocols) or Action= (query protocols)
    names the action."""
    service = "unknown"
    auth = environ.get("HTTP_AUTHORIZATION", "")
    try:
        service = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")[3]
    except IndexError:
        pass
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rsplit(".", 1)[-1]
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if not action and body and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
    return service, (action[0] if action else f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}")


class WorldApp:
    def __init__(self, sim):
        self.sim = sim
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.requests = RequestLog()
        self.warmers = []  # background warm-up threads, joined at exit

    def warm_up(self):
        """Build moto's per-service apps and the default account's backends in
        the background (EC2's takes ~1 s), so that test requests rarely wait.
        Runs without the world lock; moto's backend_lock orders it."""
        for name in WARM_SERVICES:
            with self.moto.lock:
                if name not in self.moto.app_instances:
                    self.moto.app_instances[name] = self.moto.create_app(name)
        _default_backends()

    def warm_in_background(self, target):
        thread = threading.Thread(target=target, name="warm-up", daemon=True)
        self.warmers = [t for t in self.warmers if t.is_alive()] + [thread]
        thread.start()

    def join_warmers(self, timeout):
        deadline = time.monotonic() + timeout
        for thread in self.warmers:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_sim/") or path == "/_sim":
            return self.control(environ, start_response)
        if (path in ("/checkip", "/checkip/") and environ.get("REQUEST_METHOD") in ("GET", "HEAD")
                and not environ.get("HTTP_AUTHORIZATION")):
            return self.checkip(environ, start_response)
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        service, action = _identify(environ, body)
        entry = None if path.startswith("/moto-api") else self.requests.add(service, action)
        answer = {}

        def start_response(status, headers, *exc, _start=start_response):
            answer["status"] = int(status.split(" ", 1)[0])
            return _start(status, headers, *exc)

        t0 = time.monotonic()
        with LOCK:
            t1 = time.monotonic()
            if service == "freetier" or environ.get("HTTP_X_AMZ_TARGET", "").startswith("AWSFreeTierService."):
                status, headers, data = accounts.freetier(environ)
                start_response(f"{status} {'OK' if status == 200 else 'Bad Request'}",
                               headers + [("Content-Length", str(len(data)))])
                out = [data]
            else:
                # Consume moto's response inside the lock: it is built from live objects.
                out = [b"".join(self.moto(environ, start_response))]
        log.debug("%s %s: waited %.3f s, took %.3f s", service, action, t1 - t0, time.monotonic() - t1)
        if entry is not None:
            self.requests.answered(entry, answer.get("status", 200), out[0])
        return out

    @staticmethod
    def checkip(environ, start_response):
        data = (SETTINGS.caller_address + "\n").encode()
        start_response("200 OK", [("Content-Type", "text/plain;charset=UTF-8"), ("Content-Length", str(len(data)))])
        return [b""] if environ.get("REQUEST_METHOD") == "HEAD" else [data]

    # ------------------------------------------------------------ control API
    def control(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        path = environ.get("PATH_INFO", "").rstrip("/")
        try:
            if path == "/_sim/reset" and method == "POST":
                return _json(start_response, 200, self.reset())
            if path == "/_sim/stage" and method == "POST":
                spec = json.loads(_read_body(environ) or b"{}")
                if not isinstance(spec, dict) or not isinstance(spec.get("image"), str):
                    return _json(start_response, 400, {"error": 'body must be a JSON object with "image": "<uri>"'})
                unknown = set(spec) - {"image", "exit_code", "run_seconds", "docs_status", "logs"}
                if unknown:
                    return _json(start_response, 400, {"error": f"unknown fields: {sorted(unknown)}"})
                with LOCK:
                    staged = self.sim.stage(spec)
                return _json(start_response, 200, {"status": "ok", "image": spec["image"], "stage": staged})
            if path == "/_sim/requests" and method == "GET":
                return _json(start_response, 200, self.requests.entries())
            if path == "/_sim/state" and method == "GET":
                with LOCK:
                    return _json(start_response, 200, self.sim.snapshot())
            if path == "/_sim/config" and method == "GET":
                with LOCK:
                    return _json(start_response, 200, SETTINGS.as_dict())
            if path == "/_sim/config" and method == "POST":
                body = json.loads(_read_body(environ) or b"{}")
                with LOCK:
                    SETTINGS.update(body)
                    config = SETTINGS.as_dict()
                    self.sim.firewall.refresh()  # a new caller address or switch applies now
                log.info("config now %s", config)
                return _json(start_response, 200, {"status": "ok", "config": config})
            if path == "/_sim/timeline" and method == "GET":
                return _json(start_response, 200, self.sim.timeline.events())
        except SettingsError as err:
            return _json(start_response, 400, {"error": str(err)})
        except ValueError as err:
            return _json(start_response, 400, {"error": f"invalid JSON: {err}"})
        return _json(start_response, 404, {"error": f"no such control endpoint: {method} {path}",
                                           "endpoints": ["POST /_sim/reset", "POST /_sim/stage",
                                                         "GET /_sim/requests", "GET /_sim/state",
                                                         "GET /_sim/config", "POST /_sim/config",
                                                         "GET /_sim/timeline"]})

    def reset(self):
        started = time.monotonic()
        with LOCK:
            self.sim.reset()  # closes every app server and forwarder first
            SETTINGS.reset()
            accounts.reset()
            _reset_moto()
            self.requests.reset()
        self.warm_in_background(_default_backends)
        log.info("world reset in %.3f s", time.monotonic() - started)
        return {"status": "ok"}


def _reset_moto():
    """What POST /moto-api/reset does, minus its wasted work: moto re-creates
    every backend (IAM loads ~1000 managed policies, EC2 its AMIs) and then
    throws them all away. Dropping them is enough: they are re-created, empty,
    on first use."""
    with backend_lock:
        for backend_dict in list(BackendDict._instances):
            backend_dict.clear()
        BackendDict._instances.clear()
    reset_model_data()


def _default_backends():
    from moto.backends import get_backend

    for service, region in (("ec2", "us-east-1"), ("iam", "aws"), ("ecs", "us-east-1"), ("elbv2", "us-east-1"),
                            ("autoscaling", "us-east-1"), ("logs", "us-east-1"), ("ecr", "us-east-1")):
        try:
            get_backend(service)[DEFAULT_ACCOUNT_ID][region]
        except Exception:  # warming is an optimisation only
            log.debug("warming %s failed", service, exc_info=True)


def _read_body(environ):
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        return stream.read(int(length))
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""


def _json(start_response, status, payload):
    data = json.dumps(payload, default=str).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class WorldRequestHandler(MotoRequestHandler):
    def date_time_string(self, timestamp=None):
        """Every answer's Date header is AWS's clock, not the machine's (consistency.py)."""
        return http_date(consistency.aws_utcnow().replace(tzinfo=datetime.timezone.utc))


class ApiServer:
    """werkzeug's threaded server on 127.0.0.1:port, as ThreadedMotoServer."""

    def __init__(self, app, port):
        self.server = make_server("127.0.0.1", port, app, threaded=True, request_handler=WorldRequestHandler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1},
                                       name="api-server", daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def build(port):
    sim = simulator.Simulator(simulator_subnet())
    simulator.SIM = sim
    app = WorldApp(sim)
    return sim, app, ApiServer(app, port)


def simulator_subnet():
    from .network import Subnet

    return Subnet()
