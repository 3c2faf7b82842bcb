"""awsvpc task networking: each task its own elastic network interface (ENI),
with a private address, a public one only on request, and its own HTTP server.

AWS (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-networking-awsvpc.html):
"each task is allocated its own elastic network interface (ENI) and a primary
private IPv4 address"; the task's ENI carries the security groups of the
service's or RunTask's networkConfiguration.awsvpcConfiguration (the VPC's
default group when none is given). The world (switch awsvpc_networking):
- At placement (an instance, or Fargate) the task gets a moto EC2 network
  interface in the first subnet of its configuration, status in-use, whose
  private address is a loopback address of the world's /24 (stand-in for a
  VPC address: the load balancer must reach it). DescribeTasks shows the
  `ElasticNetworkInterface` attachment (subnetId, networkInterfaceId,
  macAddress, privateDnsName, privateIPv4Address) and each container's
  networkInterfaces; the ENI is deleted when the task stops.
- assignPublicIp ENABLED (Fargate only): a second loopback address as the
  ENI's public IP (DescribeNetworkInterfaces Association.PublicIp).
- The task's HTTP servers listen on its private address (reachable only from
  the world's own resources: the load balancers) and on its public address,
  at each containerPort; both guarded by the ENI's security groups (firewall.py).
- awsvpc services register `ip` targets: the private address and the
  containerPort (loadbalancing.py).
Refusals, each with its own switch:
- public_ip_fargate_only: assignPublicIp ENABLED with the EC2 launch type or an
  EC2 capacity provider: `InvalidParameterException: Assign public IP is not
  supported for this launch type.` (aws/containers-roadmap#450 "when we ENABLE
  assign public IP … the error messages says it's not supported";
  hashicorp/waypoint#643, aws/aws-cdk#13348, aws/amazon-ecs-cli#627).
- fargate_internet_route: a Fargate task pulls through its own ENI, so it needs
  a route to the registry: a public IP and a route to an internet gateway, a
  route to a NAT gateway, or interface endpoints for ECR (ecr.api and ecr.dkr)
  in its VPC (AWS Batch API_NetworkConfiguration: "For a job that's running on
  Fargate resources in a private subnet to send outbound traffic to the
  internet (for example, to pull container images), the private subnet requires
  a NAT gateway"; Fargate platform 1.4.0 moved that traffic onto the task ENI).
  Otherwise an ECR image stops the task TaskFailedToStart with
  `ResourceInitializationError: unable to pull secrets or registry auth: The
  task cannot pull registry auth from Amazon ECR: There is a connection issue
  between the task and Amazon ECR. Check your task network configuration. …
  i/o timeout` (aws/copilot-cli#5927; the tail after "configuration." is
  **unsure**, taken from users' reports of the agent's current wording; older
  agents wrote `… execution resource retrieval failed: unable to retrieve ecr
  registry auth: service call has been retried 3 time(s): RequestError: send
  request failed caused by: Post "https://api.ecr.REGION.amazonaws.com/": dial
  tcp …:443: i/o timeout. Please check your task network configuration.`,
  doctorray117/minecraft-ondemand#74). Another registry's image:
  `CannotPullContainerError: … i/o timeout` (**unsure**).
moto's Service refused an awsvpcConfiguration without securityGroups (a
KeyError, HTTP 500); AWS uses the VPC's default group: patched below.
moto's default VPC lacked what AWS gives every default VPC, an internet gateway
and the main route table's 0.0.0.0/0 route to it ("A default VPC includes an
internet gateway, and each default subnet is a public subnet",
https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc.html): patched below.
"""

import copy
import ipaddress
import logging
import re
import uuid

from moto.ecs.exceptions import InvalidParameterException
from moto.ecs.models import Service
from moto.ec2.models.vpcs import VPCBackend

from .settings import SETTINGS

log = logging.getLogger("ecsworld.enis")

PUBLIC_IP_NOT_SUPPORTED = "Assign public IP is not supported for this launch type."
ECR_API_ADDRESS = "44.213.79.86"  # an address api.ecr.us-east-1 resolved to in a user's report: text only
ECR_IMAGE = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/")


class EniRecord:
    """The simulator's side of one task ENI (the moto NetworkInterface is `eni`)."""

    def __init__(self, backend, eni, attachment_id, private_ip, public_ip, group_ids, subnet):
        self.backend = backend  # the EC2 backend
        self.eni = eni
        self.attachment_id = attachment_id
        self.private_ip = private_ip
        self.public_ip = public_ip
        self.group_ids = list(group_ids)
        self.subnet = subnet


def is_fargate(launch_type, strategy):
    cp = strategy[0].get("capacityProvider") if strategy else None
    return launch_type == "FARGATE" or cp in ("FARGATE", "FARGATE_SPOT")


def refuse_public_ip(launch_type, strategy, network_configuration):
    """CreateService, UpdateService, RunTask: assignPublicIp is Fargate's only."""
    if not SETTINGS.on("public_ip_fargate_only"):
        return
    conf = (network_configuration or {}).get("awsvpcConfiguration") or {}
    if conf.get("assignPublicIp") == "ENABLED" and not is_fargate(launch_type, strategy):
        raise InvalidParameterException(PUBLIC_IP_NOT_SUPPORTED)


class Enis:
    def __init__(self, sim):
        self.sim = sim
        self.reset()

    def reset(self):
        self.by_task = {}  # task arn -> EniRecord

    def records(self):
        return list(self.by_task.values())

    def _ec2(self, st):
        return self.sim.ec2_backends[st.backend.account_id][st.backend.region_name]

    # ---------------------------------------------------------------- creation
    def moto_network_configuration(self, backend, td, network_configuration):
        """The configuration handed to moto's Task: moto needs securityGroups."""
        if td.network_mode != "awsvpc" or not network_configuration:
            return network_configuration
        conf = copy.deepcopy(network_configuration)
        vpc = conf.setdefault("awsvpcConfiguration", {})
        if not vpc.get("securityGroups"):
            ec2 = self.sim.ec2_backends[backend.account_id][backend.region_name]
            subnet = ec2.get_subnet(vpc["subnets"][0]) if vpc.get("subnets") else None
            default = ec2.get_default_security_group(subnet.vpc_id if subnet else None)
            vpc["securityGroups"] = [default.id] if default else []
        return conf

    def forget_moto_eni(self, backend, task):
        """moto's Task made an ENI at once (random 10.x address); this world
        makes it at placement (awsvpc_networking), so drop moto's."""
        if not SETTINGS.on("awsvpc_networking"):
            return
        ec2 = self.sim.ec2_backends[backend.account_id][backend.region_name]
        for att in task.attachments or []:
            for d in att.get("details", []):
                if d.get("name") == "networkInterfaceId":
                    ec2.enis.pop(d.get("value"), None)
        task.attachments = []

    def attach(self, st):
        """The task is placed: its ENI, addresses and attachment."""
        if st.td.network_mode != "awsvpc" or not SETTINGS.on("awsvpc_networking"):
            return
        task = st.task
        conf = (getattr(task, "network_configuration", None) or {}).get("awsvpcConfiguration") or {}
        ec2 = self._ec2(st)
        subnet = ec2.get_subnet(conf["subnets"][0])
        groups = conf.get("securityGroups") or []
        if not groups:
            default = ec2.get_default_security_group(subnet.vpc_id)
            groups = [default.id] if default else []
        attachment_id = str(uuid.uuid4())
        private_ip = self.sim.subnet.allocate()
        eni = ec2.create_network_interface(
            subnet, private_ip, group_ids=groups,
            description=f"arn:aws:ecs:{st.backend.region_name}:{st.backend.account_id}:attachment/{attachment_id}",
        )
        eni.status = "in-use"
        eni.requester_managed = True
        public_ip = None
        if conf.get("assignPublicIp") == "ENABLED" and st.fargate:
            public_ip = self.sim.subnet.allocate()
            eni.public_ip = public_ip
        st.eni = self.by_task[task.task_arn] = EniRecord(ec2, eni, attachment_id, private_ip, public_ip, groups, subnet)
        task.attachments = [{
            "id": attachment_id, "type": "ElasticNetworkInterface", "status": "ATTACHED",
            "details": [
                {"name": "subnetId", "value": subnet.id},
                {"name": "networkInterfaceId", "value": eni.id},
                {"name": "macAddress", "value": eni.mac_address},
                {"name": "privateDnsName", "value": getattr(eni, "private_dns_name", None) or
                 f"ip-{private_ip.replace('.', '-')}.ec2.internal"},
                {"name": "privateIPv4Address", "value": private_ip},
            ],
        }]
        for c in task.containers:
            c.network_interfaces = [{"attachmentId": attachment_id, "privateIpv4Address": private_ip}]
        log.info("task %s ENI %s private %s public %s groups %s", task.id, eni.id, private_ip, public_ip, groups)

    def detach(self, st):
        """The task stopped: its ENI is deleted and its addresses are free again."""
        record = self.by_task.pop(st.task.task_arn, None)
        if record is None:
            return
        record.backend.enis.pop(record.eni.id, None)
        for att in st.task.attachments or []:
            if att.get("id") == record.attachment_id:
                att["status"] = "DELETED"
        self.sim.subnet.release(record.private_ip)
        if record.public_ip:
            self.sim.subnet.release(record.public_ip)

    # ---------------------------------------------------- Fargate image pulls
    def registry_problem(self, st, image):
        """Why a Fargate task cannot reach the registry of `image` (None: it can)."""
        if not st.fargate or st.eni is None or not SETTINGS.on("fargate_internet_route"):
            return None
        ec2, subnet = st.eni.backend, st.eni.subnet
        if self._has_route(ec2, subnet, bool(st.eni.public_ip)):
            return None
        region = st.backend.region_name
        if ECR_IMAGE.match(image or ""):
            if self._ecr_endpoints(ec2, subnet.vpc_id, region):
                return None
            return (
                "ResourceInitializationError: unable to pull secrets or registry auth: The task cannot pull registry "
                "auth from Amazon ECR: There is a connection issue between the task and Amazon ECR. Check your task "
                "network configuration. operation error ECR: GetAuthorizationToken, exceeded maximum number of "
                "attempts, 3, https response error StatusCode: 0, RequestID: , request send failed, Post "
                f"\"https://api.ecr.{region}.amazonaws.com/\": dial tcp {ECR_API_ADDRESS}:443: i/o timeout"
            )
        ref = image if ":" in (image or "").rsplit("/", 1)[-1] or "@" in (image or "") else f"{image}:latest"
        return (f"CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
                f"{ref}: failed to do request: dial tcp: i/o timeout")

    @staticmethod
    def _route_table(ec2, subnet):
        main = None
        for table in ec2.route_tables.values():
            if table.vpc_id != subnet.vpc_id:
                continue
            if subnet.id in table._associations.values():
                return table
            if table.main_association_id is not None:
                main = table
        return main

    def _has_route(self, ec2, subnet, public):
        table = self._route_table(ec2, subnet)
        for route in (table.routes if table else []):
            cidr = route.destination_cidr_block
            if not cidr or ipaddress.ip_network(cidr, strict=False).prefixlen != 0:
                continue
            if route.nat_gateway is not None:
                return True
            gateway = route.gateway
            if public and gateway is not None and str(getattr(gateway, "id", "")).startswith("igw-"):
                return True
        return False

    @staticmethod
    def _ecr_endpoints(ec2, vpc_id, region):
        names = {e.service_name for e in getattr(ec2, "vpc_end_points", {}).values() if e.vpc_id == vpc_id}
        return {f"com.amazonaws.{region}.ecr.api", f"com.amazonaws.{region}.ecr.dkr"} <= names

    def snapshot(self, st):
        r = self.by_task.get(st.task.task_arn)
        if r is None:
            return None
        return {"networkInterfaceId": r.eni.id, "privateIp": r.private_ip, "publicIp": r.public_ip,
                "securityGroups": r.group_ids, "subnetId": r.subnet.id}


# --- moto: the default VPC has an internet gateway, as AWS's ---------------------------------
_orig_create_default_vpc = VPCBackend.create_default_vpc


def create_default_vpc(self):
    vpc = _orig_create_default_vpc(self)
    igw = self.create_internet_gateway()
    self.attach_internet_gateway(igw.id, vpc.id)
    for table in self.route_tables.values():
        if table.vpc_id == vpc.id and table.main_association_id is not None:
            self.create_route(table.id, "0.0.0.0/0", gateway_id=igw.id)
    return vpc


VPCBackend.create_default_vpc = create_default_vpc


# --- moto: securityGroups is optional in an awsvpcConfiguration ------------------------------
_orig_validate_network = Service._validate_network


def validate_network(self, nc):
    conf = (nc or {}).get("awsvpcConfiguration") or {}
    if conf.get("securityGroups"):
        return _orig_validate_network(self, nc)
    _orig_validate_network(self, {**nc, "awsvpcConfiguration": {**conf, "securityGroups": []}})
    return nc  # as given: DescribeServices shows no groups, the task's ENI gets the default one


Service._validate_network = validate_network
