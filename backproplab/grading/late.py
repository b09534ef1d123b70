"""A late-submission penalty nbgrader lacks: a share of the score per day late.

nbgrader 0.9.6 offers ``none`` and ``zero`` only. In autograder/nbgrader_config.py::

    c.AssignLatePenalties.plugin_class = "backproplab.grading.late.PercentPerDayLate"
    c.PercentPerDayLate.percent_per_day = 10

`bplab grade` passes these settings to every worker (``Workspace.late_policy``).
"""
from __future__ import annotations

import math

from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Float


class PercentPerDayLate(LateSubmissionPlugin):
    """Take ``percent_per_day`` of the notebook's score for each started day after the due date."""

    percent_per_day = Float(10.0, min=0.0, max=100.0, help="percent of the score taken per started day late").tag(config=True)

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        days = math.ceil(total_seconds_late / 86400)
        return min(score, score * self.percent_per_day / 100 * days)
