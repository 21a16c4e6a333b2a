"""The topology file: its schema (model), the rules relating its parts (rules), the loader that
accepts or rejects a file with a path-and-fix message (load), and the bad-input error type
(errors, which every layer and the CLI may raise). Nothing else reads a topology's YAML.

May import: the pure libraries (lab.resources) only.
"""
