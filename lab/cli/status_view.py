"""`lab status`: the plan from the state file, checked against what is live right now."""

from __future__ import annotations

from lab.apply.observe import collect  # noqa: F401  (lab status's data; lab graph reads the same)
from lab.cli.output import stdout, table


def _yes(value: bool) -> str:
    return "up" if value else "MISSING"


def render(data: dict) -> None:
    stdout.print(f"[bold]lab {data['lab']}[/bold] ({data['region']})")
    table("VPCs", ["VPC", "ID", "CIDR", "Owner", "Namespace", "Live"],
          [(v["Name"], v["VpcId"], v["CidrBlock"], v["OwnerId"], v["Netns"], _yes(v["Live"])) for v in data["vpcs"]])
    table("Subnets", ["Subnet", "ID", "CIDR", "AZ", "Bridge"],
          [(s["Name"], s["SubnetId"], s["CidrBlock"], s["AvailabilityZone"], s["Bridge"]) for s in data["subnets"]])
    table("Instances", ["Instance", "IP", "AZ", "App", "Namespace", "Live"],
          [(i["Name"], i["PrivateIpAddress"], i["AvailabilityZone"], i["App"] or "", i["Netns"], _yes(i["Live"]))
           for i in data["instances"]])
    table("Endpoint ENIs", ["Endpoint", "State", "ENI", "IP", "AZ", "NLB node", "Leg"],
          [(ep["id"], ep["state"], eni["id"], eni["ip"], eni["az"], eni["node"], eni["ifname"])
           for ep in data["endpoints"] for eni in ep["enis"]])
    table("NLB nodes", ["Container", "NLB", "AZ", "Provider IP", "Running"],
          [(n["Container"], n["LoadBalancer"], n["AvailabilityZone"], n["PrivateIpAddress"], _yes(n["Running"]))
           for n in data.get("nlb_nodes", [])])
    table("Targets", ["NLB node", "Target group", "Target", "Health", "Connections"],
          [(t["Node"], t["TargetGroup"], t["Target"], t["Health"], t["Connections"]) for t in data["target_health"]])
