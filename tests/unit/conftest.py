"""A "paper lab" for the EC2 API's unit tests: a state folder holding a real plan and topology
(as `lab up` writes them), with no kernel objects behind it, so reads need no root. Anything that
would reach the control plane is replaced by a tripwire: a unit test must never change a lab."""

from __future__ import annotations

import copy
import hashlib
import threading

import pytest
import yaml

BASIC = "topologies/basic.yaml"
EXTRA_ENDPOINTS = 6  # enough for pagination (MaxResults >= 5 on some calls)


def paper_topology() -> dict:
    from pathlib import Path

    raw = yaml.safe_load((Path(__file__).resolve().parents[2] / BASIC).read_text())
    raw["endpoint_services"][0]["acceptance_required"] = True
    for n in range(EXTRA_ENDPOINTS):
        raw["endpoints"].append({"name": f"extra-{n}", "vpc": "consumer", "service": "web-service",
                                 "subnets": ["consumer-a", "consumer-b"],
                                 "state": "pendingAcceptance" if n % 2 else "available"})
    raw["iam"] = [
        {"account": "consumer", "user": "reader",
         "policies": [{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*",
                                                                "Resource": "*"}]}]},
        {"account": "consumer", "user": "scoped",
         "policies": [{"Version": "2012-10-17", "Statement": [
             {"Effect": "Allow", "Action": ["ec2:Describe*", "ec2:CreateVpcEndpoint"], "Resource": "*",
              "Condition": {"StringEquals": {"ec2:VpceServiceOwner": "999999999999"}}},
             {"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"},
             {"Effect": "Deny", "Action": "ec2:DescribeSecurityGroups", "Resource": "*"}]}]},
    ]
    return raw


def state_digest(state) -> str:
    h = hashlib.sha256()
    for name in ("topology.yaml", "plan.json", "privatelink.json"):
        path = state.dir / name
        h.update(path.read_bytes() if path.exists() else b"-")
    return h.hexdigest()


@pytest.fixture
def paper_lab(tmp_path, monkeypatch):
    import secrets

    from lab import api
    from lab.plan.build import build_plan
    from lab.privatelink import edit
    from lab.state.store import LabState
    from lab.topology.load import parse_topology

    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(tmp_path / "state"))
    name = f"paper-{secrets.token_hex(2)}"
    raw = paper_topology()
    text = edit.dump(copy.deepcopy(raw))
    topo = parse_topology(text)
    state = LabState(name)
    state.create()
    state.topology_file.write_text(text)
    state.save_plan(build_plan(topo, name).to_dict())

    def tripwire(*_a, **_k):
        raise AssertionError("a unit test reached the control plane")

    for fn in ("create_endpoint", "delete_endpoints", "accept_connections", "reject_connections",
               "allow_principals", "revoke_principals", "set_acceptance", "modify_endpoint", "verify_domain", "subscriptions_create", "subscriptions_delete"):
        monkeypatch.setattr(api, fn, tripwire)
    return name, state


@pytest.fixture
def served(paper_lab):
    """The paper lab's EC2 API on 127.0.0.1:<free port>, and boto3 clients per identity."""
    import boto3
    from botocore.config import Config
    from werkzeug.serving import make_server

    from lab import api
    from lab.awsapi.server import Ec2Api

    name, state = paper_lab
    server = make_server("127.0.0.1", 0, Ec2Api(name), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    keys = {(k.account, k.user): k for k in api.ec2_credentials(name)}

    def client(account: str, user: str | None = None, secret: str | None = None):
        k = keys[(account, user)]
        return boto3.client("ec2", endpoint_url=url, region_name="us-east-1", aws_access_key_id=k.access_key_id,
                            aws_secret_access_key=secret or k.secret_access_key,
                            config=Config(retries={"max_attempts": 1}))

    try:
        yield client, name, state, url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
