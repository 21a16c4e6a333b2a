"""pytest plugin for privatelink-lab (registered through the pytest11 entry point).

Fixtures:
    lab          a lab brought up once per test module (topology from the module's
                 `pytestmark = pytest.mark.lab_topology("basic")`, default basic), torn down after
    lab_factory  make more labs: `lab_factory("leaky")`; all of them are torn down at session end
    capture      `with capture(lab) as cap:` -- every link of the lab captured during the block

Assertions (import from lab.verify.assertions): assert_only_links, assert_not_on, assert_ppv2,
assert_snat. Their failure messages carry the ledger of links and the flow's packets; a failing
test that used a lab also gets the ledger of its last capture as a report section.

Labs get unique names (`t-<module>-<4 hex>`), so parallel runs never collide. Tests that need a lab
are skipped, with the reason, when not run as root or when no Docker engine answers.

This module is imported by every pytest run of the project (unit tests without root too): it
imports nothing heavy at import time.
"""

from __future__ import annotations

import os

import pytest

MARKER = "lab_topology"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(topology='basic'): the topology (built-in name or YAML path) the `lab` fixture brings up "
        "for this module",
    )


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "privatelink-lab: needs root (namespaces, veths, captures); run pytest with sudo"
    try:
        from lab import api

        api.runtime()
    except Exception as err:  # noqa: BLE001 - any engine problem means the same thing here
        return f"privatelink-lab: no usable Docker engine ({err})"
    return None


class _Labs:
    """Labs this session brought up, so each is torn down exactly once."""

    def __init__(self) -> None:
        self.handles: list = []
        self._skip: str | None | bool = False

    def skip_reason(self) -> str | None:
        if self._skip is False:
            self._skip = _skip_reason()
        return self._skip

    def make(self, topology: str = "basic", purpose: str | None = None):
        reason = self.skip_reason()
        if reason:
            pytest.skip(reason)
        from pathlib import Path

        from lab.verify.session import LabHandle, unique_name

        handle = LabHandle.up(topology, unique_name(purpose or Path(str(topology)).stem))
        self.handles.append(handle)
        return handle

    def release(self, handle) -> None:
        if handle in self.handles:
            self.handles.remove(handle)
            handle.down()

    def release_all(self) -> None:
        while self.handles:
            self.release(self.handles[-1])


@pytest.fixture(scope="session")
def _privatelink_labs():
    labs = _Labs()
    yield labs
    labs.release_all()


@pytest.fixture(scope="session")
def lab_factory(_privatelink_labs):
    """`lab_factory(topology="basic", purpose=None)` -> a LabHandle, torn down at session end
    (or earlier with `lab_factory.release(handle)`)."""

    def make(topology: str = "basic", purpose: str | None = None):
        return _privatelink_labs.make(topology, purpose)

    make.release = _privatelink_labs.release
    return make


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest, _privatelink_labs):
    """The module's lab (see the `lab_topology` marker), up for the module's tests, then torn down."""
    marker = request.node.get_closest_marker(MARKER)
    topology = "basic"
    if marker is not None:
        topology = marker.args[0] if marker.args else marker.kwargs.get("topology", "basic")
    purpose = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    handle = _privatelink_labs.make(topology, purpose)
    yield handle
    _privatelink_labs.release(handle)


@pytest.fixture
def capture():
    """`with capture(lab, links=None) as cap:` captures the lab's links (default: all) for the block."""

    def start(lab_handle, links=None):
        return lab_handle.capture(links)

    return start


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for value in getattr(item, "funcargs", {}).values():
        last = getattr(value, "last_capture", None)
        if last is not None and getattr(last, "ledger", None) is not None:
            report.sections.append((f"privatelink-lab ledger ({value.name})", last.ledger.text()))
