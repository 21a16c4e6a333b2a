"""The self-grading workshop (`lab workshop`): exercises as data, each graded by the lab itself.

Exercises live in `exercises/NN-slug/exercise.yaml` (a task, hints and criteria of the kinds in
lab.workshop.model); a teacher adds one without writing Python.

Top layer, beside lab.cli. May import: lab.api, the pure libraries and lab.topology.errors; only
lab.cli (`lab workshop`) imports it."""
