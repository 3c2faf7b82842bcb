"""ecsdeploy against the tools users would otherwise use, in one run on the local AWS world.

Run through scripts/bench (it builds the release binary and installs the peers). Every AWS call
of every command goes through the world's fault proxy with a fixed latency per call, so a round
trip costs what it costs on a real network; the proxy's log gives, per command, the number of
AWS calls, the mutating ones, and the longest chain of calls that ran one after another.

Measured: wall time (median of --repeat runs), calls, mutating calls, longest chain, peak memory
(max RSS); for scale and redeploy also fabfuel's `ecs` and the AWS CLI, with the ratio
ecsdeploy / peer. Then the issue's targets, each with its measured value.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import shutil
import tempfile
import tomllib
import urllib.request
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GNU_TIME = shutil.which("time", path="/usr/bin:/bin")  # Debian package `time`; without it, no RSS column
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
         "AWS_DEFAULT_REGION": "us-east-1", "NO_COLOR": "1"}


# ------------------------------------------------------------------ the world and the proxy
def start(cmd, env=None):
    """Start a world process that prints NAME=URL when ready; it exits when our stdin end closes."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=env, text=True)
    line = proc.stdout.readline().strip()
    if "=" not in line:
        sys.exit(f"bench: {cmd[0]} did not start")
    return proc, line.split("=", 1)[1]


def post(url, body=None):
    req = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=30))


def get(url):
    return json.load(urllib.request.urlopen(url, timeout=30))


# ------------------------------------------------------------------ measuring one command
def longest_chain(entries):
    """The most calls that ran strictly one after another (each started after the previous ended)."""
    calls = sorted((e["start"], e["end"]) for e in entries if e["end"] is not None)
    best = []
    for i, (start, _) in enumerate(calls):
        best.append(1 + max((best[j] for j in range(i) if calls[j][1] <= start), default=0))
    return max(best, default=0)


class Bench:
    def __init__(self, proxy, latency_ms, env):
        self.proxy = proxy
        self.latency_ms = latency_ms
        self.env = env

    def measure(self, cmd):
        """Run one command through the proxy: wall seconds, AWS calls, max RSS; exit status must be 0."""
        post(f"{self.proxy}/_proxy/reset")
        post(f"{self.proxy}/_proxy/config", {"latency_ms": self.latency_ms})
        # Max RSS through GNU time: a child forked from this (large) Python process would report
        # the parent's pages as its own.
        rss_file = tempfile.NamedTemporaryFile(prefix="bench-rss-", delete=False).name
        timed = [GNU_TIME, "-f", "%M", "-o", rss_file] + cmd if GNU_TIME else cmd
        t0 = time.perf_counter()
        proc = subprocess.Popen(timed, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        out = proc.stdout.read()
        proc.wait()
        wall = time.perf_counter() - t0
        ended = time.time()
        rss = Path(rss_file).read_text().strip().splitlines()[-1] if GNU_TIME else ""
        os.unlink(rss_file)
        if proc.returncode != 0:
            sys.stderr.write(out.decode(errors="replace"))
            sys.exit(f"bench: `{' '.join(cmd)}` exited {proc.returncode}")
        log = [e for e in get(f"{self.proxy}/_proxy/log") if e["injected"] is None]
        return {"wall": wall, "ended": ended, "calls": len(log), "mutating": sum(e["mutating"] for e in log),
                "chain": longest_chain(log), "rss_mb": int(rss) / 1024 if rss.isdigit() else None,
                "actions": [f"{e['service']}:{e['action']}" for e in sorted(log, key=lambda e: e["start"])]}

    def repeat(self, cmd, n, before=None):
        """`n` runs of `cmd` (each after `before()`): the median wall time, the worst of the rest."""
        runs = []
        for _ in range(n):
            if before:
                before()
            runs.append(self.measure(cmd))
        return {"wall": statistics.median(r["wall"] for r in runs), "calls": max(r["calls"] for r in runs),
                "mutating": max(r["mutating"] for r in runs), "chain": max(r["chain"] for r in runs),
                "rss_mb": max((r["rss_mb"] for r in runs), default=None, key=lambda x: x or 0), "actions": runs[-1]["actions"]}


# ------------------------------------------------------------------ realistic timings
def at(timeline, event, after=0.0, ident=None):
    """Time of the first `event` at or after `after` (of `ident` when given)."""
    for e in timeline:
        if e["event"] == event and e["t"] >= after and (ident is None or e.get("id") == ident):
            return e["t"]
    sys.exit(f"bench: no `{event}` in the world's timeline after {after:.3f}")


def critical_path(timeline):
    """The floor of a deploy from empty, from the world's own clock: what AWS takes on the chain
    instance launch → registered → task placed → pulled → running → healthy (counted by ECS) →
    answering /docs. Steps where ecsdeploy could make something start earlier are not floor."""
    launch = at(timeline, "instance-launch")
    registered = at(timeline, "instance-registered", launch)
    placed = at(timeline, "task-placed", registered)
    running = at(timeline, "task-running", placed)
    healthy = at(timeline, "task-healthy", running)
    created = at(timeline, "task-created")
    # Placement waits for the instance and for the task, whichever came last: ECS's own latency.
    placement = placed - max(registered, created)
    return (registered - launch) + placement + (running - placed) + (healthy - running)


def realistic(bench, world, me, scale, cluster, service):
    from ecsworld.tutorial import prerequisites
    post(f"{world}/_sim/reset")
    post(f"{world}/_sim/config", {"timing": "realistic", "time_scale": scale})
    prerequisites(world)
    t0 = get(f"{world}/_sim/timeline")
    offset = t0[-1]["t"] if t0 else 0.0
    apply = bench.measure(me + ["apply", "--auto-approve"])
    timeline = get(f"{world}/_sim/timeline")
    floor = critical_path([e for e in timeline if e["t"] >= offset])
    redeploy = bench.measure(me + ["redeploy", "--force"])
    timeline = get(f"{world}/_sim/timeline")
    created = [e for e in timeline if e["event"] == "deployment-created"][-1]
    completed = at(timeline, "deployment-completed", created["t"], created.get("id"))
    return {"scale": scale, "apply": apply["wall"], "floor": floor, "redeploy": redeploy["wall"],
            "rollout": completed - created["t"]}


# ------------------------------------------------------------------ report
def under(value, limit):
    """Met, missed, or None when it could not be measured."""
    return None if value is None else value <= limit


def mb(value):
    return "unmeasured (install GNU time)" if value is None else f"{value:.0f} MB"


def fmt_row(op, tool, r, ratio=""):
    rss = f"{r['rss_mb']:.0f}" if r.get("rss_mb") else "-"
    return f"| {op} | {tool} | {r['wall'] * 1000:.0f} | {r['calls']} | {r['mutating']} | {r['chain']} | {rss} | {ratio} |"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ecsdeploy", required=True, help="the ecsdeploy binary (release)")
    ap.add_argument("--peers", required=True, help="venv holding fabfuel's `ecs` and the AWS CLI `aws`")
    ap.add_argument("--spec", default=str(REPO / "deploy.toml"))
    ap.add_argument("--latency-ms", type=int, default=50, help="added to every AWS call (default 50)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per measurement; the median is shown (default 5)")
    ap.add_argument("--calls", action="store_true", help="also list the AWS calls of each ecsdeploy command")
    ap.add_argument("--time-scale", type=float, default=0.2,
                    help="the realistic profile's scale: AWS's durations times this (default 0.2)")
    args = ap.parse_args()

    spec = tomllib.loads(Path(args.spec).read_text())
    cluster = spec["cluster"]["name"]
    service = next(iter(spec["services"]))
    ecs, aws = str(Path(args.peers) / "bin/ecs"), str(Path(args.peers) / "bin/aws")
    for tool in (args.ecsdeploy, ecs, aws):
        if not os.access(tool, os.X_OK):
            sys.exit(f"bench: {tool} is missing; run scripts/bench")

    world_proc, world = start([str(REPO / "scripts/world"), "--exit-on-stdin-eof"])
    proxy_proc, proxy = start([sys.executable, "-m", "ecsworld.proxy", "--upstream", world, "--exit-on-stdin-eof"],
                              env=dict(os.environ, PYTHONPATH=str(REPO / "world")))
    env = dict(os.environ, AWS_ENDPOINT_URL=proxy, ECSDEPLOY_CHECKIP_URL=f"{proxy}/checkip", **CREDS)
    os.environ.update(CREDS)
    try:
        from ecsworld.tutorial import prerequisites
        import boto3
        prerequisites(world)
        ecs_api = boto3.client("ecs", endpoint_url=world)
        bench = Bench(proxy, args.latency_ms, env)
        me = [args.ecsdeploy, "-f", args.spec]
        n = args.repeat
        results = {}
        # (key, operation, tool, the ecsdeploy key it is compared with)
        rows = [("apply_empty", "apply (from empty)", "ecsdeploy", None),
                ("plan", "plan (no changes)", "ecsdeploy", None),
                ("apply_noop", "apply (no changes)", "ecsdeploy", None),
                ("scale", "scale --desired 0", "ecsdeploy --no-wait", None),
                ("scale_ecs", "", "ecs scale --timeout -1", "scale"),
                ("scale_aws", "", "aws ecs update-service --desired-count 0", "scale"),
                ("redeploy", "redeploy --force", "ecsdeploy --no-wait", None),
                ("redeploy_ecs", "", "ecs deploy --timeout -1", "redeploy"),
                ("redeploy_aws", "", "aws ecs update-service --force-new-deployment", "redeploy"),
                ("redeploy_wait", "redeploy --force (wait + verify)", "ecsdeploy", None)]

        def desired_one():
            # Every scale run starts from the same state: one task wanted.
            ecs_api.update_service(cluster=cluster, service=service, desiredCount=1)

        update = [aws, "ecs", "update-service", "--cluster", cluster, "--service", service]
        print(f"bench: world {world}, proxy with {args.latency_ms} ms per AWS call, {n} runs each", file=sys.stderr)
        results["apply_empty"] = bench.measure(me + ["apply", "--auto-approve"])
        results["plan"] = bench.repeat(me + ["plan"], n)
        results["apply_noop"] = bench.repeat(me + ["apply", "--auto-approve"], n)
        results["scale"] = bench.repeat(me + ["scale", "--desired", "0", "--no-wait"], n, desired_one)
        results["scale_ecs"] = bench.repeat([ecs, "scale", cluster, service, "0", "--timeout", "-1"], n, desired_one)
        results["scale_aws"] = bench.repeat(update + ["--desired-count", "0"], n, desired_one)
        desired_one()
        results["redeploy"] = bench.repeat(me + ["redeploy", "--force", "--no-wait"], n)
        results["redeploy_ecs"] = bench.repeat([ecs, "deploy", cluster, service, "--timeout", "-1"], n)
        results["redeploy_aws"] = bench.repeat(update + ["--force-new-deployment"], n)

        # Wait overhead: from the moment the world marks the deployment COMPLETED to ecsdeploy's exit
        # (the /docs check in between is part of the product, and counted).
        overheads = []
        for _ in range(max(3, n // 2)):
            r = bench.measure(me + ["redeploy", "--force"])
            primary = next(d for d in ecs_api.describe_services(cluster=cluster, services=[service])["services"][0]["deployments"]
                           if d["status"] == "PRIMARY")
            overheads.append(r["ended"] - primary["updatedAt"].timestamp())
        results["wait_overhead"] = max(overheads)
        results["redeploy_wait"] = r
        # AWS's real durations (the world's realistic profile, scaled): apply from empty against the
        # critical path the world itself recorded, and a forced redeploy against ECS's own rollout.
        results["realistic"] = realistic(bench, world, me, args.time_scale, cluster, service)
    finally:
        for proc in (proxy_proc, world_proc):
            proc.stdin.close()
            proc.wait(timeout=30)

    # Start-up: the release binary's --help, no AWS involved.
    starts = []
    for _ in range(30):
        t0 = time.perf_counter()
        subprocess.run([args.ecsdeploy, "--help"], stdout=subprocess.DEVNULL, check=True)
        starts.append(time.perf_counter() - t0)
    startup_ms = statistics.median(starts) * 1000

    print(f"\necsdeploy {subprocess.run([args.ecsdeploy, '--version'], capture_output=True, text=True).stdout.strip()}, "
          f"{args.latency_ms} ms per AWS call, median of {n} runs ({datetime.now():%Y-%m-%d})\n")
    print("| operation | tool | wall ms | AWS calls | mutating | longest chain | max RSS MB | ecsdeploy / peer |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for key, op, tool, ours in rows:
        r = results[key]
        ratio = "" if ours is None else f"{results[ours]['wall'] / r['wall']:.2f} ({r['wall'] / results[ours]['wall']:.1f}x faster)"
        print(fmt_row(op, tool, r, ratio))
    print(f"\n`ecsdeploy --help` start-up: {startup_ms:.1f} ms (median of 30)\n")
    real = results["realistic"]
    print(f"Realistic profile (AWS's durations x {real['scale']}):")
    print(f"- apply from empty to /docs 200: {real['apply']:.2f} s; critical-path floor from the world's timeline "
          f"{real['floor']:.2f} s; ratio {real['apply'] / real['floor']:.2f}")
    print(f"- redeploy --force (wait + verify): {real['redeploy']:.2f} s; ECS's own rollout {real['rollout']:.2f} s; "
          f"overhead {real['redeploy'] - real['rollout']:.2f} s\n")

    r = results
    targets = [
        ("no-op plan: longest chain <= 3", r["plan"]["chain"], r["plan"]["chain"] <= 3),
        ("no-op plan: calls <= 30", r["plan"]["calls"], r["plan"]["calls"] <= 30),
        ("no-op apply: 0 mutating calls", r["apply_noop"]["mutating"], r["apply_noop"]["mutating"] == 0),
        ("no-op apply <= 1.5x no-op plan", f"{r['apply_noop']['wall'] / r['plan']['wall']:.2f}x",
         r["apply_noop"]["wall"] <= 1.5 * r["plan"]["wall"]),
        ("scale >= 8x faster than ecs scale", f"{r['scale_ecs']['wall'] / r['scale']['wall']:.1f}x",
         r["scale_ecs"]["wall"] >= 8 * r["scale"]["wall"]),
        ("redeploy >= 8x faster than ecs deploy", f"{r['redeploy_ecs']['wall'] / r['redeploy']['wall']:.1f}x",
         r["redeploy_ecs"]["wall"] >= 8 * r["redeploy"]["wall"]),
        ("wait overhead after COMPLETED <= 1 s", f"{r['wait_overhead']:.2f} s", r["wait_overhead"] <= 1.0),
        ("--help start-up <= 20 ms", f"{startup_ms:.1f} ms", startup_ms <= 20),
        ("realistic: apply from empty <= 1.15x the critical path", f"{real['apply'] / real['floor']:.2f}x",
         real["apply"] <= 1.15 * real["floor"]),
        ("realistic: redeploy --force <= ECS's rollout + 1 s", f"+{real['redeploy'] - real['rollout']:.2f} s",
         real["redeploy"] <= real["rollout"] + 1.0),
        ("max RSS of apply from empty <= 60 MB", mb(r["apply_empty"]["rss_mb"]), under(r["apply_empty"]["rss_mb"], 60)),
        ("max RSS of plan <= 40 MB", mb(r["plan"]["rss_mb"]), under(r["plan"]["rss_mb"], 40)),
    ]
    print("| target | measured | met |")
    print("|---|---:|---|")
    for name, value, ok in targets:
        print(f"| {name} | {value} | {'-' if ok is None else 'yes' if ok else 'NO'} |")
    if args.calls:
        for key in ("plan", "apply_noop", "scale", "redeploy"):
            print(f"\n{key}: {' '.join(r[key]['actions'])}")
    return 0 if all(ok is not False for _, _, ok in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
