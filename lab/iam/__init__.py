"""IAM for the lab's EC2 API, as pure code: access keys derived per account, and the evaluation of
identity policies in AWS's JSON grammar. No I/O, no lab state: callers pass what they know.

May import: nothing of the lab (a pure library)."""
