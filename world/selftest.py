"""Self-check of the local AWS world, through boto3 as a client would see it.

    .venv/bin/python world/selftest.py        (after scripts/world-setup)

Starts `scripts/world --exit-on-stdin-eof` as a subprocess, drives it through
the ECS tutorial's moves and the staged failure modes, and exits non-zero on
the first failure (printing the world's log tail). Prints one line per check
and a closing 'N passed, N failed' line.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

from selfcheck import PASSED, Failed, check, step

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT = "123456789012"
USER_DATA = "#!/bin/bash\necho ECS_CLUSTER=demo >> /etc/ecs/ecs.config"




def wait_for(what, fn, timeout=15.0, interval=0.1):
    """Poll fn() until it returns something truthy; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise Failed(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


def http_get(url, timeout=2.0):
    """(status, body) or (None, error) when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError as err:
        return None, str(err)


class World:
    def __init__(self):
        self.log = tempfile.NamedTemporaryFile(prefix="ecsworld-selftest-", suffix=".log", delete=False)
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [str(REPO / "scripts" / "world"), "--exit-on-stdin-eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        line = self.proc.stdout.readline().strip()
        self.start_seconds = time.monotonic() - t0
        if not line.startswith("AWS_ENDPOINT_URL="):
            raise Failed(f"world did not print its endpoint (got {line!r})")
        self.url = line.split("=", 1)[1]

    def client(self, name):
        return boto3.client(
            name, endpoint_url=self.url, region_name=REGION, aws_access_key_id="testing",
            aws_secret_access_key="testing", config=Config(retries={"max_attempts": 1}),
        )

    def sim(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def log_tail(self, n=40):
        self.log.flush()
        lines = Path(self.log.name).read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()




# --------------------------------------------------------------------------- helpers
def service(ecs, name, cluster="demo"):
    return ecs.describe_services(cluster=cluster, services=[name])["services"][0]


def primary(svc):
    return next(d for d in svc["deployments"] if d["status"] == "PRIMARY")


def completed(ecs, name, desired):
    svc = service(ecs, name)
    dep = primary(svc)
    ok = svc["runningCount"] == desired and dep["rolloutState"] == "COMPLETED" and len(svc["deployments"]) == 1
    return svc if ok else None


def running_tasks(ecs, name):
    arns = ecs.list_tasks(cluster="demo", serviceName=name)["taskArns"]
    if not arns:
        return []
    return [t for t in ecs.describe_tasks(cluster="demo", tasks=arns)["tasks"] if t["lastStatus"] == "RUNNING"]


def stopped(ecs, arn):
    task = ecs.describe_tasks(cluster="demo", tasks=[arn])["tasks"][0]
    return task if task["lastStatus"] == "STOPPED" else None


def register(ecs, family, image, *, memory=512, ports=((80, 80),), logs=None, cpu="256"):
    container = {"name": family, "image": image, "essential": True, "memory": memory,
                 "portMappings": [{"containerPort": c, "hostPort": h, "protocol": "tcp"} for c, h in ports]}
    if logs:
        container["logConfiguration"] = {"logDriver": "awslogs", "options": logs}
    return ecs.register_task_definition(
        family=family, networkMode="bridge", requiresCompatibilities=["EC2"], cpu=cpu, memory=str(memory),
        containerDefinitions=[container],
    )["taskDefinition"]["taskDefinitionArn"]


# ----------------------------------------------------------------------------- steps
@step("world ready in < 5 s")
def t_ready(world):
    print(f"     start to ready: {world.start_seconds:.2f} s")
    check(world.start_seconds < 5.0, f"start took {world.start_seconds:.2f} s")


def build_cluster(c):
    """The tutorial's cluster: launch template with ECS_CLUSTER user data, an
    ASG of one t2.micro, a capacity provider. Returns the container instance."""
    ec2, ecs, asg = c["ec2"], c["ecs"], c["autoscaling"]
    ecs.create_cluster(clusterName="demo")
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["amzn2-ami-ecs-hvm-*-x86_64-ebs"]}])["Images"]
    check(images, "no ECS-optimised AMI found by name")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    ec2.create_launch_template(
        LaunchTemplateName="demo-lt",
        LaunchTemplateData={"ImageId": images[0]["ImageId"], "InstanceType": "t2.micro",
                            "UserData": base64.b64encode(USER_DATA.encode()).decode()},
    )
    asg.create_auto_scaling_group(
        AutoScalingGroupName="demo-asg", MinSize=0, MaxSize=1, DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateName": "demo-lt", "Version": "$Latest"},
        VPCZoneIdentifier=",".join(subnets),
    )
    group_arn = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["demo-asg"])["AutoScalingGroups"][0]["AutoScalingGroupARN"]
    ecs.create_capacity_provider(name="demo-cp", autoScalingGroupProvider={"autoScalingGroupArn": group_arn})
    ecs.put_cluster_capacity_providers(cluster="demo", capacityProviders=["demo-cp", "FARGATE"],
                                       defaultCapacityProviderStrategy=[])
    arns = wait_for("a container instance", lambda: ecs.list_container_instances(cluster="demo")["containerInstanceArns"], 5)
    return ecs.describe_container_instances(cluster="demo", containerInstances=arns)["containerInstances"][0]


def public_ip(c, ci):
    inst = c["ec2"].describe_instances(InstanceIds=[ci["ec2InstanceId"]])["Reservations"][0]["Instances"][0]
    return inst.get("PublicIpAddress", "")


@step("cluster + launch template + ASG -> container instance with a 127.x public IP")
def t_cluster(world, c):
    ecs = c["ecs"]
    ci = build_cluster(c)
    res = {r["name"]: r.get("integerValue") for r in ci["registeredResources"]}
    check(res["CPU"] == 1024 and res["MEMORY"] == 982, f"t2.micro resources, got {res}")
    check(ci.get("capacityProviderName") == "demo-cp", f"capacityProviderName {ci.get('capacityProviderName')}")
    ip = public_ip(c, ci)
    check(ip.startswith("127."), f"public IP {ip!r}")
    again = ecs.create_cluster(clusterName="demo")["cluster"]
    check(again["registeredContainerInstancesCount"] == 1, "duplicate CreateCluster wiped the cluster")
    return ip


@step("bridge task definition + service (desired 1) -> RUNNING, deployment COMPLETED, /docs 200")
def t_service(world, c, ip):
    ecs, ecr = c["ecs"], c["ecr"]
    ecr.create_repository(repositoryName="app")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"digest": "sha256:" + "1" * 64, "size": 1, "mediaType": "application/vnd.docker.container.image.v1+json"},
                           "layers": []})
    ecr.put_image(repositoryName="app", imageManifest=manifest, imageTag="v1")
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app:v1"
    logs = {"awslogs-group": "/ecs/web", "awslogs-region": REGION, "awslogs-stream-prefix": "ecs",
            "awslogs-create-group": "true"}
    td = register(ecs, "web", image, logs=logs)
    ecs.create_service(
        cluster="demo", serviceName="web", taskDefinition="web", desiredCount=1,
        capacityProviderStrategy=[{"capacityProvider": "demo-cp", "weight": 1, "base": 0}],
        deploymentConfiguration={"minimumHealthyPercent": 0, "maximumPercent": 100,
                                 "deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    svc = wait_for("service web steady", lambda: completed(ecs, "web", 1), 10)
    check(svc["capacityProviderStrategy"][0]["capacityProvider"] == "demo-cp", "capacityProviderStrategy dropped")
    check(svc["deploymentConfiguration"]["deploymentCircuitBreaker"]["rollback"] is True, "circuit breaker dropped")
    check(svc["deploymentConfiguration"]["minimumHealthyPercent"] == 0, "deploymentConfiguration dropped")
    check(any("has reached a steady state." in e["message"] for e in svc["events"]), "no steady-state event")
    check(primary(svc)["taskDefinition"] == td, "PRIMARY is not the task definition")
    status, body = wait_for("/docs 200", lambda: (lambda r: r if r[0] == 200 else None)(http_get(f"http://{ip}:80/docs")), 5)
    check("<title>FastAPI - Swagger UI</title>" in body, "no Swagger title in /docs")
    stream = wait_for("web log stream", lambda: c["logs"].describe_log_streams(logGroupName="/ecs/web")["logStreams"], 3)
    task_id = running_tasks(ecs, "web")[0]["taskArn"].split("/")[-1]
    check(stream[0]["logStreamName"] == f"ecs/web/{task_id}", f"stream name {stream[0]['logStreamName']}")


@step("update_service forceNewDeployment (min 0 / max 100) -> new task, same revision")
def t_force(world, c, ip):
    ecs = c["ecs"]
    old = running_tasks(ecs, "web")[0]
    dep_before = primary(service(ecs, "web"))["id"]
    ecs.update_service(cluster="demo", service="web", forceNewDeployment=True)
    svc = service(ecs, "web")
    check(primary(svc)["id"] != dep_before and primary(svc)["rolloutState"] == "IN_PROGRESS", "no new PRIMARY deployment")
    check(len(svc["deployments"]) == 2, "old deployment not kept as ACTIVE")
    svc = wait_for("forced deployment completed", lambda: completed(ecs, "web", 1), 10)
    new = running_tasks(ecs, "web")[0]
    check(new["taskArn"] != old["taskArn"], "task was not replaced")
    check(new["taskDefinitionArn"] == old["taskDefinitionArn"], "revision changed")
    gone = stopped(ecs, old["taskArn"])
    check(gone and gone["stoppedReason"].startswith("Scaling activity initiated by (deployment ecs-svc/"),
          f"old task reason {gone and gone.get('stoppedReason')}")
    wait_for("/docs 200 again", lambda: http_get(f"http://{ip}:80/docs")[0] == 200, 3)


@step("scale to 0 -> task stopped, event, /docs stops answering")
def t_scale0(world, c, ip):
    ecs = c["ecs"]
    ecs.update_service(cluster="demo", service="web", desiredCount=0)
    svc = wait_for("scaled to 0", lambda: completed(ecs, "web", 0) if not running_tasks(ecs, "web") else None, 5)
    check(any("has stopped 1 running tasks: (task " in e["message"] for e in svc["events"]), "no stopped event")
    wait_for("/docs to stop answering", lambda: http_get(f"http://{ip}:80/docs", 0.5)[0] is None, 3)
    stopped_arns = ecs.list_tasks(cluster="demo", serviceName="web", desiredStatus="STOPPED")["taskArns"]
    check(len(stopped_arns) >= 2, "stopped tasks not listed with desiredStatus=STOPPED")
    # Resources are released only when the task is STOPPED (as on AWS).
    wait_for("tasks STOPPED", lambda: all(stopped(ecs, a) for a in stopped_arns), 3)


@step("image missing from ECR -> CannotPullContainerError")
def t_pull(world, c):
    ecs = c["ecs"]
    image = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app:nope"
    register(ecs, "missing", image, ports=())
    arn = ecs.run_task(cluster="demo", taskDefinition="missing")["tasks"][0]["taskArn"]
    task = wait_for("pull failure", lambda: stopped(ecs, arn), 5)
    check(task["stopCode"] == "TaskFailedToStart", f"stopCode {task.get('stopCode')}")
    check(task["stoppedReason"].startswith("CannotPullContainerError: pull image manifest has been retried 5 time(s): "
                                           f"failed to resolve ref {image}"), task["stoppedReason"])


@step("staged exit 1 -> task stopped, exit code 1")
def t_exit(world, c):
    ecs = c["ecs"]
    image = "public.ecr.aws/demo/crash:1"
    world.sim("POST", "/_sim/stage", {"image": image, "exit_code": 1, "run_seconds": 0.3, "logs": ["boom"]})
    register(ecs, "crash", image, ports=())
    arn = ecs.run_task(cluster="demo", taskDefinition="crash")["tasks"][0]["taskArn"]
    task = wait_for("crash", lambda: stopped(ecs, arn), 5)
    check(task["containers"][0].get("exitCode") == 1, f"exitCode {task['containers'][0].get('exitCode')}")
    check(task["stoppedReason"] == "Essential container in task exited", task["stoppedReason"])
    check(task["stopCode"] == "EssentialContainerExited", task["stopCode"])


@step("memory 2048 on a t2.micro -> RESOURCE:MEMORY and a placement event")
def t_memory(world, c):
    ecs = c["ecs"]
    register(ecs, "big", "public.ecr.aws/demo/big:1", memory=2048, ports=())
    out = ecs.run_task(cluster="demo", taskDefinition="big")
    check(not out["tasks"] and out["failures"][0]["reason"] == "RESOURCE:MEMORY", f"run_task {out['failures']}")
    ecs.create_service(cluster="demo", serviceName="big", taskDefinition="big", desiredCount=1)
    msg = wait_for("placement event", lambda: next((e["message"] for e in service(ecs, "big")["events"]
                                                   if "unable to place a task" in e["message"]), None), 5)
    check("has insufficient memory available." in msg and msg.startswith("(service big) was unable to place a task "
          "because no container instance met all of its requirements. The closest matching (container-instance "), msg)
    ecs.delete_service(cluster="demo", service="big", force=True)


@step("one-off RunTask job -> logs in CloudWatch Logs, exit 0")
def t_job(world, c):
    ecs, logs = c["ecs"], c["logs"]
    logs.create_log_group(logGroupName="/ecs/iris")
    register(ecs, "iris", "public.ecr.aws/demo/iris:1", ports=(),
             logs={"awslogs-group": "/ecs/iris", "awslogs-region": REGION, "awslogs-stream-prefix": "job"})
    arn = ecs.run_task(cluster="demo", taskDefinition="iris")["tasks"][0]["taskArn"]
    task = wait_for("job done", lambda: stopped(ecs, arn), 5)
    check(task["containers"][0].get("exitCode") == 0, f"exitCode {task['containers'][0].get('exitCode')}")
    stream = f"job/iris/{arn.split('/')[-1]}"
    events = logs.get_log_events(logGroupName="/ecs/iris", logStreamName=stream, startFromHead=True)["events"]
    check([e["message"] for e in events] == ["iris: starting", "iris: working", "iris: done"], f"log events {events}")
    check(all(a["timestamp"] < b["timestamp"] for a, b in zip(events, events[1:])), "timestamps not increasing")
    register(ecs, "nogroup", "public.ecr.aws/demo/iris:1", ports=(),
             logs={"awslogs-group": "/ecs/absent", "awslogs-region": REGION, "awslogs-stream-prefix": "job"})
    arn = ecs.run_task(cluster="demo", taskDefinition="nogroup")["tasks"][0]["taskArn"]
    task = wait_for("log group failure", lambda: stopped(ecs, arn), 5)
    check(task["stoppedReason"].startswith("ResourceInitializationError:"), task["stoppedReason"])


@step("ALB + target group + listener + service with loadBalancers -> /docs through the ALB")
def t_alb(world, c):
    ec2, elb, ecs = c["ec2"], c["elbv2"], c["ecs"]
    subnets = [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    lb = elb.create_load_balancer(Name="demo-alb", Subnets=subnets[:2], Type="application")["LoadBalancers"][0]
    tg = elb.create_target_group(Name="demo-tg", Protocol="HTTP", Port=80, VpcId=vpc, HealthCheckPath="/",
                                 TargetType="instance")["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    td = register(ecs, "webalb", "public.ecr.aws/demo/web:1", ports=((80, 0),))  # dynamic host port
    ecs.create_service(cluster="demo", serviceName="webalb", taskDefinition=td, desiredCount=1,
                       healthCheckGracePeriodSeconds=10,
                       loadBalancers=[{"targetGroupArn": tg["TargetGroupArn"], "containerName": "webalb",
                                       "containerPort": 80}])
    svc = wait_for("ALB service steady", lambda: completed(ecs, "webalb", 1), 10)
    check(svc["healthCheckGracePeriodSeconds"] == 10 and svc["loadBalancers"], "grace period / loadBalancers dropped")
    health = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
    check(health and health[0]["TargetHealth"]["State"] == "healthy", f"target health {health}")
    check(health[0]["Target"]["Port"] >= 32768, f"dynamic host port {health[0]['Target']['Port']}")
    dns = elb.describe_load_balancers(Names=["demo-alb"])["LoadBalancers"][0]["DNSName"]
    check(dns.startswith("127."), f"DNSName {dns}")
    status, body = http_get(f"http://{dns}/docs")
    check(status == 200 and "<title>FastAPI - Swagger UI</title>" in body, f"ALB /docs -> {status}")
    ecs.update_service(cluster="demo", service="webalb", desiredCount=0)  # a t2.micro holds one 512 MiB task
    wait_for("webalb drained", lambda: completed(ecs, "webalb", 0), 5)
    status, _ = wait_for("ALB 503", lambda: (lambda r: r if r[0] == 503 else None)(http_get(f"http://{dns}/docs")), 3)


@step("static host port with 100/200 on one instance -> port placement event")
def t_port(world, c):
    ecs = c["ecs"]
    register(ecs, "static", "public.ecr.aws/demo/web:1")
    ecs.create_service(cluster="demo", serviceName="static", taskDefinition="static", desiredCount=1)
    wait_for("static steady", lambda: completed(ecs, "static", 1), 10)
    ecs.update_service(cluster="demo", service="static", forceNewDeployment=True)
    msg = wait_for("port event", lambda: next((e["message"] for e in service(ecs, "static")["events"]
                                              if "unable to place" in e["message"]), None), 5)
    check("is already using a port required by your task." in msg, msg)
    ecs.update_service(cluster="demo", service="static", desiredCount=0)
    wait_for("static drained", lambda: not running_tasks(ecs, "static"), 5)


@step("circuit breaker with rollback -> FAILED, rolled back to the last COMPLETED revision")
def t_breaker(world, c):
    ecs = c["ecs"]
    world.sim("POST", "/_sim/stage", {"image": "public.ecr.aws/demo/bad:2", "exit_code": 3, "run_seconds": 0.1})
    good = register(ecs, "cb", "public.ecr.aws/demo/good:1", ports=())
    world.sim("POST", "/_sim/stage", {"image": "public.ecr.aws/demo/good:1", "exit_code": None})
    ecs.create_service(cluster="demo", serviceName="cb", taskDefinition=good, desiredCount=1,
                       deploymentConfiguration={"minimumHealthyPercent": 0, "maximumPercent": 100,
                                                "deploymentCircuitBreaker": {"enable": True, "rollback": True}})
    wait_for("cb steady", lambda: completed(ecs, "cb", 1), 10)
    bad = register(ecs, "cb", "public.ecr.aws/demo/bad:2", ports=())
    ecs.update_service(cluster="demo", service="cb", taskDefinition=bad)

    def rolled_back():
        svc = service(ecs, "cb")
        failed = [d for d in svc["deployments"] if d.get("rolloutState") == "FAILED"]
        return svc if failed and failed[0]["failedTasks"] >= 3 and primary(svc)["taskDefinition"] == good else None

    svc = wait_for("rollback", rolled_back, 15)
    check(any("deployment failed: tasks failed to start." in e["message"] for e in svc["events"]), "no failure event")
    svc = wait_for("rollback completed", lambda: completed(ecs, "cb", 1), 10)
    check(primary(svc)["taskDefinition"] == good, "not rolled back")


@step("request log records AWS calls in order")
def t_requests(world, c):
    reqs = world.sim("GET", "/_sim/requests")
    names = [(r["service"], r["action"]) for r in reqs]
    check(("ecs", "CreateService") in names and ("ec2", "DescribeInstances") in names, f"log {names[:5]}")
    check(names.index(("ecs", "CreateCluster")) < names.index(("ecs", "CreateService")), "order")
    check(all(a["ts"] <= b["ts"] for a, b in zip(reqs, reqs[1:])), "timestamps out of order")


@step("/_sim/reset clears everything")
def t_reset(world, c):
    t0 = time.monotonic()
    world.sim("POST", "/_sim/reset")
    check(time.monotonic() - t0 < 2, "reset slow")
    check(c["ecs"].list_clusters()["clusterArns"] == [], "clusters survived reset")
    check(c["ec2"].describe_instances()["Reservations"] == [], "instances survived reset")
    state = world.sim("GET", "/_sim/state")
    check(state["servers"] == [] and state["tasks"] == [], f"servers/tasks survived: {state['servers']}")
    check([r["action"] for r in world.sim("GET", "/_sim/requests")] == ["ListClusters", "DescribeInstances"],
          "request log not cleared")
    check(c["iam"].get_policy(PolicyArn="arn:aws:iam::aws:policy/AmazonS3FullAccess")["Policy"], "managed policy")


@step("ASG desired 0 -> instance terminated, container instance deregistered, task stopped")
def t_asg_zero(world, c):
    ecs = c["ecs"]
    arn = running_tasks(ecs, "cb")[0]["taskArn"]
    c["autoscaling"].update_auto_scaling_group(AutoScalingGroupName="demo-asg", MinSize=0, DesiredCapacity=0)
    wait_for("instance deregistered", lambda: not ecs.list_container_instances(cluster="demo")["containerInstanceArns"], 3)
    task = wait_for("task stopped", lambda: stopped(ecs, arn), 3)
    check(task["stoppedReason"].startswith("Host EC2 (instance i-") and task["stoppedReason"].endswith("terminated."),
          task["stoppedReason"])
    msg = wait_for("no-instance event", lambda: next((e["message"] for e in service(ecs, "cb")["events"]
                                                     if "No Container Instances were found" in e["message"]), None), 3)
    check(msg.startswith("(service cb) was unable to place a task"), msg)


@step("after reset the world is reusable: same address, port 80 serves again")
def t_after_reset(world, c, old_ip):
    ecs = c["ecs"]
    ip = public_ip(c, build_cluster(c))
    check(ip == old_ip, f"address after reset {ip} (was {old_ip})")
    register(ecs, "again", "public.ecr.aws/demo/web:1")
    ecs.create_service(cluster="demo", serviceName="again", taskDefinition="again", desiredCount=1)
    wait_for("service after reset", lambda: completed(ecs, "again", 1), 10)
    wait_for("/docs after reset", lambda: http_get(f"http://{ip}:80/docs")[0] == 200, 3)


def refuses(host, port):
    import socket

    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) != 0


@step("SIGTERM -> exit 0, every server closed, nothing left running")
def t_sigterm(world):
    state = world.sim("GET", "/_sim/state")
    servers = [(s["ip"], s["port"]) for s in state["servers"]]
    check(servers, "expected a running app server before SIGTERM")
    api = world.url.split("//")[1].split(":")
    pid = world.proc.pid
    children = [d for d in os.listdir("/proc") if d.isdigit() and _ppid(d) == pid]
    check(not children, f"the world has child processes: {children}")
    t0 = time.monotonic()
    world.proc.send_signal(signal.SIGTERM)
    try:
        code = world.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        raise Failed("world still running 5 s after SIGTERM")
    print(f"     stopped in {time.monotonic() - t0:.2f} s")
    check(code == 0, f"exit status {code}")
    check(not os.path.exists(f"/proc/{pid}"), "world process still present")
    for host, port in servers + [(api[0], int(api[1]))]:
        check(refuses(host, port), f"{host}:{port} still accepts connections")


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def main():
    t0 = time.monotonic()
    world = World()
    failed = None
    try:
        clients = {n: world.client(n) for n in ("ec2", "ecs", "ecr", "autoscaling", "elbv2", "logs", "iam")}
        t_ready(world)
        ip = t_cluster(world, clients)
        t_service(world, clients, ip)
        t_force(world, clients, ip)
        t_scale0(world, clients, ip)
        t_pull(world, clients)
        t_exit(world, clients)
        t_memory(world, clients)
        t_job(world, clients)
        t_alb(world, clients)
        t_port(world, clients)
        t_breaker(world, clients)
        t_asg_zero(world, clients)
        t_requests(world, clients)
        t_reset(world, clients)
        t_after_reset(world, clients, ip)
        t_sigterm(world)
        errors = [l for l in Path(world.log.name).read_text(errors="replace").splitlines()
                  if "Traceback" in l or " ERROR " in l]
        check(not errors, f"the world logged errors: {errors[:3]}")
        PASSED.append("world log has no errors")
        print("ok   world log has no errors", flush=True)
    except Exception as err:  # report, with the world's own log
        failed = err
        if not isinstance(err, Failed):
            traceback.print_exc()
        print(f"FAIL {type(err).__name__}: {err}", flush=True)
        print("---- world log tail ----\n" + world.log_tail(), flush=True)
    finally:
        world.kill()
        os.unlink(world.log.name)
    print(f"selftest took {time.monotonic() - t0:.1f} s")
    print(f"{len(PASSED)} passed, {1 if failed else 0} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
