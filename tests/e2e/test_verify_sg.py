"""Security groups on the endpoint ENIs shape what `lab verify` expects.

The basic lab with one group on the endpoint that admits only consumer-a's subnet on port 80.
Flows from consumer-client (10.0.1.10) must go through. Flows from consumer-client-b (10.0.2.20)
must die at the ENI leg, unanswered and unseen beyond it. The verdict is green when that is what
the packets show.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.topology.model import Vpc

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif("security_groups" not in Vpc.model_fields,
                       reason="this tree's topology model has no security groups yet"),
]

BASIC = Path(__file__).resolve().parents[2] / "topologies" / "basic.yaml"


@pytest.fixture(scope="module")
def sg_lab(lab_factory, tmp_path_factory):
    data = yaml.safe_load(BASIC.read_text())
    consumer = next(v for v in data["vpcs"] if v["name"] == "consumer")
    consumer["security_groups"] = [{"name": "only-a", "ingress": [{"cidr": "10.0.1.0/24", "port": 80}]}]
    data["endpoints"][0]["security_groups"] = ["only-a"]
    path = tmp_path_factory.mktemp("sg") / "sg.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    handle = lab_factory(str(path), purpose="verify-sg")
    yield handle
    lab_factory.release(handle)


def test_flows_the_groups_refuse_die_at_the_eni_and_the_verdict_holds(sg_lab) -> None:
    report = sg_lab.verify(wait_health_checks=False, probes=False)
    assert report.ok, report.text()
    by_client = {}
    for run in report.flows:
        by_client.setdefault(run.spec.client, []).append(run)
    assert all(r.status == 200 and r.spec.expect == "reach" for r in by_client["consumer-client"])
    blocked = by_client["consumer-client-b"]
    assert all(r.spec.expect == "blocked" and r.status is None for r in blocked)
    ip_flows = {r.spec.name for r in report.flows}  # flows by DNS name are judged alike; counted apart
    sg = [c for c in report.checks if c.category == "sg" and c.subject in ip_flows]
    assert len(sg) == 2 and all(c.status == "pass" and "dropped at endpoint-eni/" in c.message for c in sg)
    # The refused client's SYNs reached the ENI leg and went no further.
    for run in blocked:
        assert run.trace.link_names == {run.spec.client_link, run.spec.eni_link}
