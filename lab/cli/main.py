"""`lab`: the command line of privatelink-lab.

Exit codes: 0 success, 1 the lab or a check failed, 2 bad input (nothing was changed),
130 interrupted (Ctrl-C), as shells expect.
"""

from __future__ import annotations

import signal
import sys
import threading

import click

from lab.cli.output import stderr
from lab.interrupts import sigint_guard
from lab.topology.errors import LabInputError, LabSystemError

EXIT_INTERRUPTED = 130  # 128 + SIGINT


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
        api_cmd,
        az_cmd,
        dns_cmd,
        doctor_cmd,
        endpoint_cmd,
        events_cmd,
        exec_cmd,
        graph_cmd,
        image_cmd,
        lifecycle,
        link_cmd,
        metrics_cmd,
        notification_cmd,
        ppv2_cmd,
        scan_cmd,
        schema_cmd,
        service_cmd,
        sg_cmd,
        target_cmd,
        ui_cmd,
        usage_cmd,
        verify_cmd,
        workshop_cmd,
    )

    commands = (
        lifecycle.up, lifecycle.down, lifecycle.status, lifecycle.list_labs, exec_cmd.exec_,  # the lab
        verify_cmd.verify, verify_cmd.capture, scan_cmd.scan,  # packet-level proof; a scan from the internet
        service_cmd.service, endpoint_cmd.endpoint, events_cmd.events, notification_cmd.notification,  # control plane
        dns_cmd.dns, sg_cmd.sg, link_cmd.link,  # each VPC's resolver, security groups on ENIs, impairments
        graph_cmd.graph, ui_cmd.ui, usage_cmd.usage, metrics_cmd.metrics,  # see the lab (live: ui), costs, metrics
        az_cmd.az,  # Availability Zones fail and recover
        target_cmd.target,  # targets registered, deregistered (draining) and their health
        doctor_cmd.doctor, image_cmd.image, schema_cmd.schema, ppv2_cmd.ppv2,  # tools
        api_cmd.api_group,  # the EC2 Query API for boto3 and the AWS CLI
        workshop_cmd.workshop,  # the self-grading workshop
    )
    for command in commands:
        cli.add_command(command)
    # AWS starts a private DNS name's verification on the service: `lab service verify-domain` = `lab dns verify-domain`.
    service_cmd.service.add_command(dns_cmd.verify_domain)


_register()


def main(argv: list[str] | None = None) -> int:
    """The `lab` console script (argv None: the process's own arguments), or a call from a test."""
    # Ctrl-C raises KeyboardInterrupt as usual, until a command says otherwise: `lab up` only
    # counts it once the lab is up, so its report and exit code agree with what is there.
    with sigint_guard():
        code = _run(argv)
        if argv is None and threading.current_thread() is threading.main_thread():
            # The report is out and the exit code known: a Ctrl-C during the interpreter's shutdown
            # (which resets the handler) must not turn them into "killed by SIGINT". Blocked, a
            # pending SIGINT dies with the process.
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    return code


def _run(argv: list[str] | None) -> int:
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
    except click.Abort as err:
        return _aborted(err)
    except LabSystemError as err:  # every failure of the system derives from it (lab.topology.errors)
        click.echo(f"error: {err}", err=True)
        return err.exit_code
    return code if isinstance(code, int) else 0


def _aborted(err: click.Abort) -> int:
    """click turns Ctrl-C (KeyboardInterrupt) and end of input (EOFError) into Abort. An interrupted
    bring-up raises a KeyboardInterrupt that is also a LabSystemError (BringUpInterrupted): its
    message says where it stopped and what is left, so that line is the report."""
    cause = err.__cause__ or err.__context__
    if isinstance(cause, KeyboardInterrupt):
        click.echo(str(cause) if isinstance(cause, LabSystemError) else "interrupted", err=True)
        return EXIT_INTERRUPTED
    stderr.print("aborted")
    return 1


if __name__ == "__main__":
    sys.exit(main())
