"""A lab's state folder: its stored topology and plan (saved together, atomically), the intent
journal `lab down` works from, the lock, and the per-node and per-process files.

May import: lab.plan (the lab-name rule), lab.topology (its errors) and the pure libraries.
Never lab.apply or anything above.
"""
