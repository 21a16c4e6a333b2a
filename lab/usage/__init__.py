"""What a lab would cost on AWS: endpoint-hours per ENI and GB processed, priced from prices.yaml
(meter, pricing). Pure; lab.usecases.usage gathers the counters from a live lab.

May import: lab.topology (its errors) and the pure libraries.
"""
