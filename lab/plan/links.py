"""The lab's links, named and classified from its plan: what `lab verify` watches and `lab link` impairs.

A link is one veth pair. Every pair of the lab has one end in a VPC router namespace (an
instance's link, an NLB node's leg, an endpoint ENI's leg, or a peering between two routers),
so captures are taken on that *router end*: a veth is a wire, both ends carry exactly the same
frames, and a router end lives in a named namespace the host can enter without asking the
container engine for a PID. (Peering links have a router at both ends; the first VPC's end is
used.)

Kinds, and the side of PrivateLink each belongs to:

    consumer-subnet   an instance in a VPC that holds an endpoint         consumer
    endpoint-eni      an endpoint ENI: the NLB node's leg in that subnet   consumer (the private link)
    backbone          a cross-region endpoint's ENI leg: the service       consumer (private: the
                      region's NLB node into the consumer's region         inter-region backbone)
    nlb-target        the NLB node's provider leg, towards the targets     provider
    provider-subnet   an instance in a VPC that holds an NLB (or a target) provider
    peering           a VPC peering connection between two routers         between
    subnet            an instance in a VPC that is neither                 other
    onprem-subnet     an instance in an on-premises network (its router)   consumer (the customer's own)
    dx                a Direct Connect private VIF: on-prem router <-> VGW consumer (a private link)
    unplanned         an interface found in a lab namespace that the plan does not know
    igw               a VPC router <-> its internet gateway                public
    internet          an IGW <-> the internet router, or an internet host  public
    nat-gateway       a NAT gateway's leg in its public subnet             private

Public-side kinds carry traffic over the (lab's) internet: a flow that must stay private fails on
the first one it touches. Private-side kinds of networks around the VPCs (Direct Connect, the
inter-region backbone) use PRIVATE. A new kind is one line in SIDE_OF_KIND, plus (for a new veth
role) one in KIND_OF_ROLE: such links are named `<kind>/<key after the role>` and captured at b.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

CONSUMER, PROVIDER, BETWEEN, OTHER = "consumer", "provider", "between", "other"
PUBLIC, PRIVATE = "public", "private"  # networks around the VPCs: the internet / DX, backbone
SIDE_OF_KIND = {
    "consumer-subnet": CONSUMER,
    "endpoint-eni": CONSUMER,
    "backbone": CONSUMER,  # an ENI leg that crosses regions (lab.plan.regions): private, never the internet
    "nlb-target": PROVIDER,
    "provider-subnet": PROVIDER,
    "peering": BETWEEN,
    "subnet": OTHER,
    "onprem-subnet": CONSUMER,
    "dx": CONSUMER,
    "unplanned": OTHER,
    "igw": PUBLIC,
    "internet": PUBLIC,
    "nat-gateway": PRIVATE,  # a NAT gateway's leg in its public subnet: inside the VPC
}
KINDS = tuple(SIDE_OF_KIND)
# Veth roles outside the VPCs' own -> their link kind (lab.plan.internet's; DX and backbone add theirs).
KIND_OF_ROLE = {"igw": "igw", "internet": "internet", "internet-host": "internet", "nat-gateway": "nat-gateway"}


def is_public(kind: str) -> bool:
    """Whether a link of this kind is on the internet's side (a private flow must never touch one)."""
    return SIDE_OF_KIND.get(kind) == PUBLIC


@dataclass(frozen=True)
class Link:
    name: str  # e.g. "consumer-subnet/consumer-client", unique in the lab
    kind: str
    key: str  # the plan's veth key ("instance:consumer-client"), or "unplanned:<place>:<ifname>"
    vpc: str | None
    subnet: str | None
    owner: str  # instance name, ENI ID, NLB node container, or peering name
    place_kind: str  # where the captured end lives: "netns" or "container"
    place: str
    ifname: str  # the captured end
    far: str  # what sits at the other end, for people reading a report
    addresses: tuple[str, ...] = ()  # the far end's addresses (CIDR), when it has any
    far_place_kind: str = ""  # where the far end lives (empty: unknown, for unplanned links)
    far_place: str = ""
    far_ifname: str = ""

    @property
    def side(self) -> str:
        return SIDE_OF_KIND[self.kind]

    @property
    def file_stem(self) -> str:
        """A file name for this link's pcap: the name with '/' made safe."""
        return self.name.replace("/", "_")

    def to_dict(self) -> dict:
        return {**asdict(self), "side": self.side}


def _router_vpcs(plan: dict) -> dict[str, str]:
    return {ns["name"]: ns["vpc"] for ns in plan["namespaces"] if ns["role"] == "vpc-router"}


def _bridge_subnets(plan: dict) -> dict[tuple[str, str], str]:
    return {(b["place"]["name"], b["ifname"]): b["subnet"] for b in plan["bridges"]}


def vpc_sides(plan: dict) -> dict[str, set[str]]:
    """Which VPCs hold NLB nodes (provider) and which hold endpoints (consumer)."""
    routers = _router_vpcs(plan)
    provider = {routers[v["b"]["place"]["name"]] for v in plan["veths"] if v["role"] == "nlb-provider"}
    consumer = {ep["vpc"] for ep in plan["endpoints"]}
    return {PROVIDER: provider, CONSUMER: consumer}


def target_instances(plan: dict) -> set[str]:
    return {s["name"] for node in plan["nodes"] for be in node["backends"] for s in be["servers"]}


def links_from_plan(plan: dict) -> list[Link]:
    """Every veth pair of the plan as a classified Link, in the plan's order."""
    routers = _router_vpcs(plan)
    bridges = _bridge_subnets(plan)
    sides = vpc_sides(plan)
    targets = target_instances(plan)
    enis = {eni["ifname"]: (ep, eni) for ep in plan["endpoints"] for eni in ep["enis"]}
    nodes = {n["container"]: n for n in plan["nodes"]}
    peerings = {p["Name"]: p for p in plan["inventory"].get("peerings", [])}
    backbone = {leg for b in plan["inventory"].get("backbone", []) for leg in b["Legs"]}
    links = []
    for pair in plan["veths"]:
        a, b, role, key = pair["a"], pair["b"], pair["role"], pair["key"]
        router = b["place"]["name"]
        vpc = routers.get(router)
        subnet = bridges.get((router, b["master"])) if b.get("master") else None
        common = {"key": key, "vpc": vpc, "subnet": subnet, "place_kind": b["place"]["kind"], "place": router,
                  "ifname": b["ifname"], "addresses": tuple(a["addresses"]), "far_place_kind": a["place"]["kind"],
                  "far_place": a["place"]["name"], "far_ifname": a["ifname"]}
        if role == "instance":
            instance = key.split(":", 1)[1]
            if instance in targets or (vpc in sides[PROVIDER] and vpc not in sides[CONSUMER]):
                kind = "provider-subnet"
            elif vpc in sides[CONSUMER]:
                kind = "consumer-subnet"
            else:
                kind = "subnet"
            links.append(Link(f"{kind}/{instance}", kind, owner=instance,
                              far=f"instance {instance} ({a['place']['name']} {a['ifname']})", **common))
        elif role == "endpoint-eni":
            ep, eni = enis[a["ifname"]]
            kind = "backbone" if a["ifname"] in backbone else "endpoint-eni"
            links.append(Link(f"{kind}/{ep['name']}@{eni['az']}", kind, owner=eni["id"],
                              far=f"ENI {eni['id']} {eni['ip']} of {ep['id']}, leg {a['ifname']} of NLB node "
                                  f"{eni['node']}", **common))
        elif role == "nlb-provider":
            node = nodes[a["place"]["name"]]
            links.append(Link(f"nlb-target/{node['nlb']}@{node['az']}", "nlb-target", owner=node["container"],
                              far=f"NLB node {node['container']} leg {a['ifname']} {node['provider_ip']}", **common))
        elif role == "peering":
            name = key.split(":", 1)[1]
            other = routers.get(a["place"]["name"])
            pcx = peerings.get(name, {}).get("VpcPeeringConnectionId", "")
            # The captured end is the b side; its far end is the a side's router.
            links.append(Link(f"peering/{name}", "peering", owner=name,
                              far=f"VPC {other} router ({a['place']['name']} {a['ifname']}) {pcx}".rstrip(),
                              **common))
        elif role == "onprem-instance":
            instance = key.split(":", 1)[1]
            links.append(Link(f"onprem-subnet/{instance}", "onprem-subnet", owner=instance,
                              far=f"on-premises instance {instance} ({a['place']['name']} {a['ifname']})", **common))
        elif role == "dx":
            name = key.split(":", 1)[1]
            vif = next((v for v in plan["inventory"].get("virtual_interfaces", []) if v["VirtualInterfaceName"] == name),
                       {})
            links.append(Link(f"dx/{name}", "dx", owner=name,
                              far=f"on-premises router {vif.get('OnPremises', '?')} ({a['place']['name']} "
                                  f"{a['ifname']}) {vif.get('VirtualInterfaceId', '')}".rstrip(), **common))
        elif role in KIND_OF_ROLE:
            kind, name = KIND_OF_ROLE[role], key.split(":", 1)[1]
            if role == "internet-host":
                name = f"host-{name}"
            links.append(Link(f"{kind}/{name}", kind, owner=name,
                              far=f"{a['place']['name']} {a['ifname']} {' '.join(a['addresses'])}".rstrip(), **common))
        else:  # a role this version does not know: watch it anyway, as unplanned
            links.append(Link(f"unplanned/{key}", "unplanned", owner=key, far=f"{role} link", **common))
    return links


def planned_ends(plan: dict) -> set[tuple[str, str, str]]:
    """(place kind, place name, ifname) of every veth end and bridge the plan made."""
    ends = {(v[side]["place"]["kind"], v[side]["place"]["name"], v[side]["ifname"])
            for v in plan["veths"] for side in ("a", "b")}
    ends |= {(b["place"]["kind"], b["place"]["name"], b["ifname"]) for b in plan["bridges"]}
    return ends


def unplanned_link(place_kind: str, place: str, ifname: str, kind: str, vpc: str | None) -> Link:
    """An interface the plan did not make: someone added it, and it may carry a leak."""
    short = place.split(".", 1)[-1]
    return Link(f"unplanned/{short}:{ifname}", "unplanned", f"unplanned:{place}:{ifname}", vpc, None, ifname,
                place_kind, place, ifname, far=f"{kind or 'interface'} {ifname} in {place_kind} {place}")


def select_links(links: list[Link], wanted: list[str]) -> list[Link]:
    """Links by name, kind, or shell-style pattern ("endpoint-eni/*"); raises KeyError naming the first miss."""
    from fnmatch import fnmatchcase

    if not wanted:
        return list(links)
    chosen: dict[str, Link] = {}
    for want in wanted:
        hits = [ln for ln in links if ln.name == want or ln.kind == want or ln.owner == want
                or fnmatchcase(ln.name, want)]
        if not hits:
            raise KeyError(want)
        for ln in hits:
            chosen.setdefault(ln.name, ln)
    return [ln for ln in links if ln.name in chosen]
