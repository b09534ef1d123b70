"""A whole term through nbgrader's exchange, with real Unix student accounts: README's instructor guide,
run as written.

The instructor (this process's user, root) and three students, each a real account made with useradd
and a private home:
- ``ana.lopez`` submits correct answers on time;
- ``o.brien-2`` submits twice before the due date: first with two mistakes, then with one (the typical
  missing 1/m in dense_backward); the latest is graded;
- ``Kim_3`` submits correct answers after the due date, and pokes at the exchange: lists other
  students' submissions and feedback, reads a classmate's home and the instructor's workspace, renames
  the course folder away, and forges a newer "submission" for ana.lopez.

The commands come from README's section "A term on a JupyterHub, through nbgrader's exchange": its
bash and python blocks, with only the exchange folder, the due date and `bplab` (this interpreter's) put
in. The students leave the written answers as released, which score 0 at once: nothing waits for formgrader.
The transcript (every command, as whom, and what it printed) goes to
test-artifacts/term-transcript.txt.
"""
from __future__ import annotations

import csv
import io
import json
import re
import shlex
import shutil
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from backproplab.grading.redact import is_hidden_test_source, leaked_lines, secret_lines
from backproplab.grading.store import load_submissions
from catalog_helpers import catalog
from cli_command import bplab_command
from unix_accounts import StudentAccounts, can_create_accounts, run_as, student_python

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
LECTURE = "04-backprop"
NOTEBOOK = "backprop.ipynb"
README_EXCHANGE = "/srv/nbgrader/exchange"
README_DUE = "2026-12-08 23:59:00 UTC"
SECTION = "### A term on a JupyterHub, through nbgrader's exchange"
ON_TIME, TWICE, LATE = "ana.lopez", "o.brien-2", "Kim_3"
ROSTER = f"""student_id,name,canvas_id,sis_user_id,sis_login_id,section
{ON_TIME},"Lopez, Ana",1001,S-1001,alopez,Mon lab
{TWICE},"O'Brien, Pat",1002,S-1002,pobrien,Tue lab
"""

FILL_ANSWERS = '''\
"""Put answers into a notebook's answer cells, as a student typing them in JupyterLab would (which saves
the notebook as JSON indented by 1; plain json: nbformat's schema costs each student a second)."""
import json, sys
answers = json.load(open(sys.argv[1]))
with open(sys.argv[2]) as f:
    nb = json.load(f)
for cell in nb["cells"]:
    meta = cell["metadata"].get("nbgrader", {})
    if meta.get("solution") and not meta.get("grade") and meta.get("grade_id") in answers:
        cell["source"] = answers[meta["grade_id"]]
with open(sys.argv[2], "w") as f:
    json.dump(nb, f, indent=1)
'''

# What Kim_3 tries; each prints "allowed" or "denied: <error>".
SNOOP = '''\
import json, os, shutil, sys
targets = json.loads(sys.argv[1])
def attempt(action, undo=None):
    try:
        action()
    except OSError as err:
        return f"denied: {err.strerror}"
    if undo:
        undo()
    return "allowed"
def rename(path):
    return lambda: os.rename(path, path + "-mine")
def rename_back(path):
    return lambda: os.rename(path + "-mine", path)
print(json.dumps({
    "list inbound": attempt(lambda: os.listdir(targets["inbound"])),
    "list released feedback": attempt(lambda: os.listdir(targets["feedback"])),
    "read a classmate's home": attempt(lambda: os.listdir(targets["classmate_home"])),
    "list the instructor's workspace": attempt(lambda: os.listdir(targets["workspace"])),
    "rename the course folder": attempt(rename(targets["course"]), rename_back(targets["course"])),
    "rename a course folder under 0777": attempt(rename(targets["course_0777"]), rename_back(targets["course_0777"])),
}))
'''


def _readme_blocks():
    """The fenced blocks of README's term section, in order: [(language, text)]."""
    text = (REPO / "README.md").read_text()
    section = text[text.index(SECTION):]
    following = re.search(r"\n#{1,3} ", section[len(SECTION):])
    section = section[:len(SECTION) + following.start()] if following else section
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)


def _readme_commands(prefix):
    """README's command lines of the term section that start with ``prefix``, comments removed, as argv lists."""
    lines = [line for lang, block in _readme_blocks() if lang == "bash" for line in block.splitlines()]
    return [shlex.split(line, comments=True) for line in lines if line.startswith(prefix)]


def _readme_config(instructor):
    """README's nbgrader_config.py lines: the instructor's (the one with the late policy) or the students'."""
    (block,) = [text for lang, text in _readme_blocks() if lang == "python" and ("AssignLatePenalties" in text) == instructor]
    return block


def _nbgrader_timestamp(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f UTC")


class Term:
    """The people of one term, their commands and a transcript of what each saw."""

    def __init__(self, base, python):
        self.base, self.python = base, python
        self.exchange = base / "exchange"
        self.instructor_repo = base / "instructor" / "backprop-lab"
        self.workspace = self.instructor_repo / "autograder"
        self.homes = {}
        self.transcript = []

    def _log(self, who, argv, proc, started):
        shown = " ".join(shlex.quote(str(a)) for a in argv)
        self.transcript.append(f"[{who}]$ {shown}\n(exit {proc.returncode}, {time.monotonic() - started:.1f} s)\n"
                               f"{proc.stdout}{proc.stderr}".rstrip())
        return proc

    def _substitute(self, argv):
        return [str(self.exchange) if a == README_EXCHANGE else a for a in argv]

    def instructor(self, argv):
        """Run a README command line as the instructor, in the instructor's repository."""
        argv = self._substitute(argv)
        real = bplab_command(*argv[1:]) if argv[0] == "bplab" else argv
        started = time.monotonic()
        proc = subprocess.run(real, cwd=self.instructor_repo, capture_output=True, text=True, timeout=900)
        return self._log("instructor", argv, proc, started)

    def shell_as_root(self, line):
        started = time.monotonic()
        proc = subprocess.run(["bash", "-c", line], capture_output=True, text=True)
        return self._log("root", [line], proc, started)

    def student(self, name, argv):
        """Run a README student command (``nbgrader ...``) or a helper script as the student ``name``."""
        real = [self.python, "-m", "nbgrader", *argv[1:]] if argv[0] == "nbgrader" else argv
        started = time.monotonic()
        proc = run_as(name, self.homes[name], real)
        return self._log(name, argv, proc, started)

    def give(self, name, filename, text):
        """Put a file into the student's home, owned by them (what they would type or download)."""
        path = self.homes[name] / filename
        path.write_text(text)
        shutil.chown(path, name, name)
        return path


def _answers(wrong=()):
    """Lecture 04's correct answers with the catalog's ``wrong`` variants (names) in their place."""
    answers = dict(catalog(LECTURE).ANSWERS)
    for name in wrong:
        variant = next(v for v in catalog(LECTURE).VARIANTS if v.name == name)
        answers[variant.exercise] = variant.source
    return answers


def _each_student(action, names):
    """Run ``action(name)`` for every student at once, as a class would; return {name: result}."""
    with ThreadPoolExecutor(len(names)) as pool:
        return dict(zip(names, pool.map(action, names)))


def _fill_and_submit(term, name, answers):
    (submit_cmd,) = _readme_commands("nbgrader submit")
    answers_file = term.give(name, "answers.json", json.dumps(answers))
    fill = term.student(name, [term.python, str(term.base / "fill_answers.py"), str(answers_file),
                               str(term.homes[name] / LECTURE / NOTEBOOK)])
    assert fill.returncode == 0, term.transcript[-1]
    proc = term.student(name, submit_cmd)
    assert proc.returncode == 0, term.transcript[-1]
    return proc


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """Run the whole term once; yield what each party ended up with."""
    why_not = can_create_accounts()
    if why_not:
        pytest.skip(f"the term test needs real Unix accounts: {why_not}")
    base = Path(subprocess.run(["mktemp", "-d", "/tmp/bplab-term-XXXXXX"], capture_output=True, text=True,
                               check=True).stdout.strip())
    base.chmod(0o755)
    try:
        with StudentAccounts(base) as accounts:
            yield _run_term(base, accounts)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run_term(base, accounts):
    term = Term(base, student_python(base / "student-python"))
    (base / "fill_answers.py").write_text(FILL_ANSWERS)
    (base / "snoop.py").write_text(SNOOP)
    # The instructor's checkout: private, with the course's solutions and the committed workspace config.
    term.instructor_repo.mkdir(parents=True)
    (base / "instructor").chmod(0o700)
    (term.instructor_repo / "solutions").symlink_to(REPO / "solutions")
    term.workspace.mkdir()
    config = term.workspace / "nbgrader_config.py"
    config.write_text((REPO / "autograder" / "nbgrader_config.py").read_text() + "\n" +
                      _readme_config(instructor=True).replace(README_EXCHANGE, str(term.exchange)))
    for name in (ON_TIME, TWICE, LATE):
        term.homes[name] = accounts.add(name)
        jupyter = term.homes[name] / ".jupyter"
        jupyter.mkdir()
        (jupyter / "nbgrader_config.py").write_text(
            _readme_config(instructor=False).replace(README_EXCHANGE, str(term.exchange)))
        subprocess.run(["chown", "-R", f"{name}:{name}", str(jupyter)], check=True)

    (assign,) = _readme_commands("bplab assign")
    week_ahead = (datetime.now(timezone.utc) + timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S UTC")
    assign_now = [week_ahead if a == README_DUE else a for a in assign]
    # nbgrader's own default: an exchange writable by all, without the sticky bit. bplab refuses it.
    term.exchange.mkdir(mode=0o777)
    term.exchange.chmod(0o777)
    refused = term.instructor(assign_now)
    (setup,) = [block for lang, block in _readme_blocks() if lang == "bash" and "chmod 1777" in block]
    root_setup = term.shell_as_root(setup.strip().replace(README_EXCHANGE, str(term.exchange)))
    released = term.instructor(assign_now)
    assert released.returncode == 0, term.transcript[-1]

    (fetch,) = _readme_commands("nbgrader fetch_assignment")
    fetched_assignment = _each_student(lambda name: term.student(name, fetch), list(term.homes))
    assert all(proc.returncode == 0 for proc in fetched_assignment.values()), term.transcript
    typical = "dW-without-1/m"
    on_time = {ON_TIME: [_answers()], TWICE: [_answers([typical, "dB-no-keepdims"]), _answers([typical])]}

    def work_on_time(name):
        stamps = []
        for answers in on_time[name]:  # o.brien-2 submits, then submits again
            _fill_and_submit(term, name, answers)
            stamps.append(_cached_timestamps(term, name))
        return stamps
    first_stamps = _each_student(work_on_time, list(on_time))[TWICE][0]

    # The due date passes: the instructor moves it to now, as README says `bplab assign --due --past-due` does
    # (the moment is past by the time bplab reads it).
    due = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    moved = term.instructor([due.strftime("%Y-%m-%d %H:%M:%S UTC") if a == README_DUE else a for a in assign] +
                            ["--past-due"])
    assert moved.returncode == 0, term.transcript[-1]
    while datetime.now(timezone.utc) <= due:
        time.sleep(0.1)
    _fill_and_submit(term, LATE, _answers())

    # Kim_3 pokes at the exchange, then forges a newer submission in ana.lopez's name.
    course = term.exchange / "backprop-lab"
    scratch = base / "scratch-0777"
    (scratch / "backprop-lab").mkdir(parents=True)
    scratch.chmod(0o777)
    targets = {"inbound": str(course / "inbound"), "feedback": str(course / "feedback"),
               "classmate_home": str(term.homes[ON_TIME]), "workspace": str(term.workspace),
               "course": str(course), "course_0777": str(scratch / "backprop-lab")}
    snooped = term.student(LATE, [term.python, str(base / "snoop.py"), json.dumps(targets)])
    forged_name = f"{ON_TIME}+{LECTURE}+{_nbgrader_timestamp(datetime.now(timezone.utc) + timedelta(minutes=5))}+x"
    forged = term.student(LATE, ["bash", "-c", f"mkdir {shlex.quote(str(course / 'inbound' / forged_name))} && "
                                 f"cp {LECTURE}/{NOTEBOOK} {shlex.quote(str(course / 'inbound' / forged_name))}/"])

    after_due = {}
    for argv in _readme_commands("bplab collect") + _readme_commands("bplab grade") + \
            _readme_commands("bplab feedback") + _readme_commands("bplab status"):
        after_due[argv[1]] = term.instructor(argv)
    # The registrar's roster knows two of the three: Kim_3 joined late and is missing from it.
    (term.instructor_repo / "roster.csv").write_text(ROSTER)
    exports, export_files = {}, {}
    for argv in _readme_commands("bplab export"):
        kind, written = argv[argv.index("--format") + 1], term.instructor_repo / argv[-1]
        exports[kind] = term.instructor(argv)
        export_files[kind] = written.read_text() if written.exists() else ""
        term.transcript.append(f"[instructor]$ cat {argv[-1]}\n{export_files[kind]}".rstrip())

    (fetch_feedback,) = _readme_commands("nbgrader fetch_feedback")
    fetched = _each_student(lambda name: term.student(name, fetch_feedback), list(term.homes))
    snooped_after = term.student(LATE, [term.python, str(base / "snoop.py"), json.dumps(targets)])
    pages = {name: sorted((home / LECTURE / "feedback").glob(f"*/{NOTEBOOK.replace('.ipynb', '.html')}"))
             for name, home in term.homes.items()}
    record = {
        "refused": refused, "root_setup": root_setup, "released": released, "moved": moved, "due": due,
        "first_stamps": first_stamps, "cached_stamps": {n: _cached_timestamps(term, n) for n in term.homes},
        "snooped": json.loads(snooped.stdout), "snooped_after": json.loads(snooped_after.stdout),
        "forged": forged, "forged_name": forged_name, "after_due": after_due, "graded": _graded_rows(term.workspace),
        "exports": exports, "export_files": export_files, "fetched": fetched,
        "pages": {n: [p.read_text() for p in found] for n, found in pages.items()},
        "page_paths": pages, "gradebook": _gradebook(term.workspace), "workspace": term.workspace,
        "inbound": sorted(p.name for p in (course / "inbound").iterdir()), "homes": dict(term.homes),
    }
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "term-transcript.txt").write_text("\n\n".join(term.transcript) + "\n")
    return record


def _cached_timestamps(term, name):
    """The timestamps of ``name``'s submissions, from nbgrader's cache in their home."""
    cache = term.homes[name] / ".local" / "share" / "jupyter" / "nbgrader_cache" / "backprop-lab"
    return sorted(p.name.split("+")[2] for p in cache.glob(f"*+{LECTURE}+*"))


def _graded_rows(workspace):
    """What `bplab grade` stored per student (the sidecar table): score after the penalty, penalty, flags."""
    return {row["student"]: row for row in load_submissions(workspace / "gradebook.db") if row["lecture"] == LECTURE}


def _gradebook(workspace):
    """What nbgrader's gradebook holds per student: score, max, late penalty, submission timestamp."""
    from nbgrader.api import Gradebook

    found = {}
    with Gradebook(f"sqlite:///{workspace / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(LECTURE):
            # nbgrader's score is before the late penalty; its own export subtracts it
            found[sub.student_id] = {"score": max(0.0, sub.score - (sub.late_submission_penalty or 0.0)),
                                     "max_score": sub.max_score,
                                     "late_penalty": sub.late_submission_penalty or 0.0,
                                     "timestamp": sub.timestamp, "auto": sub.code_score}
    with sqlite3.connect(workspace / "gradebook.db") as conn:
        for student, diagnoses in conn.execute(
                "SELECT student, group_concat(diagnosis) FROM bplab_verdicts WHERE lecture=? AND NOT passed "
                "GROUP BY student", (LECTURE,)):
            found[student]["diagnoses"] = sorted(set(diagnoses.split(",")))
    return found


# ---------------------------------------------------------------------------------------
# The exchange's safety.

def test_bplab_assign_refuses_nbgraders_world_writable_exchange(term):
    """Does `bplab assign` refuse an exchange that is 0777 without the sticky bit, naming the fix, and
    does README's root step fix it?"""
    assert term["refused"].returncode == 2, term["refused"].stderr
    assert "chmod 1777" in term["refused"].stderr
    assert term["root_setup"].returncode == 0
    assert term["released"].returncode == 0, term["released"].stderr


def test_a_student_cannot_read_classmates_or_the_instructor(term):
    """With README's settings, is every read of another's work denied to a student, and the course folder
    safe from renaming, while nbgrader's 0777 default would have let them take it over?"""
    for snooped in (term["snooped"], term["snooped_after"]):
        denied = {action: result for action, result in snooped.items() if action != "rename a course folder under 0777"}
        assert all(result.startswith("denied") for result in denied.values()), snooped
        assert snooped["rename a course folder under 0777"] == "allowed"  # the leak the sticky bit closes
    assert term["forged"].returncode == 0, term["forged"].stderr  # inbound/ is writable by all, as nbgrader needs


def test_a_forged_submission_is_set_aside_and_the_real_one_graded(term):
    """Does `bplab collect` set aside the folder Kim_3 made in ana.lopez's name, say so, and grade ana.lopez's own?"""
    collect = term["after_due"]["collect"]
    assert collect.returncode == 0, collect.stderr
    assert f"claims to be from {ON_TIME} but belongs to {LATE}" in collect.stderr
    assert ".forged+" + term["forged_name"] in term["inbound"]
    assert term["gradebook"][ON_TIME]["timestamp"] < term["due"].replace(tzinfo=None)
    assert term["gradebook"][ON_TIME]["score"] == term["gradebook"][ON_TIME]["max_score"] - _manual_points()


# ---------------------------------------------------------------------------------------
# Grades.

def _manual_points():
    nb = nbformat.read(REPO / "solutions" / LECTURE / NOTEBOOK, as_version=4)
    return sum(c.metadata["nbgrader"].get("points", 0) for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade") and c.metadata["nbgrader"].get("solution"))


def test_every_student_graded_once_in_the_gradebook(term):
    """Are exactly the three students in nbgrader's gradebook, each once, with the scores `bplab grade` decided,
    none flagged?"""
    assert term["after_due"]["grade"].returncode == 0, term["after_due"]["grade"].stderr
    assert sorted(term["graded"]) == sorted(term["gradebook"]) == sorted([ON_TIME, TWICE, LATE])
    for student, row in term["gradebook"].items():
        assert row["score"] == pytest.approx(term["graded"][student]["score"]), student
        assert not term["graded"][student]["flagged"], term["graded"][student]["flag_reasons"]


def test_the_latest_of_two_submissions_is_graded(term):
    """Is o.brien-2 graded on the second submission (one mistake), not the first (two)?"""
    first, = term["first_stamps"]
    assert len(term["cached_stamps"][TWICE]) == 2
    latest = max(term["cached_stamps"][TWICE])
    assert latest > first
    assert term["gradebook"][TWICE]["timestamp"].strftime("%Y-%m-%d %H:%M:%S") == latest[:19]
    assert term["gradebook"][TWICE]["diagnoses"] == ["missing-mean"]


def test_a_late_submission_loses_ten_percent(term):
    """Is Kim_3's correct but late submission scored 10% below full, with the penalty in the gradebook,
    bplab's record and the grade table, while the on-time ones have none?"""
    late = term["gradebook"][LATE]
    assert late["timestamp"] > term["due"].replace(tzinfo=None)
    assert late["late_penalty"] == pytest.approx(0.1 * late["auto"])
    assert late["score"] == pytest.approx(0.9 * late["auto"])
    assert term["graded"][LATE]["late_penalty"] == pytest.approx(late["late_penalty"])
    assert term["gradebook"][ON_TIME]["late_penalty"] == term["gradebook"][TWICE]["late_penalty"] == 0
    table = term["after_due"]["grade"].stdout
    assert f"(late: -{late['late_penalty']:g})" in next(line for line in table.splitlines() if line.startswith(LATE))


# ---------------------------------------------------------------------------------------
# Feedback.

def test_each_student_fetches_only_their_own_feedback(term):
    """Does each student's `nbgrader fetch_feedback` bring exactly one page, of their latest submission, with
    their own result: the diagnosis for o.brien-2, none for ana.lopez?"""
    assert term["after_due"]["feedback"].returncode == 0, term["after_due"]["feedback"].stderr
    for name, proc in term["fetched"].items():
        assert proc.returncode == 0, proc.stderr
        assert len(term["pages"][name]) == 1, (name, term["page_paths"][name])
    assert term["page_paths"][TWICE][0].parent.name == max(term["cached_stamps"][TWICE])
    assert "missing-mean" in term["pages"][TWICE][0]
    assert "missing-mean" not in term["pages"][ON_TIME][0]
    for name, home in term["homes"].items():
        owner = {p.owner() for p in (home / LECTURE / "feedback").rglob("*")}
        assert owner == {name}


def test_no_feedback_page_shows_hidden_test_source(term):
    source = nbformat.read(REPO / "solutions" / LECTURE / NOTEBOOK, as_version=4)
    released = nbformat.read(REPO / "course" / LECTURE / NOTEBOOK, as_version=4)
    lines = secret_lines([c.source for c in source.cells if is_hidden_test_source(c.source)],
                         [c.source for c in released.cells])
    assert lines
    for name, pages in term["pages"].items():
        assert leaked_lines(pages[0], lines) == [], name
        assert "Hidden test of dense_backward" in pages[0]  # the hidden test's verdict is there, its code is not


def test_status_counts_the_term(term):
    """Does `bplab status` count three submitted and graded, none out of date or flagged, none waiting for manual
    grading (the written answers were left as released: 0 at once) and three feedback pages, none stale?"""
    status = term["after_due"]["status"]
    assert status.returncode == 0, status.stderr
    assert re.search(rf"^{LECTURE}\s+3\s+3\s+0\s+0\s+0\s+3$", status.stdout, flags=re.M), status.stdout
    assert "feedback older" not in status.stdout


def test_canvas_export_maps_the_roster_and_reports_who_is_missing(term):
    """Does the Canvas file carry Canvas's header, the roster's ids with each final score (late penalty taken),
    and Kim_3, missing from the roster, still written and named on stderr with exit code 3?"""
    proc = term["exports"]["canvas"]
    assert proc.returncode == 3, proc.stderr
    assert LATE in proc.stderr and ON_TIME not in proc.stderr
    rows = list(csv.reader(io.StringIO(term["export_files"]["canvas"])))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", LECTURE]
    assert rows[1][0] == "Points Possible"
    by_login = {row[3] or row[0]: row for row in rows[2:]}
    assert by_login["alopez"][:5] == ["Lopez, Ana", "1001", "S-1001", "alopez", "Mon lab"]
    for login, student in (("alopez", ON_TIME), ("pobrien", TWICE), (LATE, LATE)):
        assert float(by_login[login][5]) == pytest.approx(term["gradebook"][student]["score"]), student
    assert by_login[LATE][1:3] == ["", ""]


def test_long_export_has_a_row_per_graded_cell_with_the_diagnosis(term):
    proc = term["exports"]["long"]
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(term["export_files"]["long"])))
    assert {r["student"] for r in rows} == {ON_TIME, TWICE, LATE}
    wrong = [(r["exercise"], r["diagnosis"]) for r in rows if r["student"] == TWICE and r["passed"] == "False"]
    assert wrong and set(wrong) == {("dense_backward", "missing-mean")}


def test_readme_names_every_step_the_term_ran():
    """Is every instructor and student command of the test one of README's (the test reads them from there)?"""
    verbs = {tuple(argv[:2]) for argv in _readme_commands("bplab") + _readme_commands("nbgrader")}
    assert {("bplab", v) for v in ("assign", "collect", "grade", "feedback", "status", "export")} <= verbs
    assert {("nbgrader", v) for v in ("fetch_assignment", "submit", "fetch_feedback")} <= verbs
