"""PrivateLink's control plane: the workflow between a provider and its consumers.

A provider publishes an endpoint service and decides who may connect (allowed principals,
acceptance); a consumer creates an interface endpoint and waits for acceptance; both sides are
notified (Connect, Accept, Reject, Delete) and automation can act on the notifications. Every
change is applied to the LIVE lab, without disturbing the traffic of other endpoints.

- workflow    the endpoint state machine (pure)
- principals  accounts, principals, who may do what (pure)
- edit        edits of the stored topology's YAML data (pure)
- choose      what a command acts on, from what the user typed (endpoints, subnets, a new name)
- shapes      AWS-shaped JSON (DescribeVpcEndpoints, ...)
- records     the control record, the event log and the delivery log in the state folder
- control     the commands, each one Transaction: lock, check, edit, validate, re-plan, reconcile, save, publish
- notify      delivery to subscribers, the service's and the endpoint's (host command, or webhook from inside the lab)
- retry       how often and how long a failed delivery is tried again (pure)
- lifecycle   what `lab up` publishes
- describe    the Describe calls (endpoints, services), read without the lock
- status      `lab status`: the lab's objects in AWS's shapes, with what is live (lab.apply.live)
- domains     private DNS name verification (the lab's public DNS, and the check: a transaction)

May import: lab.apply (reconcile, dns, live, the runtime factory), lab.state, lab.plan, lab.topology
and the pure libraries. Not lab.verify (a peer: neither imports the other), lab.api or lab.cli.
"""
