"""From a learning management system into the workspace: `bplab import-lms` (Canvas's "Download
Submissions" zip into ``submitted/<student>/<lecture>/``, as nbgrader's zip_collect does) and
`bplab import-roster` (the roster's students into nbgrader's gradebook, so formgrader shows their names).

Canvas names each file of its zip ``<name>[_LATE]_<canvas user id>_<submission id>_<file name>`` (a file
uploaded again gets ``-1``, ``-2`` before its extension). The roster (lms_export.read_roster) maps the Canvas
user id to the student's nbgrader id. The zip is read member by member, never extracted: its own paths
decide nothing.
"""
from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field

from .lms_export import read_roster
from .reports import ExportError

CANVAS_FILE = re.compile(r"^(?P<name>[^_/]+)_(?:LATE_)?(?P<canvas_id>\d+)_(?P<submission>\d+)_(?P<file>[^/]+)$")
MAX_NOTEBOOK_BYTES = 20 << 20  # as the grader's limit: a larger file is left in the zip


@dataclass
class Imported:
    """What `import-lms` did: {student: file name in the zip} written, and one line per file left out."""
    written: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)


def import_canvas_zip(workspace, lecture, zip_path, roster_path) -> Imported:
    """Write each student's notebook of Canvas's submissions zip ``zip_path`` to
    ``submitted/<student>/<lecture>/<the lecture's notebook name>`` of ``workspace`` (replacing an earlier one).

    Raises ExportError for an unreadable zip or roster."""
    roster = read_roster(roster_path)
    by_canvas_id = {identity.canvas_id: student for student, identity in roster.students.items() if identity.canvas_id}
    notebook_name = workspace.source_notebook_path(lecture).name
    try:
        archive = zipfile.ZipFile(zip_path)
    except (OSError, zipfile.BadZipFile) as err:
        raise ExportError(f"cannot read {zip_path}: {err}") from err
    found, outcome = {}, Imported()
    with archive:
        for member in archive.infolist():
            if member.is_dir():
                continue
            match = CANVAS_FILE.match(member.filename)
            if not match or not member.filename.endswith(".ipynb"):
                outcome.skipped.append(f"{member.filename}: not a notebook named as Canvas names submissions")
            elif match["canvas_id"] not in by_canvas_id:
                outcome.skipped.append(f"{member.filename}: Canvas user {match['canvas_id']} ({match['name']}) is not "
                                       f"in the roster's canvas_id column")
            elif member.file_size > MAX_NOTEBOOK_BYTES:
                outcome.skipped.append(f"{member.filename}: {member.file_size >> 20} MiB, over the grader's limit")
            else:
                found.setdefault(by_canvas_id[match["canvas_id"]], []).append(member)
        for student, members in sorted(found.items()):
            if len(members) > 1:
                outcome.skipped.append(f"{student}: {len(members)} notebooks in one submission "
                                       f"({', '.join(m.filename for m in members)}): none imported")
                continue
            target = workspace.path / "submitted" / student / lecture / notebook_name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(members[0]))
            outcome.written[student] = members[0].filename
    return outcome


def import_roster(workspace, roster_path) -> int:
    """Add or update every roster student in the workspace's gradebook (first and last name from "Last, First"
    or "First Last", Canvas's user id as nbgrader's lms_user_id); return how many. Raises ExportError."""
    roster = read_roster(roster_path)
    with workspace.gradebook() as gb:
        for student, identity in roster.students.items():
            if ", " in identity.name:
                last, first = identity.name.split(", ", 1)
            else:
                first, _, last = identity.name.rpartition(" ")
            gb.update_or_create_student(student, first_name=first or None, last_name=last or None,
                                        lms_user_id=identity.canvas_id or None)
    return len(roster.students)
