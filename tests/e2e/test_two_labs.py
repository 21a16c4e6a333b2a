"""Two copies of the default lab side by side: same topology, same addresses, different names.

Both answer through their own endpoints (each with its own vpce- ID), and `lab down` of one
leaves the other whole and working. Checked with curl from the namespaces and the audit.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import audit  # noqa: E402

from lab import api  # noqa: E402

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def two_labs():
    run = secrets.token_hex(2)
    names = [f"t-twin1-{run}", f"t-twin2-{run}"]
    plans = {}
    try:
        for name in names:
            plans[name] = api.up("basic", name).plan
        yield plans
    finally:
        for name in names:
            api.down(name)
            audit.assert_clean(name)


def _ask(plan, client: str, ip: str) -> dict:
    ns = next(i["Netns"] for i in plan.inventory["instances"] if i["Name"] == client)
    out = subprocess.run(["ip", "netns", "exec", ns, "curl", "-s", "-m", "5", f"http://{ip}/"],
                         capture_output=True, text=True, timeout=15)
    assert out.returncode == 0, f"{plan.lab}: {client} -> {ip}: {out.stderr}"
    return json.loads(out.stdout)


def _all_answer(plan) -> None:
    (endpoint,) = plan.endpoints
    for client in ("consumer-client", "consumer-client-b"):
        for eni in endpoint.enis:
            answer = _ask(plan, client, eni.ip)
            assert answer["vpce_id"] == endpoint.id
            assert answer["az"] == eni.az


def test_both_labs_answer_through_their_own_endpoints(two_labs):
    first, second = two_labs.values()
    assert first.endpoints[0].id != second.endpoints[0].id  # IDs derive from the lab's name
    # Same topology, so the same ENI addresses, in separate namespaces.
    assert [e.ip for e in first.endpoints[0].enis] == [e.ip for e in second.endpoints[0].enis]
    _all_answer(first)
    _all_answer(second)


def test_down_of_one_leaves_the_other_working(two_labs):
    (first, first_plan), (second, second_plan) = two_labs.items()
    second_before = audit.residue(second)
    api.down(first)
    audit.assert_clean(first)
    assert audit.residue(second) == second_before
    _all_answer(second_plan)
