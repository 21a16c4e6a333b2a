"""Topologies that several end-to-end tests (and their fixtures) start from, built here once.

- `two_az`: a provider and a consumer VPC with identical CIDRs across two AZs, targets named per
  AZ, one endpoint in both AZs; the fault, AZ and other failover tests vary only the targets,
  health checks and cross-zone setting.
- `basic_with_web_clients`: `topologies/basic.yaml` with the endpoint behind a security group that
  admits only consumer subnet 10.0.1.0/24 (consumer-client, not consumer-client-b).
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
WEB_CLIENTS = {"name": "web-clients", "ingress": [{"cidr": "10.0.1.0/24", "port": 80}]}
ALLOWED, DENIED = "consumer-client", "consumer-client-b"  # 10.0.1.10 and 10.0.2.20


def two_az(description: str, targets: dict[str, str], *, interval_s: int = 5, fall: int = 2,
           cross_zone: bool | None = None) -> dict:
    """`targets`: instance name -> "a" or "b", the AZ whose provider subnet holds it."""
    nlb = {"name": "web-nlb", "vpc": "provider", "subnets": ["provider-a", "provider-b"],
           "listeners": [{"port": 80, "target_group": "web"}],
           "target_groups": [{"name": "web", "port": 8080, "proxy_protocol_v2": True,
                              "health_check": {"interval": interval_s, "healthy_threshold": 2,
                                               "unhealthy_threshold": fall},
                              "targets": list(targets)}]}
    if cross_zone is not None:
        nlb["cross_zone"] = cross_zone
    return {
        "description": description,
        "azs": [{"name": "us-east-1a", "id": "use1-az1"}, {"name": "us-east-1b", "id": "use1-az2"}],
        "accounts": {"provider": "111111111111", "consumer": "222222222222"},
        "vpcs": [
            {"name": "provider", "account": "provider", "cidr": "10.0.0.0/16",
             "subnets": [{"name": "provider-a", "az": "us-east-1a", "cidr": "10.0.1.0/24"},
                         {"name": "provider-b", "az": "us-east-1b", "cidr": "10.0.2.0/24"}],
             "instances": [{"name": name, "subnet": f"provider-{az}", "app": "demo-target"}
                           for name, az in targets.items()]},
            {"name": "consumer", "account": "consumer", "cidr": "10.0.0.0/16",
             "subnets": [{"name": "consumer-a", "az": "us-east-1a", "cidr": "10.0.1.0/24"},
                         {"name": "consumer-b", "az": "us-east-1b", "cidr": "10.0.2.0/24"}],
             "instances": [{"name": "consumer-client", "subnet": "consumer-a"}]},
        ],
        "nlbs": [nlb],
        "endpoint_services": [{"name": "web-service", "account": "provider", "nlb": "web-nlb",
                               "acceptance_required": False,
                               "allowed_principals": ["arn:aws:iam::222222222222:root"]}],
        "endpoints": [{"name": "web-endpoint", "vpc": "consumer", "service": "web-service",
                       "subnets": ["consumer-a", "consumer-b"]}],
    }


def basic_with_web_clients() -> dict:
    data = yaml.safe_load((REPO / "topologies" / "basic.yaml").read_text())
    data["vpcs"][1]["security_groups"] = [copy.deepcopy(WEB_CLIENTS)]
    data["endpoints"][0]["security_groups"] = ["web-clients"]
    return data
