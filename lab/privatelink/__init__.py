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
- control     the commands: lock, check, edit, validate, re-plan, reconcile, save, publish
- runtime     the NLB nodes reached cheaply (PIDs checked in /proc, the engine only when a node reloads)
- notify      delivery to subscribers, the service's and the endpoint's (host command, or webhook from inside the lab)
- retry       how often and how long a failed delivery is tried again (pure)
- receiver    the webhook receiver app an instance can run
- lifecycle   what `lab up` publishes
"""
