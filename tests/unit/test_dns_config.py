"""What the lab writes for dnsmasq (pure, no root): configs, hosts files, servers file, resolv.conf."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from lab.apply.dns import CNAME_PORTS, DNS_PORT, hosts_files, render_config, resolv_conf, servers_file
from lab.plan.build import build_plan
from lab.topology.load import parse_topology

BASIC = yaml.safe_load((Path(__file__).resolve().parents[2] / "topologies" / "basic.yaml").read_text())
FOLDER = Path("/var/lib/privatelink-lab/x/dns/consumer")


@pytest.fixture(scope="module")
def consumer():
    data = copy.deepcopy(BASIC)
    data["endpoint_services"][0].update(private_dns_name="api.example.com", private_dns_state="verified")
    data["endpoints"][0].update(private_dns_enabled=True, aliases=["web.internal"])
    plan = build_plan(parse_topology(yaml.safe_dump(data)), "x")
    return next(r for r in plan.resolvers if r.vpc == "consumer")


def options(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_resolver_config_is_closed_to_the_host_and_the_outside(consumer):
    opts = options(render_config("x", consumer, FOLDER, role="resolver", port=DNS_PORT))
    for needed in ("no-hosts", "no-resolv", "bind-interfaces", "listen-address=10.0.0.2", "port=53", "local=/#/",
                   "cache-size=0", f"addn-hosts={FOLDER / 'hosts.d'}", f"servers-file={FOLDER / 'servers.conf'}"):
        assert needed in opts, needed
    # Nothing that forwards, serves DHCP, or reads another file of the host.
    assert not [o for o in opts if re.match(r"(server|rev-server|resolv-file|dhcp-range|conf-dir|"
                                            r"interface|enable-tftp)(=|$)", o)], opts
    assert not [o for o in opts if o.startswith("cname=")]  # CNAMEs never live in the resolver's own config
    # Hosts come from the lab's folder only, re-read on SIGHUP: no hostsdir= (an inotify instance each;
    # hosts allow 128 per user, which a lab of ~120 VPCs would exhaust).
    assert [o for o in opts if o.startswith("addn-hosts=")] == [f"addn-hosts={FOLDER / 'hosts.d'}"]
    assert not [o for o in opts if o.startswith("hostsdir=")]


def test_cname_server_config_holds_the_cnames_on_loopback_only(consumer):
    cnames = [(r.name, r.values[0]) for r in consumer.cnames()]
    opts = options(render_config("x", consumer, FOLDER, role="cname", port=CNAME_PORTS[0], cnames=cnames,
                                 generation=3))
    assert "listen-address=127.0.0.1" in opts and f"port={CNAME_PORTS[0]}" in opts and "local=/#/" in opts
    assert {o for o in opts if o.startswith("cname=")} == {f"cname={n},{t}" for n, t in cnames}
    assert len(cnames) == 2 and not any(o.startswith("servers-file") for o in opts)


def test_hosts_files_hold_only_a_records_one_file_per_source(consumer):
    files = hosts_files(consumer)
    assert set(files) == {"hostnames", "endpoint-web-endpoint"}
    lines = files["endpoint-web-endpoint"].splitlines()
    regional = next(r for r in consumer.records if r.origin == "regional")
    assert sorted(f"{ip} {regional.name}" for ip in regional.values) == sorted(
        line for line in lines if line.endswith(" " + regional.name))
    assert len(lines) == 4  # regional x2 + zonal x2
    assert not any("web.internal" in text or "api.example.com" in text for text in files.values())


def test_servers_file_sends_each_cname_name_to_its_own_cname_server():
    text = servers_file({"web.internal": 5302, "api.example.com": 5301})
    assert text.splitlines() == ["server=/api.example.com/127.0.0.1#5301", "server=/web.internal/127.0.0.1#5302"]
    assert servers_file({}) == ""


def test_resolv_conf_points_at_the_vpc_resolver(consumer):
    text = resolv_conf("x", consumer)
    assert [line for line in text.splitlines() if line.startswith("nameserver")] == ["nameserver 10.0.0.2"]
    assert "search ec2.internal" in text
