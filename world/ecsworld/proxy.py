"""python -m ecsworld.proxy --upstream http://127.0.0.1:PORT [--port 0] [--exit-on-stdin-eof]

A fault-injecting HTTP proxy between an AWS client (ecsdeploy) and the local
AWS world. Prints exactly one line on stdout when it is ready:
PROXY_URL=http://127.0.0.1:PORT. Logs go to stderr (ECSWORLD_LOG=debug for one
line per forwarded AWS call). SIGINT/SIGTERM (or EOF on stdin with
--exit-on-stdin-eof) stop it with exit status 0.

Every request is forwarded unchanged (method, path, query, headers, body) and
the upstream's answer returned unchanged (status, headers, body). AWS requests
are identified (service from the SigV4 credential scope, action from
X-Amz-Target or Action=) and may be delayed, throttled, failed or cut off, as
configured at runtime through POST /_proxy/config. /_sim/* and /moto-api/* go
to the world untouched and unlogged. See world/README.md for the control API.

Only the standard library.
"""

import argparse
import http.client
import json
import logging
import os
import random
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ecsworld.lifecycle import watch_stdin

log = logging.getLogger("ecsworld.proxy")

# Never forwarded in either direction: they describe one connection, not the message.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "trailers", "transfer-encoding", "upgrade"}
UPSTREAM_TIMEOUT = 300.0  # seconds; the world answers in milliseconds, EC2's first call in ~1 s
READ_PREFIXES = ("Describe", "List", "Get")
PASSTHROUGH_PREFIXES = ("/_sim/", "/moto-api/")  # to the world, untouched, unlogged, never faulted

# Query-protocol services: the xmlns of their responses (botocore's service
# models, metadata.xmlNamespace). EC2 has its own error envelope (below).
QUERY_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "autoscaling": "http://autoscaling.amazonaws.com/doc/2011-01-01/",
    "elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}
JSON_SERVICES = {"ecs", "logs", "ecr"}

DEFAULTS = {"latency_ms": 0, "throttle_rate": 0.0, "error_rate": 0.0, "fail_after_mutations": None, "seed": None,
            "deny": None, "answers": []}


# ------------------------------------------------------------------ identification
def identify(method, headers, path, body):
    """(service, action) of an AWS request, or None for anything else.

    service: the SigV4 signing name from the Authorization header's credential
    scope (Credential=AKID/DATE/REGION/SERVICE/aws4_request) or a presigned
    X-Amz-Credential; action: the part after the dot of X-Amz-Target (JSON
    protocols) or Action= in the query string or the form-encoded body (query
    protocols)."""
    split = urlsplit(path)
    query = parse_qs(split.query)
    service = None
    auth = headers.get("Authorization", "")
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].strip().split("/")
        if len(scope) >= 5:
            service = scope[3]
    elif "X-Amz-Credential" in query:
        scope = query["X-Amz-Credential"][0].split("/")
        if len(scope) >= 5:
            service = scope[3]
    target = headers.get("X-Amz-Target")
    action = None
    if target:
        action = target.rsplit(".", 1)[-1]
    else:
        found = query.get("Action")
        ctype = headers.get("Content-Type", "")
        if not found and body and ctype.startswith("application/x-www-form-urlencoded"):
            found = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if found:
            action = found[0]
    if service is None and action is None:
        return None  # not an AWS call (a browser, a health check): forwarded, not logged, never faulted
    return service or "unknown", action or f"{method} {split.path}"


def is_mutating(action):
    return not action.startswith(READ_PREFIXES)


def protocol_of(service, headers):
    """'json', 'ec2' or 'query': which error envelope the client expects."""
    if headers.get("X-Amz-Target") or service in JSON_SERVICES:
        return "json"
    if service == "ec2":
        return "ec2"
    return "query"


# ------------------------------------------------------------------ injected errors
def _xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def error_response(kind, service, headers, fail_after=None, deny=None):
    """(status, headers, body) of an injected error, in the service's own wire
    format. kind: 'throttle', 'error' or 'cut'. Codes are ones every AWS SDK
    classifies: throttles as throttling (ThrottlingException, Throttling,
    RequestLimitExceeded), errors and cuts as transient (HTTP 5xx)."""
    request_id = str(uuid.uuid4())
    protocol = protocol_of(service, headers)
    if kind == "throttle":
        if protocol == "json":
            status, code, message = 400, "ThrottlingException", "Rate exceeded"
        elif protocol == "ec2":
            status, code, message = 503, "RequestLimitExceeded", "Request limit exceeded."
        else:
            status, code, message = 400, "Throttling", "Rate exceeded"
    elif kind in ("deny", "answer"):
        # A refusal of one operation (access denied, expired credentials; or one answer of a
        # script: a propagation or in-use error), as AWS words it.
        status = int(deny.get("status", 403 if protocol != "json" else 400))
        code = deny["code"]
        message = deny.get("message", f"{code} (injected by ecsworld.proxy: deny)")
    elif kind == "error":
        status = 500
        code = "InternalError" if protocol == "ec2" else "InternalFailure"
        message = "An internal error has occurred. (injected by ecsworld.proxy: error_rate)"
    else:
        status, code = 500, "InternalFailure"
        message = (f"An internal error has occurred. (injected by ecsworld.proxy: fail_after_mutations = "
                   f"{fail_after}; every request after {fail_after} forwarded mutating requests fails)")

    if protocol == "json":
        ctype = headers.get("Content-Type", "")
        ctype = ctype if ctype.startswith("application/x-amz-json-") else "application/x-amz-json-1.1"
        body = json.dumps({"__type": code, "message": message}, separators=(",", ":")).encode()
        out = [("x-amzn-RequestId", request_id), ("x-amzn-errortype", code), ("Content-Type", ctype)]
    elif protocol == "ec2":
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Response><Errors><Error><Code>{code}</Code><Message>{_xml_escape(message)}</Message></Error>"
                f"</Errors><RequestID>{request_id}</RequestID></Response>").encode()
        out = [("Content-Type", "text/xml;charset=UTF-8")]
    else:
        namespace = QUERY_NAMESPACES.get(service)
        xmlns = f' xmlns="{namespace}"' if namespace else ""
        fault = "Sender" if status < 500 else "Receiver"
        body = (f"<ErrorResponse{xmlns}><Error><Type>{fault}</Type><Code>{code}</Code>"
                f"<Message>{_xml_escape(message)}</Message></Error><RequestId>{request_id}</RequestId>"
                "</ErrorResponse>").encode()
        out = [("x-amzn-RequestId", request_id), ("Content-Type", "text/xml")]
    out += [("Content-Length", str(len(body))), ("Date", _http_date())]
    return status, out, body


def _http_date():
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())


# ------------------------------------------------------------------ faults and log
class Faults:
    """The runtime configuration, the random generator, the mutation counter and
    the request log; one lock for all of them (never held while waiting)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.epoch = time.monotonic()
        self.rng = random.Random()
        self.config = dict(DEFAULTS)
        self.mutations = 0  # mutating requests forwarded since reset / since fail_after_mutations was set
        self.entries = []

    def now(self):
        return round(time.monotonic() - self.epoch, 6)

    def configure(self, changes):
        """Validate and apply a config body; returns the whole config. ValueError on a bad body."""
        if not isinstance(changes, dict):
            raise ValueError("the body must be a JSON object")
        unknown = sorted(set(changes) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"unknown keys {unknown}; known: {sorted(DEFAULTS)}")
        for key, value in changes.items():
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if key == "latency_ms" and not (number and value >= 0):
                raise ValueError("latency_ms must be a number >= 0")
            if key in ("throttle_rate", "error_rate") and not (number and 0 <= value <= 1):
                raise ValueError(f"{key} must be a number from 0 to 1")
            if key == "fail_after_mutations" and not (
                    value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)):
                raise ValueError("fail_after_mutations must be an integer >= 0 or null")
            if key == "seed" and not (value is None or isinstance(value, (int, str)) and not isinstance(value, bool)):
                raise ValueError("seed must be an integer, a string or null")
            if key == "deny" and not (value is None or (isinstance(value, dict) and isinstance(value.get("action"), str)
                                                         and isinstance(value.get("code"), str))):
                raise ValueError('deny must be null or {"action": "CreateRole", "code": "AccessDenied", "status"?, "message"?}')
            if key == "answers" and not (isinstance(value, list) and all(
                    isinstance(a, dict) and isinstance(a.get("action"), str) and isinstance(a.get("code"), str)
                    and set(a) <= {"action", "code", "status", "message", "times"}
                    and (isinstance(a.get("times", 1), int) and not isinstance(a.get("times", 1), bool) and a.get("times", 1) >= 1)
                    for a in value)):
                raise ValueError('answers must be a list of {"action": "CreateCluster", "code": "InvalidParameterException", '
                                 '"status"?, "message"?, "times"?: 1}')
        with self.lock:
            if "answers" in changes:
                # Each scripted answer is given `times` times, to the first matching requests.
                changes["answers"] = [dict(a, left=a.get("times", 1)) for a in changes["answers"]]
            self.config.update(changes)
            if "seed" in changes:
                self.rng.seed(changes["seed"])
            if "fail_after_mutations" in changes:
                self.mutations = 0
            return dict(self.config)

    def reset(self):
        with self.lock:
            seed = self.config["seed"]
            self.config = dict(DEFAULTS, seed=seed)
            self.mutations = 0
            self.entries = []

    def begin(self, service, action, mutating):
        entry = {"service": service, "action": action, "mutating": mutating, "start": self.now(),
                 "end": None, "status": None, "injected": None}
        with self.lock:
            self.entries.append(entry)
            latency = self.config["latency_ms"]
        return entry, latency

    def decide(self, mutating, action=None):
        """None (forward) or the injected fault, decided before forwarding.
        A forwarded mutating request is counted here, so concurrent requests
        cannot slip past fail_after_mutations."""
        with self.lock:
            cfg = self.config
            limit = cfg["fail_after_mutations"]
            if cfg["deny"] and cfg["deny"]["action"] == action:
                return "deny", limit
            for answer in cfg["answers"]:
                if answer["action"] == action and answer["left"] > 0:
                    answer["left"] -= 1
                    return "answer", answer
            if limit is not None and self.mutations >= limit:
                return "cut", limit
            if cfg["throttle_rate"] > 0 and self.rng.random() < cfg["throttle_rate"]:
                return "throttle", limit
            if cfg["error_rate"] > 0 and self.rng.random() < cfg["error_rate"]:
                return "error", limit
            if mutating:
                self.mutations += 1
            return None, limit

    def finish(self, entry, status, injected):
        with self.lock:
            entry["end"] = self.now()
            entry["status"] = status
            entry["injected"] = injected

    def snapshot(self):
        with self.lock:
            return [dict(e) for e in self.entries]

    def status(self):
        with self.lock:
            return {"config": dict(self.config), "mutations_forwarded": self.mutations,
                    "requests": len(self.entries)}


# ------------------------------------------------------------------ HTTP
class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # 8+ simultaneous connects must not overflow the listen backlog
    allow_reuse_address = True

    def __init__(self, port, upstream, faults):
        self.upstream = upstream  # (host, port)
        self.faults = faults
        super().__init__(("127.0.0.1", port), ProxyHandler)


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for the client; Content-Length on every answer
    disable_nagle_algorithm = True
    server_version = "ecsworld-proxy"

    def do_request(self):
        try:
            body = self._read_body()
        except (ValueError, OSError) as err:
            self.close_connection = True
            return self._send_json(400, {"error": f"cannot read the request body: {err}"})
        path = urlsplit(self.path).path if self.path.startswith(("http://", "https://")) else self.path.split("?", 1)[0]
        if path == "/_proxy" or path.startswith("/_proxy/"):
            return self._control(path.rstrip("/"), body)
        if path.startswith(PASSTHROUGH_PREFIXES):
            return self._send(*self._forward(body))
        who = identify(self.command, self.headers, self.path, body)
        if who is None:
            return self._send(*self._forward(body))
        return self._aws(who[0], who[1], body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_request

    # ------------------------------------------------------------ AWS calls
    def _aws(self, service, action, body):
        faults = self.server.faults
        mutating = is_mutating(action)
        entry, latency_ms = faults.begin(service, action, mutating)
        status, injected = 502, None
        try:
            if latency_ms:
                time.sleep(latency_ms / 1000.0)
            injected, limit = faults.decide(mutating, action)
            if injected:
                refusal = limit if injected == "answer" else faults.config["deny"]
                status, headers, data = error_response(injected, service, self.headers, limit, refusal)
                log.info("%s %s: injected %s (HTTP %d)", service, action, injected, status)
                reason = None
            else:
                status, reason, headers, data = self._forward(body)
                log.debug("%s %s: forwarded, HTTP %d", service, action, status)
            faults.finish(entry, status, injected)  # before the answer leaves: a client that reads the log next sees it
            self._send(status, reason, headers, data)
        finally:
            if entry["end"] is None:
                faults.finish(entry, status, injected)

    # ------------------------------------------------------------ forwarding
    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _forward(self, body):
        """(status, reason, headers, body) from the upstream, or a 502 when it cannot be reached."""
        host, port = self.server.upstream
        target = self.path
        if target.startswith(("http://", "https://")):  # absolute form: keep path and query only
            split = urlsplit(target)
            target = split.path + (f"?{split.query}" if split.query else "")
        # One upstream connection per client connection, kept alive: the proxy should add its
        # configured latency and little else. A kept connection the world closed meanwhile fails
        # before the request is read, so it is sent once more on a fresh one.
        for attempt in (0, 1):
            conn = getattr(self, "_upstream_conn", None)
            reused = conn is not None
            if conn is None:
                conn = self._upstream_conn = http.client.HTTPConnection(host, port, timeout=UPSTREAM_TIMEOUT)
            try:
                conn.putrequest(self.command, target, skip_host=True, skip_accept_encoding=True)
                sent_host = False
                for key, value in self.headers.items():
                    lower = key.lower()
                    if lower in HOP_BY_HOP or lower in ("content-length", "expect"):
                        continue
                    sent_host = sent_host or lower == "host"
                    conn.putheader(key, value)
                if not sent_host:
                    conn.putheader("Host", f"{host}:{port}")
                if body or "Content-Length" in self.headers or "Transfer-Encoding" in self.headers:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body or None)
                resp = conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self._close_upstream()
                return resp.status, resp.reason, resp.getheaders(), data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as err:
                self._close_upstream()
                if reused and attempt == 0:
                    continue
                return self._unreachable(host, port, err)
            except (OSError, http.client.HTTPException) as err:
                self._close_upstream()
                return self._unreachable(host, port, err)

    def _close_upstream(self):
        conn = getattr(self, "_upstream_conn", None)
        if conn is not None:
            conn.close()
        self._upstream_conn = None

    def _unreachable(self, host, port, err):
        log.warning("upstream %s:%d failed for %s %s: %s", host, port, self.command, self.path, err)
        data = json.dumps({"error": f"ecsworld.proxy: upstream unreachable: {err}"}).encode()
        return 502, "Bad Gateway", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))], data

    def finish(self):
        self._close_upstream()
        super().finish()

    def _send(self, status, reason, headers, data):
        try:
            self.send_response_only(status, reason)
            has_length = False
            for key, value in headers:
                lower = key.lower()
                if lower in HOP_BY_HOP:
                    continue
                has_length = has_length or lower == "content-length"
                self.send_header(key, value)
            if not has_length and status >= 200 and status not in (204, 304):
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD" and data:
                self.wfile.write(data)
        except OSError:  # the client went away
            self.close_connection = True

    def _send_json(self, status, payload):
        data = json.dumps(payload).encode()
        self._send(status, None, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))], data)

    # ------------------------------------------------------------ control API
    def _control(self, path, body):
        faults = self.server.faults
        method = self.command
        if path == "/_proxy/config" and method == "POST":
            try:
                changes = json.loads(body or b"{}")
                config = faults.configure(changes)
            except ValueError as err:
                return self._send_json(400, {"error": str(err)})
            log.info("config %s -> %s", json.dumps(changes), json.dumps(config))
            return self._send_json(200, {"status": "ok", "config": config})
        if path == "/_proxy/config" and method == "GET":
            return self._send_json(200, faults.status())
        if path == "/_proxy/reset" and method == "POST":
            faults.reset()
            log.info("reset: faults off, counters and log cleared")
            return self._send_json(200, {"status": "ok"})
        if path == "/_proxy/log" and method == "GET":
            return self._send_json(200, faults.snapshot())
        return self._send_json(404, {"error": f"no such control endpoint: {method} {path}",
                                     "endpoints": ["POST /_proxy/config", "GET /_proxy/config",
                                                   "POST /_proxy/reset", "GET /_proxy/log"]})

    def log_message(self, format, *args):  # noqa: A002  (BaseHTTPRequestHandler's signature)
        log.debug("%s %s", self.address_string(), format % args)


# ------------------------------------------------------------------ main
def _upstream(url):
    split = urlsplit(url)
    if split.scheme != "http" or not split.hostname or split.path not in ("", "/"):
        raise argparse.ArgumentTypeError(f"expected http://HOST:PORT, got {url!r}")
    return split.hostname, split.port or 80


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ecsworld.proxy",
                                     description="A fault-injecting proxy in front of the local AWS world.")
    parser.add_argument("--upstream", required=True, type=_upstream, help="the world: http://127.0.0.1:PORT")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: pick a free one)")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin is closed")
    args = parser.parse_args(argv)

    level = os.environ.get("ECSWORLD_LOG", "info").upper()
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level, logging.INFO),
                        format="%(asctime)s ecsworld-proxy %(levelname)s: %(message)s")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    server = ProxyServer(args.port, args.upstream, Faults())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="proxy", daemon=True)
    thread.start()
    if args.exit_on_stdin_eof:
        threading.Thread(target=watch_stdin, args=(stop,), name="stdin-watch", daemon=True).start()

    port = server.server_address[1]
    sys.stdout.write(f"PROXY_URL=http://127.0.0.1:{port}\n")
    sys.stdout.flush()
    log.info("ready on 127.0.0.1:%d, upstream %s:%d", port, *args.upstream)

    while not stop.wait(0.2):
        pass
    log.info("stopping")
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
