"""Address allocation inside one subnet, following AWS's reservations.

AWS reserves the network address, .1 (VPC router), .2 (DNS), .3 (future use) and the broadcast
address. Instances without a fixed IP take the lowest free address; load balancer nodes and
endpoint ENIs take the highest, so the addresses a workshop writes by hand stay predictable.
"""

from __future__ import annotations

import ipaddress

from lab.topology.errors import TopologyError


class SubnetPool:
    def __init__(self, cidr: str, path: str):
        self.net = ipaddress.IPv4Network(cidr)
        self.path = path
        hosts = list(self.net.hosts())
        self._usable = hosts[3:]  # .1 router, .2 DNS, .3 reserved (the broadcast is not in hosts())
        self._taken: set[ipaddress.IPv4Address] = set()

    @property
    def gateway(self) -> str:
        return str(self.net.network_address + 1)

    @property
    def prefixlen(self) -> int:
        return self.net.prefixlen

    def take(self, ip: str) -> str:
        self._taken.add(ipaddress.IPv4Address(ip))
        return ip

    def lowest(self, avoid: set[str] = frozenset()) -> str:
        return self._first(self._usable, avoid)

    def highest(self, avoid: set[str] = frozenset()) -> str:
        return self._first(reversed(self._usable), avoid)

    def _first(self, candidates, avoid: set[str]) -> str:
        for ip in candidates:
            if ip not in self._taken and str(ip) not in avoid:
                return self.take(str(ip))
        raise TopologyError(self.path, f"subnet {self.net} has no free address left", "use a larger subnet")

    def cidr(self, ip: str) -> str:
        return f"{ip}/{self.prefixlen}"
