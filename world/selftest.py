"""Self-check of the local AWS world, through boto3 as a client would see it.

    .venv/bin/python world/selftest.py        (after scripts/world-setup)

Starts `scripts/world --exit-on-stdin-eof` as a subprocess, drives it through
the ECS tutorial's moves (capacity in AWS's order: an empty group of t3.micro,
the provider, the association, then scale out), the staged failure modes and
each AWS behaviour of the world (free tier per plan, the Free Tier API, failed
launches as scaling activities, provider association, managed scaling,
termination protection, draining, slow and refused deletions, the names and texts AWS refuses, security
groups on instance ports, listeners and task ENIs, GET /checkip, awsvpc and
Fargate networking, small pages with working tokens on every paginated call, the realistic timing
profile), each switch turned off once, and exits non-zero on
the first failure (printing the world's log tail). Prints one line per check
and a closing 'N passed, N failed' line.
"""

import base64
import email.utils
import json
import os
import re
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
from botocore.exceptions import ClientError

from selfcheck import PASSED, Failed, check, step

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT = "123456789012"


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

    def sim_status(self, method, path, body=None):
        """(HTTP status, JSON answer), for calls expected to fail."""
        try:
            return 200, self.sim(method, path, body)
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    def config(self, **values):
        return self.sim("POST", "/_sim/config", values)["config"]

    def log_tail(self, n=40):
        self.log.flush()
        lines = Path(self.log.name).read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()




# --------------------------------------------------------------------------- helpers
def every(client, operation, key, **kwargs):
    """Every item of a paginated list, page after page (the world answers small pages)."""
    return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]


def log_events(logs, group, stream):
    """A stream's events from the head, following nextForwardToken until it comes back unchanged."""
    out, token = [], None
    while True:
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True,
                                   **({"nextToken": token} if token else {}))
        out += page["events"]
        if page["nextForwardToken"] == token:
            return out
        token = page["nextForwardToken"]


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
    arns = every(ecs, "list_tasks", "taskArns", cluster="demo", serviceName=name)
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


def group_id(ec2, name):
    return ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [name]}])["SecurityGroups"][0]["GroupId"]


def ecs_ami(ec2):
    images = ec2.describe_images(Filters=[{"Name": "name", "Values": ["amzn2-ami-ecs-hvm-*-x86_64-ebs"]}])["Images"]
    check(images, "no ECS-optimised AMI found by name")
    return images[0]["ImageId"]


def default_subnets(ec2):
    return [s["SubnetId"] for s in ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]


def user_data(cluster):
    return base64.b64encode(f"#!/bin/bash\necho ECS_CLUSTER={cluster} >> /etc/ecs/ecs.config".encode()).decode()


NU_VPN = "165.124.160.0/21"  # the tutorial's CIDR; the world's default caller_address lies in it


def vpc_id(ec2):
    return ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]


def seen(ec2, gid):
    """Wait until EC2 knows a new group everywhere (ec2_propagation), as terraform does."""
    def found():
        try:
            return ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"]
        except ClientError as err:
            if err.response["Error"]["Code"] != "InvalidGroup.NotFound":
                raise
            return None
    wait_for(f"{gid} to propagate", found, 5, 0.05)
    return gid


def security_group(ec2, name, *rules):
    """A security group of the default VPC with inbound tcp rules (from, to, source):
    source a CIDR or a group id. Returns its id."""
    gid = seen(ec2, ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id(ec2))["GroupId"])
    for lo, hi, source in rules:
        allow(ec2, gid, lo, hi, source)
    return gid


def allow(ec2, gid, lo, hi, source):
    where = {"UserIdGroupPairs": [{"GroupId": source}]} if source.startswith("sg-") else {"IpRanges": [{"CidrIp": source}]}
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[{"IpProtocol": "tcp", "FromPort": lo,
                                                                      "ToPort": hi, **where}])


def make_group(c, name, cluster, *, instance_type="t3.micro", desired=0, max_size=1, protected=False, groups=None):
    """A launch template with ECS_CLUSTER user data (and `groups`, security
    group ids) and an Auto Scaling group on it; returns the group's ARN."""
    ec2, asg = c["ec2"], c["autoscaling"]
    data = {"ImageId": ecs_ami(ec2), "InstanceType": instance_type, "UserData": user_data(cluster)}
    if groups:
        data["SecurityGroupIds"] = list(groups)
    ec2.create_launch_template(LaunchTemplateName=f"{name}-lt", LaunchTemplateData=data)
    asg.create_auto_scaling_group(
        AutoScalingGroupName=name, MinSize=0, MaxSize=max_size, DesiredCapacity=desired,
        LaunchTemplate={"LaunchTemplateName": f"{name}-lt", "Version": "$Latest"},
        VPCZoneIdentifier=",".join(default_subnets(ec2)), NewInstancesProtectedFromScaleIn=protected,
    )
    return group(c, name)["AutoScalingGroupARN"]


def group(c, name):
    return c["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]


def container_instances(ecs, cluster):
    arns = every(ecs, "list_container_instances", "containerInstanceArns", cluster=cluster)
    return ecs.describe_container_instances(cluster=cluster, containerInstances=arns)["containerInstances"] if arns else []


SLR_MESSAGE = "Unable to assume the service linked role. Please verify that the ECS service linked role exists."


def create_cluster(ecs, name):
    """CreateCluster retried while ECS's new service-linked role propagates, as terraform does."""
    def attempt():
        try:
            return ecs.create_cluster(clusterName=name)["cluster"]
        except ClientError as err:
            if err.response["Error"]["Message"] != SLR_MESSAGE:
                raise
            return None
    return wait_for("CreateCluster past the service-linked role", attempt, 5, 0.1)


def build_cluster(c):
    """The tutorial's cluster in AWS's order: an empty group of t3.micro, the
    capacity provider, the association, then scale out to one instance.
    Returns the container instance."""
    ecs = c["ecs"]
    create_cluster(ecs, "demo")
    # The tutorial's instance group: SSH and HTTP from the VPN (security groups are enforced).
    web = security_group(c["ec2"], "demo-web", (22, 22, NU_VPN), (80, 80, NU_VPN))
    group_arn = make_group(c, "demo-asg", "demo", groups=[web])
    ecs.create_capacity_provider(name="demo-cp", autoScalingGroupProvider={"autoScalingGroupArn": group_arn})
    ecs.put_cluster_capacity_providers(cluster="demo", capacityProviders=["demo-cp", "FARGATE"],
                                       defaultCapacityProviderStrategy=[])
    c["autoscaling"].set_desired_capacity(AutoScalingGroupName="demo-asg", DesiredCapacity=1)
    return wait_for("a container instance", lambda: container_instances(ecs, "demo"), 5)[0]


def public_ip(c, ci):
    inst = c["ec2"].describe_instances(InstanceIds=[ci["ec2InstanceId"]])["Reservations"][0]["Instances"][0]
    return inst.get("PublicIpAddress", "")


@step("fresh account: first CreateCluster creates AWSServiceRoleForECS and fails while it propagates; switch off")
def t_service_linked_role(world, c):
    ecs, iam = c["ecs"], c["iam"]
    code, message = error_of(ecs.create_cluster, clusterName="first")
    check((code, message) == ("InvalidParameterException", SLR_MESSAGE), f"first CreateCluster: {code}: {message}")
    code, message = error_of(ecs.create_cluster, clusterName="second")
    check(message == SLR_MESSAGE, f"CreateCluster meanwhile: {code}: {message}")
    role = iam.get_role(RoleName="AWSServiceRoleForECS")["Role"]
    check(role["Path"] == "/aws-service-role/ecs.amazonaws.com/", f"role path {role['Path']}")
    create_cluster(ecs, "first")  # within the fast profile's 1 s
    ecs.delete_cluster(cluster="first")
    # A fresh account again (as after /_sim/reset, checked in t_reset), with the switch off.
    for policy in iam.list_attached_role_policies(RoleName="AWSServiceRoleForECS")["AttachedPolicies"]:
        iam.detach_role_policy(RoleName="AWSServiceRoleForECS", PolicyArn=policy["PolicyArn"])
    iam.delete_role(RoleName="AWSServiceRoleForECS")
    world.config(switches={"service_linked_role": False})
    try:
        ecs.create_cluster(clusterName="first")
        check(iam.get_role(RoleName="AWSServiceRoleForECS")["Role"], "no role with the switch off")
    finally:
        world.config(switches={"service_linked_role": True})
    ecs.delete_cluster(cluster="first")


@step("cluster, empty ASG of t3.micro, provider, association, scale out -> container instance of the provider")
def t_cluster(world, c):
    ecs = c["ecs"]
    ci = build_cluster(c)
    res = {r["name"]: r.get("integerValue") for r in ci["registeredResources"]}
    check(res["CPU"] == 2048 and res["MEMORY"] == 982, f"t3.micro resources, got {res}")
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
    stopped_arns = every(ecs, "list_tasks", "taskArns", cluster="demo", serviceName="web", desiredStatus="STOPPED")
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


@step("ListTaskDefinitionFamilies honours status: a deregistered family is INACTIVE, not ACTIVE")
def t_families(world, c):
    ecs = c["ecs"]
    arn = register(ecs, "gone-family", "public.ecr.aws/demo/web:1")
    ecs.deregister_task_definition(taskDefinition=arn)
    families = lambda **kw: ecs.list_task_definition_families(familyPrefix="gone-", **kw)["families"]
    check(families(status="ACTIVE") == [], f"ACTIVE lists {families(status='ACTIVE')}")
    check(families(status="INACTIVE") == ["gone-family"], f"INACTIVE lists {families(status='INACTIVE')}")
    check(families() == ["gone-family"], "no status lists both")


@step("Tagging API GetResources lists capacity providers, launch templates and rules, as AWS does")
def t_tagging(world, c):
    tagging = world.client("resourcegroupstaggingapi")
    ec2 = c["ec2"]
    tag = {"Key": "owner", "Value": "selftest-tagging"}
    lt = ec2.create_launch_template(LaunchTemplateName="tagged-lt", LaunchTemplateData={"InstanceType": "t3.micro"},
                                    TagSpecifications=[{"ResourceType": "launch-template", "Tags": [tag]}])["LaunchTemplate"]
    group = seen(ec2, ec2.create_security_group(GroupName="tagged-rules", Description="rules")["GroupId"])
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                         "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}],
                                         TagSpecifications=[{"ResourceType": "security-group-rule", "Tags": [tag]}])
    def tagged():  # the Tagging API's index lags (read_lag), and pages (pagination)
        return [r["ResourceARN"] for r in every(tagging, "get_resources", "ResourceTagMappingList",
                                                TagFilters=[{"Key": "owner", "Values": ["selftest-tagging"]}])]
    arns = wait_for("the launch template and the rule listed", lambda: len(tagged()) >= 2 and tagged(), 3)
    check(any(a.endswith(f":launch-template/{lt['LaunchTemplateId']}") for a in arns), f"no launch template in {arns}")
    check(any(":security-group-rule/" in a for a in arns), f"no rule in {arns}")
    arn = make_group(c, "tagging-asg", "tagging")
    c["ecs"].create_capacity_provider(name="tagging-cp", autoScalingGroupProvider={"autoScalingGroupArn": arn},
                                      tags=[{"key": "owner", "value": "selftest-tagging"}])
    arns = wait_for("the capacity provider listed", lambda: [a for a in tagged() if a.endswith(":capacity-provider/tagging-cp")], 3)
    check(arns, f"no capacity provider in {tagged()}")


@step("memory 2048 on a t3.micro -> RESOURCE:MEMORY and a placement event")
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
    events = log_events(logs, "/ecs/iris", stream)
    check([e["message"] for e in events] == ["iris: starting", "iris: working", "iris: done"], f"log events {events}")
    check(all(a["timestamp"] < b["timestamp"] for a, b in zip(events, events[1:])), "timestamps not increasing")
    register(ecs, "nogroup", "public.ecr.aws/demo/iris:1", ports=(),
             logs={"awslogs-group": "/ecs/absent", "awslogs-region": REGION, "awslogs-stream-prefix": "job"})
    arn = ecs.run_task(cluster="demo", taskDefinition="nogroup")["tasks"][0]["taskArn"]
    task = wait_for("log group failure", lambda: stopped(ecs, arn), 5)
    check(task["stoppedReason"].startswith("ResourceInitializationError:"), task["stoppedReason"])


@step("propagation and read lag: new security group, its rules, GetResources, a new task role; AWS's clock; switches off")
def t_consistency(world, c):
    ec2, ecs, iam = c["ec2"], c["ecs"], c["iam"]
    tagging = world.client("resourcegroupstaggingapi")
    owner = [{"Key": "owner", "Value": "selftest-lag"}]

    def listed():
        return [r["ResourceARN"] for r in tagging.get_resources(
            TagFilters=[{"Key": "owner", "Values": ["selftest-lag"]}])["ResourceTagMappingList"]]

    def rules(gid):
        return [r for r in ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])[
            "SecurityGroupRules"] if not r["IsEgress"]]

    ingress = [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": NU_VPN}]}]
    ami, vpc = ecs_ami(ec2), vpc_id(ec2)  # before the group: its propagation lasts 0.5 s (fast)
    gid = ec2.create_security_group(GroupName="lag-sg", Description="lag", VpcId=vpc,
                                    TagSpecifications=[{"ResourceType": "security-group", "Tags": owner}])["GroupId"]
    code, message = error_of(ec2.run_instances, ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                             SecurityGroupIds=[gid])
    missing = ("InvalidGroup.NotFound", f"The security group '{gid}' does not exist")
    check((code, message) == (missing[0], f"{missing[1]} in VPC '{vpc}'"), f"RunInstances: {code}: {message}")
    check(error_of(ec2.authorize_security_group_ingress, GroupId=gid, IpPermissions=ingress) == missing, "Authorize")
    check(error_of(ec2.describe_security_groups, GroupIds=[gid]) == missing, "DescribeSecurityGroups")
    check(error_of(ec2.create_tags, Resources=[gid], Tags=[{"Key": "a", "Value": "b"}]) == missing, "CreateTags")
    check(listed() == [], f"GetResources lists the new group at once: {listed()}")
    seen(ec2, gid)
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=ingress)
    check(rules(gid) == [], "the new rule is listed at once")
    wait_for("the new rule", lambda: rules(gid), 3)
    wait_for("GetResources to list the group", lambda: any(a.endswith(gid) for a in listed()), 3)
    ec2.delete_security_group(GroupId=gid)
    check(any(a.endswith(gid) for a in listed()), "the deleted group left GetResources at once")
    wait_for("the deleted group to leave GetResources", lambda: not listed(), 3)
    world.config(switches={"ec2_propagation": False, "read_lag": False})
    try:
        gid = ec2.create_security_group(GroupName="lag-off", Description="off", VpcId=vpc_id(ec2),
                                        TagSpecifications=[{"ResourceType": "security-group", "Tags": owner}])["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=ingress)
        check(rules(gid) and any(a.endswith(gid) for a in listed()), "switches off: not seen at once")
    finally:
        world.config(switches={"ec2_propagation": True, "read_lag": True})

    # A task role IAM wrote moments ago: ECS cannot assume it, the scheduler retries.
    trust = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}'

    def with_new_role(name):
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
        ecs.register_task_definition(family=name, networkMode="bridge", requiresCompatibilities=["EC2"], memory="64",
                                     taskRoleArn=role, containerDefinitions=[{"name": name, "image": "public.ecr.aws/demo/tiny:1",
                                                                              "essential": True, "memory": 64}])
        ecs.create_service(cluster="demo", serviceName=name, taskDefinition=name, desiredCount=1)
        return role

    started = time.time()
    role = with_new_role("fresh-role")
    text = (f"(service fresh-role) failed to launch a task with (error ECS was unable to assume the role '{role}' that "
            "was provided for this task. Please verify that the role being passed has the proper trust relationship and "
            "permissions and that your IAM user has permissions to pass this role.).")
    events = wait_for("the role event", lambda: [e for e in service(ecs, "fresh-role")["events"] if e["message"] == text], 2)
    wait_for("fresh-role running after the retry", lambda: service(ecs, "fresh-role")["runningCount"] == 1, 5)
    # AWS's clock is 120 s behind this machine's (clock_offset): the event looks older than our start.
    skew = events[-1]["createdAt"].timestamp() - started
    check(-125 < skew < -115, f"event createdAt is {skew:.1f} s from the local clock (clock_offset -120)")
    date = ecs.list_clusters()["ResponseMetadata"]["HTTPHeaders"]["date"]
    skew = email.utils.parsedate_to_datetime(date).timestamp() - time.time()
    check(-125 < skew < -115, f"Date header {date} is {skew:.1f} s from the local clock")
    world.config(clock_offset=0, switches={"role_propagation": False})
    try:
        with_new_role("fresh-role-off")
        wait_for("fresh-role-off running", lambda: service(ecs, "fresh-role-off")["runningCount"] == 1, 3)
        check(not [e for e in service(ecs, "fresh-role-off")["events"] if "failed to launch" in e["message"]], "switch off")
        date = ecs.list_clusters()["ResponseMetadata"]["HTTPHeaders"]["date"]
        check(abs(email.utils.parsedate_to_datetime(date).timestamp() - time.time()) < 3, f"clock_offset 0: Date {date}")
    finally:
        world.config(clock_offset=-120, switches={"role_propagation": True})
    for name in ("fresh-role", "fresh-role-off"):
        ecs.update_service(cluster="demo", service=name, desiredCount=0)
        ecs.delete_service(cluster="demo", service=name)


@step("ALB + target group + listener (CreateService at once: no associated load balancer yet; switch off -> accepted) + service -> /docs through the ALB")
def t_alb(world, c):
    ec2, elb, ecs = c["ec2"], c["elbv2"], c["ecs"]
    subnets = default_subnets(ec2)
    vpc = vpc_id(ec2)
    # The ALB's group lets the VPN in; the instances' group lets the ALB reach the dynamic ports.
    alb_sg = security_group(ec2, "demo-alb-sg", (80, 80, NU_VPN))
    allow(ec2, group_id(ec2, "demo-web"), 32768, 65535, alb_sg)
    lb = elb.create_load_balancer(Name="demo-alb", Subnets=subnets[:2], Type="application",
                                  SecurityGroups=[alb_sg])["LoadBalancers"][0]
    check(lb["State"]["Code"] == "provisioning", f"new ALB state {lb['State']}")
    tg = elb.create_target_group(Name="demo-tg", Protocol="HTTP", Port=80, VpcId=vpc, HealthCheckPath="/",
                                 TargetType="instance")["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    td = register(ecs, "webalb", "public.ecr.aws/demo/web:1", ports=((80, 0),))  # dynamic host port
    balanced = [{"targetGroupArn": tg["TargetGroupArn"], "containerName": "webalb", "containerPort": 80}]
    # Right after CreateListener, ECS does not see the association yet (listener_propagation).
    code, message = error_of(ecs.create_service, cluster="demo", serviceName="webalb", taskDefinition=td, desiredCount=1,
                             healthCheckGracePeriodSeconds=10, loadBalancers=balanced)
    check(code == "InvalidParameterException" and message == f"The target group with targetGroupArn "
          f"{tg['TargetGroupArn']} does not have an associated load balancer.", f"{code}: {message}")
    time.sleep(1.1)
    ecs.create_service(cluster="demo", serviceName="webalb", taskDefinition=td, desiredCount=1,
                       healthCheckGracePeriodSeconds=10, loadBalancers=balanced)
    world.config(switches={"listener_propagation": False})
    tg_off = elb.create_target_group(Name="demo-tg-off", Protocol="HTTP", Port=80, VpcId=vpc,
                                     TargetType="instance")["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8081,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_off["TargetGroupArn"]}])
    ecs.create_service(cluster="demo", serviceName="webalb-off", taskDefinition=td, desiredCount=0,
                       loadBalancers=[dict(balanced[0], targetGroupArn=tg_off["TargetGroupArn"])])
    world.config(switches={"listener_propagation": True})
    ecs.delete_service(cluster="demo", service="webalb-off", force=True)
    svc = wait_for("ALB service steady", lambda: completed(ecs, "webalb", 1), 10)
    check(svc["healthCheckGracePeriodSeconds"] == 10 and svc["loadBalancers"], "grace period / loadBalancers dropped")
    health = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
    check(health and health[0]["TargetHealth"]["State"] == "healthy", f"target health {health}")
    check(health[0]["Target"]["Port"] >= 32768, f"dynamic host port {health[0]['Target']['Port']}")
    dns = elb.describe_load_balancers(Names=["demo-alb"])["LoadBalancers"][0]["DNSName"]
    check(dns.startswith("127."), f"DNSName {dns}")
    status, body = http_get(f"http://{dns}/docs")
    check(status == 200 and "<title>FastAPI - Swagger UI</title>" in body, f"ALB /docs -> {status}")
    task_id = running_tasks(ecs, "webalb")[0]["taskArn"].split("/")[-1]
    ecs.update_service(cluster="demo", service="webalb", desiredCount=0)  # a t3.micro holds one 512 MiB task

    def draining():
        desc = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
        return desc and desc[0]["TargetHealth"]

    state = wait_for("target draining", lambda: (lambda h: h if h and h["State"] == "draining" else None)(draining()),
                     2, interval=0.02)
    check(state["Reason"] == "Target.DeregistrationInProgress", f"draining reason {state}")
    wait_for("webalb drained", lambda: completed(ecs, "webalb", 0), 5)
    status, _ = wait_for("ALB 503", lambda: (lambda r: r if r[0] == 503 else None)(http_get(f"http://{dns}/docs")), 3)
    wait_for("webalb task stopped", lambda: timeline(world, "task-stopped", task_id), 3)
    events = {e["event"]: e for e in timeline(world, ident=task_id)}
    check({"docs-200", "target-healthy", "target-draining", "task-stopped"} <= set(events), f"timeline {sorted(events)}")
    gap = events["task-stopped"]["t"] - events["target-draining"]["t"]
    check(gap >= 0.2, f"task stopped {gap:.2f} s after its target started draining (fast: 0.2 s)")
    check(any(e["event"] == "lb-active" and e["id"] == lb["LoadBalancerArn"] for e in world.sim("GET", "/_sim/timeline")),
          "no lb-active")


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


# ----------------------------------------------------------------- networks (firewall.py, enis.py)
OUTSIDE = "203.0.113.7"  # a caller outside the VPN's CIDR


def times_out(url, timeout=0.4):
    """The connection is accepted and never answered (a security group dropped it)."""
    status, error = http_get(url, timeout)
    return status is None and "timed out" in error


def net_task(ecs, cluster, arn):
    return ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]


def eni_detail(task, name):
    att = next((a for a in task.get("attachments", []) if a["type"] == "ElasticNetworkInterface"), None)
    return next((d["value"] for d in att["details"] if d["name"] == name), None) if att else None


def register_awsvpc(ecs, family, image, *, memory=512, port=80, fargate=True):
    container = {"name": family, "image": image, "essential": True,
                 "portMappings": [{"containerPort": port, "protocol": "tcp"}] if port else []}
    return ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE" if fargate else "EC2"], cpu="256",
        memory=str(memory), containerDefinitions=[container],
        executionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/ecsTaskExecutionRole",
    )["taskDefinition"]["taskDefinitionArn"]


def push(ecr, repo, tag="v1"):
    ecr.create_repository(repositoryName=repo)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                           "config": {"digest": "sha256:" + "2" * 64, "size": 1,
                                      "mediaType": "application/vnd.docker.container.image.v1+json"}, "layers": []})
    ecr.put_image(repositoryName=repo, imageManifest=manifest, imageTag=tag)
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repo}:{tag}"


@step("security groups: a bridge service answers only when its instance group allows port 80 from the caller")
def t_sg_bridge(world, c):
    ecs, ec2 = c["ecs"], c["ec2"]
    ecs.create_cluster(clusterName="net")
    net_sg = security_group(ec2, "net-web")  # no inbound rule yet
    make_group(c, "net-asg", "net", desired=1, groups=[net_sg])
    ci = wait_for("net instance", lambda: container_instances(ecs, "net"), 5)[0]
    ip = public_ip(c, ci)
    register(ecs, "net-web", "public.ecr.aws/demo/web:1", memory=128)
    ecs.create_service(cluster="net", serviceName="net-web", taskDefinition="net-web", desiredCount=1)
    wait_for("net-web running", lambda: service(ecs, "net-web", "net")["runningCount"] == 1, 5)
    url = f"http://{ip}:80/docs"
    wait_for("the server to listen", lambda: world.sim("GET", "/_sim/state")["servers"], 3)
    check(times_out(url), "answered without a rule (or refused instead of timing out)")
    world.config(switches={"security_groups": False})
    wait_for("/docs with security_groups off", lambda: http_get(url, 1)[0] == 200, 2)
    world.config(switches={"security_groups": True})
    check(times_out(url), "still answers with the switch back on")
    allow(ec2, net_sg, 80, 80, NU_VPN)
    wait_for("/docs once port 80 is allowed from the VPN", lambda: http_get(url, 1)[0] == 200, 2)
    world.config(caller_address=OUTSIDE)
    check(times_out(url), f"answers a caller at {OUTSIDE}, outside {NU_VPN}")
    world.config(caller_address="165.124.160.10")
    check(http_get(url, 1)[0] == 200, "no answer once the caller is back on the VPN")
    return ip, net_sg


@step("GET /checkip answers the caller's address, as checkip.amazonaws.com")
def t_checkip(world, c):
    url = world.url + "/checkip"
    with urllib.request.urlopen(url, timeout=2) as resp:
        body, ctype = resp.read().decode(), resp.headers.get("Content-Type")
    check(body == "165.124.160.10\n" and ctype.startswith("text/plain"), f"{body!r} {ctype}")
    world.config(caller_address=OUTSIDE)
    check(http_get(url)[1] == OUTSIDE + "\n", "checkip does not follow caller_address")
    world.config(caller_address="165.124.160.10")


@step("security groups: ALB target healthy only when its group allows the ALB's group (else Target.Timeout)")
def t_sg_alb(world, c, net_sg):
    ec2, elb, ecs = c["ec2"], c["elbv2"], c["ecs"]
    subnets = default_subnets(ec2)
    code, message = error_of(elb.create_load_balancer, Name="net-one-az", Subnets=subnets[:1])
    check((code, message) == ("ValidationError", "At least two subnets in two different Availability Zones must be "
                                                 "specified"), f"one subnet: {code}: {message}")
    world.config(switches={"alb_two_azs": False})
    elb.create_load_balancer(Name="net-one-az", Subnets=subnets[:1])
    world.config(switches={"alb_two_azs": True})
    alb_sg = security_group(ec2, "net-alb-sg", (80, 80, NU_VPN))
    lb = elb.create_load_balancer(Name="net-alb", Subnets=subnets[:2], SecurityGroups=[alb_sg])["LoadBalancers"][0]
    tg = elb.create_target_group(Name="net-tg", Protocol="HTTP", Port=80, VpcId=vpc_id(ec2), HealthCheckPath="/docs",
                                 TargetType="instance")["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    time.sleep(1.1)  # listener_propagation
    register(ecs, "net-alb", "public.ecr.aws/demo/web:1", memory=128, ports=((80, 0),))
    ecs.create_service(cluster="net", serviceName="net-alb", taskDefinition="net-alb", desiredCount=1,
                       loadBalancers=[{"targetGroupArn": tg["TargetGroupArn"], "containerName": "net-alb",
                                       "containerPort": 80}])

    def health():
        desc = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
        return desc[0]["TargetHealth"] if desc else None

    h = wait_for("target unhealthy", lambda: (lambda h: h if h and h["State"] == "unhealthy" else None)(health()), 5)
    check((h["Reason"], h["Description"]) == ("Target.Timeout", "Request timed out"), f"unhealthy {h}")
    dns = lb["DNSName"]
    check(http_get(f"http://{dns}/docs")[0] == 503, "the ALB forwarded to an unhealthy target")
    allow(ec2, net_sg, 32768, 65535, alb_sg)
    wait_for("target healthy", lambda: (health() or {}).get("State") == "healthy", 5)
    wait_for("/docs through the ALB", lambda: http_get(f"http://{dns}/docs")[0] == 200, 3)
    world.config(caller_address=OUTSIDE)
    check(times_out(f"http://{dns}/docs"), "the ALB answers a caller outside its group's CIDR")
    world.config(caller_address="165.124.160.10")
    ecs.update_service(cluster="net", service="net-alb", desiredCount=0)
    return lb, alb_sg


@step("Fargate, assignPublicIp ENABLED: an ENI, a public address that answers, ip targets behind the ALB")
def t_fargate(world, c, lb, alb_sg):
    ec2, elb, ecs, ecr = c["ec2"], c["elbv2"], c["ecs"], c["ecr"]
    image = push(ecr, "fg")
    register_awsvpc(ecs, "fg-web", image)
    task_sg = security_group(ec2, "fg-task", (80, 80, alb_sg), (80, 80, NU_VPN))
    tg = elb.create_target_group(Name="fg-tg", Protocol="HTTP", Port=80, VpcId=vpc_id(ec2), HealthCheckPath="/docs",
                                 TargetType="ip")["TargetGroups"][0]
    itg = elb.create_target_group(Name="fg-itg", Protocol="HTTP", Port=80, VpcId=vpc_id(ec2),
                                  TargetType="instance")["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8080,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=8081,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": itg["TargetGroupArn"]}])
    time.sleep(1.1)  # listener_propagation
    allow(ec2, alb_sg, 8080, 8080, NU_VPN)  # the new listener's port
    subnet = default_subnets(ec2)[0]
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [task_sg], "assignPublicIp": "ENABLED"}}
    wrong = [{"targetGroupArn": itg["TargetGroupArn"], "containerName": "fg-web", "containerPort": 80}]
    code, message = error_of(ecs.create_service, cluster="net", serviceName="fg-web", taskDefinition="fg-web",
                             desiredCount=1, launchType="FARGATE", networkConfiguration=network, loadBalancers=wrong)
    check(code == "InvalidParameterException" and message == (
        f"The provided target group {itg['TargetGroupArn']} has target type instance, which is incompatible with the "
        "awsvpc network mode specified in the task definition."), f"{code}: {message}")
    ecs.create_service(cluster="net", serviceName="fg-web", taskDefinition="fg-web", desiredCount=1,
                       launchType="FARGATE", networkConfiguration=network,
                       loadBalancers=[{"targetGroupArn": tg["TargetGroupArn"], "containerName": "fg-web",
                                       "containerPort": 80}])
    svc = wait_for("fg-web steady", lambda: completed_in(ecs, "net", "fg-web", 1), 10)
    task = running_tasks_in(ecs, "net", "fg-web")[0]
    private = eni_detail(task, "privateIPv4Address")
    eni_id = eni_detail(task, "networkInterfaceId")
    check(private and private.startswith("127.") and eni_id and eni_id.startswith("eni-"), f"attachment {task.get('attachments')}")
    check(task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"] == private, "container networkInterfaces")
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
    public = eni.get("Association", {}).get("PublicIp")
    check(public and public.startswith("127.") and public != private, f"ENI association {eni.get('Association')}")
    check([g["GroupId"] for g in eni["Groups"]] == [task_sg] and eni["SubnetId"] == subnet, f"ENI {eni}")
    check(http_get(f"http://{public}/docs", 1)[0] == 200, "the public address does not answer")
    check(times_out(f"http://{private}/docs"), "the private address answers from the internet")
    health = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
    check([(h["Target"]["Id"], h["Target"]["Port"], h["TargetHealth"]["State"]) for h in health] == [(private, 80, "healthy")],
          f"ip targets {health}")
    check(http_get(f"http://{lb['DNSName']}:8080/docs")[0] == 200, "no /docs through the ALB's ip target group")
    check(svc["networkConfiguration"]["awsvpcConfiguration"]["assignPublicIp"] == "ENABLED", "networkConfiguration")
    ecs.update_service(cluster="net", service="fg-web", desiredCount=0)
    wait_for("fg-web's ENI deleted", lambda: not ec2.describe_network_interfaces(
        Filters=[{"Name": "network-interface-id", "Values": [eni_id]}])["NetworkInterfaces"], 5)
    world.config(switches={"target_type_network_mode": False})
    ecs.create_service(cluster="net", serviceName="fg-wrong", taskDefinition="fg-web", desiredCount=0,
                       launchType="FARGATE", networkConfiguration=network, loadBalancers=wrong)
    world.config(switches={"target_type_network_mode": True})
    return image, subnet, task_sg


@step("Fargate without a public IP in a public subnet (no NAT) -> ResourceInitializationError; switches off")
def t_fargate_no_route(world, c, image, subnet, task_sg):
    ecs = c["ecs"]
    private = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [task_sg], "assignPublicIp": "DISABLED"}}
    arn = ecs.run_task(cluster="net", taskDefinition="fg-web", launchType="FARGATE",
                       networkConfiguration=private)["tasks"][0]["taskArn"]
    task = wait_for("no route to ECR", lambda: stopped_in(ecs, "net", arn), 5)
    check(task["stopCode"] == "TaskFailedToStart" and task["stoppedReason"].startswith(
        "ResourceInitializationError: unable to pull secrets or registry auth: The task cannot pull registry auth from "
        "Amazon ECR: There is a connection issue between the task and Amazon ECR. Check your task network "
        "configuration."), f"{task.get('stopCode')}: {task['stoppedReason']}")
    world.config(switches={"fargate_internet_route": False})
    arn = ecs.run_task(cluster="net", taskDefinition="fg-web", launchType="FARGATE",
                       networkConfiguration=private)["tasks"][0]["taskArn"]
    wait_for("runs with fargate_internet_route off", lambda: net_task(ecs, "net", arn)["lastStatus"] == "RUNNING", 5)
    world.config(switches={"fargate_internet_route": True})
    ecs.stop_task(cluster="net", task=arn)
    world.config(switches={"awsvpc_networking": False})
    arn = ecs.run_task(cluster="net", taskDefinition="fg-web", launchType="FARGATE",
                       networkConfiguration=private)["tasks"][0]["taskArn"]
    task = wait_for("awsvpc_networking off", lambda: (lambda t: t if t["lastStatus"] == "RUNNING" else None)(
        net_task(ecs, "net", arn)), 5)
    world.config(switches={"awsvpc_networking": True})
    state = {t["taskArn"]: t for t in world.sim("GET", "/_sim/state")["tasks"]}
    check(state[arn]["eni"] is None, f"an ENI with awsvpc_networking off: {state[arn]['eni']}")
    ecs.stop_task(cluster="net", task=arn)


@step("EC2 launch type + assignPublicIp ENABLED refused; awsvpc on a t3.micro: one task ENI, then RESOURCE:ENI")
def t_awsvpc_ec2(world, c, task_sg):
    ecs, ec2 = c["ecs"], c["ec2"]
    register_awsvpc(ecs, "ec2-vpc", "public.ecr.aws/demo/web:1", memory=128, fargate=False)
    subnet = default_subnets(ec2)[0]
    public = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [task_sg], "assignPublicIp": "ENABLED"}}
    for fn, kwargs in ((ecs.run_task, {}), (ecs.create_service, {"serviceName": "ec2-vpc", "desiredCount": 1})):
        code, message = error_of(fn, cluster="net", taskDefinition="ec2-vpc", launchType="EC2",
                                 networkConfiguration=public, **kwargs)
        check((code, message) == ("InvalidParameterException", "Assign public IP is not supported for this launch type."),
              f"{fn.__name__}: {code}: {message}")
    world.config(switches={"public_ip_fargate_only": False})
    ecs.create_service(cluster="net", serviceName="ec2-vpc-off", taskDefinition="ec2-vpc", launchType="EC2",
                       networkConfiguration=public, desiredCount=0)
    world.config(switches={"public_ip_fargate_only": True})
    private = {"awsvpcConfiguration": {"subnets": [subnet]}}  # no groups: the VPC's default group
    out = ecs.run_task(cluster="net", taskDefinition="ec2-vpc", launchType="EC2", networkConfiguration=private)
    first = out["tasks"][0]["taskArn"]
    task = wait_for("awsvpc task on EC2 running", lambda: (lambda t: t if t["lastStatus"] == "RUNNING" else None)(
        net_task(ecs, "net", first)), 5)
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_detail(task, "networkInterfaceId")])["NetworkInterfaces"][0]
    default = group_id(ec2, "default")
    check([g["GroupId"] for g in eni["Groups"]] == [default] and "Association" not in eni, f"EC2 task ENI {eni}")
    out = ecs.run_task(cluster="net", taskDefinition="ec2-vpc", launchType="EC2", networkConfiguration=private)
    check(not out["tasks"] and out["failures"][0]["reason"] == "RESOURCE:ENI", f"second task {out}")
    ecs.create_service(cluster="net", serviceName="ec2-vpc", taskDefinition="ec2-vpc", launchType="EC2",
                       networkConfiguration=private, desiredCount=1)
    msg = wait_for("ENI placement event", lambda: next((e["message"] for e in service(ecs, "ec2-vpc", "net")["events"]
                                                        if "unable to place" in e["message"]), None), 3)
    check(msg.startswith("(service ec2-vpc) was unable to place a task because no container instance met all of its "
                         "requirements. The closest matching (container-instance ") and
          msg.endswith(') encountered error "RESOURCE:ENI". For more information, see the Troubleshooting section of '
                       'the Amazon ECS Developer Guide.'), msg)
    ecs.update_service(cluster="net", service="ec2-vpc", desiredCount=0)
    world.config(switches={"eni_limit": False})
    out = ecs.run_task(cluster="net", taskDefinition="ec2-vpc", launchType="EC2", networkConfiguration=private)
    world.config(switches={"eni_limit": True})
    check(out["tasks"] and not out["failures"], f"eni_limit off: {out}")
    for arn in (first, out["tasks"][0]["taskArn"]):
        ecs.stop_task(cluster="net", task=arn)


def completed_in(ecs, cluster, name, desired):
    svc = service(ecs, name, cluster)
    dep = primary(svc)
    ok = svc["runningCount"] == desired and dep["rolloutState"] == "COMPLETED" and len(svc["deployments"]) == 1
    return svc if ok else None


def running_tasks_in(ecs, cluster, name):
    arns = every(ecs, "list_tasks", "taskArns", cluster=cluster, serviceName=name)
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
    return [t for t in tasks if t["lastStatus"] == "RUNNING"]


def stopped_in(ecs, cluster, arn):
    task = net_task(ecs, cluster, arn)
    return task if task["lastStatus"] == "STOPPED" else None


# ------------------------------------------------------------ the AWS behaviours of the world
FREE_TIER_MESSAGE = ("The specified instance type is not eligible for Free Tier. For a list of Free Tier instance "
                     "types, run 'describe-instance-types' with the filter 'free-tier-eligible=true'.")


def error_of(fn, *args, **kwargs):
    """(code, message) of the ClientError fn raises; fails if it succeeds."""
    try:
        fn(*args, **kwargs)
    except ClientError as err:
        return err.response["Error"]["Code"], err.response["Error"]["Message"]
    raise Failed(f"{getattr(fn, '__name__', fn)} succeeded")


def timeline(world, event=None, ident=None):
    return [e for e in world.sim("GET", "/_sim/timeline")
            if (event is None or e["event"] == event) and (ident is None or e["id"] == ident)]


@step("control API: /_sim/config defaults, validation, /_sim/state settings")
def t_config(world, c):
    config = world.sim("GET", "/_sim/config")
    check(config["account_plan"] == "free-plan" and config["timing"] == "fast" and config["time_scale"] == 0.05
          and config["caller_address"] == "165.124.160.10" and config["clock_offset"] == -120.0, f"defaults {config}")
    check(all(config["switches"].values()) and "free_tier" in config["switches"], f"switches {config['switches']}")
    for body, words in (({"nope": 1}, "unknown keys"), ({"switches": {"nope": False}}, "free_tier"),
                        ({"timing": "slow"}, "timing"), ({"time_scale": 0}, "time_scale"),
                        ({"switches": {"free_tier": "no"}}, "free_tier"), ({"caller_address": "nu-vpn"}, "IPv4"),
                        ({"caller_address": "::1"}, "caller_address"), ({"clock_offset": "2m"}, "clock_offset"),
                        ({"clock_offset": 86401}, "clock_offset")):
        status, answer = world.sim_status("POST", "/_sim/config", body)
        check(status == 400 and words in answer["error"], f"{body} -> {status} {answer}")
    check(world.sim("GET", "/_sim/config") == config, "a rejected config changed something")
    state = world.sim("GET", "/_sim/state")
    check(state["settings"] == config, "state has no settings")
    check([i["capacityProviderName"] for i in state["instances"]] == ["demo-cp"], f"state {state['instances']}")


@step("free tier: eligible types per plan, t2.micro refused on the free plan, architecture mismatch")
def t_free_tier(world, c):
    ec2 = c["ec2"]
    ami = ecs_ami(ec2)

    def eligible():
        pages = ec2.get_paginator("describe_instance_types").paginate(
            Filters=[{"Name": "free-tier-eligible", "Values": ["true"]}])
        return sorted(t["InstanceType"] for page in pages for t in page["InstanceTypes"])

    check(eligible() == ["c7i-flex.large", "m7i-flex.large", "t3.micro", "t3.small", "t4g.micro", "t4g.small"],
          f"free plan eligible {eligible()}")
    types = {t["InstanceType"]: t["FreeTierEligible"]
             for t in ec2.describe_instance_types(InstanceTypes=["t2.micro", "t3.micro"])["InstanceTypes"]}
    check(types == {"t2.micro": False, "t3.micro": True}, f"FreeTierEligible {types}")
    code, message = error_of(ec2.run_instances, ImageId=ami, InstanceType="t2.micro", MinCount=1, MaxCount=1)
    check((code, message) == ("InvalidParameterCombination", FREE_TIER_MESSAGE), f"{code}: {message}")
    ok = ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    code, message = error_of(ec2.run_instances, ImageId=ami, InstanceType="t4g.micro", MinCount=1, MaxCount=1)
    check(code == "InvalidParameterValue" and message.startswith(
        "The architecture 'arm64' of the specified instance type does not match the architecture 'x86_64' of the "
        "specified AMI. Specify an instance type and an AMI that have matching architectures, and try again."),
        f"{code}: {message}")
    world.config(account_plan="legacy")
    check(eligible() == ["t2.micro"], f"legacy eligible {eligible()}")
    legacy = ec2.run_instances(ImageId=ami, InstanceType="t2.micro", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    billed = ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    world.config(account_plan="free-plan", switches={"free_tier": False, "instance_architecture": False})
    off = [ec2.run_instances(ImageId=ami, InstanceType=t, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
           for t in ("t2.micro", "t4g.micro")]
    world.config(switches={"free_tier": True, "instance_architecture": True})
    ec2.terminate_instances(InstanceIds=[ok, legacy, billed] + off)
    launches = [e for e in timeline(world, "launch-failed") if e["id"] is None
                and e["detail"]["code"] != "InvalidGroup.NotFound"]  # t_consistency's launch with a new group
    check(launches and launches[0]["detail"]["message"] == FREE_TIER_MESSAGE, f"launch-failed events {launches[:1]}")


@step("Free Tier API: GetAccountPlanState per plan, signed as freetier")
def t_plan_state(world, c):
    ft = world.client("freetier")
    check(ft.meta.service_model.signing_name == "freetier", ft.meta.service_model.signing_name)
    state = ft.get_account_plan_state()
    check(state["accountPlanType"] == "FREE" and state["accountPlanStatus"] == "ACTIVE"
          and state["accountPlanRemainingCredits"] == {"amount": 100.0, "unit": "USD"}
          and state["accountId"] == ACCOUNT, f"free plan {state}")
    days = (state["accountPlanExpirationDate"].timestamp() - time.time()) / 86400
    check(180 <= days <= 185, f"expires in {days:.0f} days")
    world.config(account_plan="legacy")
    state = ft.get_account_plan_state()
    check(state["accountPlanType"] == "PAID" and "accountPlanRemainingCredits" not in state, f"legacy {state}")
    world.config(account_plan="free-plan")
    code, _ = error_of(ft.get_free_tier_usage)
    check(code == "UnknownOperationException", code)
    check(("freetier", "GetAccountPlanState") in [(r["service"], r["action"]) for r in world.sim("GET", "/_sim/requests")],
          "request log has no freetier call")


@step("ASG of t2.micro on the free plan: the call succeeds, Failed activities, retried; switch off -> error")
def t_asg_failure(world, c):
    asg = c["autoscaling"]
    make_group(c, "ft-asg", "demo", instance_type="t2.micro", desired=1)

    def failed():
        acts = every(asg, "describe_scaling_activities", "Activities", AutoScalingGroupName="ft-asg")
        return acts if len(acts) >= 2 and all(a["StatusCode"] == "Failed" for a in acts) else None

    acts = wait_for("two failed launch attempts", failed, 4)
    oldest, newest = acts[-1], acts[0]
    check(newest["StartTime"] > oldest["StartTime"], "activities not newest first")
    check(oldest["StatusMessage"] == FREE_TIER_MESSAGE + " Launching EC2 instance failed.", oldest["StatusMessage"])
    check(oldest["Description"] == "Launching a new EC2 instance.  Status Reason: " + oldest["StatusMessage"],
          oldest["Description"])
    check(re.fullmatch(r"At \S+Z a user request created an AutoScalingGroup changing the desired capacity from 0 to "
                       r"1\.  At \S+Z an instance was started in response to a difference between desired and actual "
                       r"capacity, increasing the capacity from 0 to 1\.", oldest["Cause"]), oldest["Cause"])
    check(newest["Cause"].startswith("At ") and " a user request" not in newest["Cause"], newest["Cause"])
    check(oldest["Progress"] == 100 and oldest["EndTime"] >= oldest["StartTime"], f"activity {oldest}")
    check(not group(c, "ft-asg")["Instances"], "an instance launched")
    check(len(timeline(world, "launch-failed", "ft-asg")) >= 2, "no launch-failed on the timeline")
    world.config(switches={"scaling_activities": False})
    asg.update_auto_scaling_group(AutoScalingGroupName="ft-asg", DesiredCapacity=0)
    code, message = error_of(asg.update_auto_scaling_group, AutoScalingGroupName="ft-asg", DesiredCapacity=1)
    check(code == "InvalidParameterCombination", f"switched off: {code}: {message}")
    world.config(switches={"scaling_activities": True})
    asg.delete_auto_scaling_group(AutoScalingGroupName="ft-asg", ForceDelete=True)


@step("a new instance profile: launches fail (Invalid IAM Instance Profile) until IAM propagates it, then the group launches; switch off -> at once")
def t_iam_propagation(world, c):
    iam, ec2, asg = c["iam"], c["ec2"], c["autoscaling"]

    def group_naming(name):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}')
        iam.create_instance_profile(InstanceProfileName=name)
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
        ec2.create_launch_template(LaunchTemplateName=f"{name}-lt", LaunchTemplateData={
            "ImageId": ecs_ami(ec2), "InstanceType": "t3.micro", "IamInstanceProfile": {"Name": name}})
        asg.create_auto_scaling_group(AutoScalingGroupName=name, MinSize=0, MaxSize=1, DesiredCapacity=1,
                                      LaunchTemplate={"LaunchTemplateName": f"{name}-lt", "Version": "$Latest"},
                                      VPCZoneIdentifier=",".join(default_subnets(ec2)))

    def activities(name):
        return every(asg, "describe_scaling_activities", "Activities", AutoScalingGroupName=name)

    group_naming("fresh-profile")
    first = wait_for("a failed launch", lambda: [a for a in activities("fresh-profile") if a["StatusCode"] == "Failed"], 3)
    expected = ("Value (fresh-profile) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name"
                " Launching EC2 instance failed.")
    check(first[-1]["StatusMessage"] == expected, first[-1]["StatusMessage"])
    wait_for("the retried launch", lambda: [a for a in activities("fresh-profile") if a["StatusCode"] == "Successful"], 8)
    asg.delete_auto_scaling_group(AutoScalingGroupName="fresh-profile", ForceDelete=True)
    world.config(switches={"iam_propagation": False})
    group_naming("fresh-profile-off")
    launched = wait_for("a launch", lambda: activities("fresh-profile-off") or None, 3)
    check(all(a["StatusCode"] == "Successful" for a in launched), f"switched off: {launched}")
    world.config(switches={"iam_propagation": True})
    asg.delete_auto_scaling_group(AutoScalingGroupName="fresh-profile-off", ForceDelete=True)


@step("instance registered before its provider: no capacityProviderName, not used; a later one is")
def t_association(world, c):
    ecs, asg = c["ecs"], c["autoscaling"]
    ecs.create_cluster(clusterName="early")
    arn = make_group(c, "early-asg", "early", desired=1, max_size=2)  # the order AWS warns against
    first = wait_for("first instance", lambda: container_instances(ecs, "early"), 5)[0]
    check(first.get("capacityProviderName") is None, f"capacityProviderName {first.get('capacityProviderName')}")
    ecs.create_capacity_provider(name="early-cp", autoScalingGroupProvider={"autoScalingGroupArn": arn})
    ecs.put_cluster_capacity_providers(cluster="early", capacityProviders=["early-cp"], defaultCapacityProviderStrategy=[])
    strategy = [{"capacityProvider": "early-cp", "weight": 1}]
    register(ecs, "tiny", "public.ecr.aws/demo/tiny:1", memory=128, ports=())
    out = ecs.run_task(cluster="early", taskDefinition="tiny", capacityProviderStrategy=strategy)
    check(not out["tasks"] and out["failures"][0]["reason"] == "No Container Instances were found in your capacity provider",
          f"run_task {out['failures']}")
    register(ecs, "early-web", "public.ecr.aws/demo/web:1")
    ecs.create_service(cluster="early", serviceName="early-web", taskDefinition="early-web", desiredCount=1,
                       capacityProviderStrategy=strategy)
    msg = wait_for("no provider instance event", lambda: next(
        (e["message"] for e in service(ecs, "early-web", "early")["events"] if "unable to place" in e["message"]), None), 3)
    check(msg == "(service early-web) was unable to place a task because no container instance met all of its "
                 "requirements. Reason: No Container Instances were found in your capacity provider. For more "
                 "information, see the Troubleshooting section of the Amazon ECS Developer Guide.", msg)
    asg.set_desired_capacity(AutoScalingGroupName="early-asg", DesiredCapacity=2)
    second = wait_for("second instance", lambda: [ci for ci in container_instances(ecs, "early")
                                                  if ci["containerInstanceArn"] != first["containerInstanceArn"]], 5)[0]
    check(second.get("capacityProviderName") == "early-cp", f"new instance {second.get('capacityProviderName')}")

    def web_task():
        arns = every(ecs, "list_tasks", "taskArns", cluster="early", serviceName="early-web")
        tasks = ecs.describe_tasks(cluster="early", tasks=arns)["tasks"] if arns else []
        return next((t for t in tasks if t["lastStatus"] == "RUNNING"), None)

    task = wait_for("early-web running", web_task, 5)
    check(task["containerInstanceArn"] == second["containerInstanceArn"], "task placed on the unassociated instance")
    check(task["capacityProviderName"] == "early-cp", f"task capacityProviderName {task.get('capacityProviderName')}")
    # Switched off, placement ignores the association: the emptier old instance wins.
    world.config(switches={"capacity_provider_placement": False})
    task = ecs.run_task(cluster="early", taskDefinition="tiny", capacityProviderStrategy=strategy)["tasks"][0]
    world.config(switches={"capacity_provider_placement": True})
    check(task["containerInstanceArn"] == first["containerInstanceArn"], "switch off: not placed on the old instance")


@step("managed scaling: PROVISIONING, scale out 0 -> 1, protection keeps a busy instance, scale in")
def t_managed_scaling(world, c):
    ecs, asg = c["ecs"], c["autoscaling"]
    ecs.create_cluster(clusterName="ms")
    arn = make_group(c, "ms-asg", "ms", max_size=2)
    provider = {"autoScalingGroupArn": arn, "managedTerminationProtection": "ENABLED",
                "managedScaling": {"status": "ENABLED", "targetCapacity": 100}}
    code, message = error_of(ecs.create_capacity_provider, name="ms-cp", autoScalingGroupProvider=provider)
    check((code, message) == ("ClientException", "The managed termination protection setting for the capacity provider "
          "is invalid. To enable managed termination protection for a capacity provider, the Auto Scaling group must "
          "have instance protection from scale in enabled."), f"{code}: {message}")
    asg.update_auto_scaling_group(AutoScalingGroupName="ms-asg", NewInstancesProtectedFromScaleIn=True)
    ecs.create_capacity_provider(name="ms-cp", autoScalingGroupProvider=provider)
    tags = {t["Key"]: t for t in group(c, "ms-asg")["Tags"]}
    check(tags.get("AmazonECSManaged", {}).get("Value") == "" and tags["AmazonECSManaged"]["PropagateAtLaunch"],
          f"group tags {tags}")
    ecs.put_cluster_capacity_providers(cluster="ms", capacityProviders=["ms-cp"],
                                       defaultCapacityProviderStrategy=[{"capacityProvider": "ms-cp", "weight": 1}])
    register(ecs, "ms-web", "public.ecr.aws/demo/web:1")
    ecs.create_service(cluster="ms", serviceName="ms-web", taskDefinition="ms-web", desiredCount=1)
    arns = wait_for("ms-web task", lambda: ecs.list_tasks(cluster="ms", serviceName="ms-web")["taskArns"], 2)
    task = ecs.describe_tasks(cluster="ms", tasks=arns)["tasks"][0]
    check(task["lastStatus"] == "PROVISIONING" and "containerInstanceArn" not in task, f"waiting task {task['lastStatus']}")
    out = ecs.run_task(cluster="ms", taskDefinition="tiny")  # the cluster's default strategy
    check(out["tasks"] and out["tasks"][0]["lastStatus"] == "PROVISIONING" and not out["failures"], f"run_task {out}")
    wait_for("ms-web running", lambda: service(ecs, "ms-web", "ms")["runningCount"] == 1, 8)
    check(group(c, "ms-asg")["DesiredCapacity"] == 1, "scaled out beyond one instance")
    launch = asg.describe_scaling_activities(AutoScalingGroupName="ms-asg")["Activities"][0]
    check(launch["StatusCode"] == "Successful" and launch["Description"].startswith("Launching a new EC2 instance: i-")
          and "-AlarmHigh-" in launch["Cause"] and "triggered policy ECSManagedAutoScalingPolicy-" in launch["Cause"]
          and "changing the desired capacity from 0 to 1." in launch["Cause"], f"activity {launch}")
    scale = timeline(world, "scale", "ms-asg")
    check(scale and scale[0]["detail"]["from"] == 0 and scale[0]["detail"]["to"] == 1
          and scale[0]["detail"]["reservation"] == 200, f"scale events {scale}")
    check(container_instances(ecs, "ms")[0]["capacityProviderName"] == "ms-cp", "instance not of ms-cp")
    # A user scale-in cannot take the protected instance that runs the task.
    asg.update_auto_scaling_group(AutoScalingGroupName="ms-asg", DesiredCapacity=0)
    time.sleep(0.5)
    instances = group(c, "ms-asg")["Instances"]
    check(len(instances) == 1 and instances[0]["ProtectedFromScaleIn"], f"instances {instances}")
    check(service(ecs, "ms-web", "ms")["runningCount"] == 1, "the task stopped")
    # No tasks left: ECS scales in after the delay (fast: 5 s) and lifts the protection.
    ecs.update_service(cluster="ms", service="ms-web", desiredCount=0)
    t0 = time.monotonic()
    wait_for("scale in to 0", lambda: (lambda g: g["DesiredCapacity"] == 0 and not g["Instances"])(group(c, "ms-asg")), 12)
    waited = time.monotonic() - t0
    check(waited >= 4.5, f"scaled in after {waited:.1f} s (fast: after 5 s without need)")
    last = asg.describe_scaling_activities(AutoScalingGroupName="ms-asg")["Activities"][0]
    check(last["Description"].startswith("Terminating EC2 instance: i-") and "-AlarmLow-" in last["Cause"]
          and "shrinking the capacity from 1 to 0." in last["Cause"], f"activity {last}")
    # Switched off, nothing scales the group.
    world.config(switches={"managed_scaling": False})
    ecs.run_task(cluster="ms", taskDefinition="tiny")
    time.sleep(1.2)
    check(group(c, "ms-asg")["DesiredCapacity"] == 0, "managed_scaling off still scaled")
    world.config(switches={"managed_scaling": True})


@step("switches: ecs_managed_tag and managed_termination_protection off")
def t_provider_switches(world, c):
    ecs = c["ecs"]
    arn = make_group(c, "off-asg", "ms")
    world.config(switches={"ecs_managed_tag": False, "managed_termination_protection": False})
    ecs.create_capacity_provider(name="off-cp", autoScalingGroupProvider={
        "autoScalingGroupArn": arn, "managedTerminationProtection": "ENABLED",
        "managedScaling": {"status": "ENABLED", "targetCapacity": 100}})
    world.config(switches={"ecs_managed_tag": True, "managed_termination_protection": True})
    check(not [t for t in group(c, "off-asg")["Tags"] if t["Key"] == "AmazonECSManaged"], "tagged with the switch off")


@step("deletions: capacity provider DELETE_FAILED while associated, DELETE_IN_PROGRESS -> INACTIVE, one provider per group, attachments UPDATE_IN_PROGRESS, provider in use, service DRAINING; switches off")
def t_delete_providers(world, c):
    ecs = c["ecs"]
    ecs.create_cluster(clusterName="dl")
    arn = make_group(c, "dl-asg", "dl")
    ecs.create_capacity_provider(name="dl-cp", autoScalingGroupProvider={"autoScalingGroupArn": arn})
    check(error_of(ecs.create_capacity_provider, name="dl-cp2", autoScalingGroupProvider={"autoScalingGroupArn": arn})
          == ("ClientException", "The specified Auto Scaling group ARN is already being used by another capacity "
              "provider. Specify a unique Auto Scaling group ARN and try again."), "a second provider on the group")
    out = ecs.put_cluster_capacity_providers(cluster="dl", capacityProviders=["dl-cp"], defaultCapacityProviderStrategy=[])
    check(out["cluster"].get("attachmentsStatus") == "UPDATE_IN_PROGRESS", f"attachmentsStatus {out['cluster'].get('attachmentsStatus')}")
    code, _ = error_of(ecs.put_cluster_capacity_providers, cluster="dl", capacityProviders=["dl-cp"],
                       defaultCapacityProviderStrategy=[])
    check(code == "UpdateInProgressException", f"second Put: {code}")
    check(error_of(ecs.delete_cluster, cluster="dl") == ("ClientException", "The Cluster cannot be deleted while "
          "Cluster Scoped Capacity Providers are attached to the cluster"), "DeleteCluster while attachments update")
    cp = ecs.delete_capacity_provider(capacityProvider="dl-cp")["capacityProvider"]
    check((cp["status"], cp.get("updateStatus"), cp.get("updateStatusReason")) == (
        "ACTIVE", "DELETE_FAILED", "The capacity provider cannot be deleted because it is associated with cluster: dl. "
        "Remove the capacity provider from the cluster and try again."), f"delete while associated: {cp}")

    def attachments():
        return ecs.describe_clusters(clusters=["dl"])["clusters"][0].get("attachmentsStatus")

    wait_for("attachments UPDATE_COMPLETE", lambda: attachments() == "UPDATE_COMPLETE", 3)
    register(ecs, "dl-td", "public.ecr.aws/demo/tiny:1", memory=128, ports=())
    strategy = [{"capacityProvider": "dl-cp", "weight": 1}]
    ecs.create_service(cluster="dl", serviceName="dl-svc", taskDefinition="dl-td", desiredCount=0,
                       capacityProviderStrategy=strategy)
    check(error_of(ecs.put_cluster_capacity_providers, cluster="dl", capacityProviders=[], defaultCapacityProviderStrategy=[])
          == ("ResourceInUseException", "The specified capacity provider is in use and cannot be removed."), "removed in use")
    check(ecs.delete_service(cluster="dl", service="dl-svc")["service"]["status"] == "DRAINING", "DeleteService not DRAINING")
    wait_for("dl-svc INACTIVE", lambda: service(ecs, "dl-svc", "dl")["status"] == "INACTIVE", 3)
    ecs.put_cluster_capacity_providers(cluster="dl", capacityProviders=[], defaultCapacityProviderStrategy=[])
    cp = ecs.delete_capacity_provider(capacityProvider="dl-cp")["capacityProvider"]
    check(cp.get("updateStatus") == "DELETE_FAILED", "a removal still being applied no longer counts as associated")
    wait_for("attachments UPDATE_COMPLETE", lambda: attachments() == "UPDATE_COMPLETE", 3)
    cp = ecs.delete_capacity_provider(capacityProvider="dl-cp")["capacityProvider"]
    check((cp["status"], cp.get("updateStatus")) == ("ACTIVE", "DELETE_IN_PROGRESS"), f"delete: {cp}")
    code, _ = error_of(ecs.create_capacity_provider, name="dl-cp", autoScalingGroupProvider={"autoScalingGroupArn": arn})
    check(code == "ClientException", "the name is free while the deletion runs")

    def described():
        cps = ecs.describe_capacity_providers(capacityProviders=["dl-cp"])["capacityProviders"]
        return cps and (cps[0]["status"], cps[0].get("updateStatus"))

    wait_for("dl-cp INACTIVE", lambda: described() == ("INACTIVE", "DELETE_COMPLETE"), 3)
    world.config(switches={s: False for s in ("capacity_provider_deletion", "one_provider_per_group", "provider_in_use",
                                              "cluster_attachments", "service_draining")})
    ecs.create_capacity_provider(name="dl-cp", autoScalingGroupProvider={"autoScalingGroupArn": arn})
    ecs.create_capacity_provider(name="dl-cp2", autoScalingGroupProvider={"autoScalingGroupArn": arn})
    ecs.put_cluster_capacity_providers(cluster="dl", capacityProviders=["dl-cp"], defaultCapacityProviderStrategy=[])
    ecs.create_service(cluster="dl", serviceName="dl-svc2", taskDefinition="dl-td", desiredCount=0,
                       capacityProviderStrategy=strategy)
    out = ecs.put_cluster_capacity_providers(cluster="dl", capacityProviders=[], defaultCapacityProviderStrategy=[])
    check(out["cluster"].get("attachmentsStatus") == "UPDATE_COMPLETE", "switched off: attachments updating")
    check(ecs.delete_service(cluster="dl", service="dl-svc2")["service"]["status"] == "INACTIVE", "switched off: DRAINING")
    cp = ecs.delete_capacity_provider(capacityProvider="dl-cp2")["capacityProvider"]
    check(cp["status"] == "INACTIVE", f"switched off: {cp}")
    world.config(switches={s: True for s in ("capacity_provider_deletion", "one_provider_per_group", "provider_in_use",
                                             "cluster_attachments", "service_draining")})


@step("deletions: group refusals, 'Delete in progress', instances shutting-down, security groups in use (rules, instances, load balancers, lingering ENIs), target group wording; switches off")
def t_delete_groups(world, c):
    ec2, asg, elb = c["ec2"], c["autoscaling"], c["elbv2"]

    def dependent(gid):
        return error_of(ec2.delete_security_group, GroupId=gid) == ("DependencyViolation", f"resource {gid} has a dependent object")

    sg = security_group(ec2, "dl-sg", (80, 80, NU_VPN))
    ref = security_group(ec2, "dl-ref", (80, 80, sg))
    check(dependent(sg), "deleted while another group's rule names it")
    ec2.delete_security_group(GroupId=ref)
    lb_sg = security_group(ec2, "dl-lb-sg", (80, 80, NU_VPN))
    lb = elb.create_load_balancer(Name="dl-alb", Subnets=default_subnets(ec2)[:2], SecurityGroups=[lb_sg])["LoadBalancers"][0]
    tg = elb.create_target_group(Name="dl-tg", Protocol="HTTP", Port=80, VpcId=vpc_id(ec2))["TargetGroups"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    check(error_of(elb.delete_target_group, TargetGroupArn=tg["TargetGroupArn"]) == (
        "ResourceInUse", f"Target group '{tg['TargetGroupArn']}' is currently in use by a listener or a rule"), "target group")
    check(dependent(lb_sg), "deleted while a load balancer uses it")
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    check(dependent(lb_sg), "deleted while the load balancer's ENIs linger")
    lingered = time.monotonic()

    make_group(c, "dl-asg2", "dl", desired=1, groups=[sg])
    wait_for("dl-asg2 instance", lambda: group(c, "dl-asg2")["Instances"], 3)
    check(error_of(asg.delete_auto_scaling_group, AutoScalingGroupName="dl-asg2") == (
        "ResourceInUse", "You cannot delete an AutoScalingGroup while there are instances or pending Spot instance "
        "request(s) still in the group."), "deleted with instances, without ForceDelete")
    iid = group(c, "dl-asg2")["Instances"][0]["InstanceId"]
    asg.set_desired_capacity(AutoScalingGroupName="dl-asg2", DesiredCapacity=0)

    def state(i):
        return ec2.describe_instances(InstanceIds=[i])["Reservations"][0]["Instances"][0]["State"]["Name"]

    check(state(iid) == "shutting-down", f"scaled-in instance {state(iid)}")
    check(error_of(asg.delete_auto_scaling_group, AutoScalingGroupName="dl-asg2", ForceDelete=True) == (
        "ScalingActivityInProgress", "You cannot delete an AutoScalingGroup while there are scaling activities in "
        "progress for that group."), "deleted while an instance terminates")
    check(dependent(sg), "deleted while a shutting-down instance uses it")
    wait_for("instance terminated", lambda: state(iid) == "terminated", 3)
    asg.set_desired_capacity(AutoScalingGroupName="dl-asg2", DesiredCapacity=1)
    wait_for("dl-asg2 instance", lambda: group(c, "dl-asg2")["Instances"], 3)
    asg.delete_auto_scaling_group(AutoScalingGroupName="dl-asg2", ForceDelete=True)
    g = group(c, "dl-asg2")
    check(g.get("Status") == "Delete in progress" and [i["LifecycleState"] for i in g["Instances"]] == ["Terminating"],
          f"deleting group {g.get('Status')} {g['Instances']}")
    check(error_of(asg.create_auto_scaling_group, AutoScalingGroupName="dl-asg2", MinSize=0, MaxSize=1,
                   LaunchTemplate={"LaunchTemplateName": "dl-asg2-lt"}, VPCZoneIdentifier=",".join(default_subnets(ec2)))
          == ("AlreadyExists", "AutoScalingGroup by this name already exists - A group with the name dl-asg2 already exists"),
          "name free while deleting")
    check(error_of(asg.update_auto_scaling_group, AutoScalingGroupName="dl-asg2", MaxSize=2) == (
        "ValidationError", "The AutoScaling group may not be modified while it is pending delete"), "modified while deleting")
    wait_for("dl-asg2 gone", lambda: not asg.describe_auto_scaling_groups(AutoScalingGroupNames=["dl-asg2"])["AutoScalingGroups"], 3)
    ec2.delete_security_group(GroupId=sg)
    time.sleep(max(0.0, 2.05 - (time.monotonic() - lingered)))
    ec2.delete_security_group(GroupId=lb_sg)

    switches = ("instance_shutdown", "asg_deletion", "security_group_dependencies", "lb_eni_linger")
    world.config(switches={s: False for s in switches})
    sg = security_group(ec2, "dl-sg-off", (80, 80, NU_VPN))
    make_group(c, "dl-asg3", "dl", desired=1, groups=[sg])
    iid = wait_for("dl-asg3 instance", lambda: group(c, "dl-asg3")["Instances"], 3)[0]["InstanceId"]
    ec2.delete_security_group(GroupId=sg)
    asg.delete_auto_scaling_group(AutoScalingGroupName="dl-asg3")
    check(not asg.describe_auto_scaling_groups(AutoScalingGroupNames=["dl-asg3"])["AutoScalingGroups"], "switched off: kept")
    check(state(iid) == "terminated", f"switched off: {state(iid)}")
    world.config(switches={s: True for s in switches})


@step("target_draining off: a stopping task's target is removed at once")
def t_draining_off(world, c):
    ecs = c["ecs"]
    world.config(switches={"target_draining": False})
    ecs.update_service(cluster="demo", service="webalb", desiredCount=1)
    task = wait_for("webalb running", lambda: running_tasks(ecs, "webalb"), 5)[0]["taskArn"].split("/")[-1]
    wait_for("webalb target", lambda: timeline(world, "target-healthy", task), 5)
    ecs.update_service(cluster="demo", service="webalb", desiredCount=0)
    wait_for("webalb stopped", lambda: timeline(world, "task-stopped", task), 5)
    world.config(switches={"target_draining": True})
    check(not timeline(world, "target-draining", task), "target drained with the switch off")


# ------------------------------------------------------------------ names and texts AWS refuses
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                            "Principal": {"Service": "ecs-tasks.amazonaws.com"}}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:PutLogEvents",
                                                             "Resource": "*"}]})
EC2_SET = "a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*"


def coral(value, path, constraint, errors=1):
    """The validation layer's sentence, as IAM, Auto Scaling, Logs answer it."""
    return (f"{errors} validation error{'s' if errors > 1 else ''} detected: Value '{value}' at '{path}' failed to "
            f"satisfy constraint: {constraint}")


def status_of(fn, **kwargs):
    """(HTTP status, code, message) of the ClientError fn raises."""
    try:
        fn(**kwargs)
    except ClientError as err:
        return err.response["ResponseMetadata"]["HTTPStatusCode"], err.response["Error"]["Code"], err.response["Error"]["Message"]
    raise Failed(f"{getattr(fn, '__name__', fn)} succeeded")


@step("name_rules, IAM: role and policy names, Latin-1 descriptions and documents, instance profile, tags")
def t_names_iam(world, c):
    iam = c["iam"]
    name_pattern = r"Member must satisfy regular expression pattern: [\w+=,.@-]+"
    for kwargs, expected in (
        ({"RoleName": "web role", "AssumeRolePolicyDocument": TRUST}, coral("web role", "roleName", name_pattern)),
        ({"RoleName": "r" * 65, "AssumeRolePolicyDocument": TRUST},
         coral("r" * 65, "roleName", "Member must have length less than or equal to 64")),
        ({"RoleName": "nr-role", "AssumeRolePolicyDocument": TRUST, "Description": "Task role \u2014 web"},
         coral("Task role \u2014 web", "description", "Member must satisfy regular expression pattern: "
               r"[\u0009\u000A\u000D\u0020-\u007E\u00A1-\u00FF]*")),
        ({"RoleName": "nr-role", "AssumeRolePolicyDocument": TRUST.replace("Allow", "Allow\u2192")},
         coral(TRUST.replace("Allow", "Allow\u2192"), "assumeRolePolicyDocument",
               r"Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+")),
        ({"RoleName": "nr-role", "AssumeRolePolicyDocument": TRUST, "Tags": [{"Key": "k", "Value": "v" * 257}]},
         coral("v" * 257, "tags.1.member.value", "Member must have length less than or equal to 256")),
    ):
        answer = status_of(iam.create_role, **kwargs)
        check(answer == (400, "ValidationError", expected), f"CreateRole {kwargs.get('RoleName')[:8]}: {answer}")
    _, _, both = status_of(iam.create_role, RoleName="a b" * 22, AssumeRolePolicyDocument=TRUST)
    check(both.startswith("2 validation errors detected: ") and "; Value 'a b" in both, both)
    # Valid: Latin-1 (é) is allowed in a description, 256 characters in a tag value.
    iam.create_role(RoleName="nr-role", AssumeRolePolicyDocument=TRUST, Description="Rôle des tâches",
                    Tags=[{"Key": "k" * 128, "Value": "v" * 256}])
    for fn in (iam.update_role, iam.update_role_description):
        answer = status_of(fn, RoleName="nr-role", Description="web \u2014 tasks")
        check(answer[1] == "ValidationError" and "at 'description'" in answer[2], f"{fn.__name__}: {answer}")
    iam.update_role(RoleName="nr-role", Description="web - tasks")
    answer = status_of(iam.put_role_policy, RoleName="nr-role", PolicyName="logs policy", PolicyDocument=POLICY)
    check(answer == (400, "ValidationError", coral("logs policy", "policyName", name_pattern)), f"PutRolePolicy {answer}")
    iam.put_role_policy(RoleName="nr-role", PolicyName="logs", PolicyDocument=POLICY)
    answer = status_of(iam.create_instance_profile, InstanceProfileName="p" * 129)
    check(answer == (400, "ValidationError", coral("p" * 129, "instanceProfileName",
                                                  "Member must have length less than or equal to 128")), f"{answer}")
    iam.create_instance_profile(InstanceProfileName="nr-profile")
    answer = status_of(iam.tag_role, RoleName="nr-role", Tags=[{"Key": "k" * 129, "Value": "v"}])
    check(answer[1:] == ("ValidationError", coral("k" * 129, "tags.1.member.key",
                                                  "Member must have length less than or equal to 128")), f"{answer}")


@step("name_rules, Logs and EC2: log group names and tags, security group texts, rule descriptions, tags")
def t_names_logs_ec2(world, c):
    logs, ec2 = c["logs"], c["ec2"]
    answer = status_of(logs.create_log_group, logGroupName="ecs:web")
    check(answer == (400, "InvalidParameterException", coral(
        "ecs:web", "logGroupName", r"Member must satisfy regular expression pattern: [\.\-_/#A-Za-z0-9]+")), f"{answer}")
    answer = status_of(logs.create_log_group, logGroupName="/ecs/nr", tags={"k": "v" * 257})
    check(answer[1] == "InvalidParameterException" and answer[2] == coral(
        "{k=" + "v" * 257 + "}", "tags", "Map value must satisfy constraint: [Member must have length less than or equal "
        "to 256, Member must have length greater than or equal to 0, Member must satisfy regular expression pattern: "
        r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$]"), f"{answer}")
    logs.create_log_group(logGroupName="/ecs/nr_web-1.#x", tags={"k": "v" * 256})
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    for kwargs, expected in (
        ({"GroupName": "nr-sg", "Description": "web \u2014 tasks"},
         "Value (web \u2014 tasks) for parameter GroupDescription is invalid. Character sets beyond ASCII are not supported."),
        ({"GroupName": "nr-sg", "Description": "the app's group"},
         f"Invalid security group description. Valid descriptions are strings less than 256 characters from the "
         f"following set:  {EC2_SET}"),
        ({"GroupName": "nr-sg", "Description": "d" * 256},
         f"Invalid security group description. Valid descriptions are strings less than 256 characters from the "
         f"following set:  {EC2_SET}"),
        ({"GroupName": "sg-web", "Description": "web"},
         "Value (sg-web) for parameter GroupName is invalid. Group names may not be in the format sg-*."),
        ({"GroupName": "nr-sg", "Description": "web", "TagSpecifications": [
            {"ResourceType": "security-group", "Tags": [{"Key": "k", "Value": "v" * 257}]}]},
         "Tag value exceeds the maximum length of 256 characters"),
    ):
        answer = status_of(ec2.create_security_group, VpcId=vpc, **kwargs)
        check(answer == (400, "InvalidParameterValue", expected), f"CreateSecurityGroup {kwargs['Description'][:9]}: {answer}")
    group = seen(ec2, ec2.create_security_group(VpcId=vpc, GroupName="nr-sg", Description="web (ALB) #1: 80, 443 & more; {ok}!",
                                                TagSpecifications=[{"ResourceType": "security-group",
                                                                    "Tags": [{"Key": "k", "Value": "v" * 256}]}])["GroupId"])
    rule_message = ("Invalid rule description. Valid descriptions are strings less than 256 characters from the "
                    f"following set: {EC2_SET}")
    for source in ({"IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "web \u2192 app"}]},
                   {"UserIdGroupPairs": [{"GroupId": group, "Description": "from the ALB's group"}]}):
        answer = status_of(ec2.authorize_security_group_ingress, GroupId=group,
                           IpPermissions=[{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, **source}])
        check(answer == (400, "InvalidParameterValue", rule_message), f"rule {source}: {answer}")
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "web: 80"}]}])
    answer = status_of(ec2.create_tags, Resources=[group], Tags=[{"Key": "k", "Value": "v" * 257}])
    check(answer[1:] == ("InvalidParameterValue", "Tag value exceeds the maximum length of 256 characters"), f"{answer}")


@step("name_rules, ELBv2, ECS, Auto Scaling: load balancer and target group names, tags, negative counts")
def t_names_elb_ecs_asg(world, c):
    ec2, elb, ecs, asg = c["ec2"], c["elbv2"], c["ecs"], c["autoscaling"]
    subnets = default_subnets(ec2)[:2]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    long_name = "web-" + "a" * 29
    answer = status_of(elb.create_load_balancer, Name=long_name, Subnets=subnets)
    check(answer == (400, "ValidationError", f"The load balancer name '{long_name}' cannot be longer than '32' characters"),
          f"{answer}")
    for name in ("web_alb", "-web", "web-", "internal-web"):
        answer = status_of(elb.create_load_balancer, Name=name, Subnets=subnets)
        check(answer[:2] == (400, "ValidationError") and answer[2].startswith(f"The load balancer name '{name}' can"),
              f"{name}: {answer}")
    answer = status_of(elb.create_load_balancer, Name="nr-alb", Subnets=subnets, Tags=[{"Key": "k", "Value": "v" * 257}])
    check(answer[1:] == ("ValidationError", coral("v" * 257, "tags.1.member.value",
                                                  "Member must have length less than or equal to 256")), f"{answer}")
    elb.create_load_balancer(Name="nr-" + "a" * 29, Subnets=subnets, Tags=[{"Key": "k", "Value": "v" * 256}])
    answer = status_of(elb.create_target_group, Name=long_name, Protocol="HTTP", Port=80, VpcId=vpc)
    check(answer == (400, "ValidationError", f"Target group name '{long_name}' cannot be longer than '32' characters"),
          f"{answer}")
    elb.create_target_group(Name="nr-" + "t" * 29, Protocol="HTTP", Port=80, VpcId=vpc)
    cluster = ecs.create_cluster(clusterName="names")["cluster"]["clusterArn"]
    answer = status_of(ecs.tag_resource, resourceArn=cluster, tags=[{"key": "k", "value": "v" * 257}])
    check(answer[:2] == (400, "InvalidParameterException") and "at 'tags.1.member.value'" in answer[2], f"{answer}")
    register(ecs, "nr-web", "public.ecr.aws/demo/web:1")
    answer = status_of(ecs.create_service, cluster="names", serviceName="nr-web", taskDefinition="nr-web", desiredCount=-1)
    check(answer == (400, "InvalidParameterException", "desiredCount can't be less than 0"), f"CreateService {answer}")
    ecs.create_service(cluster="names", serviceName="nr-web", taskDefinition="nr-web", desiredCount=0)
    answer = status_of(ecs.update_service, cluster="names", service="nr-web", desiredCount=-2)
    check(answer[1] == "InvalidParameterException", f"UpdateService {answer}")
    answer = status_of(asg.update_auto_scaling_group, AutoScalingGroupName="demo-asg", MinSize=-1)
    check(answer == (400, "ValidationError", coral(-1, "minSize", "Member must have value greater than or equal to 0")),
          f"UpdateAutoScalingGroup {answer}")
    answer = status_of(asg.create_or_update_tags, Tags=[{"ResourceId": "demo-asg", "ResourceType": "auto-scaling-group",
                                                         "Key": "k", "Value": "v" * 257, "PropagateAtLaunch": False}])
    check(answer[1:] == ("ValidationError", coral("v" * 257, "tags.1.member.value",
                                                  "Member must have length less than or equal to 256")), f"{answer}")


@step("name_rules off: moto's leniency (em-dash role description, log group name with a colon, sg- group name)")
def t_names_off(world, c):
    iam, logs, ec2 = c["iam"], c["logs"], c["ec2"]
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    world.config(switches={"name_rules": False})
    try:
        iam.create_role(RoleName="nr lenient", AssumeRolePolicyDocument=TRUST, Description="web \u2014 tasks")
        logs.create_log_group(logGroupName="ecs:lenient")
        ec2.create_security_group(VpcId=vpc, GroupName="sg-lenient", Description="web \u2014 tasks")
    finally:
        world.config(switches={"name_rules": True})
    check(iam.get_role(RoleName="nr lenient")["Role"]["Description"] == "web \u2014 tasks", "role description")
    code, _ = error_of(iam.create_role, RoleName="nr lenient 2", AssumeRolePolicyDocument=TRUST)
    check(code == "ValidationError", f"switch back on: {code}")


# Which field names an item of each paginated list (plain strings name themselves).
ITEM_IDS = ("ReservationId", "SecurityGroupRuleId", "SubnetId", "VersionNumber", "LaunchTemplateId", "InstanceType",
            "ImageId", "GroupId", "RoleName", "InstanceProfileName", "PolicyArn", "Key", "ActivityId",
            "AutoScalingGroupName", "ListenerArn", "TargetGroupArn", "LoadBalancerArn", "eventId", "logStreamName",
            "logGroupName", "imageTag", "ResourceARN", "name")


def item_id(item):
    if isinstance(item, dict) and item.get("imageTags"):  # moto gives every ECR image one digest
        return ",".join(item["imageTags"])
    return item if isinstance(item, str) else next(str(item[k]) for k in ITEM_IDS if k in item)


def pages_of(client, operation, key, **kwargs):
    return [[item_id(i) for i in page[key]] for page in client.get_paginator(operation).paginate(**kwargs)]


def paged_like_aws(world, client, operation, key, least=3, page_size=None, **kwargs):
    """Pages of at most 2 that give every item exactly once; with the switch off, one page of them all."""
    config = {"PaginationConfig": {"PageSize": page_size}} if page_size else {}
    pages = pages_of(client, operation, key, **kwargs, **config)
    items = [i for page in pages for i in page]
    where = f"{operation}{kwargs or ''}"
    check(all(len(page) <= 2 for page in pages), f"{where}: pages {[len(p) for p in pages]}")
    check(len(items) >= least and len(pages) >= (len(items) + 1) // 2, f"{where}: {len(items)} items in {len(pages)} pages")
    check(len(set(items)) == len(items), f"{where}: an item twice in {pages}")
    world.config(switches={"pagination": False})
    try:
        whole = getattr(client, operation)(**kwargs)
    finally:
        world.config(switches={"pagination": True})
    check(sorted(item_id(i) for i in whole[key]) == sorted(items), f"{where}: pages {items} != whole {whole[key]}")
    return items


@step("pagination: every paginated call answers pages of 2 with a working token (ECS, EC2, IAM, Auto Scaling, ELBv2, Logs, ECR, Tagging); a smaller limit honoured; EC2 unpaginated without MaxResults; switch off -> one page")
def t_pagination(world, c):
    ecs, ec2, iam, asg, elb, logs, ecr = (c[n] for n in ("ecs", "ec2", "iam", "autoscaling", "elbv2", "logs", "ecr"))
    check(world.sim("GET", "/_sim/config")["page_size"] == 2, "page_size default")
    for bad in (0, 101, "2", True):
        status, answer = world.sim_status("POST", "/_sim/config", {"page_size": bad})
        check(status == 400 and "page_size" in answer["error"], f"page_size {bad!r} -> {status} {answer}")
    # A few new items where the world has fewer than three; the rest are the earlier steps'.
    ecs.create_cluster(clusterName="pages")
    register(ecs, "pages", "public.ecr.aws/demo/web:1")
    for i in range(3):
        ecs.create_service(cluster="pages", serviceName=f"pages-{i}", taskDefinition="pages", desiredCount=0)
    doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}'
    iam.create_role(RoleName="pages", AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}', Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(3)])
    for i in range(3):
        iam.attach_role_policy(RoleName="pages", PolicyArn=f"arn:aws:iam::aws:policy/{('AmazonS3FullAccess', 'AmazonEC2ReadOnlyAccess', 'AmazonSQSFullAccess')[i]}")
        iam.put_role_policy(RoleName="pages", PolicyName=f"inline-{i}", PolicyDocument=doc)
        iam.create_instance_profile(InstanceProfileName=f"pages-{i}")
        iam.add_role_to_instance_profile(InstanceProfileName=f"pages-{i}", RoleName="pages")
    lt = ec2.create_launch_template(LaunchTemplateName="pages-lt", LaunchTemplateData={"InstanceType": "t3.micro"})
    for size in ("t3.small", "t3.medium"):
        ec2.create_launch_template_version(LaunchTemplateName="pages-lt", LaunchTemplateData={"InstanceType": size})
    vpc = vpc_id(ec2)
    for i in range(3):
        elb.create_target_group(Name=f"pages-{i}", Protocol="HTTP", Port=80, VpcId=vpc)
        logs.create_log_group(logGroupName=f"/pages/{i}")
        logs.create_log_stream(logGroupName="/pages/0", logStreamName=f"s{i}")
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/pages/0", logStreamName="s0",
                        logEvents=[{"timestamp": now + i, "message": f"line {i}"} for i in range(5)])
    ecr.create_repository(repositoryName="pages")
    for i in range(3):
        manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                               "config": {"digest": "sha256:" + "abc"[i] * 64, "size": 1,
                                          "mediaType": "application/vnd.docker.container.image.v1+json"}, "layers": []})
        ecr.put_image(repositoryName="pages", imageManifest=manifest, imageTag=f"v{i}")

    # ECS (JSON, nextToken)
    paged_like_aws(world, ecs, "list_clusters", "clusterArns")
    paged_like_aws(world, ecs, "list_services", "serviceArns", cluster="pages")
    paged_like_aws(world, ecs, "list_tasks", "taskArns", cluster="demo", desiredStatus="STOPPED")
    paged_like_aws(world, ecs, "list_task_definitions", "taskDefinitionArns")
    paged_like_aws(world, ecs, "list_task_definition_families", "families", status="ACTIVE")
    fullest = max(ecs.describe_clusters(clusters=every(ecs, "list_clusters", "clusterArns"))["clusters"],
                  key=lambda cl: cl["registeredContainerInstancesCount"])
    paged_like_aws(world, ecs, "list_container_instances", "containerInstanceArns", least=1, cluster=fullest["clusterName"])
    check(len(ecs.list_clusters(maxResults=1)["clusterArns"]) == 1, "maxResults 1 not honoured")
    # The token is a cursor: an item gone between two pages shifts nothing (an offset skipped one).
    for i in range(3):
        logs.create_log_group(logGroupName=f"/cursor/{i}")
    first = logs.describe_log_groups(logGroupNamePrefix="/cursor/")
    logs.delete_log_group(logGroupName=first["logGroups"][0]["logGroupName"])
    rest = logs.describe_log_groups(logGroupNamePrefix="/cursor/", nextToken=first["nextToken"])["logGroups"]
    check([g["logGroupName"] for g in rest] == ["/cursor/2"], f"after a deletion between pages: {rest}")
    providers, token = [], None
    while True:  # no paginator in the API models: by hand, as ecsdeploy does
        page = ecs.describe_capacity_providers(**({"nextToken": token} if token else {}))
        check(len(page["capacityProviders"]) <= 2, f"DescribeCapacityProviders page of {len(page['capacityProviders'])}")
        providers += [p["name"] for p in page["capacityProviders"]]
        token = page.get("nextToken")
        if not token:
            break
    check(len(providers) >= 3 and len(set(providers)) == len(providers), f"capacity providers {providers}")
    # EC2 (EC2 XML, nextToken): paged when MaxResults is sent, whole without it (as AWS)
    for operation, key in (("describe_security_groups", "SecurityGroups"), ("describe_security_group_rules", "SecurityGroupRules"),
                           ("describe_subnets", "Subnets"), ("describe_instances", "Reservations")):
        paged_like_aws(world, ec2, operation, key, page_size=5)
        whole = getattr(ec2, operation)()
        check(len(whole[key]) >= 3 and "NextToken" not in whole, f"{operation} without MaxResults: {len(whole[key])}")
    amis = [i["ImageId"] for i in ec2.describe_images(Filters=[{"Name": "name", "Values": ["amzn2-ami-ecs-hvm-*"]}])["Images"]]
    paged_like_aws(world, ec2, "describe_images", "Images", page_size=5, ImageIds=amis[:3])
    paged_like_aws(world, ec2, "describe_launch_templates", "LaunchTemplates")
    paged_like_aws(world, ec2, "describe_launch_template_versions", "LaunchTemplateVersions", LaunchTemplateId=lt["LaunchTemplate"]["LaunchTemplateId"])
    paged_like_aws(world, ec2, "describe_instance_types", "InstanceTypes",
                   Filters=[{"Name": "free-tier-eligible", "Values": ["true"]}])
    # IAM (query XML, Marker + IsTruncated)
    first = iam.list_roles()
    check(len(first["Roles"]) == 2 and first["IsTruncated"] is True and first["Marker"], f"ListRoles {first.get('IsTruncated')}")
    paged_like_aws(world, iam, "list_roles", "Roles")
    paged_like_aws(world, iam, "list_instance_profiles", "InstanceProfiles")
    paged_like_aws(world, iam, "list_attached_role_policies", "AttachedPolicies", RoleName="pages")
    paged_like_aws(world, iam, "list_role_policies", "PolicyNames", RoleName="pages")
    paged_like_aws(world, iam, "list_role_tags", "Tags", RoleName="pages")
    paged_like_aws(world, iam, "list_instance_profiles_for_role", "InstanceProfiles", RoleName="pages")
    # Auto Scaling (query XML, NextToken)
    paged_like_aws(world, asg, "describe_auto_scaling_groups", "AutoScalingGroups")
    paged_like_aws(world, asg, "describe_scaling_activities", "Activities")
    # ELBv2 (query XML, Marker -> NextMarker)
    paged_like_aws(world, elb, "describe_target_groups", "TargetGroups")
    paged_like_aws(world, elb, "describe_load_balancers", "LoadBalancers", least=1)
    lb = elb.describe_load_balancers(Names=["demo-alb"])["LoadBalancers"][0]["LoadBalancerArn"]
    paged_like_aws(world, elb, "describe_listeners", "Listeners", least=1, LoadBalancerArn=lb)
    # CloudWatch Logs (JSON, nextToken; GetLogEvents forward and backward tokens)
    paged_like_aws(world, logs, "describe_log_groups", "logGroups")
    paged_like_aws(world, logs, "describe_log_streams", "logStreams", logGroupName="/pages/0")
    paged_like_aws(world, logs, "filter_log_events", "events", logGroupName="/pages/0")
    forward = log_events(logs, "/pages/0", "s0")
    check([e["message"] for e in forward] == [f"line {i}" for i in range(5)], f"forward {forward}")
    last = logs.get_log_events(logGroupName="/pages/0", logStreamName="s0")
    check([e["message"] for e in last["events"]] == ["line 3", "line 4"], f"newest page {last['events']}")
    before = logs.get_log_events(logGroupName="/pages/0", logStreamName="s0", nextToken=last["nextBackwardToken"])
    check([e["message"] for e in before["events"]] == ["line 1", "line 2"], f"backward page {before['events']}")
    # ECR (JSON, nextToken); imageIds named: one whole answer
    paged_like_aws(world, ecr, "describe_images", "imageDetails", repositoryName="pages")
    paged_like_aws(world, ecr, "list_images", "imageIds", repositoryName="pages")
    named = ecr.describe_images(repositoryName="pages", imageIds=[{"imageTag": f"v{i}"} for i in range(3)])
    check(len(named["imageDetails"]) == 3 and "nextToken" not in named, "DescribeImages with imageIds was paged")
    # Tagging API (JSON, PaginationToken)
    paged_like_aws(world, world.client("resourcegroupstaggingapi"), "get_resources", "ResourceTagMappingList",
                   TagFilters=[{"Key": "owner", "Values": ["selftest-tagging"]}])
    # page_size 1; not paged calls are untouched
    world.config(page_size=1)
    check(len(ecs.list_clusters()["clusterArns"]) == 1, "page_size 1")
    world.config(page_size=2)


@step("realistic timing (time_scale 0.01): events in AWS's order, durations as the profile")
def t_realistic(world, c):
    ecs, ec2, elb = c["ecs"], c["ec2"], c["elbv2"]
    world.config(timing="realistic", time_scale=0.01)
    try:
        ecs.create_cluster(clusterName="real")
        alb_sg = security_group(ec2, "real-alb-sg", (80, 80, NU_VPN))
        web = security_group(ec2, "real-web", (32768, 65535, alb_sg))
        arn = make_group(c, "real-asg", "real", protected=True, groups=[web])
        ecs.create_capacity_provider(name="real-cp", autoScalingGroupProvider={
            "autoScalingGroupArn": arn, "managedTerminationProtection": "ENABLED",
            "managedScaling": {"status": "ENABLED", "targetCapacity": 100}})
        ecs.put_cluster_capacity_providers(cluster="real", capacityProviders=["real-cp"],
                                           defaultCapacityProviderStrategy=[{"capacityProvider": "real-cp", "weight": 1}])
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        before_lb = max(e["t"] for e in world.sim("GET", "/_sim/timeline"))
        lb = elb.create_load_balancer(Name="real-alb", Subnets=default_subnets(ec2)[:2],
                                      SecurityGroups=[alb_sg])["LoadBalancers"][0]
        tg = elb.create_target_group(Name="real-tg", Protocol="HTTP", Port=80, VpcId=vpc, HealthCheckPath="/docs",
                                     HealthCheckIntervalSeconds=5, HealthyThresholdCount=2)["TargetGroups"][0]
        elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                            DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
        time.sleep(1.1)  # listener_propagation (fast profile's; the realistic one here is shorter)
        register(ecs, "real-web", "public.ecr.aws/demo/web:1", ports=((80, 0),))
        ecs.create_service(cluster="real", serviceName="real-web", taskDefinition="real-web", desiredCount=1,
                           loadBalancers=[{"targetGroupArn": tg["TargetGroupArn"], "containerName": "real-web",
                                           "containerPort": 80}])
        svc = wait_for("real-web steady", lambda: (lambda s: s if primary(s)["rolloutState"] == "COMPLETED" else None)(
            service(ecs, "real-web", "real")), 15)
        dns = elb.describe_load_balancers(Names=["real-alb"])["LoadBalancers"][0]["DNSName"]
        check(http_get(f"http://{dns}/docs")[0] == 200, "no /docs through the ALB")
    finally:
        world.config(timing="fast", time_scale=0.05)
    task = ecs.list_tasks(cluster="real", serviceName="real-web")["taskArns"][0].split("/")[-1]
    instance = container_instances(ecs, "real")[0]["ec2InstanceId"]
    at = {}
    for e in world.sim("GET", "/_sim/timeline"):
        if e["id"] in (task, instance, lb["LoadBalancerArn"]):
            at.setdefault(e["event"], e["t"])
    order = ["instance-launch", "instance-running", "instance-registered", "task-placed", "task-pulling",
             "task-running", "task-healthy"]
    check(all(name in at for name in order + ["lb-active", "target-healthy"]), f"events {sorted(at)}")
    check([at[n] for n in order] == sorted(at[n] for n in order), f"order {[(n, at[n]) for n in order]}")
    print("     " + ", ".join(f"{n} {at[n]:.2f}" for n in order + ["lb-active", "target-healthy"]))
    for start, end, expected in (("instance-launch", "instance-running", 0.40), ("instance-running",
                                 "instance-registered", 0.20), ("task-pulling", "task-running", 0.45)):
        took = at[end] - at[start]
        check(expected - 0.02 <= took <= expected + 0.5, f"{start} -> {end} took {took:.2f} s, profile {expected} s")
    check(at["lb-active"] - before_lb >= 1.45, f"ALB active {at['lb-active'] - before_lb:.2f} s after creation (1.5 s)")
    check(at["target-healthy"] >= at["lb-active"], "target healthy before its load balancer was active")
    check(svc["runningCount"] == 1, "not running")


@step("request log records AWS calls in order")
def t_requests(world, c):
    reqs = world.sim("GET", "/_sim/requests")
    names = [(r["service"], r["action"]) for r in reqs]
    check(("ecs", "CreateService") in names and ("ec2", "DescribeInstances") in names, f"log {names[:5]}")
    check(names.index(("ecs", "CreateCluster")) < names.index(("ecs", "CreateService")), "order")
    check(all(a["ts"] <= b["ts"] for a, b in zip(reqs, reqs[1:])), "timestamps out of order")
    check(all(r.get("status") for r in reqs[:-1]), "an answered request without its status")
    # The first CreateCluster met the service-linked role's propagation (t_cluster retried it).
    refused = [r for r in reqs if r["action"] == "CreateCluster" and r.get("code") == "InvalidParameterException"]
    check(refused and refused[0]["status"] == 400, f"refusals not logged with their code: {reqs[:3]}")


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
    roles = [r["RoleName"] for r in c["iam"].list_roles()["Roles"]]
    check("AWSServiceRoleForECS" not in roles, "the ECS service-linked role survived reset (not a fresh account)")


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
        t_service_linked_role(world, clients)
        ip = t_cluster(world, clients)
        t_config(world, clients)
        t_service(world, clients, ip)
        t_force(world, clients, ip)
        t_scale0(world, clients, ip)
        t_pull(world, clients)
        t_exit(world, clients)
        t_families(world, clients)
        t_tagging(world, clients)
        t_memory(world, clients)
        t_job(world, clients)
        t_consistency(world, clients)
        t_alb(world, clients)
        t_draining_off(world, clients)
        t_port(world, clients)
        t_breaker(world, clients)
        _net_ip, net_sg = t_sg_bridge(world, clients)
        t_checkip(world, clients)
        lb, alb_sg = t_sg_alb(world, clients, net_sg)
        image, subnet, task_sg = t_fargate(world, clients, lb, alb_sg)
        t_fargate_no_route(world, clients, image, subnet, task_sg)
        t_awsvpc_ec2(world, clients, task_sg)
        t_asg_zero(world, clients)
        t_free_tier(world, clients)
        t_plan_state(world, clients)
        t_asg_failure(world, clients)
        t_iam_propagation(world, clients)
        t_association(world, clients)
        t_managed_scaling(world, clients)
        t_provider_switches(world, clients)
        t_delete_providers(world, clients)
        t_delete_groups(world, clients)
        t_names_iam(world, clients)
        t_names_logs_ec2(world, clients)
        t_names_elb_ecs_asg(world, clients)
        t_names_off(world, clients)
        t_pagination(world, clients)
        t_realistic(world, clients)
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
