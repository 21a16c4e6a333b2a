"""Making a plan real on this machine, and reading back what is live.

`lab up`'s steps (bringup: namespaces, bridges, veths, NLB node containers, DNS, security groups,
HAProxy configs), `lab down` (teardown, from the journal alone), applying the difference to a live
lab (reconcile), the container runtime (runtime: the one factory), and where a live lab's places
are (live: the one locator, with the one stale-PID rule), plus the live facts `lab status`,
`lab graph`, `lab usage` and `lab dns records` read (observe), and link impairments (impair, linkctl).

May import: lab.state, lab.plan, lab.topology, the pure libraries (lab.ppv2, lab.resources);
lab.image and lab.apps are its peers (it starts their programs by module name, never imports them).
Never lab.privatelink, lab.verify, lab.doctor, lab.api or lab.cli: they sit above it.
"""
