"""python -m ecsworld [--port N] [--exit-on-stdin-eof]

Starts the local AWS world and prints exactly one line on stdout when it is
ready: AWS_ENDPOINT_URL=http://127.0.0.1:PORT. Logs go to stderr.
SIGINT/SIGTERM (or EOF on stdin with --exit-on-stdin-eof) stop it: every HTTP
server is closed, every thread joined, exit status 0.
"""

import argparse
import logging
import os
import signal
import sys
import threading
import time

from ecsworld.lifecycle import watch_stdin


def _environment():
    # Must be set before moto is imported: moto reads them at import/backend time.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"  # AmazonS3FullAccess & co. must exist
    os.environ.setdefault("MOTO_ECS_NEW_ARN", "true")  # long ARN format, as AWS today
    # moto signs nothing and calls nothing, but botocore inside it must never
    # look for real credentials or an instance-metadata endpoint.
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ecsworld", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: pick a free one)")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin is closed")
    args = parser.parse_args(argv)

    started = time.monotonic()
    level = os.environ.get("ECSWORLD_LOG", "info").upper()
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, level, logging.INFO),
                        format="%(asctime)s ecsworld %(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per AWS call is too much
    _environment()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    from . import consistency  # noqa: F401  (first: AWS's clock replaces moto's before the models import it)
    from . import patches  # noqa: F401  (applies the moto patches; the behaviour modules it imports apply theirs)
    from . import deletion  # noqa: F401  (after patches: it wraps their handlers; slow and refused deletions)
    from . import validation  # noqa: F401  (refuses what AWS's parameter validation refuses)
    from . import pagination  # noqa: F401  (small pages on every paginated call)
    from . import server

    sim, app, api = server.build(args.port)
    os.environ["MOTO_PORT"] = str(api.port)
    sim.start()
    api.start()
    watcher = None
    if args.exit_on_stdin_eof:
        watcher = threading.Thread(target=watch_stdin, args=(stop,), name="stdin-watch", daemon=True)
        watcher.start()

    sys.stdout.write(f"AWS_ENDPOINT_URL=http://127.0.0.1:{api.port}\n")
    sys.stdout.flush()
    # That line is the whole stdout contract: moto print()s the odd warning,
    # so from here on fd 1 is stderr too. The original pipe stays open (on a
    # spare fd) until exit, so a reader sees EOF exactly when the world is gone.
    _kept_stdout = os.dup(1)  # noqa: F841  (an int: the fd stays open until exit)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.getLogger("ecsworld").info(
        "ready in %.2f s on 127.0.0.1:%d, loopback subnet %s.0/24", time.monotonic() - started, api.port,
        sim.subnet.prefix,
    )
    app.warm_in_background(app.warm_up)

    while not stop.wait(0.2):
        pass

    logging.getLogger("ecsworld").info("stopping")
    api.stop()
    sim.stop()
    sim.subnet.close()
    app.join_warmers(timeout=3)  # moto cannot be interrupted while it builds a backend
    if watcher is not None:
        watcher.join(timeout=1)
    logging.getLogger("ecsworld").info("stopped")
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is closed and joined by now; skip the interpreter's teardown of
    # moto's large in-memory state (over a second of garbage collection).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
