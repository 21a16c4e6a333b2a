"""The MTU of each link, as AWS has it (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/network_mtu.html,
and the PrivateLink quotas page).

- Inside a VPC, instances use jumbo frames: MTU 9001 on their links and on the subnet bridges.
  VPC peering within a region carries 9001 too.
- An interface endpoint carries at most 8500 bytes, and AWS does no path MTU discovery for it: a
  bigger packet with DF set is dropped and no ICMP "fragmentation needed" comes back. The lab gets
  exactly that from the kernel: an ENI leg (and the NLB node's provider leg) has MTU 8500 on a
  bridge of 9001, and a bridge drops a frame too big for the port it forwards to without a word.
  TCP still works at any size because each TCP connection through the NLB is terminated on an 8500
  leg, so the node advertises MSS 8460 (8500 - 40) to the client and to the target: clamped.
- Everything outside the VPCs (internet gateway, internet, Direct Connect, on-premises) stays at
  the Ethernet default of 1500 (EC2's MTU page: traffic through an internet gateway is limited to
  1500; a Direct Connect private VIF defaults to 1500): there the VPC router sends "fragmentation
  needed", so path MTU discovery works on the internet path and only there.
"""

from __future__ import annotations

VPC_MTU = 9001
ENDPOINT_MTU = 8500
ETHERNET_MTU = 1500
MIN_INSTANCE_MTU = 1280  # IPv6's minimum; an instance may lower its own MTU down to it, never raise it

MTU_OF_ROLE = {
    "instance": VPC_MTU,
    "peering": VPC_MTU,
    "endpoint-eni": ENDPOINT_MTU,  # also the backbone legs of cross-region endpoints
    "nlb-provider": ENDPOINT_MTU,
    # A NAT gateway's leg sits in its subnet; beyond it the internet gateway's 1500 applies.
    "nat-gateway": VPC_MTU,
}


def mtu_of_role(role: str) -> int:
    """The MTU a veth of this role gets (both ends: a veth is one wire)."""
    return MTU_OF_ROLE.get(role, ETHERNET_MTU)


def clamped_mss(mtu: int = ENDPOINT_MTU) -> int:
    """The MSS a TCP end on a link of this MTU advertises (IPv4: 20 bytes IP + 20 bytes TCP)."""
    return mtu - 40
