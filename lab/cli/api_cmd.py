"""`lab api serve|credentials`: the EC2 Query API, for boto3, the AWS CLI and other AWS tools."""

from __future__ import annotations

import ipaddress
import json
import shlex

import click

from lab.cli.output import name_option, stderr, stdout
from lab.topology.errors import LabInputError

DEFAULT_PORT = 4566  # LocalStack's, so AWS_ENDPOINT_URL habits carry over


@click.group("api")
def api_group() -> None:
    """The EC2 Query API of a lab: serve it, and print each account's credentials."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@api_group.command()
@name_option
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="TCP port (0: any free port, printed on start).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. Anything but loopback exposes the lab's API beyond this machine.")
def serve(lab: str, port: int, host: str) -> None:
    """Serve the EC2 API (CreateVpcEndpoint, DescribeVpcEndpoints, Accept..., ...) until Ctrl-C."""
    from lab.awsapi.server import serve as run

    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise LabInputError("--host", f"{host!r} is not an IP address", "give an address such as 127.0.0.1") from None
    if not _is_loopback(host):
        stderr.print(f"[bold yellow]warning:[/bold yellow] binding {host}, not loopback: anyone who can reach it "
                     "and holds a key may change this lab")

    def ready(url: str) -> None:
        click.echo(f"EC2 API of lab {lab} on {url} (Region from the topology; `lab api credentials --name {lab}`)",
                   err=False)
        import sys

        sys.stdout.flush()

    run(lab, host, port, ready)


@api_group.command()
@name_option
@click.option("--account", "-a", default=None, metavar="ACCOUNT", help="Only this account (name or 12-digit ID).")
@click.option("--user", "-u", default=None, metavar="USER",
              help="Only this IAM user's keys (declared under iam:); env output without it: the account's own.")
@click.option("--format", "fmt", type=click.Choice(["json", "env", "aws-config"]), default="json", show_default=True,
              help="json: a list; env: lines for `eval`; aws-config: one profile per account.")
@click.option("--endpoint-url", default=f"http://127.0.0.1:{DEFAULT_PORT}", show_default=True,
              help="The API's URL, written into env and aws-config output.")
def credentials(lab: str, account: str | None, user: str | None, fmt: str, endpoint_url: str) -> None:
    """Print the access keys of the lab's accounts (stable for the lab's life)."""
    from lab import api

    view = api.ec2_view(lab)
    pairs = api.ec2_credentials(lab, view)
    if account is not None:
        wanted = api.resolve_account(view.topo, account)
        pairs = [p for p in pairs if p.account_id == wanted.id]
    if user is not None:
        users = sorted({p.user for p in pairs if p.user})
        pairs = [p for p in pairs if p.user == user]
        if not pairs:
            raise LabInputError("--user", f"no IAM user {user!r}" + (f" in account {account!r}" if account else ""),
                                f"use one of: {', '.join(users) or '(none: declare users under iam:)'}")
    elif fmt == "env" and account is not None:
        pairs = [p for p in pairs if p.user is None]  # the account's own keys
    region = view.topo.region
    if fmt == "json":
        stdout.file.write(json.dumps([{"Account": p.account, "AccountId": p.account_id,
                                       **({"UserName": p.user} if p.user else {}), "Arn": p.arn,
                                       "AccessKeyId": p.access_key_id, "SecretAccessKey": p.secret_access_key}
                                      for p in pairs], indent=2) + "\n")
        return
    if fmt == "env":
        if len(pairs) != 1:
            raise LabInputError("--account", f"env output is for one account, and {len(pairs)} match",
                                f"add --account, one of: {', '.join(dict.fromkeys(p.account for p in pairs))}")
        p = pairs[0]
        for key, value in (("AWS_ACCESS_KEY_ID", p.access_key_id), ("AWS_SECRET_ACCESS_KEY", p.secret_access_key),
                           ("AWS_DEFAULT_REGION", region), ("AWS_ENDPOINT_URL", endpoint_url)):
            click.echo(f"export {key}={shlex.quote(value)}")
        return
    for p in pairs:
        profile = f"{lab}-{p.account}" + (f"-{p.user}" if p.user else "")
        click.echo(f"[profile {profile}]\naws_access_key_id = {p.access_key_id}\n"
                   f"aws_secret_access_key = {p.secret_access_key}\nregion = {region}\nendpoint_url = {endpoint_url}\n")
