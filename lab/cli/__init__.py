"""The command line, `lab`: parses arguments, calls the front door, prints text or JSON.

May import: lab.api, the pure libraries (lab.ppv2, lab.resources) and lab.topology.errors (the
bad-input error type), and its own modules. Nothing imports lab.cli.
"""
