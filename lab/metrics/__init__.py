"""Per-endpoint and per-service metrics under CloudWatch's names (AWS/PrivateLinkEndpoints,
AWS/PrivateLinkServices), sampled from HAProxy's stats and the security groups' drop counters,
kept in SQLite in the lab's state folder. Pure but for the SQLite file; lab.usecases.metrics does
the reading. May import: lab.plan (IDs), lab.topology and the pure libraries."""
