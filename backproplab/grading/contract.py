"""The typed contract that crosses Dask: how a batch grades (``GradingSettings``, declared in settings.py), a
lecture's trusted sources (``LectureSources``), one submission to grade (``GradingTask``) and what grading it decided
(``GradingResult``), and the version of the code that decides a grade."""
from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import astuple, dataclass, field
from pathlib import Path

from ..checks import Verdict
from .settings import GradingSettings


@dataclass(frozen=True)
class LectureSources:
    """A lecture's trusted sources, as content: what a worker needs besides the submission (sent to the workers once
    per batch, not with every task)."""
    lecture: str
    notebook_name: str
    source_nb: str       # solutions/<lecture>/<name>.ipynb (JSON text)
    release_nb: str      # the students' version (JSON text)
    template_db: bytes   # an nbgrader gradebook holding only this assignment
    duedate: str | None = None  # the assignment's due date in the workspace gradebook (UTC, ISO)


@dataclass(frozen=True)
class GradingTask:
    """One submission to grade; with its lecture's ``LectureSources``, everything a worker needs."""
    key: str
    student: str
    lecture: str
    submission: bytes
    digest: str          # grading_digest: what decides the grade besides the code
    seed: int
    settings: GradingSettings
    grader_version: str  # the client's: a worker with other grading code refuses the task
    timestamp: str | None = None
    extension_seconds: float = 0.0  # this student's extension of the due date (`bplab extend`)


@dataclass
class GradingResult:
    """What grading one submission decided (``to_json`` is what `bplab grade --json` prints)."""
    student: str
    lecture: str
    status: str                      # graded | timeout | kernel-died | output-capped | cpu-limit | lost | unreadable | error
    verdicts: list[Verdict]
    flag_reasons: list[str] = field(default_factory=list)
    manual_max_score: float = 0.0
    late_penalty: float = 0.0
    autograded_nb: str | None = None  # the graded notebook (JSON text), for feedback
    digest: str = ""
    grader_version: str = ""
    seconds: dict = field(default_factory=dict)
    reused: bool = False             # skipped: already graded with the same content and grader

    @property
    def score(self) -> float:
        return max(0.0, sum(v.score for v in self.verdicts) - self.late_penalty)

    @property
    def max_score(self) -> float:
        return sum(v.points for v in self.verdicts)

    @property
    def flagged(self) -> bool:
        return bool(self.flag_reasons)

    def to_json(self) -> dict:
        return {"student": self.student, "lecture": self.lecture, "score": self.score, "max_score": self.max_score,
                "late_penalty": self.late_penalty, "manual_max_score": self.manual_max_score,
                "needs_manual_grading": self.manual_max_score > 0, "flagged": self.flagged,
                "flag_reasons": self.flag_reasons, "status": self.status, "reused": self.reused,
                "tests": [v.to_json() for v in self.verdicts]}


def grading_digest(submission: bytes, sources: LectureSources, settings: GradingSettings, timestamp: str | None,
                   extension_seconds: float = 0.0) -> str:
    """sha256 (hex) of what decides a grade besides the grading code: the ``submission``'s bytes, the lecture's
    source notebook and due date, every field of ``settings``, the submission's ``timestamp`` and the due date's
    extension when one is granted. A stored grade of another digest is out of date."""
    decided = [*astuple(settings), sources.duedate, timestamp] + ([extension_seconds] if extension_seconds else [])
    return hashlib.sha256(submission + b"\0" + sources.source_nb.encode() + b"\0" + json.dumps(decided).encode()).hexdigest()


# What decides a grade: the references (the library), the checks, and the grading steps that run
# and judge the notebook. Editing anything else (the CLI, reports, release) regrades nothing.
_GRADING_FILES = ("checks/*.py", "*.py", "grading/config.py", "grading/cells.py", "grading/intake.py",
                  "grading/settings.py", "grading/contract.py", "grading/worker.py", "grading/batch.py",
                  "grading/judge.py", "grading/preprocessors.py", "grading/sandbox/*.py", "grading/late.py")
_NOT_GRADING = {"cli.py", "publish.py", "selfcheck.py"}


@functools.lru_cache(maxsize=1)
def grader_version() -> str:
    """The package version and a digest of the code that decides a grade: a change regrades."""
    import backproplab

    package = Path(backproplab.__file__).parent
    digest = hashlib.sha256()
    files = {p for pattern in _GRADING_FILES for p in package.glob(pattern) if p.name not in _NOT_GRADING}
    for path in sorted(files):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return f"{getattr(backproplab, '__version__', '0')}+{digest.hexdigest()[:12]}"


