"""Programs the lab runs inside its instances, each as its own process (`python -m`): the demo
target (target) and the webhook receiver (webhook_receiver). They are started by lab.apply by
module name, and talk to the rest of the lab only over the network.

May import: the pure libraries (lab.ppv2) and nothing else of the lab: a target stays light.
"""
