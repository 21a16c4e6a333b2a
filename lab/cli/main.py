"""`lab`: the command line of privatelink-lab.

Exit codes: 0 success, 1 the lab or a check failed, 2 bad input (nothing was changed).
"""

from __future__ import annotations

import sys

import click

from lab.cli.output import stderr
from lab.topology.errors import LabInputError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="privatelink-lab")
def cli() -> None:
    """AWS PrivateLink rebuilt from real Linux networking: VPCs as namespaces, an HAProxy NLB,
    interface endpoints and PROXY protocol v2, with packet-level verification.

    \b
    Typical session:
      sudo lab up                 # the default lab (topologies/basic.yaml)
      sudo lab status
      sudo lab exec consumer-client -- curl -s http://ENI-IP/
      sudo lab down
    """


def _register() -> None:
    from lab.cli import (
        dns_cmd,
        doctor_cmd,
        endpoint_cmd,
        events_cmd,
        exec_cmd,
        image_cmd,
        lifecycle,
        link_cmd,
        notification_cmd,
        ppv2_cmd,
        scan_cmd,
        schema_cmd,
        service_cmd,
        sg_cmd,
        verify_cmd,
    )

    commands = (
        lifecycle.up, lifecycle.down, lifecycle.status, lifecycle.list_labs, exec_cmd.exec_,  # the lab
        verify_cmd.verify, verify_cmd.capture, scan_cmd.scan,  # packet-level proof; a scan from the internet
        service_cmd.service, endpoint_cmd.endpoint, events_cmd.events, notification_cmd.notification,  # control plane
        dns_cmd.dns, sg_cmd.sg, link_cmd.link,  # each VPC's resolver, security groups on ENIs, impairments
        doctor_cmd.doctor, image_cmd.image, schema_cmd.schema, ppv2_cmd.ppv2,  # tools
    )
    for command in commands:
        cli.add_command(command)
    # AWS starts a private DNS name's verification on the service: `lab service verify-domain` = `lab dns verify-domain`.
    service_cmd.service.add_command(dns_cmd.verify_domain)


_register()


def main(argv: list[str] | None = None) -> int:
    try:
        # Not standalone: click then *returns* the code of `ctx.exit(n)` / `raise Exit(n)` instead of
        # exiting, and it must be passed on, or `lab doctor` and `lab ppv2` would exit 0 on failure.
        code = cli.main(args=argv, prog_name="lab", standalone_mode=False)
    except LabInputError as err:
        click.echo(f"error: {err}", err=True)
        return err.exit_code
    except click.exceptions.Exit as err:
        return err.exit_code
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except click.Abort:
        stderr.print("aborted")
        return 1
    except _failures() as err:
        click.echo(f"error: {err}", err=True)
        return 1
    return code if isinstance(code, int) else 0


def _failures() -> tuple[type[BaseException], ...]:
    """Failures of the system rather than of the input: reported in one line, exit 1."""
    from lab.apply.bringup import BringUpError
    from lab.apply.dns import DnsError
    from lab.apply.firewall import FirewallError
    from lab.apply.nodes import NodeError
    from lab.apply.reconcile import ReconcileError
    from lab.apply.runtime.base import ContainerRuntimeError
    from lab.image import ImageBuildError
    from lab.privatelink.control import ControlPlaneError

    return (BringUpError, NodeError, ContainerRuntimeError, ImageBuildError, ReconcileError, ControlPlaneError,
            DnsError, FirewallError)


if __name__ == "__main__":
    sys.exit(main())
