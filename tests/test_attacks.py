"""Red team: every hostile submission of tests/attack_catalog.py graded in ONE real `bplab grade` batch.

The batch (the attacks, plus two honest controls) runs once per session through the real CLI
(``python -m backproplab.cli grade FOLDER --json --workers 2 ...``), then `bplab feedback`. Around
it the session fixture plants canaries (a file in the workspace, one beside and one inside the
submissions folder, one in host /tmp, an environment variable of the grading process, a markdown
cell in the correct control's notebook), opens listeners on 127.0.0.1 (TCP, UDP, a unix socket
in /tmp, an abstract unix socket, and 8786/8787/8888 when free), records signals sent to the test
process, and afterwards scans the host for the attacks' marked processes and files. Everything
it saw is stored in one JSON file shared by xdist workers (FileLock, as test_grading_pipeline.py).

Tests, one per attack and assertion key (see attack_catalog's docstring), then batch-wide ones:
the controls' exact scores, canaries, listeners, signals, orphans, workspace files, feedback.

Debugging the harness: ``BPLAB_REDTEAM_ONLY=slug,slug`` grades only those attacks (others skip);
``BPLAB_REDTEAM_RESULTS=<basetemp>/bplab-redteam-batch/redteam.json`` re-runs the assertions over
a batch already graded (nothing is graded again).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from filelock import FileLock
from nbformat.v4 import new_markdown_cell

from attack_catalog import ATTACKS, OUTSIDE, POINTS, PROCESSES, SECRETS, TARGET, Context, wrong_control_answers
from backproplab.grading.notebooks import read_notebook
from backproplab.grading.redact import is_hidden_test_source, leaked_lines, secret_lines
from backproplab.grading.submissions import build_submission, write_notebook
from catalog_helpers import catalog
from cli_command import bplab_command

REPO = Path(__file__).resolve().parents[1]
LECTURE = "04-backprop"
SOURCE = REPO / "solutions" / LECTURE / "backprop.ipynb"
RELEASED = REPO / "course" / LECTURE / "backprop.ipynb"
COURSE_SECRET = "0123456789abcdef" * 4
BATCH_TIMEOUT = 1500          # seconds the whole `bplab grade` batch may take (asserted)
BATCH_KILL = 2400             # ... and when it is killed (later, so that a slow batch still reports)
FEEDBACK_TIMEOUT = 900
# Lecture 04's slowest cell takes 0.6 s alone and its kernel about 3 CPU seconds: 10 s and 30 s leave a busy
# machine room, and an attack that runs out the clock (sleeps, spins, forks burners) costs the suite less.
CELL_TIMEOUT, KERNEL_CPU_SECONDS = "10", "30"
CORRECT, WRONG = "control-correct", "control-wrong"
EVIDENCE_MARK = "BPLAB-" + "EVIDENCE"
pytestmark = pytest.mark.slow

_ONLY = {s for s in os.environ.get("BPLAB_REDTEAM_ONLY", "").split(",") if s}
SELECTED = [a for a in ATTACKS if not _ONLY or a.slug in _ONLY]
ALLOWED_WORKSPACE_TOP = {"autograded", "feedback", "source", "release", "gradebook.db", "nbgrader_config.py",
                         "canary.txt"}


# ---------------------------------------------------------------- the listeners and the signal recorder

class Listeners:
    """TCP, UDP, unix and abstract sockets on the host's loopback; every contact is recorded."""

    def __init__(self, run):
        self.events, self.stop, self.sockets = [], threading.Event(), {}
        self.selector = selectors.DefaultSelector()
        self.unix_path = f"/tmp/bplab-redteam-{run}.sock"
        self.abstract = f"bplab-redteam-{run}"
        tcp = self._listen(socket.AF_INET, ("127.0.0.1", 0), "tcp")
        self.port = tcp.getsockname()[1]
        self.bound_extra = []
        for port in (8786, 8787, 8888):   # where a Jupyter or Dask server would be, when free
            try:
                self._listen(socket.AF_INET, ("127.0.0.1", port), f"tcp:{port}")
                self.bound_extra.append(port)
            except OSError:
                pass
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", 0))
        udp.setblocking(False)
        self.udp_port = udp.getsockname()[1]
        self.selector.register(udp, selectors.EVENT_READ, "udp")
        self._listen(socket.AF_UNIX, self.unix_path, "unix")
        os.chmod(self.unix_path, 0o777)
        self._listen(socket.AF_UNIX, "\0" + self.abstract, "abstract")
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _listen(self, family, address, kind):
        s = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_INET:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(address)
        s.listen(64)
        s.setblocking(False)
        self.selector.register(s, selectors.EVENT_READ, kind)
        return s

    def _serve(self):
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.5):
                kind, sock = key.data, key.fileobj
                try:
                    if kind == "udp":
                        data, peer = sock.recvfrom(4096)
                        self.events.append({"kind": kind, "peer": str(peer), "data": data.decode("latin-1")[:500]})
                        continue
                    conn, peer = sock.accept()
                    conn.settimeout(2)
                    try:
                        data = conn.recv(4096)
                    except OSError:
                        data = b""
                    conn.close()
                    self.events.append({"kind": kind, "peer": str(peer), "data": data.decode("latin-1")[:500]})
                except (BlockingIOError, OSError):
                    continue

    def close(self):
        self.stop.set()
        self.thread.join(timeout=5)
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()
        if os.path.exists(self.unix_path):
            os.unlink(self.unix_path)
        return self.events


WATCHED_SIGNALS = [signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGTERM] + \
    [signal.SIGRTMIN + i for i in range(1, 9)]


class SignalRecorder:
    """Handlers on the test process for the signals an attack might send it (restored by close)."""

    def __init__(self):
        self.received = []
        self.previous = {s: signal.signal(s, self._record) for s in WATCHED_SIGNALS}

    def _record(self, signum, frame):
        self.received.append(int(signum))

    def close(self):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        return self.received


# ---------------------------------------------------------------- host scans

def _processes_with(marker):
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("latin-1")
        except OSError:
            continue
        if marker in cmdline:
            found.append({"pid": int(entry.name), "cmdline": cmdline[:300]})
    return found


def _kill_marked(marker):
    """SIGKILL the surviving processes carrying this batch's marker (only ours), by pid."""
    for _ in range(5):
        found = _processes_with(marker)
        if not found:
            return
        for proc in found:
            try:
                os.kill(proc["pid"], signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.5)


def _listing(folder):
    """{relative path: sha256} of every file under ``folder``."""
    out = {}
    for path in sorted(Path(folder).rglob("*")):
        if path.is_file():
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
            out[str(path.relative_to(folder))] = digest.hexdigest()
    return out


def _read_text(path):
    try:
        return Path(path).read_text(errors="replace")
    except OSError as err:
        return f"<unreadable: {err}>"


def _hidden_lines():
    hidden = [c.source for c in read_notebook(SOURCE).cells if is_hidden_test_source(c.source)]
    return secret_lines(hidden, [c.source for c in read_notebook(RELEASED).cells])


def _scan(path, needles, hidden_lines):
    """What a graded notebook or feedback page holds that it must not: canaries, evidence lines,
    hidden-test lines (feedback pages only)."""
    data = Path(path).read_bytes()
    found = {"canaries": [name for name, value in needles.items() if value.encode() in data]}
    found["evidence"] = [m.decode("latin-1") for m in re.findall(EVIDENCE_MARK.encode() + rb" [^\n\"\\<]{0,160}", data)][:20]
    if path.suffix == ".html":
        found["hidden"] = leaked_lines(data.decode("utf-8", "replace"), hidden_lines)
    return {k: v for k, v in found.items() if v}


# ---------------------------------------------------------------- the batch

def _answers_correct():
    return dict(catalog(LECTURE).ANSWERS)


def _write(folder, student, produced):
    path = folder / f"{student}.ipynb"
    if isinstance(produced, bytes):
        path.write_bytes(produced)
    elif isinstance(produced, str):
        path.write_text(produced)
    else:
        write_notebook(produced, path)


def _run(args, *, timeout, env=None, out_dir, name):
    """Run `bplab ARGS` in a session of its own; stdout/stderr go to files (an orphan holding a
    pipe cannot stall the test). Returns (returncode or None on timeout, stdout, stderr, seconds)."""
    out, err = out_dir / f"{name}.stdout", out_dir / f"{name}.stderr"
    started = time.monotonic()
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen(bplab_command(*args), stdout=fo, stderr=fe,
                                stdin=subprocess.DEVNULL, cwd=REPO, env=env, start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
    return code, out.read_text(errors="replace"), err.read_text(errors="replace"), time.monotonic() - started


def _gradebook_scores(workspace, students):
    from nbgrader.api import Gradebook, MissingEntry
    scores = {}
    with Gradebook(f"sqlite:///{workspace / 'gradebook.db'}") as gb:
        for student in students:
            try:
                notebook = gb.find_submission_notebook("backprop", LECTURE, student)
            except MissingEntry:
                continue
            scores[student] = {g.name: g.auto_score for g in notebook.grades}
    return scores


def run_batch(shared: Path) -> dict:
    """Build the canaries, listeners and submissions, grade them in one batch, look around."""
    run = uuid.uuid4().hex[:12]
    canaries = {name: f"bplab-canary-{name}-{uuid.uuid4().hex}" for name in
                ("workspace", "beside", "inside-submissions", "host-tmp", "environment", "submission")}
    workspace, folder = shared / "autograder", shared / "submissions"
    folder.mkdir()
    workspace.mkdir()
    evidence = Path(f"/tmp/bplab-redteam-{run}-evidence")
    evidence.mkdir()
    evidence.chmod(0o1777)   # any uid could leave evidence: a sandbox must not see this folder at all
    host_canary = Path(f"/tmp/bplab-canary-{run}.txt")
    canary_files = {"workspace": workspace / "canary.txt", "beside": shared / "canary-beside-submissions.txt",
                    "inside-submissions": folder / "notes-canary.txt", "host-tmp": host_canary}
    for name, path in canary_files.items():
        path.write_text(canaries[name])
        path.chmod(0o644)
    (workspace / ".bplab-secret").write_text(COURSE_SECRET)   # fixed seeds: a replayable batch
    listeners, signals = Listeners(run), SignalRecorder()
    record = {"run": run, "canaries": canaries, "workspace": str(workspace), "submissions": str(folder),
              "selected": [a.slug for a in SELECTED], "bound_extra_ports": listeners.bound_extra,
              "rtmin": int(signal.SIGRTMIN)}
    try:
        ctx = Context(run=run, test_pid=os.getpid(), port=listeners.port, udp_port=listeners.udp_port,
                      unix_socket=listeners.unix_path, abstract_socket=listeners.abstract, evidence=str(evidence),
                      workspace=str(workspace), repo=str(REPO), submissions=str(folder),
                      beside=str(canary_files["beside"]), host_canary=str(host_canary),
                      host_pidns=os.readlink("/proc/self/ns/pid"), rtmin=int(signal.SIGRTMIN))
        released = read_notebook(RELEASED)
        correct = build_submission(released, _answers_correct())
        correct.cells.insert(0, new_markdown_cell(f"My private notes: {canaries['submission']}"))
        write_notebook(correct, folder / f"{CORRECT}.ipynb")
        write_notebook(build_submission(released, wrong_control_answers()), folder / f"{WRONG}.ipynb")
        for attack in SELECTED:
            nb = build_submission(released, attack.answers(ctx))
            _write(folder, attack.student, attack.mutate(nb, ctx) if attack.mutate else nb)
        record["submissions_before"] = _listing(folder)
        env = dict(os.environ, BPLAB_CANARY=canaries["environment"])
        code, stdout, stderr, seconds = _run(
            ["grade", str(folder), "--json", "--workers", "2", "--workspace", str(workspace), "--root", str(REPO),
             "--cell-timeout", CELL_TIMEOUT, "--kernel-cpu-seconds", KERNEL_CPU_SECONDS],
            timeout=BATCH_KILL, env=env, out_dir=shared, name="grade")
        record.update(returncode=code, seconds=seconds, stderr=stderr[-6000:], stdout_tail=stdout[-3000:])
        try:
            record["results"] = json.loads(stdout)
        except ValueError as err:
            record["results"], record["parse_error"] = None, f"{err}: {stdout[:500]!r}"
        record["stdout_canaries"] = [name for name, value in canaries.items() if value in stdout] + \
            (["course-secret"] if COURSE_SECRET in stdout else [])
        time.sleep(3)   # what a sandbox kill leaves behind has had time to go
        marker = f"bplab-orphan-{run}"
        record["marked_processes"] = _processes_with(marker)
        _kill_marked(marker)
    finally:
        record["listener_events"] = listeners.close()
        record["signals"] = signals.close()
    record["evidence_files"] = {p.name: _read_text(p)[:500] for p in sorted(evidence.iterdir())}
    record["canary_files_after"] = {name: _read_text(path) for name, path in canary_files.items()}
    record["secret_after"] = _read_text(workspace / ".bplab-secret")
    record["submissions_after"] = _listing(folder)
    record["host_leftovers"] = sorted(str(p) for p in Path("/tmp").glob(f"*{run}*")
                                      if p not in (evidence, host_canary))
    code, stdout, stderr, seconds = _run(["feedback", "--workspace", str(workspace), "--root", str(REPO)],
                                         timeout=FEEDBACK_TIMEOUT, out_dir=shared, name="feedback")
    record["feedback"] = {"returncode": code, "stderr": stderr[-4000:], "seconds": seconds}
    record["workspace_files"] = sorted(str(p.relative_to(workspace)) for p in workspace.rglob("*") if p.is_file())
    needles = dict(canaries, **{"course-secret": COURSE_SECRET})
    lines = _hidden_lines()
    record["leaks"] = {}
    for path in sorted([*workspace.glob("autograded/**/*.ipynb"), *workspace.glob("feedback/**/*.html")]):
        found = _scan(path, needles, lines)
        if found:
            record["leaks"][str(path.relative_to(workspace))] = found
    students = [r["student"] for r in record["results"] or [] if isinstance(r, dict) and "student" in r]
    try:
        record["gradebook"] = _gradebook_scores(workspace, students)
    except Exception as err:  # a broken gradebook is itself a finding
        record["gradebook"], record["gradebook_error"] = {}, repr(err)
    for path in [host_canary, *evidence.iterdir(), *(Path(p) for p in record["host_leftovers"])]:
        try:
            if path.is_dir():
                import shutil
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()
        except OSError:
            pass
    evidence.rmdir()
    return record


@pytest.fixture(scope="session")
def redteam(tmp_path_factory):
    """The red-team batch, graded once per session and shared by xdist workers (lock + JSON file)."""
    stored = os.environ.get("BPLAB_REDTEAM_RESULTS")
    if stored:   # re-judge a batch already run (its JSON), without grading again
        return json.loads(Path(stored).read_text())
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "bplab-redteam-batch"
    shared.mkdir(exist_ok=True)
    with FileLock(str(shared / "lock")):
        done = shared / "redteam.json"
        if not done.exists():
            done.write_text(json.dumps(run_batch(shared), indent=1, default=str))
    return json.loads(done.read_text())


# ---------------------------------------------------------------- helpers of the assertions

def _results(redteam):
    assert redteam["results"] is not None, f"the batch printed no JSON: {redteam.get('parse_error')}"
    return {r["student"]: r for r in redteam["results"]}


def _result(redteam, student):
    results = _results(redteam)
    assert student in results, f"no result for {student}; stderr: {redteam['stderr'][-2000:]}"
    return results[student]


def _tests(result):
    return {t["grade_id"]: t for t in result["tests"]}


def _mentions(text, slug):
    return re.search(rf"(?<![\w-]){re.escape(slug)}(?![\w-])", text) is not None


def _selected(attack):
    if attack not in SELECTED:
        pytest.skip("not in BPLAB_REDTEAM_ONLY")


def _own_files(redteam, student):
    return {path: found for path, found in redteam["leaks"].items()
            if path.split("/")[1:2] == [student]}


def _with(key):
    return [a for a in ATTACKS if key in a.checks]


# ---------------------------------------------------------------- per attack

@pytest.mark.parametrize("attack", _with(POINTS), ids=lambda a: a.slug)
def test_attack_gains_no_points(redteam, attack):
    """Does the attack score no more than the honest wrong control on dense_backward and no more than
    the honest correct control elsewhere, with the source's max scores, in the JSON and the gradebook,
    without the grader failing?"""
    _selected(attack)
    result = _result(redteam, attack.student)
    correct, wrong = _tests(_result(redteam, CORRECT)), _tests(_result(redteam, WRONG))
    assert result["status"] != "error", result["flag_reasons"]
    assert list(_tests(result)) == list(correct), "the tests graded are not the source's"
    assert result["max_score"] == _result(redteam, CORRECT)["max_score"]
    gained = []
    for grade_id, test in _tests(result).items():
        limit = (wrong if test["exercise"] == TARGET else correct)[grade_id]["score"]
        assert test["max_score"] == correct[grade_id]["max_score"], test
        if test["score"] > limit:
            gained.append(f"{grade_id}: {test['score']} > {limit} ({test['message'][:200]})")
    assert not gained, gained
    stored = redteam["gradebook"].get(attack.student, {})
    differs = {gid: (score, _tests(result)[gid]["score"]) for gid, score in stored.items()
               if gid in correct and score != _tests(result)[gid]["score"]}
    assert not differs, f"gradebook (stored, JSON): {differs}"
    if attack.diagnoses is not None:
        target = [t for t in result["tests"] if t["exercise"] == TARGET]
        assert {t["diagnosis"] for t in target} <= attack.diagnoses, [(t["grade_id"], t["diagnosis"]) for t in target]
    if attack.flagged is not None:
        assert result["flagged"] == attack.flagged, result["flag_reasons"]


@pytest.mark.parametrize("attack", _with(SECRETS), ids=lambda a: a.slug)
def test_attack_sees_no_secret(redteam, attack):
    """Do the attack's graded notebook, feedback page and JSON result hold no canary, no course
    secret, no evidence of a successful read and no hidden-test line?"""
    _selected(attack)
    result = _result(redteam, attack.student)
    text = json.dumps(result)
    leaked_json = [name for name, value in redteam["canaries"].items() if value in text]
    assert not leaked_json and COURSE_SECRET not in text, f"canaries in the JSON result: {leaked_json}"
    assert not _own_files(redteam, attack.student), _own_files(redteam, attack.student)


@pytest.mark.parametrize("attack", _with(OUTSIDE), ids=lambda a: a.slug)
def test_attack_leaves_no_trace_outside(redteam, attack):
    """Did the attack leave nothing on the host: no evidence file, no message to a test listener,
    no signal to the test process, no file named after it, no change to a canary file?"""
    _selected(attack)
    slug = attack.slug
    traces = [f"evidence file {name}" for name in redteam["evidence_files"] if name.startswith(slug + "--")]
    traces += [f"listener {e['kind']}: {e['data'][:200]}" for e in redteam["listener_events"] if _mentions(e["data"], slug)]
    own_signals = {redteam["rtmin"] + attack.rtsig} if attack.rtsig else set()
    if slug == "signal-test-process":
        own_signals |= {int(signal.SIGUSR1), int(signal.SIGUSR2), int(signal.SIGHUP), int(signal.SIGTERM)}
    traces += [f"signal {s} reached the test process" for s in redteam["signals"] if s in own_signals]
    traces += [f"host file {p}" for p in redteam["host_leftovers"] if _mentions(p, slug) or
               (slug == "disk-fill" and "bplab-fill-" in p)]
    traces += [f"workspace file {p}" for p in redteam["workspace_files"] if _mentions(p, slug)]
    traces += [f"submissions file {p}" for p in redteam["submissions_after"] if _mentions(p, slug)]
    traces += [f"canary file {name} changed" for name, text in redteam["canary_files_after"].items()
               if _mentions(text, slug)]
    assert not traces, traces


@pytest.mark.parametrize("attack", _with(PROCESSES), ids=lambda a: a.slug)
def test_attack_leaves_no_process(redteam, attack):
    """Is every process the attack started (its marker in argv) gone once the batch is over?"""
    _selected(attack)
    marker = attack.marker.format(run=redteam["run"])
    survivors = [p for p in redteam["marked_processes"] if marker in p["cmdline"]]
    assert not survivors, survivors


# ---------------------------------------------------------------- the batch as a whole

def test_batch_exits_0_with_exactly_one_result_per_submission(redteam):
    """Does `bplab grade --json` exit 0 in time and print exactly one result per submission (none
    missing, none twice)?"""
    assert redteam["returncode"] is not None, f"the batch was killed after {BATCH_KILL} s"
    assert redteam["returncode"] == 0, redteam["stderr"][-3000:]
    assert redteam["results"] is not None, redteam.get("parse_error")
    students = [r["student"] for r in redteam["results"]]
    expected = {CORRECT, WRONG} | {a.student for a in SELECTED}
    assert len(students) == len(set(students)), "a submission has two results"
    assert set(students) == expected, {"missing": sorted(expected - set(students)),
                                       "unexpected": sorted(set(students) - expected)}
    assert all(r["lecture"] == LECTURE for r in redteam["results"])


def test_batch_finishes_in_bounded_time(redteam):
    """Did the whole batch (every bomb and sleeper included) finish well within its timeout?"""
    assert redteam["returncode"] is not None and redteam["seconds"] < BATCH_TIMEOUT, redteam["seconds"]


def test_control_correct_gets_full_marks_unflagged(redteam):
    """Does the honest correct control get every automatic point, unflagged, graded, also in the gradebook?"""
    result = _result(redteam, CORRECT)
    assert result["score"] == result["max_score"] > 0
    assert all(t["passed"] for t in result["tests"]), [t for t in result["tests"] if not t["passed"]]
    assert not result["flagged"] and result["status"] == "graded", result["flag_reasons"]
    assert redteam["gradebook"][CORRECT] == {t["grade_id"]: t["max_score"] for t in result["tests"]}


def test_control_wrong_loses_exactly_dense_backward(redteam):
    """Does the honest wrong control lose exactly the dense_backward tests (transposed), unflagged,
    also in the gradebook?"""
    result = _result(redteam, WRONG)
    for test in result["tests"]:
        if test["exercise"] == TARGET:
            assert test["score"] == 0 and test["diagnosis"] == "transposed", test
        else:
            assert test["score"] == test["max_score"], test
    lost = sum(t["max_score"] for t in result["tests"] if t["exercise"] == TARGET)
    assert lost > 0 and result["score"] == result["max_score"] - lost
    assert not result["flagged"] and result["status"] == "graded", result["flag_reasons"]
    assert redteam["gradebook"][WRONG] == {t["grade_id"]: t["score"] for t in result["tests"]}


def test_canaries_never_leak_into_json_graded_notebooks_or_feedback(redteam):
    """Is no canary, nor the course secret, in the JSON output, any graded notebook or any feedback page
    (the correct control's own notes excepted in its own files)?"""
    assert redteam["stdout_canaries"] == [], redteam["stdout_canaries"]
    leaks = {}
    for path, found in redteam["leaks"].items():
        names = [n for n in found.get("canaries", [])
                 if not (n == "submission" and path.split("/")[1:2] == [CORRECT])]
        if names:
            leaks[path] = names
    assert not leaks, leaks


def test_no_evidence_of_a_breach_anywhere(redteam):
    """Did no attack print evidence of a breach into a graded notebook or feedback page, nor write an
    evidence file into host /tmp?"""
    printed = {path: found["evidence"] for path, found in redteam["leaks"].items() if "evidence" in found}
    assert not printed and not redteam["evidence_files"], {"printed": printed, "files": redteam["evidence_files"]}


def test_canary_files_secret_and_submissions_unchanged(redteam):
    """Are the canary files, the course secret and the submissions folder exactly as before the batch?"""
    changed = {name: text[:300] for name, text in redteam["canary_files_after"].items()
               if text != redteam["canaries"][name]}
    assert not changed, changed
    assert redteam["secret_after"] == COURSE_SECRET
    assert redteam["submissions_after"] == redteam["submissions_before"], \
        sorted(set(redteam["submissions_after"].items()) ^ set(redteam["submissions_before"].items()))


def test_workspace_holds_only_what_bplab_writes(redteam):
    """Does the workspace hold only bplab's files (autograded/, feedback/, gradebook, .bplab*, source/,
    release/, nbgrader_config.py, journals and logs) and the planted canary?"""
    stray = [p for p in redteam["workspace_files"]
             if not (p.split("/")[0] in ALLOWED_WORKSPACE_TOP or p.startswith(".bplab")
                     or re.fullmatch(r"[^/]+\.(db-journal|db-wal|db-shm|log)", p))
             or "pwned" in p]
    assert not stray, stray


def test_no_marked_process_survives_the_batch(redteam):
    """Is no process carrying this batch's orphan marker alive on the host after the batch?"""
    assert redteam["marked_processes"] == [], redteam["marked_processes"]


def test_no_connection_reached_the_test_listeners(redteam):
    """Did nothing reach the test's TCP (incl. 8786/8787/8888 when free), UDP, unix or abstract sockets?"""
    assert redteam["listener_events"] == [], redteam["listener_events"]


def test_test_process_never_signalled(redteam):
    """Did no signal from the batch reach the test process?"""
    assert redteam["signals"] == [], redteam["signals"]


def test_no_file_left_in_host_tmp(redteam):
    """Is nothing named after this batch left in host /tmp (disk fill, created files)?"""
    assert redteam["host_leftovers"] == [], redteam["host_leftovers"]


def test_feedback_generated_without_hidden_test_source(redteam):
    """Does `bplab feedback` succeed after the batch, with a page for each control and no hidden-test line
    on any page?"""
    assert redteam["feedback"]["returncode"] == 0, redteam["feedback"]["stderr"][-3000:]
    pages = [p for p in redteam["workspace_files"] if p.startswith("feedback/")]
    for control in (CORRECT, WRONG):
        assert any(p.split("/")[1] == control for p in pages), pages[:20]
    hidden = {path: found["hidden"] for path, found in redteam["leaks"].items() if "hidden" in found}
    assert not hidden, hidden


def test_catalog_has_at_least_32_documented_attack_classes():
    """Does the catalog hold at least 32 attacks, each with a unique slug, a target and a one-line docstring?"""
    assert len(ATTACKS) >= 32
    assert len({a.slug for a in ATTACKS}) == len(ATTACKS)
    for a in ATTACKS:
        assert a.targets and a.doc and "\n" not in a.doc, a.slug
        assert (a.mutate is not None) or a.prefix or a.body or a.suffix, a.slug
