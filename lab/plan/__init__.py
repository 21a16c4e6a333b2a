"""The desired state, resolved: from a validated topology to every name, address, AWS-shaped ID,
route and HAProxy frontend of a lab (build), deterministically. Pure: no kernel, no root.

May import: lab.topology and the pure libraries. Never lab.state or anything above.
"""
