"""The world's loopback network: addresses, container HTTP servers, ALB forwarders.

Every world owns one random loopback /24 (127.A.B.0/24) so that several worlds
can run side by side on one machine. EC2 instances, load balancers and awsvpc
task ENIs get addresses from it; a task with a host port gets a real HTTP server
bound to its instance's address (an awsvpc task: to its ENI's addresses), and a
load balancer gets a real HTTP forwarder. Every server may carry a guard (the
security groups, firewall.py): a connection the guard refuses is accepted and
parked, never answered, so that the client times out as it does on AWS.
A load balancer's forwarder and health checks connect from the load balancer's
own address, so that the target's guard sees which load balancer calls.
None of these servers touches moto: they only read plain Python values that
the simulator hands them, so they never need the world lock.
"""

import errno
import http.client
import itertools
import json
import logging
import random
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("ecsworld.network")

# Stop promptly: shutdown() waits up to one poll interval.
POLL_INTERVAL = 0.05

SWAGGER_HTML = """<!DOCTYPE html>
<html>
<head>
<link type="text/css" rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
<title>FastAPI - Swagger UI</title>
</head>
<body>
<div id="swagger-ui"></div>
<!-- served by the ecsdeploy local AWS world (simulated container) -->
</body>
</html>
"""


class Subnet:
    """A claimed loopback /24 and its address allocator.

    The claim is a listening socket on 127.A.B.254:(some port); a second world
    that picks the same /24 fails to bind it and tries another one.
    """

    CLAIM_HOST = 254

    def __init__(self):
        self._claim = None
        self.prefix = None
        for _ in range(200):
            a, b = random.randint(1, 250), random.randint(1, 250)
            prefix = f"127.{a}.{b}"
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                # No SO_REUSEADDR here: the claim must be exclusive.
                sock.bind((f"{prefix}.{self.CLAIM_HOST}", 1 if _is_root() else 65432))
                sock.listen(1)
            except OSError:
                sock.close()
                continue
            if self._looks_used(prefix):
                sock.close()
                continue
            self._claim, self.prefix = sock, prefix
            break
        if self.prefix is None:
            raise RuntimeError("no free loopback /24 found for this world")
        self._next = 1
        self._free = deque()  # released addresses, handed out again once fresh ones run out
        self._lock = threading.Lock()

    @staticmethod
    def _looks_used(prefix):
        # Something already listening on .1:80 means another user of the range.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(0.05)
        try:
            return s.connect_ex((f"{prefix}.1", 80)) == 0
        finally:
            s.close()

    def allocate(self):
        with self._lock:
            if self._next >= self.CLAIM_HOST:
                if self._free:
                    return self._free.popleft()
                raise RuntimeError(f"loopback subnet {self.prefix}.0/24 exhausted")
            ip = f"{self.prefix}.{self._next}"
            self._next += 1
            return ip

    def release(self, ip):
        """An address no longer in use (a stopped task's ENI)."""
        with self._lock:
            if ip and ip not in self._free:
                self._free.append(ip)

    def reset(self):
        with self._lock:
            self._next = 1
            self._free.clear()

    def close(self):
        if self._claim is not None:
            self._claim.close()
            self._claim = None


def _is_root():
    try:
        import os

        return os.geteuid() == 0
    except AttributeError:
        return False


# How long a dropped connection is held open (never answered) before it is closed.
DROP_HOLD_SECONDS = 300
DROP_HOLD_MAX = 256


class _Server(ThreadingHTTPServer):
    # The next task on the same instance must be able to bind the same port
    # right after this one stops (TIME_WAIT sockets must not block it).
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address, handler, guard=None):
        # guard(dst_ip, dst_port, src_ip) -> bool: False drops the connection.
        self.guard = guard
        self._parked = deque()  # (deadline, socket) of dropped connections
        super().__init__(address, handler)

    def process_request(self, request, client_address):
        guard = self.guard
        if guard is not None and not guard(self.server_address[0], self.server_address[1], client_address[0]):
            self._park(request)
            return
        super().process_request(request, client_address)

    def _park(self, sock):
        """Drop silently: keep the connection open and never read or answer it."""
        now = time.monotonic()
        while self._parked and (self._parked[0][0] <= now or len(self._parked) >= DROP_HOLD_MAX):
            self._close(self._parked.popleft()[1])
        self._parked.append((now + DROP_HOLD_SECONDS, sock))

    @staticmethod
    def _close(sock):
        try:
            sock.close()
        except OSError:
            pass

    def server_close(self):
        while self._parked:
            self._close(self._parked.popleft()[1])
        super().server_close()

    def handle_error(self, request, client_address):
        # Clients (health checks, tests) hang up early all the time; not news.
        pass


class _Serving:
    """Runs one HTTP server in its own thread; stop() closes the socket."""

    def __init__(self, server, name):
        self.server = server
        self.thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL}, name=name, daemon=True
        )
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=2)


class AppServer(_Serving):
    """The simulated web app of one running container, on ip:host_port.

    Behaves like the FastAPI apps ecsdeploy deploys: GET /docs is the Swagger UI
    page (status from the stage, default 200), GET / is a small JSON document.
    Each request appends a uvicorn-style access line to `access_log`, which the
    simulator drains into CloudWatch Logs; each 200 to GET /docs calls
    `on_docs_200()` (from this server's thread) for the timeline.
    """

    def __init__(self, ip, port, docs_status, task_id, access_log, on_docs_200, guard=None, container=None):
        handler = type(
            "AppHandler",
            (_AppHandler,),
            {"docs_status": docs_status, "task_id": task_id, "access_log": access_log,
             "on_docs_200": staticmethod(on_docs_200)},
        )
        server = _Server((ip, port), handler, guard)
        self.ip, self.port, self.container = ip, port, container
        super().__init__(server, f"app-{ip}:{port}")


class _AppHandler(BaseHTTPRequestHandler):
    docs_status = 200
    task_id = ""
    access_log = None
    on_docs_200 = None
    server_version = "uvicorn"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep stderr quiet
        pass

    def _send(self, status, ctype, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        if self.access_log is not None:
            phrase = http.client.responses.get(status, "")
            self.access_log.append(
                f'INFO:     {self.client_address[0]}:{self.client_address[1]} - '
                f'"{self.command} {self.path} HTTP/1.1" {status} {phrase}'
            )

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path in ("/docs", "/docs/"):
            status = int(self.docs_status)
            if status == 200:
                self._send(200, "text/html; charset=utf-8", SWAGGER_HTML)
                if self.command == "GET":
                    self.on_docs_200()
            else:
                self._send(status, "text/plain; charset=utf-8", "Internal Server Error")
        elif path == "/":
            self._send(200, "application/json", json.dumps({"message": "Hello World", "task": self.task_id}))
        elif path == "/openapi.json":
            self._send(200, "application/json", json.dumps({"openapi": "3.1.0", "info": {"title": "FastAPI"}}))
        else:
            self._send(404, "application/json", json.dumps({"detail": "Not Found"}))

    do_HEAD = do_GET


class Forwarder(_Serving):
    """An application load balancer listener: HTTP on lb_ip:port, forwarding
    each request to one of the currently healthy targets (round robin).

    `targets` is a zero-argument callable returning [(ip, port), ...]; the
    simulator replaces the list it returns after each health-check round.
    """

    def __init__(self, ip, port, targets, guard=None):
        handler = type("ForwardHandler", (_ForwardHandler,), {"targets": staticmethod(targets), "rr": itertools.count()})
        server = _Server((ip, port), handler, guard)
        self.ip, self.port = ip, port
        super().__init__(server, f"alb-{ip}:{port}")


class _ForwardHandler(BaseHTTPRequestHandler):
    targets = None
    rr = None
    server_version = "awselb/2.0"
    sys_version = ""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _error(self, status, title):
        body = f"<html>\r\n<head><title>{status} {title}</title></head>\r\n<body>\r\n<center><h1>{status} {title}</h1></center>\r\n</body>\r\n</html>\r\n"
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _forward(self):
        healthy = list(self.targets())
        if not healthy:
            return self._error(503, "Service Temporarily Unavailable")
        ip, port = healthy[next(self.rr) % len(healthy)]
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        headers["X-Forwarded-For"] = self.client_address[0]
        try:
            # From the load balancer's own address: the target's security groups see it.
            conn = http.client.HTTPConnection(ip, port, timeout=5, source_address=(self.server.server_address[0], 0))
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
        except socket.timeout:
            return self._error(504, "Gateway Time-out")
        except OSError:
            return self._error(502, "Bad Gateway")
        self.send_response(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"):
                self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _forward


TIMEOUT = "timeout"  # a health check that got no answer in time


def http_check(ip, port, path, timeout=0.5, source=None):
    """One load-balancer health check from `source` (the load balancer's
    address): the HTTP status, TIMEOUT when nothing answered in time, or None
    when the connection failed (refused, reset)."""
    try:
        conn = http.client.HTTPConnection(ip, int(port), timeout=timeout,
                                          source_address=(source, 0) if source else None)
        conn.request("GET", path or "/", headers={"User-Agent": "ELB-HealthChecker/2.0"})
        status = conn.getresponse().status
        conn.close()
        return status
    except socket.timeout:
        return TIMEOUT
    except OSError:
        return None


def bind_error_text(err, port):
    """The docker daemon's wording when a host port cannot be bound."""
    if getattr(err, "errno", None) == errno.EADDRINUSE:
        return (
            "CannotStartContainerError: Error response from daemon: driver failed programming external "
            f"connectivity on endpoint: Bind for 0.0.0.0:{port} failed: port is already allocated"
        )
    return f"CannotStartContainerError: Error response from daemon: {err}"


def new_access_log():
    return deque(maxlen=1000)
