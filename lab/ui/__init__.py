"""`lab ui`: the lab live in a browser (a WSGI app on loopback, pushed updates over server-sent events).

Top layer, beside lab.cli: it calls the lab only through `lab.api` (read-only) and otherwise uses
pure libraries (werkzeug, prometheus_client).

May import: lab.api, the pure libraries and lab.topology.errors; only lab.cli (`lab ui`) imports it."""
