"""Reports on a live lab that combine several services: `lab graph` (the plan, what is observed,
the last `lab verify`), `lab usage` (the plan, the control plane's record, HAProxy's counters) and
`lab metrics` (CloudWatch's series from the same counters). lab.api's calls are thin wrappers over
these; the pure parts (drawing, pricing, the metric store) are lab.graph, lab.usage, lab.metrics.

May import: everything below the front door (lab.privatelink, lab.verify, lab.graph, lab.usage,
lab.metrics, lab.apply, lab.state, ...). Only lab.api imports it.
"""
