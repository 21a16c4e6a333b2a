"""`lab status`'s text: the lab's document (lab.api.status; its JSON shape is described in
lab.privatelink.status), checked against what is live right now."""

from __future__ import annotations

from lab.cli.output import stdout, table


def _yes(value: bool) -> str:
    return "up" if value else "MISSING"


def render(data: dict) -> None:
    stdout.print(f"[bold]lab {data['lab']}[/bold] ({data['region']})")
    table("VPCs", ["VPC", "ID", "CIDR", "Owner", "Namespace", "Live"],
          [(v["Lab"]["Name"], v["VpcId"], v["CidrBlock"], v["OwnerId"], v["Lab"]["Netns"], _yes(v["Lab"]["Live"]))
           for v in data["vpcs"]])
    table("Subnets", ["Subnet", "ID", "CIDR", "AZ", "Bridge"],
          [(s["Lab"]["Name"], s["SubnetId"], s["CidrBlock"], s["AvailabilityZone"], s["Lab"]["Bridge"])
           for s in data["subnets"]])
    table("Instances", ["Instance", "IP", "AZ", "App", "Namespace", "Live"],
          [(i["Lab"]["Name"], i["PrivateIpAddress"], i["Placement"]["AvailabilityZone"], i["Lab"]["App"] or "",
            i["Lab"]["Netns"], _yes(i["Lab"]["Live"])) for i in data["instances"]])
    if data.get("internet_gateways"):
        table("Internet gateways", ["IGW", "VPC", "State", "Namespace", "Live"],
              [(g["InternetGatewayId"], a["VpcId"], a["State"], g["Lab"]["Netns"], _yes(g["Lab"]["Live"]))
               for g in data["internet_gateways"] for a in g["Attachments"]])
        public = [(i["Lab"]["Name"], "instance", i["PublicIpAddress"], i["PrivateIpAddress"])
                  for i in data["instances"] if i.get("PublicIpAddress")]
        public += [(n["LoadBalancer"] + "@" + n["AvailabilityZone"], "NLB node (internet-facing)", n["PublicIpAddress"],
                    n["PrivateIpAddress"]) for n in data.get("nlb_nodes", []) if n.get("PublicIpAddress")]
        public += [(g["Tags"][0]["Value"], f"NAT gateway {g['NatGatewayId']}", a["PublicIp"], a["PrivateIp"])
                   for g in data.get("nat_gateways", []) for a in g["NatGatewayAddresses"]]
        table("Public IPs (1:1 NAT at the IGW)", ["Holder", "Kind", "Public IP", "Private IP"], public)
    table("Endpoint ENIs", ["Endpoint", "State", "ENI", "IP", "AZ", "NLB node", "Leg"],
          [(ep["VpcEndpointId"], ep["State"], eni["NetworkInterfaceId"], eni["PrivateIpAddress"],
            eni["AvailabilityZone"], eni["NlbNode"], eni["Leg"])
           for ep in data["endpoints"] for eni in ep["Lab"]["Enis"]])
    table("NLB nodes", ["Container", "NLB", "AZ", "Provider IP", "Running"],
          [(n["Container"], n["LoadBalancer"], n["AvailabilityZone"], n["PrivateIpAddress"], _yes(n["Running"]))
           for n in data.get("nlb_nodes", [])])
    table("Targets", ["NLB node", "Target group", "Target", "Health", "Connections"],
          [(t["Node"], t["TargetGroup"], t["Target"], t["Health"], t["Connections"]) for t in data["target_health"]])
    if data.get("virtual_interfaces"):
        table("Direct Connect (BGP)", ["VIF", "Side", "ASN", "Namespace", "Session", "Learned routes"],
              [(v["VirtualInterfaceId"], s["Side"], s["Asn"], s["Netns"], s["State"], ", ".join(s["LearnedRoutes"]) or "-")
               for v in data["virtual_interfaces"] for s in v["Lab"]["Sessions"]])
