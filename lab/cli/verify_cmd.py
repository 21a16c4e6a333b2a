"""`lab verify` (prove at packet level that the service is reached only through its endpoint) and
`lab capture` (one pcap per link)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from lab.cli.output import activity, emit_json, format_option, name_option, progress, stdout
from lab.topology.errors import LabInputError

CAPTURE_MAX_SECONDS = 3600


@click.command()
@name_option
@format_option
@click.option("--wait-health-checks/--no-wait-health-checks", "wait_hc", default=True, show_default=True,
              help="Wait (up to the longest health-check interval + 1 s) until every NLB leg has shown a health "
                   "check, so the LOCAL-header invariant is tested, not skipped.")
@click.option("--no-probes", is_flag=True, help="Skip the isolation probes (flows and passive checks only).")
@click.option("--no-ledger", is_flag=True, help="Leave the per-link ledger out of the text report.")
@click.option("-w", "--write", "pcap_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write the run's capture, one pcap per link, into this folder.")
def verify(lab: str, fmt: str, wait_hc: bool, no_probes: bool, no_ledger: bool, pcap_dir: Path | None) -> None:
    """Prove at packet level that consumers reach the service only through its endpoint.

    \b
    Captures every link of the lab from one process while it sends, from inside each consumer
    instance, a request to every endpoint ENI and a set of probes towards the provider. Checks:
      path        each flow crosses client subnet -> ENI leg, NLB provider leg -> target, nothing else
      ppv2        each connection to a target starts with PROXY v2 (client, ENI, 0xEA = endpoint ID);
                  health checks carry LOCAL
      snat        targets see the NLB node's address, never a consumer's
      dns         the endpoint's names resolve, inside the consumer VPC, to exactly its ENIs
      sg          flows the ENI's security groups do not admit die at the ENI
      isolation   probes to provider addresses and to closed ENI ports reach no provider link
      cross-side  no 5-tuple is seen on both consumer-side and provider-side links
    plus the checks the topology's `verify:` section declares.
    Exit 0 when everything holds, 1 when a check fails (the report names the link at fault).
    """
    from lab.verify.engine import Options
    from lab.verify.engine import verify as run

    with activity(f"verifying lab {lab!r}", fmt == "text") as say:
        report = run(lab, Options(wait_health_checks=wait_hc, probes=not no_probes),
                     say if fmt == "text" else (lambda _m: None))
    written = None
    if pcap_dir is not None:
        from lab.verify.pcapfile import write_per_link

        stems = {n: ln.file_stem for n, ln in report.ledger.links.items()}
        written = write_per_link(pcap_dir, report.ledger.frames(), stems)
    if fmt == "json":
        data = report.to_dict()
        if written:
            data["pcaps"] = {name: str(path) for name, (path, _) in written.items()}
        emit_json(data)
    else:
        stdout.print(report.text(ledger=not no_ledger), markup=False)
        if written:
            stdout.print(f"pcaps written to {pcap_dir} ({len(written)} links)", markup=False)
    sys.exit(0 if report.ok else 1)


@click.command()
@name_option
@format_option
@click.argument("links", nargs=-1)
@click.option("-w", "--write", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the pcaps (created if missing): one <link>.pcap per link.")
@click.option("--seconds", type=click.FloatRange(0.1, CAPTURE_MAX_SECONDS), default=10.0, show_default=True,
              help="How long to capture.")
@click.option("--list", "list_only", is_flag=True, help="Only list the lab's links and exit.")
def capture(lab: str, fmt: str, links: tuple[str, ...], out_dir: Path | None, seconds: float, list_only: bool) -> None:
    """Capture LINKS (default: every link) of a lab into one pcap per link.

    A LINK is a link name (`lab capture --list`), a kind (consumer-subnet, endpoint-eni, nlb-target,
    provider-subnet, peering, unplanned), an owner (instance, ENI ID, node), or a pattern such as
    'endpoint-eni/*'. Press Ctrl-C to stop early; what was captured is still written.
    """
    from lab.state.store import LabState
    from lab.verify.capture import Capture
    from lab.verify.discover import NamespacePaths
    from lab.verify.engine import lab_links, require_root
    from lab.plan.links import select_links
    from lab.verify.pcapfile import write_per_link

    if out_dir is None and not list_only:
        raise LabInputError("--write", "no folder to write the pcaps into", "add -w DIR (or --list to only list links)")
    require_root("lab capture")
    plan = LabState(lab).load_plan()
    paths = NamespacePaths(plan)
    every = lab_links(plan, paths)
    try:
        chosen = select_links(every, list(links))
    except KeyError as err:
        raise LabInputError("LINK", f"no link, kind or owner matches {err.args[0]!r} in lab {lab!r}",
                            f"use one of: {', '.join(ln.name for ln in every)}") from None
    if list_only:
        _list(chosen, fmt)
        return
    cap = Capture(chosen, paths.of_link, max_seconds=seconds + 5)
    if fmt == "text":
        progress(f"capturing {len(chosen)} link(s) for {seconds:g} s into {out_dir}")
    cap.start()
    try:
        with activity(f"capturing {len(chosen)} link(s)", fmt == "text") as say:
            deadline = time.monotonic() + seconds
            shown = None
            while time.monotonic() < deadline:
                left = int(deadline - time.monotonic() + 0.999)
                if left != shown:  # a counter on the spinner (a terminal only: CI logs stay quiet)
                    say(f"{left} s to go", note=True)
                    shown = left
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    except KeyboardInterrupt:
        pass
    finally:
        cap.stop(linger=0.0)
    written = write_per_link(out_dir, cap.frames, {ln.name: ln.file_stem for ln in chosen})
    result = {"lab": lab, "seconds": round(cap.stopped_at - cap.started_at, 3), "truncated": cap.truncated,
              "pcaps": [{"link": name, "kind": next(ln.kind for ln in chosen if ln.name == name), "file": str(path),
                         "frames": count, "kernel_drops": cap.stats[name].kernel_drops}
                        for name, (path, count) in written.items()]}
    if fmt == "json":
        emit_json(result)
        return
    for row in result["pcaps"]:
        drops = f" ({row['kernel_drops']} dropped by the kernel)" if row["kernel_drops"] else ""
        stdout.print(f"{row['frames']:>7} frames  {row['file']}{drops}", markup=False)
    if cap.truncated:
        stdout.print(f"note: {cap.truncated}", markup=False)


def _list(links, fmt: str) -> None:
    if fmt == "json":
        emit_json([ln.to_dict() for ln in links])
        return
    from lab.cli.output import table

    table("Links", ["Link", "Kind", "Side", "Captured on", "Other end"],
          [(ln.name, ln.kind, ln.side, f"{ln.place} {ln.ifname}", ln.far) for ln in links])
