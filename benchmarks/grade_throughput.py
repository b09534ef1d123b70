"""Benchmark: `bplab grade` against stock nbgrader on the same lecture-04 submissions (not a test).

Builds ``--count`` submissions from the answer catalog (correct answers and typical mistakes) and,
in one run, prints side by side:
- stock `nbgrader autograde` (serial, default configuration, in-kernel scores only), as it is and with
  jupyter_client's missed wake-ups bounded to a second (stock_without_stalls/: a missed one otherwise costs its
  30 s cell timeout, so stock's wall time varies run to run); the ratios are taken against the latter;
- `bplab grade` with 1 and with 2 Dask workers (sandboxed, judged outside, gradebook written), each batch on a
  LocalCluster of its own, started cold (its workers' imports and their sandboxes' warm-up are in its figures);
- `bplab grade` on a standing cluster of 2 workers, started as README's "Grading at scale" starts one (`dask
  scheduler`, `dask worker --nthreads 1 --nworkers 2`) and warm from a batch it graded before: a course's grading
  service, or an instructor's second batch on it, pays no start-up;
- the throughput ratio of bplab with 2 workers to stock nbgrader, and CPU seconds per submission (bplab's split:
  the client, the workers, the sandboxes);
- the sandbox's start-up cost, and where a submission's time goes (the profile: wall and CPU per phase);
- whether every verdict is what the answer catalog expects (and both bplab runs agree).
Usage: .venv/bin/python benchmarks/grade_throughput.py [--count 20]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from backproplab.grading.answer_catalogs import load_catalog
from backproplab.grading.batch import grade_batch
from backproplab.grading.demo import LECTURE, answers_with
from backproplab.grading.intake import find_submissions
from backproplab.grading.release import find_root
from backproplab.grading.sandbox import SandboxLimits, run_sandboxed
from backproplab.grading.sandbox.procfs import cpu_seconds, stat_fields
from backproplab.grading.submissions import build_submission, write_notebook
from backproplab.grading.workspace import Workspace

STALL_BOUND = Path(__file__).with_name("stock_without_stalls")


def children_cpu() -> float:
    """CPU seconds of this process's reaped children (stock nbgrader's kernels are its children)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def build_submissions(workspace, folder, count):
    """Write ``count`` submissions (cycling through correct answers and catalog mistakes); return
    {student: the catalog Variant in it, or None for the correct answers}."""
    released = workspace.release_notebook(LECTURE)
    catalog = load_catalog(workspace.root, LECTURE)
    mistakes = [v for v in catalog.VARIANTS if not v.sandbox_only]
    folder.mkdir(parents=True, exist_ok=True)
    chosen = {}
    for i in range(count):
        chosen[f"student{i:02d}"] = mistakes[i % len(mistakes)] if i % 2 else None
        answers = answers_with(catalog, *filter(None, [chosen[f"student{i:02d}"]]))
        write_notebook(build_submission(released, answers), folder / f"student{i:02d}.ipynb")
    return chosen


def unexpected_verdicts(results, chosen) -> list[str]:
    """The verdicts that differ from what the catalog says (not from stock nbgrader): a variant's exercise gets its
    expected diagnosis (or passes), every other test passes (a caller of a wrong helper keeps its points)."""
    found = []
    for result in results:
        variant = chosen[result.student]
        for verdict in result.verdicts:
            mine = variant is not None and verdict.exercise == variant.exercise
            expected = variant.expected_diagnosis if mine else None
            if (verdict.passed, verdict.diagnosis) != (expected is None, expected):
                found.append(f"{result.student} {verdict.grade_id}: {verdict.diagnosis or 'passed'}, "
                             f"expected {expected or 'passed'}")
    return found


def time_stock_nbgrader(root, submissions, *, without_stalls=False):
    """(wall seconds, CPU seconds) of stock `nbgrader autograde` on the .ipynb files in ``submissions``;
    ``without_stalls``: with jupyter_client's missed wake-ups bounded to a second (stock_without_stalls/)."""
    with tempfile.TemporaryDirectory(prefix="bplab-bench-stock-") as tmp:
        course = Path(tmp)
        shutil.copytree(root / "solutions" / LECTURE, course / "source" / LECTURE)
        (course / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 'bench'\n")
        nbgrader = [sys.executable, "-m", "nbgrader"]
        subprocess.run([*nbgrader, "generate_assignment", LECTURE, "--force"], cwd=course, check=True,
                       capture_output=True)
        notebook_name = next((root / "solutions" / LECTURE).glob("*.ipynb")).name
        for path in sorted(submissions.glob("*.ipynb")):
            target = course / "submitted" / path.stem / LECTURE
            target.mkdir(parents=True)
            shutil.copy(path, target / notebook_name)
        env = dict(os.environ)
        if without_stalls:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(STALL_BOUND), env.get("PYTHONPATH")]))
        cpu, started = children_cpu(), time.monotonic()
        subprocess.run([*nbgrader, "autograde", LECTURE, "--create"], cwd=course, capture_output=True, env=env)
        return time.monotonic() - started, children_cpu() - cpu


def time_bplab(root, submissions, workers):
    """(wall, {where: CPU seconds}, results) of `bplab grade` with ``workers`` on a fresh workspace (assignment set
    up first). Where: the client (this process: the scheduler, the gradebook writes), the workers (with the fork
    server that forks them), the sandboxes."""
    with tempfile.TemporaryDirectory(prefix="bplab-bench-") as tmp:
        workspace = Workspace(Path(tmp) / "autograder", root)
        workspace.ensure_assignment(LECTURE)
        found = find_submissions(submissions, workspace, LECTURE)
        cpu, own = children_cpu(), time.process_time()
        started = time.monotonic()
        results = grade_batch(workspace, found, workers=workers)
        wall = time.monotonic() - started
        # the sandboxes' CPU is reaped inside their pid namespaces, so they report it themselves
        split = {"client": time.process_time() - own, "workers": children_cpu() - cpu,
                 "sandboxes": sum(r.seconds.get("sandbox_cpu", 0.0) for r in results)}
        return wall, split, results


def _session_cpu(session) -> float:
    """CPU seconds of the live processes of ``session`` (a session leader's pid), with their reaped children."""
    total = 0.0
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            in_session = int(stat_fields(name)[3]) == session  # state, ppid, pgrp, session, ...
        except (OSError, IndexError, ValueError):
            continue
        if in_session:
            total += cpu_seconds(name)
    return total


@contextmanager
def standing_cluster(workers):
    """(the scheduler's address, the session ids of its commands) of a scheduler with ``workers`` single-threaded
    workers, started as README's "Grading at scale" starts them (on a free port, each command a session of its
    own); stopped after."""
    from dask.distributed import Client

    with tempfile.TemporaryDirectory(prefix="bplab-bench-cluster-") as tmp:
        address_file = str(Path(tmp) / "scheduler.json")
        commands = [[sys.executable, "-m", "distributed.cli.dask_scheduler", "--port", "0", "--dashboard-address",
                     ":0", "--scheduler-file", address_file],
                    [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", address_file,
                     "--nthreads", "1", "--nworkers", str(workers), "--no-dashboard"]]
        started = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
                   for c in commands]
        try:
            with Client(scheduler_file=address_file, timeout="60s") as client:
                client.wait_for_workers(workers, timeout=120)
                address = client.scheduler.address
            yield address, [p.pid for p in started]
        finally:
            for proc in reversed(started):
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def time_bplab_standing(root, submissions, warm_up, workers):
    """(wall, {where: CPU seconds}, results) of `bplab grade` on a standing cluster of ``workers`` that graded the
    submissions in ``warm_up`` before (its imports done, its sandboxes warm). Where: the client, the cluster (its
    scheduler and workers), the sandboxes."""
    with standing_cluster(workers) as (address, sessions), tempfile.TemporaryDirectory(prefix="bplab-bench-") as tmp:
        before = Workspace(Path(tmp) / "before", root)
        before.ensure_assignment(LECTURE)
        grade_batch(before, find_submissions(warm_up, before, LECTURE), scheduler=address)
        workspace = Workspace(Path(tmp) / "autograder", root)
        workspace.ensure_assignment(LECTURE)
        found = find_submissions(submissions, workspace, LECTURE)
        cluster, own = sum(map(_session_cpu, sessions)), time.process_time()
        started = time.monotonic()
        results = grade_batch(workspace, found, scheduler=address)
        wall = time.monotonic() - started
        split = {"client": time.process_time() - own, "cluster": sum(map(_session_cpu, sessions)) - cluster,
                 "sandboxes": sum(r.seconds.get("sandbox_cpu", 0.0) for r in results)}
        return wall, split, results


def sandbox_startup(repeats=10):
    """(median seconds of `python -c pass` in a new sandbox, the same without one)."""
    def timed(run):
        samples = []
        for _ in range(repeats):
            started = time.monotonic()
            run()
            samples.append(time.monotonic() - started)
        return statistics.median(samples)

    argv = [sys.executable, "-I", "-S", "-c", "pass"]
    with tempfile.TemporaryDirectory() as job:
        inside = timed(lambda: run_sandboxed(argv, job_dir=job, limits=SandboxLimits(), env={"PATH": "/usr/bin"},
                                             deadline=30))
    outside = timed(lambda: subprocess.run(argv, check=True))
    return inside, outside


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    args = parser.parse_args()
    root, n = find_root(), args.count
    with tempfile.TemporaryDirectory(prefix="bplab-bench-subs-") as tmp:
        subs = Path(tmp) / "subs"
        workspace = Workspace(Path(tmp) / "autograder", root)
        workspace.ensure_assignment(LECTURE)
        chosen = build_submissions(workspace, subs, n)
        build_submissions(workspace, Path(tmp) / "warm-up", 4)
        stock_wall, stock_cpu = time_stock_nbgrader(root, subs, without_stalls=True)
        stalling_wall, stalling_cpu = time_stock_nbgrader(root, subs)
        one_wall, one_split, one = time_bplab(root, subs, 1)
        two_wall, two_split, two = time_bplab(root, subs, 2)
        warm_wall, warm_split, warm = time_bplab_standing(root, subs, Path(tmp) / "warm-up", 2)
    inside, outside = sandbox_startup()
    rows = [("stock nbgrader autograde, serial", stalling_wall, stalling_cpu),
            ("  the same, missed wake-ups bounded", stock_wall, stock_cpu),
            ("bplab grade, 1 worker", one_wall, sum(one_split.values())),
            ("bplab grade, 2 workers", two_wall, sum(two_split.values())),
            ("bplab grade, standing cluster, 2 workers", warm_wall, sum(warm_split.values()))]
    print(f"{n} lecture-04 submissions")
    print(f"{'grader':<41} {'wall s':>8} {'s/submission':>13} {'CPU s/submission':>17}")
    for name, wall, cpu in rows:
        print(f"{name:<41} {wall:>8.1f} {wall / n:>13.2f} {cpu / n:>17.2f}")
    for name, wall, split in (("2 workers, cold", two_wall, two_split), ("standing cluster, 2 workers, warm",
                                                                         warm_wall, warm_split)):
        print(f"throughput ratio, bplab {name} / stock nbgrader (wake-ups bounded): {stock_wall / wall:.2f}x "
              f"({stalling_wall / wall:.2f}x against stock as it is); "
              f"CPU per submission, bplab / stock: {sum(split.values()) / stock_cpu:.2f}")
    for name, split in (("1 worker", one_split), ("2 workers", two_split), ("standing cluster", warm_split)):
        print(f"CPU s per submission, {name}: " + ", ".join(f"{where} {cpu / n:.2f}" for where, cpu in split.items()))
    print(f"sandbox start-up (python -c pass): {inside:.3f} s in bwrap vs {outside:.3f} s without "
          f"(+{inside - outside:.3f} s)")
    graded = [r for r in one if "sandbox" in r.seconds]

    def median(key):
        return statistics.median(r.seconds[key] for r in graded)

    print(f"the sandbox's one-time warm-up (imports in its fork servers) is in the first submission's CPU: "
          f"{max(r.seconds['sandbox_cpu'] for r in graded):.2f} s vs {median('sandbox_cpu'):.2f} s median")
    print("profile, 1 worker, median per submission (wall s / CPU s):")
    print(f"  in the worker, outside the sandbox (nbgrader autograde, judge): "
          f"{median('grade') - median('sandbox'):.2f} / {median('worker_cpu'):.2f}")
    print(f"  in the sandbox: {median('sandbox'):.2f} / {median('sandbox_cpu'):.2f} = verification jobs "
          f"{median('verify'):.2f} / {median('verify_cpu'):.2f} + kernel start {median('kernel_start'):.2f} + "
          f"the notebook's cells (CPU) {median('cells_cpu'):.2f} + the executor")
    print(f"  batch overhead (cluster start, sandbox warm-up, gradebook writes): "
          f"{one_wall - sum(r.seconds['grade'] for r in graded):.1f} s wall in all")
    for name, results in (("1 worker", one), ("2 workers", two), ("standing cluster", warm)):
        wrong = unexpected_verdicts(results, chosen)
        print(f"verdicts against the answer catalog's expectations, {name}: "
              + (f"{len(wrong)} differ: " + "; ".join(wrong[:5]) if wrong else "all as expected"))
    assert [r.score for r in one] == [r.score for r in two] == [r.score for r in warm], "the runs disagree"


if __name__ == "__main__":
    main()
