"""`bplab grade` through real processes: a real Dask cluster losing a worker mid-batch, a batch
SIGKILLed and resumed, and the refusal to grade without bubblewrap.

Every test runs the CLI as a subprocess on a copy of one prepared workspace (lecture 04 generated
once, a fixed course secret) and four submissions built from the answer catalog: two correct
(one written differently) and two with dense_backward's dW transposed.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import psutil
import pytest

from backproplab.grading.contract import grader_version
from backproplab.grading.demo import answers_with, variant
from backproplab.grading.submissions import build_submission, write_notebook
from backproplab.grading.workspace import Workspace
from catalog_helpers import catalog
from cli_command import bplab_command

REPO = Path(__file__).resolve().parents[1]
LECTURE = "04-backprop"
SOURCE = REPO / "solutions" / LECTURE / "backprop.ipynb"
DASK = Path(sys.executable).parent / "dask"
COURSE_SECRET = "0123456789abcdef" * 4
pytestmark = pytest.mark.slow

FULL_MARKS = 28.0
DENSE_TESTS = {"test_dense_backward", "test_dense_backward_hidden"}  # 2 + 3 points
# student -> the catalog variants swapped into the correct answers
STUDENTS = {
    "ada": [],
    "grace": [("dense_backward", "einsum")],
    "alan": [("dense_backward", "dW-transposed")],
    "barbara": [("dense_backward", "dW-transposed")],
}
WRONG = {"alan", "barbara"}
# The resumed batches run one LocalCluster worker: resuming by digest is the same with more, and each worker
# warms a sandbox of its own (seconds of CPU); test 1 has two workers.
RESUME_WORKERS = "1"


# ---------------------------------------------------------------- fixtures and helpers

@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """(workspace template folder, submissions folder): lecture 04 generated once, fixed secret."""
    base = tmp_path_factory.mktemp("bplab-cluster")
    template = base / "autograder"
    template.mkdir()
    (template / ".bplab-secret").write_text(COURSE_SECRET)  # fixed seeds: replayable grades
    workspace = Workspace(template, REPO)
    workspace.ensure_assignment(LECTURE)
    released = workspace.release_notebook(LECTURE)
    folder = base / "submissions"
    folder.mkdir()
    for student, chosen in STUDENTS.items():
        answers = answers_with(catalog(LECTURE), *[variant(catalog(LECTURE), exercise, name) for exercise, name in chosen])
        write_notebook(build_submission(released, answers), folder / f"{student}.ipynb")
    return template, folder


def _workspace(prepared, tmp_path):
    """A private copy of the prepared workspace (ensure_assignment finds it up to date)."""
    copy = tmp_path / "autograder"
    shutil.copytree(prepared[0], copy)
    return copy


def _grade_cmd(folder, workspace, *extra):
    return bplab_command("grade", str(folder), "--json", "--workspace", str(workspace), "--root", str(REPO), *extra)


def _env(**changes):
    env = dict(os.environ, **changes)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return env


def _grade(folder, workspace, *extra, timeout=900):
    """Run `bplab grade --json` to completion; return (completed process, results by student)."""
    proc = subprocess.run(_grade_cmd(folder, workspace, *extra), capture_output=True, text=True, cwd=REPO,
                          env=_env(), timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-4000:]
    results = json.loads(proc.stdout)
    students = [r["student"] for r in results]
    assert len(students) == len(set(students)), students  # one result per submission
    return proc, {r["student"]: r for r in results}


def _spawn(cmd, log, cwd):
    """Start ``cmd`` in a session of its own (a process group we can kill as one), logging to ``log``."""
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd,
                                env=_env(), start_new_session=True)


def _dead(process: psutil.Process) -> bool:
    """Gone, or a zombie nobody reaped yet (PID 1 here is not an init that reaps)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _family(pid):
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _kill_group(popen, timeout=30):
    """SIGKILL ``popen``'s process group; return the processes of its tree (taken just before the
    kill, sandboxes included: they run in sessions of their own) still alive ``timeout`` s later."""
    family = _family(popen.pid)
    born = min((p.create_time() for p in family), default=time.time())  # psutil keeps it past the process
    try:
        os.killpg(popen.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    popen.wait(timeout=timeout)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(_dead(p) for p in family):
        time.sleep(0.2)
    survivors = [p for p in family if not _dead(p)]
    if not survivors:
        _unlink_orphaned_semaphores(born)
    return survivors


def _unlink_orphaned_semaphores(since):
    """Remove the named semaphores (/dev/shm/sem.mp-*) that multiprocessing made for the processes a SIGKILL ended:
    their resource tracker died with them, so nothing else would, and every run of the suite left about 24 behind.
    Only those made since ``since`` that no live process maps (a SemLock holds its semaphore mapped; matched by
    inode, as glibc maps a temporary name it then links) are removed: another test's are left alone."""
    mapped = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/maps") as maps:
                mapped.update(int(line.split()[4]) for line in maps if "/dev/shm/" in line)
        except (OSError, IndexError, ValueError):
            continue
    for path in Path("/dev/shm").glob("sem.mp-*"):
        try:
            found = path.stat()
            if found.st_mtime >= since and found.st_ino not in mapped:
                path.unlink()
        except OSError:
            continue


def _reap(processes):
    for p in processes:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


def _teardown(popens):
    """Kill every process we started (and whatever of their trees outlived the group kill)."""
    for popen in popens:
        if popen.poll() is None:
            _reap(_kill_group(popen, timeout=15))


def _tail(path, n=3000):
    try:
        return Path(path).read_text(errors="replace")[-n:]
    except OSError:
        return ""


def _sidecar_rows(db, *, after_a_kill=False):
    """{student: row dict} of bplab_submissions, read-only ({} while the table does not exist).

    ``after_a_kill``: open it writable, so that SQLite rolls back a transaction the SIGKILL interrupted (its
    hot journal), as the next `bplab grade` will; read-only, that gradebook cannot be read at all."""
    if not Path(db).exists():
        return {}
    try:
        with closing(sqlite3.connect(f"file:{db}?mode={'rw' if after_a_kill else 'ro'}", uri=True, timeout=10)) as conn:
            conn.row_factory = sqlite3.Row
            rows = conn.execute("SELECT * FROM bplab_submissions").fetchall()
    except sqlite3.OperationalError:  # no table yet, or locked for longer than the timeout
        return {}
    students = [row["student"] for row in rows]
    assert len(students) == len(set(students)), f"duplicate rows: {students}"
    return {row["student"]: dict(row) for row in rows}


def _count_rows(db, table):
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)) as conn:
        try:
            return dict(conn.execute(f"SELECT student, COUNT(*) FROM {table} GROUP BY student").fetchall())
        except sqlite3.OperationalError:  # the table was never created
            return {}


def _skip_if_grader_changed(version, rows=()):
    """Skip when backproplab/ changed while the test ran (a working tree shared with others): a new
    grader version regrades everything by design, so resuming by digest cannot be checked then."""
    now, stored = grader_version(), {row["grader_version"] for row in rows}
    if now != version or stored - {version}:
        pytest.skip(f"backproplab/ was edited during the test: grader version {version} -> {now}, "
                    f"stored {sorted(stored)}")


def _assert_score(result):
    """Correct: 28/28. dW transposed: exactly the two dense_backward tests lost (diagnosis transposed)."""
    tests = {t["grade_id"]: t for t in result["tests"]}
    assert result["max_score"] == FULL_MARKS, result
    assert result["status"] == "graded" and not result["flagged"], result
    lost = {grade_id for grade_id, t in tests.items() if t["score"] < t["max_score"]}
    if result["student"] in WRONG:
        assert lost == DENSE_TESTS, result
        assert all(tests[g]["score"] == 0 and tests[g]["diagnosis"] == "transposed" for g in DENSE_TESTS), result
        assert result["score"] == FULL_MARKS - sum(tests[g]["max_score"] for g in DENSE_TESTS) == 23.0
    else:
        assert lost == set() and result["score"] == FULL_MARKS, result


def _assert_workspace(workspace, results):
    """One sidecar row, one verdict per test cell and one nbgrader submission per student, scores
    as in the JSON (nbgrader's per-cell auto scores included)."""
    from nbgrader.api import Gradebook

    db = workspace / "gradebook.db"
    rows = _sidecar_rows(db)
    assert set(rows) == set(STUDENTS)
    assert _count_rows(db, "bplab_submissions") == {s: 1 for s in STUDENTS}
    assert _count_rows(db, "bplab_verdicts") == {s: len(results[s]["tests"]) for s in STUDENTS}
    for student, result in results.items():
        assert rows[student]["score"] == result["score"] and rows[student]["lecture"] == LECTURE
    with Gradebook(f"sqlite:///{db}") as gb:
        submissions = gb.find_assignment(LECTURE).submissions
        assert Counter(s.student.id for s in submissions) == {s: 1 for s in STUDENTS}
        for student, result in results.items():
            assert gb.find_submission(LECTURE, student).score == result["score"]
            notebook = gb.find_submission_notebook("backprop", LECTURE, student)
            auto = {g.name: g.auto_score for g in notebook.grades if g.cell_type == "code"}   # not the explain answers
            assert auto == {t["grade_id"]: t["score"] for t in result["tests"]}
    graded = sorted(p.relative_to(workspace / "autograded").parts[0]
                    for p in (workspace / "autograded").glob(f"*/{LECTURE}/*.ipynb"))
    assert graded == sorted(STUDENTS)


# ---------------------------------------------------------------- 1. a real cluster loses a worker

def _scheduler_address(scheduler_file, scheduler, log, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert scheduler.poll() is None, f"the scheduler exited:\n{_tail(log)}"
        try:
            return json.loads(scheduler_file.read_text())["address"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.2)
    raise AssertionError(f"no scheduler file after {timeout} s:\n{_tail(log)}")


def _sandbox_running(pid) -> bool:
    """Does the worker process ``pid`` run a sandbox (student code being graded) right now?"""
    for process in _family(pid)[1:]:
        try:
            if process.name() == "bwrap" and not _dead(process):
                return True
        except psutil.NoSuchProcess:
            continue
    return False


def _start_cluster(tmp_path, names, started):
    """A `dask scheduler` and one `dask worker` (under its nanny) per name, logging to tmp_path/logs/; each process
    is appended to ``started`` as it starts. -> (the scheduler's address, {name: the worker's process})."""
    scheduler_file, logs = tmp_path / "scheduler.json", tmp_path / "logs"
    logs.mkdir()
    scheduler = _spawn([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                        "--scheduler-file", str(scheduler_file)], logs / "scheduler.log", tmp_path)
    started.append(scheduler)
    address = _scheduler_address(scheduler_file, scheduler, logs / "scheduler.log")
    workers = {}
    for name in names:
        (tmp_path / name).mkdir()
        workers[name] = _spawn([str(DASK), "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                                "--host", "127.0.0.1", "--name", name, "--local-directory", str(tmp_path / name)],
                               logs / f"{name}.log", tmp_path)
        started.append(workers[name])
    return address, workers


def _start_grading(folder, workspace, address, tmp_path, started):
    """`bplab grade --json` of ``folder`` on the scheduler at ``address``, in the background (appended to
    ``started``), its JSON into tmp_path/grade.json. -> (the process, its stderr's file)."""
    cli_log = tmp_path / "logs" / "grade.stderr"
    with open(tmp_path / "grade.json", "wb") as out, open(cli_log, "wb") as err:
        grading = subprocess.Popen(_grade_cmd(folder, workspace, "--scheduler", address), stdout=out,
                                   stderr=err, cwd=REPO, env=_env(), start_new_session=True)
    started.append(grading)
    return grading, cli_log


def test_cluster_survives_a_killed_worker(prepared, tmp_path):
    """On a real scheduler and two `dask worker` processes, is every submission graded exactly once,
    with the right score, when one worker is SIGKILLed while it grades a submission?"""
    from dask.distributed import Client

    workspace, folder = _workspace(prepared, tmp_path), prepared[1]
    logs = tmp_path / "logs"
    started = []
    try:
        address, workers = _start_cluster(tmp_path, ("w1", "w2"), started)
        assert address.startswith("tcp://127.0.0.1:")
        with Client(address, timeout="30s") as client:
            try:
                client.wait_for_workers(2, timeout=180)
            except Exception as err:
                raise AssertionError(f"workers did not join: {err}\n{_tail(logs / 'w1.log')}\n{_tail(logs / 'w2.log')}") from err
            pids = client.run(os.getpid)  # {worker address: pid of the worker process}
            info = {w["name"]: (addr, pids[addr]) for addr, w in client.scheduler_info()["workers"].items()}
            assert set(info) == {"w1", "w2"}, info
            w1_address, w1_pid = info["w1"]
            # the worker process runs under its nanny, the process we started
            assert w1_pid in [p.pid for p in _family(workers["w1"].pid)]

            grading, cli_log = _start_grading(folder, workspace, address, tmp_path, started)
            # kill w1 once it is grading: a task of the batch assigned to it and its sandbox running
            deadline = time.monotonic() + 300
            while True:
                assert grading.poll() is None, f"the batch ended before w1 graded anything:\n{_tail(cli_log)}"
                assert time.monotonic() < deadline, "w1 never started grading"
                keys = client.processing(workers=[w1_address]).get(w1_address, [])
                if any(str(k).startswith(f"bplab-grade-{LECTURE}-") for k in keys) and _sandbox_running(w1_pid):
                    break
                time.sleep(0.2)
            rows_at_kill = _sidecar_rows(workspace / "gradebook.db")
            w1_process = psutil.Process(w1_pid)
            survivors = _kill_group(workers["w1"])
            _reap(survivors)
            assert survivors == [], f"still alive after SIGKILL of w1: {survivors}"
            assert _dead(w1_process) and workers["w1"].returncode == -signal.SIGKILL
            assert len(rows_at_kill) < len(STUDENTS)  # the batch was still running

            grading.wait(timeout=900)
            assert grading.returncode == 0, _tail(cli_log)
            remaining = {w["name"] for w in client.scheduler_info()["workers"].values()}
            assert remaining == {"w2"}, remaining  # the scheduler saw w1 die
    finally:
        _teardown(reversed(started))
    for popen in started:
        assert popen.poll() is not None
    results = json.loads((tmp_path / "grade.json").read_text())
    assert sorted(r["student"] for r in results) == sorted(STUDENTS)  # exactly one result each
    by_student = {r["student"]: r for r in results}
    for result in results:
        assert result["reused"] is False
        _assert_score(result)
    _assert_workspace(workspace, by_student)


def test_a_worker_that_dies_holding_the_lecture_sources_costs_no_submission(prepared, tmp_path):
    """On a real scheduler and one `dask worker` (a nanny that restarts its worker process), is every submission
    still graded when the worker process is SIGKILLed right after the lecture's sources reached it? The restarted
    worker holds nothing: the sources must be computed again (scattered data would be lost, and every task of the
    batch cancelled)."""
    from dask.distributed import Client

    workspace, folder = _workspace(prepared, tmp_path), prepared[1]
    started = []
    try:
        address, _ = _start_cluster(tmp_path, ("w",), started)
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=180)
            grading, cli_log = _start_grading(folder, workspace, address, tmp_path, started)
            deadline = time.monotonic() + 300
            # the sources' key: the task's (or, as scattered data, the type's name)
            while not (holders := [w for key, ws in client.who_has().items()
                                   if str(key).startswith(("_lecture_sources", "LectureSources")) for w in ws]):
                assert grading.poll() is None and time.monotonic() < deadline, _tail(cli_log)
                time.sleep(0.05)
            (pid,) = client.run(os.getpid, workers=holders).values()
            os.kill(pid, signal.SIGKILL)
            grading.wait(timeout=900)
            assert grading.returncode == 0, _tail(cli_log)
    finally:
        _teardown(reversed(started))
    results = json.loads((tmp_path / "grade.json").read_text())
    assert sorted(r["student"] for r in results) == sorted(STUDENTS)
    for result in results:
        _assert_score(result)
    _assert_workspace(workspace, {r["student"]: r for r in results})


# ---------------------------------------------------------------- 2. SIGKILL, then resume

def test_resume_after_sigkill_grades_only_what_is_missing(prepared, tmp_path):
    """Does a batch SIGKILLed midway (with its LocalCluster workers) resume by grading only the
    missing submissions, reuse everything on a third run, and regrade one student on --student?"""
    workspace, folder = _workspace(prepared, tmp_path), prepared[1]
    db = workspace / "gradebook.db"
    log = tmp_path / "killed.log"
    version = grader_version()
    started = []
    try:
        with open(log, "wb") as out:
            killed = subprocess.Popen(_grade_cmd(folder, workspace, "--workers", RESUME_WORKERS), stdout=out,
                                      stderr=subprocess.STDOUT, cwd=REPO, env=_env(), start_new_session=True)
        started.append(killed)
        deadline = time.monotonic() + 600
        while not _sidecar_rows(db):
            assert killed.poll() is None, f"the batch ended before it was killed:\n{_tail(log)}"
            assert time.monotonic() < deadline, f"nothing graded after 600 s:\n{_tail(log)}"
            time.sleep(0.1)
        survivors = _kill_group(killed)
        _reap(survivors)
        assert survivors == [], f"still alive after SIGKILL of the batch's process group: {survivors}"
    finally:
        _teardown(started)
    before = _sidecar_rows(db, after_a_kill=True)  # final: nothing writes the workspace any more
    assert 1 <= len(before) < len(STUDENTS), sorted(before)
    _skip_if_grader_changed(version, before.values())

    # run 2: completes, grades only what was missing
    _, second = _grade(folder, workspace, "--workers", RESUME_WORKERS)
    assert set(second) == set(STUDENTS)
    after = _sidecar_rows(db)
    _skip_if_grader_changed(version, after.values())
    for student, result in second.items():
        _assert_score(result)
        assert result["reused"] is (student in before), (student, sorted(before))
        if student in before:
            assert result["score"] == before[student]["score"]
    for student in before:
        assert after[student] == before[student]  # not rewritten (same digest, graded_at, score)
    _assert_workspace(workspace, second)

    # run 3: nothing changed, everything reused
    _, third = _grade(folder, workspace, "--workers", RESUME_WORKERS)
    assert set(third) == set(STUDENTS)
    _skip_if_grader_changed(version)
    assert all(r["reused"] for r in third.values()), {s: r["reused"] for s, r in third.items()}
    assert {s: r["score"] for s, r in third.items()} == {s: r["score"] for s, r in second.items()}
    assert _sidecar_rows(db) == after

    # run 4: --regrade --student X regrades X only (X was graded before the kill)
    chosen = sorted(before)[0]
    notebooks = {s: workspace / "autograded" / s / LECTURE / "backprop.ipynb" for s in STUDENTS}
    mtimes = {s: p.stat().st_mtime_ns for s, p in notebooks.items()}
    _, fourth = _grade(folder, workspace, "--workers", RESUME_WORKERS, "--regrade", "--student", chosen)
    assert list(fourth) == [chosen]
    assert fourth[chosen]["reused"] is False
    _assert_score(fourth[chosen])
    assert fourth[chosen]["score"] == second[chosen]["score"]
    assert notebooks[chosen].stat().st_mtime_ns != mtimes[chosen]  # graded again
    rows = _sidecar_rows(db)
    for student in STUDENTS:
        if student != chosen:
            assert rows[student] == after[student]
            assert notebooks[student].stat().st_mtime_ns == mtimes[student]
    _assert_workspace(workspace, {**second, **fourth})


# ---------------------------------------------------------------- 3. no bubblewrap: refuse, write nothing

def test_grade_without_bwrap_exits_2_naming_the_fix(prepared, tmp_path):
    """With no `bwrap` on PATH, does `bplab grade` exit 2 naming bubblewrap and --no-sandbox, and
    leave the gradebook without any submission?"""
    from nbgrader.api import Gradebook

    workspace, folder = _workspace(prepared, tmp_path), prepared[1]
    proc = subprocess.run(_grade_cmd(folder / "ada.ipynb", workspace, "--workers", "1"), capture_output=True,
                          text=True, cwd=REPO, env=_env(PATH=str(tmp_path / "nonexistent")), timeout=300)
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "bubblewrap" in proc.stderr and "--no-sandbox" in proc.stderr, proc.stderr
    assert "apt-get install bubblewrap" in proc.stderr
    assert proc.stdout.strip() == ""
    db = workspace / "gradebook.db"
    assert _count_rows(db, "bplab_submissions") == {}
    assert _count_rows(db, "bplab_verdicts") == {}
    with Gradebook(f"sqlite:///{db}") as gb:
        assert gb.find_assignment(LECTURE).submissions == []
        assert [s.id for s in gb.students] == []
    assert not (workspace / "autograded").exists()
