"""Packet-level verification of a lab: `lab verify`, `lab capture`, and the pytest plugin.

    links       the lab's links (veth pairs), named and classified from its plan
    capture     one process capturing every link (AF_PACKET sockets opened inside each namespace)
    packets     captured frames -> header fields;  ledger: packets by link and by connection
    flows       the pieces of a run: a flow to an ENI, a DNS query, a probe (pure)
    spec        what a run tests (flows, DNS queries, probes; built-in and declared)
    names       flows by DNS name: planned from the plan, then run and judged
    traffic     flows, DNS queries and probes made from inside the clients' namespaces
    invariants  the verdicts;  report: text and JSON;  engine: one `lab verify` run
    session     a lab as a Python object for tests;  assertions: assert_only_links and friends
    pytest_plugin  fixtures (registered through the pytest11 entry point)

Nothing is imported here, so that loading the pytest plugin stays cheap.

May import: lab.apply (netns, live: where the namespaces are), lab.state, lab.plan, lab.topology and
the pure libraries. Not lab.privatelink (a peer: neither imports the other), lab.api or lab.cli.
Except session and pytest_plugin, the test harness: they bring labs up and down through lab.api,
so they sit above it (tests/unit/test_layers.py places them), and nothing in lab/ imports them.
"""
