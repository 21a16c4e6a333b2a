"""The front door's bigger calls, each composing several services below it: `lab up` (lifecycle:
bring-up, then the control plane's announcement), `lab graph` (the plan, what is observed, the last
`lab verify`), `lab usage` (the plan, the control plane's record, HAProxy's counters) and
`lab metrics` (CloudWatch's series from the same counters). lab.api's calls are thin wrappers over
these, so the front door stays a readable list; the pure parts (drawing, pricing, the metric store)
are lab.graph, lab.usage and lab.metrics. Each module imports what a call needs when it runs.

May import: everything below the front door (lab.privatelink, lab.verify, lab.graph, lab.usage,
lab.metrics, lab.doctor, lab.apply, lab.state, ...). Only lab.api imports it.
"""
