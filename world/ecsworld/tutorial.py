"""What the console tutorial assumes already exists, made in a local AWS world: the SSH key pair,
the RDS security group, and the two images in ECR. Used by scripts/demo and scripts/bench.

    python -m ecsworld.tutorial http://127.0.0.1:PORT
"""

import json
import sys

import boto3

MANIFEST = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1,
                       "digest": "sha256:" + "0" * 64},
            "layers": []}


def prerequisites(endpoint):
    ec2 = boto3.client("ec2", endpoint_url=endpoint)
    ec2.create_key_pair(KeyName="mlds-ecs-key")
    ec2.create_security_group(GroupName="mlds423-rds-access", Description="RDS access (from the RDS tutorial)")
    ecr = boto3.client("ecr", endpoint_url=endpoint)
    for repo in ("iris-inference", "iris-pipeline"):
        ecr.create_repository(repositoryName=repo)
        ecr.put_image(repositoryName=repo, imageTag="latest", imageManifest=json.dumps(MANIFEST))


if __name__ == "__main__":
    prerequisites(sys.argv[1])
    print("key pair mlds-ecs-key, group mlds423-rds-access, images iris-inference:latest and iris-pipeline:latest")
