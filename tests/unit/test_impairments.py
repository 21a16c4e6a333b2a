"""Link impairments without root: units, the plan's resolution of link names to veth ends, and the
parameters each end gets (tbf alone, netem alone, netem with tbf under it)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.plan.build import build_plan
from lab.plan.impair import LinkImpairment
from lab.topology import units
from lab.topology.errors import LabInputError
from lab.topology.load import parse_topology

BASIC = Path(__file__).resolve().parents[2] / "topologies" / "basic.yaml"


@pytest.mark.parametrize(("text", "bps"), [("100mbit", 10**8), ("1gbit", 10**9), ("500kbit", 5 * 10**5),
                                           ("1.5mbit", 1_500_000), ("10mbps", 8 * 10**7), ("8kbit", 8000)])
def test_rates_read_as_tc_writes_them(text: str, bps: int) -> None:
    assert units.rate_bps(text) == bps


@pytest.mark.parametrize(("text", "us"), [("20ms", 20_000), ("500us", 500), ("1s", 10**6), ("0.5ms", 500)])
def test_durations(text: str, us: int) -> None:
    assert units.duration_us(text) == us


@pytest.mark.parametrize(("bad", "problem"), [("-5mbit", "negative"), ("100", "not a rate"), ("7kbit", "out of range"),
                                              ("200gbit", "out of range"), ("fast", "not a rate")])
def test_bad_rates_say_why(bad: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        units.rate_bps(bad)


def test_loss_is_a_percentage_up_to_100() -> None:
    assert units.percent("1%") == 1.0 and units.percent("100%") == 100.0 and units.percent("0.5 %") == 0.5
    for bad in ("150%", "-1%", "1"):
        with pytest.raises(ValueError):
            units.percent(bad)


def _plan(impairments: list[dict]):
    data = yaml.safe_load(BASIC.read_text())
    data["impairments"] = impairments
    return build_plan(parse_topology(yaml.safe_dump(data)), "imp1")


def test_the_plan_finds_both_ends_of_an_impaired_link() -> None:
    plan = _plan([{"link": "consumer-subnet/consumer-client", "rate": "10mbit", "delay": "20ms", "loss": "1%"},
                  {"link": "endpoint-eni/web-endpoint@us-east-1a", "rate": "1gbit"}])
    client, eni = plan.impairments
    assert isinstance(client, LinkImpairment) and client.needs_netem and not eni.needs_netem
    assert [(e.place.kind, e.place.name, e.ifname) for e in client.ends][1] == \
        ("netns", "pl-imp1.consumer.consumer-client", "eth0")
    assert {e.place.kind for e in eni.ends} == {"netns", "container"}  # the ENI leg's far end is in the NLB node
    assert client.settings() == {"Rate": "10mbit", "Delay": "20ms", "Loss": "1%"}
    assert plan.to_dict()["impairments"][0]["rate_bps"] == 10_000_000  # saved with the plan


def test_an_unknown_link_is_an_input_error_naming_the_links_there_are() -> None:
    with pytest.raises(LabInputError) as err:
        _plan([{"link": "consumer-subnet/nobody", "rate": "10mbit"}])
    assert err.value.path == "impairments[0].link" and "consumer-subnet/consumer-client" in err.value.fix


class _FakeTc:
    """Records the tc requests set_end makes (pyroute2's IPRoute.tc signature)."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def tc(self, command: str, kind: str | None = None, index: int | None = None, **kw):
        self.calls.append((command, kind, kw))


@pytest.mark.parametrize(("settings", "kinds"), [
    ({"rate": "10mbit"}, ["tbf"]),
    ({"delay": "20ms", "loss": "1%"}, ["netem"]),
    ({"rate": "10mbit", "delay": "20ms"}, ["netem", "tbf"]),
])
def test_each_end_gets_tbf_netem_or_netem_over_tbf(settings: dict, kinds: list[str]) -> None:
    from lab.apply.impair import NETEM_CHILD, ROOT, set_end

    imp = _plan([{"link": "consumer-subnet/consumer-client", **settings}]).impairments[0]
    ipr = _FakeTc()
    set_end(ipr, 7, imp)
    adds = [(kind, kw) for command, kind, kw in ipr.calls if command == "add"]
    assert [kind for kind, _ in adds] == kinds
    assert adds[0][1]["handle"] == ROOT
    if kinds == ["netem", "tbf"]:
        assert adds[1][1]["parent"] == NETEM_CHILD
    for kind, kw in adds:
        if kind == "tbf":
            assert kw["rate"] == "10000000bit"  # tc's bits, never pyroute2's bare int (bytes per second)
        if kind == "netem":
            assert kw["delay"] == 20_000
