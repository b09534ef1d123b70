"""nbgrader's exchange, the instructor's side: `bplab assign`, `bplab collect`, `bplab feedback --release`.

The moves are nbgrader's own commands (``release_assignment``, ``collect``, ``release_feedback``),
run in the workspace with its nbgrader_config.py. What bplab adds is trust in the folder they share
with every student:

- the exchange root must be ``1777`` (like /tmp). nbgrader creates it ``0777``; without the sticky
  bit any student can rename the course folder away, put their own in its place and receive the
  class's submissions (and hand out their own "assignment");
- the course folder must belong to the instructor;
- a submission folder in ``inbound/`` must belong to the student it names. ``inbound/`` is
  writable by all, so a student can forge a newer "submission" of a classmate; nbgrader's collect
  only warns and takes it. `bplab collect` moves a forged folder aside (``.forged+...``, which
  nbgrader's collect does not match) and names it. Where every student runs as the same Unix user
  (a container per user, all ``jovyan``) ownership proves nothing: set
  ``c.ExchangeCollect.check_owner = False`` there, and this check is off as nbgrader's is.
"""
from __future__ import annotations

import os
import pwd
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .release import run_nbgrader

SAFE_ROOT_MODE = 0o1777
FORGED_PREFIX = ".forged+"


class ExchangeError(RuntimeError):
    """The exchange is not set up, or not safe to use (the message says how to fix it)."""


@dataclass(frozen=True)
class Exchange:
    """Where the workspace's course lives in nbgrader's file exchange."""
    course_id: str
    root: Path

    @property
    def course(self) -> Path:
        return self.root / self.course_id

    @property
    def inbound(self) -> Path:
        return self.course / "inbound"


def workspace_exchange(workspace) -> Exchange:
    """The exchange configured in the workspace's nbgrader_config.py.

    Raises ExchangeError when ``c.CourseDirectory.course_id`` is not set."""
    config = workspace.config()
    course_id = workspace.course_id()
    if not course_id:
        raise ExchangeError(f"no course id: add c.CourseDirectory.course_id = \"...\" to "
                            f"{workspace.path / 'nbgrader_config.py'}")
    return Exchange(course_id, Path(config.Exchange.get("root", "/srv/nbgrader/exchange")))


def check_exchange(exchange: Exchange, *, create=False):
    """Raise ExchangeError unless the exchange root is 1777 and the course folder is the instructor's.

    ``create``: make a missing root (mode 1777) instead of failing."""
    root = exchange.root
    if not root.exists():
        if not create:
            raise ExchangeError(f"the exchange {root} does not exist (run `bplab assign` first)")
        root.mkdir(parents=True)
        root.chmod(SAFE_ROOT_MODE)
    mode = root.stat().st_mode
    if mode & stat.S_IWOTH and not mode & stat.S_ISVTX:
        raise ExchangeError(f"the exchange {root} is writable by every user without the sticky bit (mode "
                            f"{stat.S_IMODE(mode):o}): any student could rename the course folder and receive "
                            f"the class's submissions. Run: chmod 1777 {root}")
    course = exchange.course
    if course.exists():
        owner = course.stat().st_uid
        if owner != os.geteuid():
            raise ExchangeError(f"{course} belongs to {_user_name(owner)}, not to you: move it away and "
                                f"release again")
        if course.stat().st_mode & stat.S_IWOTH:
            raise ExchangeError(f"{course} is writable by every user: run chmod o-w {course}")


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def assign(workspace, lecture: str, duedate=None) -> Exchange:
    """Release ``lecture`` to the students through the exchange (`nbgrader release_assignment`).

    ``duedate``: a datetime (UTC) or None; stored as the assignment's due date in the workspace
    gradebook, where nbgrader's collect and `bplab grade`'s late penalty read it. Raises
    ExchangeError or ReleaseError (nbgrader's log)."""
    exchange = workspace_exchange(workspace)
    check_exchange(exchange, create=True)
    workspace.ensure_assignment(lecture)
    if duedate is not None:
        with workspace.gradebook() as gb:
            gb.update_or_create_assignment(lecture, duedate=duedate)
    run_nbgrader(["release_assignment", lecture, "--force"], workspace.path)
    return exchange


@dataclass
class Collected:
    """What `collect` did: {student: timestamp} in submitted/, and forged folders set aside."""
    submissions: dict = field(default_factory=dict)
    forged: list = field(default_factory=list)   # "inbound/<name> claims <student> but belongs to <owner>"


def set_aside_forged(exchange: Exchange, lecture: str) -> list[str]:
    """Rename each inbound submission folder of ``lecture`` whose owner is not the student it names
    to ``.forged+<name>``; return one line per folder set aside."""
    reports = []
    for folder in sorted(exchange.inbound.glob(f"*+{lecture}+*")):
        student = folder.name.rsplit("+", 3)[0]
        owner = _user_name(folder.lstat().st_uid)
        if owner != student:
            folder.rename(folder.with_name(FORGED_PREFIX + folder.name))
            reports.append(f"inbound/{folder.name} claims to be from {student} but belongs to {owner}: set aside")
    return reports


def collect(workspace, lecture: str) -> Collected:
    """Set forged submissions aside, then `nbgrader collect --update`: each student's latest submission
    lands in the workspace's submitted/<student>/<lecture>/. Raises ExchangeError or ReleaseError."""
    exchange = workspace_exchange(workspace)
    check_exchange(exchange)
    if not exchange.inbound.is_dir():
        raise ExchangeError(f"{lecture} was never released to {exchange.course} (run `bplab assign {lecture}`)")
    check_owner = workspace.config().ExchangeCollect.get("check_owner", True)
    forged = set_aside_forged(exchange, lecture) if check_owner else []
    run_nbgrader(["collect", lecture, "--update"], workspace.path)
    submitted = {p.parent.parent.name: p.read_text().strip()
                 for p in sorted((workspace.path / "submitted").glob(f"*/{lecture}/timestamp.txt"))}
    return Collected(submitted, forged)


def release_feedback(workspace, lecture: str) -> int:
    """`nbgrader release_feedback`: students fetch their pages with `nbgrader fetch_feedback`.
    Returns the number of pages released. Raises ExchangeError or ReleaseError."""
    exchange = workspace_exchange(workspace)
    check_exchange(exchange)
    pages = sorted((workspace.path / "feedback").glob(f"*/{lecture}/*.html"))
    if not pages:
        raise ExchangeError(f"no feedback for {lecture} yet (run `bplab feedback {lecture}` first)")
    run_nbgrader(["release_feedback", lecture], workspace.path)
    return len(pages)
