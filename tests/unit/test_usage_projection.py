"""`lab usage --tenants N --azs M`: a month of a multi-tenant design, priced from the one price file."""

from __future__ import annotations

import json

import pytest

from lab.topology.errors import LabInputError
from lab.usage.pricing import load_prices
from lab.usage.projection import check, project


def test_every_mode_bills_each_tenants_endpoint_in_each_az():
    book = load_prices()
    out = project(book, "us-east-1", tenants=50, azs=3, gb_per_tenant=100)
    price = book.region("us-east-1").az_hour
    modes = {m["Mode"]: m for m in out["Modes"]}
    assert set(modes) == {"application-token", "nlb-per-tenant", "ppv2-endpoint-id"}
    for m in modes.values():
        assert m["EndpointAzs"] == 150 and m["InterfaceEndpoints"] == 50
        assert m["EndpointHourCost"] == pytest.approx(150 * 730 * price)
        assert m["DataCost"] == pytest.approx(5000 * 0.01)  # 5,000 GB, all in the first tier
        assert m["MonthlyCost"] == pytest.approx(m["EndpointHourCost"] + m["DataCost"])
    assert modes["nlb-per-tenant"]["NetworkLoadBalancers"] == 50 and modes["ppv2-endpoint-id"]["EndpointServices"] == 1
    assert any("Elastic Load Balancing" in n for n in out["Notes"])


def test_more_azs_cost_proportionally_more_hours():
    book = load_prices()
    one = project(book, "us-east-1", 10, 1)["Modes"][0]["EndpointHourCost"]
    three = project(book, "us-east-1", 10, 3)["Modes"][0]["EndpointHourCost"]
    assert three == pytest.approx(3 * one)


@pytest.mark.parametrize("tenants,azs,gb", [(0, 1, 0), (1, 0, 0), (1, 7, 0), (1, 1, -1), (None, 2, 0), (2, None, 0)])
def test_bad_values_are_refused(tenants, azs, gb):
    with pytest.raises(LabInputError):
        check(tenants, azs, gb)


def test_a_region_without_prices_is_refused():
    with pytest.raises(LabInputError, match="no prices for region"):
        project(load_prices(), "mars-1", 1, 1)


def test_the_cli_prints_json_without_a_lab(capsys, tmp_path, monkeypatch):
    from lab.cli.main import main

    monkeypatch.setenv("PRIVATELINK_LAB_STATE", str(tmp_path))
    assert main(["usage", "--name", "nolab", "--tenants", "3", "--azs", "2", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["Tenants"] == 3 and data["Modes"][1]["NlbNodes"] == 6
