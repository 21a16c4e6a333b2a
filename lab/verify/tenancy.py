"""The tenant check of `lab verify`: each tenant's requests were answered as that tenant.

The expected tenant of a flow comes from the network, never from the tenant table: it is the
account that owns the client's VPC. What the client presents comes from the table: in mode token
the API token of its own tenant (or, for a declared flow with `credential:`, another tenant's);
in mode ppv2 nothing, or with `credential:` a forged PROXY header naming that tenant's endpoint,
sent inside the payload. The demo target's JSON answer says which tenant it served. So a table
that maps a tenant to another's endpoint or port, or an app that believes a client's header, or a
token accepted from the wrong VPC (mode token cannot see VPCs), each fails here on a named flow.
Pure: no root.
"""

from __future__ import annotations

from lab.ppv2 import aws_nlb_header, encode

MODE_TRUSTS = {"token": "the API token in the request", "port": "the target port the tenant's NLB forwards to",
               "ppv2": "the endpoint ID the NLB wrote in TLV 0xEA"}


def flow_tenancy(plan: dict, client: dict, vpc_owner: str, eni_ip: str, port: int,
                 credential: str | None = None) -> dict:
    """FlowSpec fields for one flow: the tenant expected, and the credential the client presents."""
    ten = plan.get("tenancy") or {}
    if not ten:
        return {}
    rows = ten["tenants"]
    own = next((t for t in rows if t["account_id"] == vpc_owner), None)
    shown = next((t for t in rows if t["account"] == credential), None) if credential else own
    out = {"tenant": own["account"] if own else "-", "tenancy_mode": ten["mode"], "credential": credential or ""}
    if ten["mode"] == "token" and shown is not None:
        out["auth_token"] = shown["token"]
    if ten["mode"] == "ppv2" and credential and shown is not None:
        out["forged_header"] = encode(aws_nlb_header(client["PrivateIpAddress"], 40000, eni_ip, port,
                                                     shown["vpce_id"]))
        out["forged_vpce"] = shown["vpce_id"]
    return out


def tenant_check(run, mode: str):
    """Check("tenant", ...) for one completed flow of a multi-tenant lab; None when there is no table."""
    from lab.verify.checks import FAIL, PASS, Check

    spec = run.spec
    if not spec.tenant:
        return None
    body = run.json() or {}
    got = body.get("tenant")
    presented = ""
    if spec.credential:
        presented = (f"; it presented {spec.credential}'s token" if spec.auth_token else
                     f"; it sent a forged PROXY header naming {spec.credential}'s endpoint {spec.forged_vpce} "
                     "inside its payload")
    if spec.tenant == "-":  # the client's account is no tenant: the app must refuse it
        if run.status in (401, 403) and got is None:
            return Check("tenant", spec.name, PASS, f"refused with HTTP {run.status}: the client's account is not a "
                                                    f"tenant ({body.get('error', '')}){presented}")
        return Check("tenant", spec.name, FAIL, f"the client's account is not a tenant, yet it was answered as {got!r} "
                                                f"(HTTP {run.status}){presented}")
    if got == spec.tenant and run.status == 200:
        ignored = " (the client's PROXY header was ignored)" if body.get("client_proxy_header_ignored") else ""
        return Check("tenant", spec.name, PASS, f"answered as {got}, the account that owns the client's VPC, by "
                                                f"{MODE_TRUSTS[mode]}{presented}{ignored}")
    why = f"HTTP {run.status}: {body.get('error', 'no tenant in the answer')}" if got is None else f"answered as {got}"
    blame = ""
    if got is not None and spec.credential == got:
        blame = (f": mode {mode} trusts {MODE_TRUSTS[mode]}, which the client chose; the app cannot see that the "
                 f"request came from {spec.tenant}'s VPC")
    elif got is not None:
        blame = f": the tenant table maps {MODE_TRUSTS[mode]} of this flow to {got}"
    return Check("tenant", spec.name, FAIL, f"{why}, expected {spec.tenant} (the account that owns the client's "
                                            f"VPC){presented}{blame}")
