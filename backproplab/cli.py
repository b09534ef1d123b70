"""The `bplab` command line: release, check, assign, collect, grade, status, feedback, export, report, similarity,
demo, binder-badge.

Exit codes: 0 success (a graded batch counts as success even if students failed),
1 internal failure (or, for `release --check` and `check`, "not clean"/"a check failed"),
2 usage errors.
"""
from __future__ import annotations

import argparse
import json
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

from .grading.settings import add_flags as add_setting_flags
from .grading.workspace import DEFAULT_WORKSPACE, ForeignGradebook


def _cmd_release(args):
    from .grading.release import ReleaseError, find_root, release
    root = Path(args.root) if args.root else find_root()
    try:
        result = release(root, args.lectures or None, check=args.check)
    except ReleaseError as err:
        print(f"bplab release: {err}", file=sys.stderr)
        return 2 if "no lecture" in str(err) else 1
    if args.check:
        if result.stale:
            print("bplab release --check: stale files (run `bplab release`):")
            for line in result.stale:
                print(f"  {line}")
            return 1
        print("bplab release --check: course/ and solutions/ are up to date")
        return 0
    for path in result.written:
        print(f"wrote {path}")
    for path in result.removed:
        print(f"removed {path}")
    if not result.written and not result.removed:
        print("bplab release: nothing to do, course/ is up to date")
    return 0


def _workspace(args):
    from .grading.release import find_root
    from .grading.workspace import Workspace
    root = Path(args.root) if args.root else find_root()
    path = Path(args.workspace) if args.workspace else root / DEFAULT_WORKSPACE
    workspace = Workspace(path, root)
    workspace.check_gradebook()  # another course's gradebook: main() refuses (exit 2) before anything writes it
    return workspace


def _cmd_grade(args):
    from .grading.batch import grade_batch
    from .grading.intake import UsageError, find_submissions
    from .grading.reports import format_grade_table, pending_manual_points
    from .grading.sandbox import SandboxUnavailable
    from .grading.settings import SettingsError, course_settings, flag_values
    workspace = _workspace(args)
    problems, failure = [], None
    try:
        submissions = find_submissions(args.path, workspace, args.lecture, problems=problems)
    except UsageError as err:
        submissions, failure = [], err
    for problem in problems:  # not graded; the rest of the batch still is
        if not args.student or problem.student == args.student:
            print(f"bplab grade: {problem}", file=sys.stderr)
    if failure is not None:
        print(f"bplab grade: {failure}", file=sys.stderr)
        return 2
    if args.student:
        submissions = [s for s in submissions if s.student == args.student]
        if not submissions:
            print(f"bplab grade: no submission of student {args.student!r} under {args.path}", file=sys.stderr)
            return 2
    if args.workers is not None and args.workers < 1:
        print("bplab grade: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        settings = course_settings(workspace, **flag_values(args))
    except SettingsError as err:
        print(f"bplab grade: {err}", file=sys.stderr)
        return 2
    try:
        results = grade_batch(workspace, submissions, workers=args.workers, scheduler=args.scheduler,
                              settings=settings, regrade=args.regrade or bool(args.student),
                              progress=not args.json and sys.stderr.isatty())
    except SandboxUnavailable as err:
        print(f"bplab grade: {err}", file=sys.stderr)
        return 2
    notes = {(s.student, s.lecture): s.notes for s in submissions if s.notes}
    pending = pending_manual_points(workspace)
    if args.json:
        print(json.dumps([dict(r.to_json(), notes=notes.get((r.student, r.lecture), []),
                               manual_pending=pending.get((r.student, r.lecture), 0.0),
                               needs_manual_grading=(r.student, r.lecture) in pending) for r in results], indent=1))
    else:
        print(format_grade_table(results, notes, pending))
    return 1 if any(r.status == "error" for r in results) else 0


def _cmd_feedback(args):
    from .grading.exchange import ExchangeError, release_feedback
    from .grading.feedback import generate_feedback
    from .grading.release import ReleaseError
    from .grading.reports import pending_manual_points
    if args.release and not args.lectures:
        print("bplab feedback: --release needs the lecture ids", file=sys.stderr)
        return 2
    workspace = _workspace(args)
    unknown = [lecture for lecture in args.lectures if lecture not in workspace.lectures()]
    if unknown:
        print(f"bplab feedback: unknown lecture {', '.join(map(repr, unknown))} "
              f"(known: {', '.join(workspace.lectures())})", file=sys.stderr)
        return 2
    missing = sorted(set(args.lectures) - set(workspace.graded_lectures()))
    if missing or not workspace.graded_lectures():
        of = f" of {', '.join(missing)}" if missing else ""
        print(f"bplab feedback: nothing{of} graded yet in {workspace.path} (run `bplab grade` first)", file=sys.stderr)
        return 2
    pending = pending_manual_points(workspace, args.lectures or None)
    if pending and not args.before_manual_grading:
        students = sorted({student for student, _ in pending})
        print(f"bplab feedback: {len(students)} student(s) have written answers not graded by hand yet "
              f"({', '.join(students[:5])}{', ...' if len(students) > 5 else ''}; {sum(pending.values()):g} points "
              f"in all), which their feedback would show as 0: grade them in `bplab formgrader` first, or add "
              f"--before-manual-grading", file=sys.stderr)
        return 2
    pages = generate_feedback(workspace, args.lectures or None, processes=args.processes)
    for page, redacted in pages.items():
        print(f"{page}" + (f" ({redacted} line(s) of hidden-test source redacted)" if redacted else ""))
    if not args.release:
        return 0
    try:
        for lecture in args.lectures:
            count = release_feedback(workspace, lecture)
            print(f"released {count} feedback page(s) of {lecture}: students run `nbgrader fetch_feedback {lecture}`")
    except (ExchangeError, ReleaseError) as err:
        print(f"bplab feedback: {err}", file=sys.stderr)
        return 2 if isinstance(err, ExchangeError) else 1
    return 0


def _unknown_lecture(command, workspace, lecture) -> bool:
    """Whether ``lecture`` is none of the workspace's (then say so on stderr, naming the known ones)."""
    if lecture in workspace.lectures():
        return False
    print(f"bplab {command}: unknown lecture {lecture!r} (known: {', '.join(workspace.lectures())})", file=sys.stderr)
    return True


def _read_date(command, what, text):
    """``text`` as a naive UTC datetime (nbgrader's parse_utc), or False after saying on stderr why it cannot be read."""
    from nbgrader.utils import parse_utc
    try:
        return parse_utc(text)
    except (ValueError, OverflowError) as err:
        print(f"bplab {command}: cannot read {what} {text!r}: {err}", file=sys.stderr)
        return False


def _cmd_assign(args):

    from .grading.exchange import ExchangeError, assign
    from .grading.release import ReleaseError
    workspace = _workspace(args)
    if _unknown_lecture("assign", workspace, args.lecture):
        return 2
    duedate = _read_date("assign", "the due date", args.due) if args.due else None
    if duedate is False:
        return 2
    if duedate is not None and duedate <= datetime.now(timezone.utc).replace(tzinfo=None) and not args.past_due:
        print(f"bplab assign: the due date {duedate:%Y-%m-%d %H:%M:%S} UTC is in the past (every submission would "
              f"be late); to close the assignment now on purpose, add --past-due", file=sys.stderr)
        return 2
    try:
        exchange = assign(workspace, args.lecture, duedate)
    except (ExchangeError, ReleaseError) as err:
        print(f"bplab assign: {err}", file=sys.stderr)
        return 2 if isinstance(err, ExchangeError) else 1
    due = f", due {duedate:%Y-%m-%d %H:%M:%S} UTC" if duedate else ""
    print(f"released {args.lecture} to {exchange.course}{due}: students run `nbgrader fetch_assignment {args.lecture}`")
    return 0


def _cmd_extend(args):
    from nbgrader.api import MissingEntry
    workspace = _workspace(args)
    if _unknown_lecture("extend", workspace, args.lecture):
        return 2
    until = _read_date("extend", "the date", args.until)
    if until is False:
        return 2
    with workspace.gradebook() as gb:
        try:
            duedate = gb.find_assignment(args.lecture).duedate
        except MissingEntry:
            duedate = None
        if duedate is None or until <= duedate:
            why = "has no due date (set one with `bplab assign --due`)" if duedate is None else \
                f"is due {duedate:%Y-%m-%d %H:%M:%S} UTC already, not later than {until:%Y-%m-%d %H:%M:%S} UTC"
            print(f"bplab extend: {args.lecture} {why}", file=sys.stderr)
            return 2
        gb.update_or_create_student(args.student)
        with warnings.catch_warnings():
            # nbgrader's add_submission links a new submission and its notebooks before adding them to the session
            warnings.filterwarnings("ignore", r"Object of type <Submitted\w+> not in session")
            gb.update_or_create_submission(args.lecture, args.student, extension=until - duedate)
    print(f"{args.student}: {args.lecture} due {until:%Y-%m-%d %H:%M:%S} UTC (the class: {duedate:%Y-%m-%d %H:%M:%S} "
          f"UTC); `bplab grade` takes it into account")
    return 0


def _cmd_collect(args):
    from .grading.exchange import ExchangeError, collect
    from .grading.release import ReleaseError
    workspace = _workspace(args)
    try:
        collected = collect(workspace, args.lecture)
    except (ExchangeError, ReleaseError) as err:
        print(f"bplab collect: {err}", file=sys.stderr)
        return 2 if isinstance(err, ExchangeError) else 1
    for line in collected.forged:
        print(f"bplab collect: {line}", file=sys.stderr)
    for student, timestamp in collected.submissions.items():
        print(f"{student:<24} submitted {timestamp}")
    print(f"{len(collected.submissions)} submission(s) of {args.lecture} in {workspace.path / 'submitted'}")
    return 0


EXPORT_NOT_IN_ROSTER = 3  # `bplab export` wrote the file, but graded students are missing from the roster


def _cmd_export(args):
    from .grading.lms_export import ExportError, export_grades
    try:
        outcome = export_grades(_workspace(args), args.file, args.format, args.roster)
    except ExportError as err:
        print(f"bplab export: {err}", file=sys.stderr)
        return 2
    for note in outcome.notes:
        print(f"bplab export: {note}", file=sys.stderr)
    print(f"wrote {outcome.rows} row(s) to {args.file} ({args.format})")
    return EXPORT_NOT_IN_ROSTER if outcome.not_in_roster else 0


def _cmd_status(args):
    from .grading.intake import UsageError
    from .grading.status import format_status, workspace_status
    try:
        status = workspace_status(_workspace(args), args.lectures or None)
    except UsageError as err:
        print(f"bplab status: {err}", file=sys.stderr)
        return 2
    print(json.dumps(status, indent=1) if args.json else format_status(status))
    return 0


def _cmd_adopt_course_id(args):
    from .grading.release import find_root
    from .grading.workspace import Workspace
    root = Path(args.root) if args.root else find_root()
    workspace = Workspace(Path(args.workspace) if args.workspace else root / DEFAULT_WORKSPACE, root)
    try:
        names = workspace.adopt_course_id()
    except ValueError as err:
        print(f"bplab adopt-course-id: {err}", file=sys.stderr)
        return 2
    print(f"moved {len(names)} assignment(s) into course {workspace.course_id()!r}: {', '.join(names) or 'none'}")
    return 0


def _cmd_formgrader(args):
    import os
    workspace = _workspace(args)  # its nbgrader_config.py, and the venv's scripts (nbgrader's alembic) on PATH
    inside = workspace.path.is_relative_to(workspace.root)  # formgrader needs its course folder under the server's
    jupyter_args = args.jupyter_args[1:] if args.jupyter_args[:1] == ["--"] else args.jupyter_args
    root_dir = [] if any(a.startswith(("--ServerApp.root_dir", "--notebook-dir")) for a in jupyter_args) else \
        [f"--ServerApp.root_dir={workspace.root if inside else workspace.path}"]
    argv = ["jupyter", "lab", *root_dir, *(["--allow-root"] if os.geteuid() == 0 else []),  # refuses root without it
            *jupyter_args]
    print(f"bplab formgrader: JupyterLab with nbgrader's formgrader on {workspace.path}: open Nbgrader > Formgrader, "
          f"then Manage Submissions to grade the written answers (Ctrl-C stops it)", file=sys.stderr)
    os.chdir(workspace.path)  # formgrader reads nbgrader_config.py from its working folder
    os.execv(Path(sys.executable).with_name("jupyter"), argv)


def _cmd_import_lms(args):
    from .grading.lms_import import import_canvas_zip
    from .grading.reports import ExportError
    workspace = _workspace(args)
    if _unknown_lecture("import-lms", workspace, args.lecture):
        return 2
    try:
        imported = import_canvas_zip(workspace, args.lecture, args.zip, args.roster)
    except ExportError as err:
        print(f"bplab import-lms: {err}", file=sys.stderr)
        return 2
    for line in imported.skipped:
        print(f"bplab import-lms: not imported: {line}", file=sys.stderr)
    for student, name in imported.written.items():
        print(f"{student:<24} {name}")
    print(f"{len(imported.written)} submission(s) of {args.lecture} in {workspace.path / 'submitted'}")
    return EXPORT_NOT_IN_ROSTER if imported.skipped else 0


def _cmd_import_roster(args):
    from .grading.lms_import import import_roster
    from .grading.reports import ExportError
    workspace = _workspace(args)
    try:
        count = import_roster(workspace, args.roster)
    except ExportError as err:
        print(f"bplab import-roster: {err}", file=sys.stderr)
        return 2
    print(f"{count} student(s) in {workspace.db_path}: formgrader shows their names")
    return 0


def _cmd_binder_badge(args):
    from .publish import PublishError, binder_badge, set_binder_badge
    try:
        badge = set_binder_badge(args.readme, args.repository, args.ref) if args.readme else \
            binder_badge(args.repository, args.ref)
    except PublishError as err:
        print(f"bplab binder-badge: {err}", file=sys.stderr)
        return 2
    print(badge)
    if args.readme:
        print(f"bplab binder-badge: wrote the badge into {args.readme}", file=sys.stderr)
    return 0


def _cmd_report(args):
    from .grading.reports import class_report, format_report, score_distribution
    workspace = _workspace(args)
    report = class_report(workspace, top=args.top)
    print(json.dumps(report, indent=1) if args.json else format_report(report, score_distribution(workspace)))
    return 0


def _cmd_similarity(args):
    from .grading.release import find_root
    from .grading.reports import ExportError, check_output_path
    from .grading.similarity import SimilarityError, SimilarityOptions, format_similarity, similarity_report
    from .grading.similarity_html import render_html
    from .grading.workspace import Workspace
    root = Path(args.root) if args.root else find_root()
    path = Path(args.workspace) if args.workspace else root / DEFAULT_WORKSPACE
    if not (path / "gradebook.db").is_file() or not (path / "nbgrader_config.py").is_file():
        print(f"bplab similarity: nothing graded yet in {path} (no gradebook.db; run `bplab grade` first)",
              file=sys.stderr)
        return 2  # checked before Workspace(), which would create the folder and its nbgrader_config.py
    if not 0 < args.threshold <= 1 or args.top < 1:
        print("bplab similarity: --threshold must be above 0 and at most 1, --top at least 1", file=sys.stderr)
        return 2
    try:
        if args.html:
            check_output_path(args.html)
        workspace = Workspace(path, root)
        workspace.check_gradebook()
        report = similarity_report(workspace, args.lecture, SimilarityOptions(threshold=args.threshold, top=args.top))
    except (SimilarityError, ExportError) as err:
        print(f"bplab similarity: {err}", file=sys.stderr)
        return 2
    if args.html:
        try:
            Path(args.html).write_text(render_html(report), encoding="utf-8")
        except OSError as err:
            print(f"bplab similarity: cannot write {args.html}: {err.strerror or err}", file=sys.stderr)
            return 2
        print(f"bplab similarity: wrote {args.html} (leads for a human, not verdicts)", file=sys.stderr)
    print(json.dumps(report.to_json(), indent=1) if args.json else format_similarity(report))
    return 0


def _not_a_notebook(path):
    """Why the file at ``path`` is not a v4 notebook nbformat can read (str), or None when it is one."""
    import nbformat
    text = Path(path).read_bytes()
    if not text.strip():
        return "the file is empty"
    try:
        nbformat.reads(text.decode("utf-8"), as_version=4)
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except json.JSONDecodeError as err:
        return f"not JSON: {err.msg} at line {err.lineno}"
    except Exception as err:  # nbformat's own errors (no nbformat version, unknown version) share no base class
        return str(err).splitlines()[0] if str(err) else type(err).__name__
    return None


def _cmd_check(args):
    from .selfcheck import format_self_check, run_self_check
    if not Path(args.notebook).is_file():
        print(f"bplab check: no notebook {args.notebook}", file=sys.stderr)
        return 2
    problem = _not_a_notebook(args.notebook)
    if problem:
        print(f"bplab check: {args.notebook} is not a Jupyter notebook ({problem})", file=sys.stderr)
        return 2
    verdicts = run_self_check(args.notebook, **({} if args.timeout is None else {"timeout": args.timeout}))
    print(json.dumps(verdicts, indent=1) if args.json else format_self_check(verdicts))
    return 0 if verdicts and all(v["passed"] for v in verdicts) else 1


def _cmd_demo(args):
    from .grading.demo import run_demo
    from .grading.sandbox import SandboxUnavailable
    try:
        return run_demo(workers=args.workers, keep=args.keep)
    except SandboxUnavailable as err:
        print(f"bplab demo: {err}", file=sys.stderr)
        return 2


def _cmd_export_student_repo(args):
    from .grading.release import find_root
    from .publish import PublishError, export_student_repo
    try:
        files = export_student_repo(Path(args.root) if args.root else find_root(), args.directory, binder=args.binder)
    except PublishError as err:
        print(f"bplab export-student-repo: {err}", file=sys.stderr)
        return 2
    print(f"wrote {len(files)} file(s) to {args.directory} (the student edition: no solutions, hidden tests, answer "
          f"catalogs or reference implementations)")
    return 0


def _add_workspace_options(p):
    p.add_argument("--workspace", help=f"instructor workspace (default: {DEFAULT_WORKSPACE}/ in the repository)")
    p.add_argument("--root", help="repository root holding solutions/ (default: found from the current folder)")


def build_parser():
    """Return the argparse parser of `bplab` (one sub-command per instructor/student task)."""
    parser = argparse.ArgumentParser(prog="bplab", description="Backprop Lab: release, check and grade the lecture notebooks.")
    # not `required`: argparse would then answer an unknown option with "COMMAND is required" (main() says both)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("release", help="regenerate course/ from solutions/ with nbgrader",
                       description="Regenerate course/NN-topic/topic.ipynb from solutions/ with nbgrader "
                                   "generate_assignment, and strip outputs from solutions/.")
    p.add_argument("lectures", nargs="*", metavar="LECTURE", help="lecture ids (default: every folder in solutions/)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 naming stale files")
    p.add_argument("--root", help="repository root (default: found from the current folder)")
    p.set_defaults(func=_cmd_release)

    p = sub.add_parser("grade", help="auto-grade submissions (nbgrader, student code in a sandbox, on Dask)",
                       description="Auto-grade submissions: nbgrader autograde runs each notebook once in a "
                                   "bubblewrap sandbox, the checks' outcomes are judged outside it, and the scores "
                                   "go into the workspace gradebook. Submissions already graded with the same "
                                   "content are skipped (see --regrade).")
    p.add_argument("path", help="a notebook, a folder of <student>.ipynb, or nbgrader's submitted/ layout")
    p.add_argument("--lecture", help="lecture id (default: from the layout or the notebook's cells)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes of the local Dask cluster (default: one per 4 submissions to grade, "
                        "at most the number of cores)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="send each submission as a task to this existing Dask scheduler instead")
    p.add_argument("--regrade", action="store_true",
                   help="grade again what is already graded with the same content and grader version")
    p.add_argument("--student", metavar="ID", help="(re)grade only this student's submission")
    add_setting_flags(p)
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_grade)

    p = sub.add_parser("feedback", help="generate feedback HTML (no hidden tests) for graded submissions",
                       description="Run nbgrader generate_feedback on autograded submissions; hidden tests and "
                                   "their tracebacks are removed and every page is scanned for hidden-test source.")
    p.add_argument("lectures", nargs="*", metavar="LECTURE", help="lecture ids (default: every graded lecture)")
    p.add_argument("--processes", type=int, default=2, help="nbgrader processes at once, each with a share "
                                                             "of the students (default 2)")
    p.add_argument("--release", action="store_true",
                   help="then release the pages through nbgrader's exchange (nbgrader release_feedback)")
    p.add_argument("--before-manual-grading", action="store_true",
                   help="write the pages although written answers still wait to be graded by hand (they show 0)")
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_feedback)

    p = sub.add_parser("assign", help="release a lecture to the students through nbgrader's exchange",
                       description="Generate the lecture's assignment in the workspace, set its due date and run "
                                   "nbgrader release_assignment. The exchange (c.Exchange.root, "
                                   "c.CourseDirectory.course_id in the workspace's nbgrader_config.py) must be "
                                   "mode 1777; a missing one is created so.")
    p.add_argument("lecture", metavar="LECTURE")
    p.add_argument("--due", metavar="DATE", help='due date, e.g. "2026-12-08 23:59:00 UTC" (no zone: UTC)')
    p.add_argument("--past-due", action="store_true",
                   help="accept a due date in the past (closes the assignment: later submissions are late)")
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_assign)

    p = sub.add_parser("extend", help="give one student a later due date for a lecture (no late penalty until then)",
                       description="Store an extension of LECTURE's due date for STUDENT in the gradebook (nbgrader's "
                                   "own extension); `bplab grade` counts that student late only after --until.")
    p.add_argument("lecture", metavar="LECTURE")
    p.add_argument("student", metavar="STUDENT")
    p.add_argument("--until", metavar="DATE", required=True, help='the student\'s due date, e.g. "2026-12-10 23:59:00 UTC"')
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_extend)

    p = sub.add_parser("collect", help="collect each student's latest submission from nbgrader's exchange",
                       description="Set aside submissions whose owner is not the student they name, then run "
                                   "nbgrader collect --update into the workspace's submitted/.")
    p.add_argument("lecture", metavar="LECTURE")
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_collect)

    p = sub.add_parser("export", help="write grades to CSV: per student x lecture, for Canvas, or per test",
                       description="Write the grades to a CSV file. --format csv (default): score, max_score, "
                                   "flagged, needs_manual_grading and status per student x lecture. canvas: "
                                   "Canvas's gradebook import CSV, one column per lecture. long: one row per "
                                   "student x graded cell with its exercise, diagnosis and score, for pandas.",
                       epilog=f"Exit codes: 0 written; 2 bad input (nothing written); {EXPORT_NOT_IN_ROSTER} "
                              "written, but graded students are missing from --roster (listed on stderr, their "
                              "rows have empty Canvas ids).")
    p.add_argument("file", help="CSV file to write (replaced whole, or left as it was on an error)")
    p.add_argument("--format", choices=("csv", "canvas", "long", "html"), default="csv",
                   help="what to write (default csv; html: one web page of the class's grades, mistakes and spread)")
    p.add_argument("--roster", metavar="ROSTER.csv",
                   help="canvas only: who each student is in Canvas, either a CSV with student_id (the nbgrader "
                        "id) and any of name, canvas_id, sis_user_id, sis_login_id, section, or Canvas's own "
                        "gradebook export (its SIS Login ID is taken as the nbgrader id)")
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("report", help="class pass rates and most common mistakes per exercise",
                       description="For each exercise: the class pass rate and the most common diagnoses.")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--top", type=int, default=3, help="diagnoses listed per exercise")
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("similarity", help="leads for a human: pairs with similar answer code, shared rare mistakes",
                       description="For the graded submissions of LECTURE: pairs of students ranked by the similarity "
                                   "of their answer cells (copydetect's winnowing; the released notebook, the "
                                   "course's hints and the class's common idiom subtracted), groups sharing a rare "
                                   "mistake on an exercise most passed, and answers reproducing the library's or the "
                                   "catalog's code. Only reads the workspace. Leads for a human, never verdicts.")
    p.add_argument("lecture", metavar="LECTURE")
    p.add_argument("--json", action="store_true", help="print the report as JSON (every pair at or above the threshold)")
    p.add_argument("--html", metavar="FILE", help="also write the report as one HTML page, pairs side by side")
    p.add_argument("--threshold", type=float, default=0.5,
                   help="list pairs whose score (the smaller share of each one's answer code the other matches) "
                        "is at least this (default 0.5)")
    p.add_argument("--top", type=int, default=30, help="pairs shown in the text and HTML report (default 30)")
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_similarity)

    p = sub.add_parser("check", help="self-check a notebook: run it and show each exercise's verdict",
                       description="Run NOTEBOOK in a fresh kernel and print each check's verdict and diagnosis; "
                                   "exit 1 if any check fails.")
    p.add_argument("notebook")
    p.add_argument("--json", action="store_true", help="print the verdicts as JSON")
    p.add_argument("--timeout", type=int, default=None, help="seconds per cell (default: the self-check's own limit)")
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("demo", help="release, grade sample submissions and show the class report",
                       description="In a temporary workspace: release lecture 04, grade sample submissions "
                                   "(correct, typical mistakes, a cheat, a crash), print the grade table and report.")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--keep", action="store_true", help="keep the temporary workspace and print its path")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("export-student-repo", help="write the repository students may see (no answers)",
                       description="Write the student repository into DIRECTORY (new or empty): course/, binder/, "
                                   "the student edition of the library (graded functions by PyTorch, checks from "
                                   "data), the student README, licence and Makefile; solutions/, the NumPy "
                                   "references, the grader and instructor files stay out.")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--binder", metavar="ORG/REPO",
                   help="the GitHub repository the export goes to: its README's Binder badge points there")
    p.add_argument("--root", help="repository root (default: found from the current folder)")
    p.set_defaults(func=_cmd_export_student_repo)

    p = sub.add_parser("status", help="per lecture: submitted, graded, out of date, flagged, manual grading, feedback",
                       description="Per lecture, count the students who submitted (the workspace's submitted/), "
                                   "are graded, have a grade out of date (the notebook changed since), are flagged, "
                                   "need manual grading and have feedback; then name who to act on.")
    p.add_argument("lectures", nargs="*", metavar="LECTURE", help="lecture ids (default: every lecture)")
    p.add_argument("--json", action="store_true", help="print the status as JSON (student ids per lecture)")
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("adopt-course-id", help="move a gradebook graded before course_id was set into that course",
                       description="Set the course id of the gradebook's assignments that have none (graded before "
                                   "c.CourseDirectory.course_id was added to nbgrader_config.py) to the configured one.")
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_adopt_course_id)

    p = sub.add_parser("formgrader", help="open JupyterLab with nbgrader's formgrader on the workspace (manual grading)",
                       description="Start the instructors' JupyterLab in the workspace, with its nbgrader_config.py "
                                   "and this environment's programs: Nbgrader > Formgrader lists the graded lectures "
                                   "and their submissions, whose written answers you grade by hand there. The "
                                   "repository is the server's root, so solutions/ is open in the same JupyterLab.")
    p.add_argument("jupyter_args", nargs=argparse.REMAINDER, metavar="-- JUPYTER_OPTION",
                   help="options for jupyter lab, after --, e.g. -- --port=8890 --no-browser")
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_formgrader)

    p = sub.add_parser("import-lms", help="put Canvas's submissions zip into submitted/ under the roster's ids",
                       description="Read Canvas's \"Download Submissions\" zip of a lecture and write each student's "
                                   "notebook to the workspace's submitted/<student>/<lecture>/, the student being the "
                                   "roster's student_id of the Canvas user id in the file's name.",
                       epilog=f"Exit codes: 0 all imported; 2 bad input (nothing written); {EXPORT_NOT_IN_ROSTER} "
                              "imported, but files were left out (listed on stderr: not in the roster, not a notebook).")
    p.add_argument("lecture", metavar="LECTURE")
    p.add_argument("zip", metavar="SUBMISSIONS.zip")
    p.add_argument("--roster", metavar="ROSTER.csv", required=True,
                   help="CSV with student_id (the nbgrader id) and canvas_id (Canvas's user id), as for export")
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_import_lms)

    p = sub.add_parser("import-roster", help="add the roster's students (names, Canvas ids) to the gradebook",
                       description="Add or update each student of ROSTER.csv (student_id, name, canvas_id, ...) in "
                                   "nbgrader's gradebook, so formgrader and nbgrader's exports show their names.")
    p.add_argument("roster", metavar="ROSTER.csv")
    _add_workspace_options(p)
    p.set_defaults(func=_cmd_import_roster)

    p = sub.add_parser("binder-badge", help="print (or write into a README) the Binder badge of a repository",
                       description="Print the markdown of the Binder badge that opens course/ of the GitHub "
                                   "repository ORG/REPO in JupyterLab; with --readme, rewrite that README's badge "
                                   "line in place and drop the placeholder sentence after it.")
    p.add_argument("repository", metavar="ORG/REPO", help="the public GitHub repository students open")
    p.add_argument("--ref", default="HEAD", help="branch, tag or commit (default: HEAD, the default branch)")
    p.add_argument("--readme", metavar="PATH", help="rewrite the badge line of this README in place")
    p.set_defaults(func=_cmd_binder_badge)
    return parser


def _commands(parser):
    return next(a for a in parser._actions if a.dest == "command").choices


def main(argv=None):
    """Run `bplab` with ``argv`` (default: sys.argv[1:]) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors, naming an unknown option
    if args.command is None:
        parser.error(f"a COMMAND is required, one of: {', '.join(_commands(parser))}")
    try:
        return args.func(args)
    except ForeignGradebook as err:
        print(f"bplab {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
