"""A warm sandbox (sandbox.WarmSandbox running the executor and the fork server) grades one
submission after another: each job starts from the same clean state, whatever the previous
one did, and a job that breaks the sandbox costs only its own run."""
from __future__ import annotations

import json
import sys

import pytest

from backproplab.grading.preprocessors import KERNEL_ENV, SANDBOX_ENV
from backproplab.grading.sandbox import SandboxLimits, WarmSandbox, sandbox_problem

# slow: real kernels in a real sandbox
pytestmark = [pytest.mark.slow, pytest.mark.skipif(sandbox_problem() is not None, reason="bwrap cannot run here")]

ARGV = [sys.executable, "-I", "-m", "backproplab.grading.sandbox.executor", "--preload", "numpy", "--sweep"]


@pytest.fixture
def sandbox():
    warm = WarmSandbox(ARGV, limits=SandboxLimits(), env={**SANDBOX_ENV, **KERNEL_ENV})
    yield warm
    warm.close()


def job(sandbox, *cells, cell_timeout=60, deadline=120):
    """Run ``cells`` as one job; return (the run, {cell index: its printed text}, the done record)."""
    request = {"cells": [[i, source] for i, source in enumerate(cells)], "cell_timeout": cell_timeout,
               "cell_output_limit": 1 << 20, "record_output_limit": 0, "max_restarts": 2,
               "kernel_env": {"BPLAB_GRADING_SEED": "1"}, "isolate": SandboxLimits().isolation()}
    run = sandbox.run(request, deadline=deadline, max_output=1 << 24)
    records = [json.loads(line) for line in run.stdout.decode().splitlines() if line.strip()]
    texts = {r["index"]: "".join(o.get("text", "") + o.get("evalue", "") for o in r["outputs"])
             for r in records if "index" in r}
    done = next((r for r in records if r.get("done")), None)
    return run, texts, done


CLEAN_STATE = """
import os
mine = {os.getpid(), os.getppid()}
others = []
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        others.append(open(f'/proc/{pid}/cmdline', 'rb').read().replace(b'\\0', b' ').decode()[:80])
    except OSError:
        pass
print('planted' if 'PLANTED' in globals() else 'clean-namespace')
print('tmp:', sorted(p for p in os.listdir('/tmp') if not p.startswith('job-') and p not in ('.ipython', '.runtime')))
startup = '/tmp/.ipython/profile_default/startup'
print('startup:', [n for n in os.listdir(startup) if n != 'README'] if os.path.isdir(startup) else [])
print('processes:', [c for c in others if 'planter' in c or 'sleep' in c])
"""


def test_a_job_starts_clean_whatever_the_previous_one_left(sandbox):
    """A submission leaves a detached process that plants an IPython startup file, locked folders
    and files in the scratch and /dev/shm, a process whose main thread exited while another thread
    runs (a zombie in /proc), and tries to read the executor's and fork server's memory. Does the
    next submission in the same sandbox see none of it, and does the reading fail?"""
    first = job(sandbox, "print('first')", CLEAN_STATE)[1][1]  # /tmp may hold read-only mounts of the checkout
    assert first.splitlines()[0] == "clean-namespace" and first.splitlines()[2:] == ["startup: []", "processes: []"]
    run, texts, done = job(sandbox, """
import os, subprocess, sys, time
planter = ("import os, time\\nwhile True:\\n    d = '/tmp/.ipython/profile_default/startup'\\n"
           "    os.makedirs(d, exist_ok=True)\\n    open(d + '/00-plant.py', 'w').write('PLANTED = 1')\\n"
           "    open('/dev/shm/planted', 'w').write('x')\\n    time.sleep(0.02)")
subprocess.Popen([sys.executable, '-c', planter, 'planter'], start_new_session=True)
subprocess.Popen([sys.executable, '-c', "import threading, time\\nthreading.Thread(target=time.sleep, args=(1000,)).start()\\n"
                  "import _thread\\n_thread.exit()", 'sleep-zombie'], start_new_session=True)
subprocess.Popen(['/bin/sh', '-c', 'trap "" HUP INT TERM; exec sleep 1000'], start_new_session=True)
os.makedirs('/tmp/keep/locked')
open('/tmp/keep/locked/f', 'w').write('x')
os.chmod('/tmp/keep/locked', 0)
os.chmod('/tmp/keep', 0o500)
open('/tmp/leftover', 'w').write('x')
open('/dev/shm/leftover', 'w').write('x')
print('parent', os.getppid())
myself = os.readlink('/proc/self')  # this kernel's pid in the sandbox's /proc
for pid in filter(str.isdigit, os.listdir('/proc')):
    for name in ('mem', 'environ') if pid != myself else ():
        try:
            command = open(f'/proc/{pid}/cmdline').read()
            if 'sandbox.forkserver' in command or 'sandbox.executor' in command:
                open(f'/proc/{pid}/{name}', 'rb').read(16)
                print('read', name, 'of', pid)
        except OSError as err:
            print('denied', name, type(err).__name__)
time.sleep(0.5)
""")
    assert done is not None, run.stderr
    assert "read" not in texts[0].split(), texts[0]
    assert "parent 0" in texts[0]  # the kernel is the init of its own pid namespace
    assert texts[0].count("denied") >= 4
    run, texts, done = job(sandbox, "print('next')", CLEAN_STATE + "\nprint('shm:', os.listdir('/dev/shm'))")
    assert done is not None, run.stderr
    assert texts[1] == first + "shm: []\n"


def test_a_kernel_cannot_signal_the_fork_server_or_the_executor(sandbox):
    """A submission finds the fork server and the executor in /proc and sends them SIGSTOP (from a
    child process, as the pid numbers it sees belong to the sandbox's namespace, not its own). Neither
    is reached: the next submission's kernel starts at once (a stalled fork server would cost the
    30 s spawn deadline) and is graded normally."""
    run, texts, done = job(sandbox, """
import os, subprocess, sys
targets = [p for p in os.listdir('/proc') if p.isdigit() and p != os.readlink('/proc/self')
           and any(n in open(f'/proc/{p}/cmdline', 'rb').read() for n in (b'sandbox.forkserver', b'sandbox.executor'))]
print('parent', os.getppid(), 'targets', len(targets) >= 2)
stopper = 'import os, signal, sys\\nfor p in sys.argv[1:]:\\n    try: os.kill(int(p), signal.SIGSTOP)\\n'
subprocess.run([sys.executable, '-c', stopper + '    except OSError: pass', *targets])
""", "print('after')")
    assert texts[0].split() == ["parent", "0", "targets", "True"], (texts, run.stderr)
    run, texts, done = job(sandbox, "print(6 * 7)", deadline=60)
    assert done is not None and texts[0].strip() == "42", run.stderr
    assert done["kernel_start_seconds"] < 10


def test_a_stalled_or_dead_fork_server_costs_no_job(sandbox):
    """The fork server is stopped (SIGSTOP) or killed from outside between two jobs: the next job is
    still graded (a stalled server is replaced, a dead one means a new sandbox), never scored 0."""
    import os
    import signal

    from backproplab.grading.sandbox.host import _children

    job(sandbox, "print(1)")
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        servers = [pid for pid in _all_descendants(sandbox.proc.pid, _children)
                   if b"sandbox.forkserver" in open(f"/proc/{pid}/cmdline", "rb").read()]
        assert servers
        for pid in servers:
            os.kill(pid, sig)
        run, texts, done = job(sandbox, "print(6 * 7)")
        assert done is not None and texts[0].strip() == "42", run.stderr


def _all_descendants(pid, children):
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        for child in children(current):
            found.append(child)
            todo.append(child)
    return found


def test_the_deadline_kills_the_warm_sandbox_and_the_next_job_runs(sandbox):
    """A submission that runs past its deadline is stopped there; the next one is graded."""
    run, texts, done = job(sandbox, "import time\nwhile True:\n    time.sleep(1)", deadline=8)
    assert run.timed_out and done is None
    run, texts, done = job(sandbox, "print(6 * 7)")
    assert done is not None and texts[0].strip() == "42", run.stderr


def test_a_kernel_starts_by_fork_with_the_preloaded_modules_and_its_cpu_is_counted(sandbox):
    """Does every job's kernel start with the fork server's imports already done (numpy here,
    before the job imports anything), and does each job report its CPU and kernel start?"""
    for _ in range(2):
        run, texts, done = job(sandbox, "import sys\nprint('numpy' in sys.modules, 'torch' in sys.modules)")
        assert texts[0].split() == ["True", "False"], run.stderr
        assert done["cpu_seconds"] > 0 and 0 < done["kernel_start_seconds"] < 60


def test_each_kernel_has_its_own_bounded_tmp_and_shm_and_a_read_only_dev(sandbox):
    """A kernel's /tmp and /dev/shm hold at most their declared sizes (SandboxLimits), /dev takes no new
    file, and whatever was written is gone for the next kernel."""
    limits = SandboxLimits()
    fill = """
import os
def fill(path):
    written = 0
    try:
        with open(path, 'wb') as f:
            while written < (1 << 30):
                f.write(b'x' * (1 << 20)); f.flush(); written += 1 << 20
    except OSError:
        pass
    return written >> 20
print(fill('/tmp/big'), fill('/dev/shm/big'))
try:
    open('/dev/planted', 'w')
    print('dev writable')
except OSError:
    print('dev read-only')
"""
    run, texts, done = job(sandbox, fill)
    tmp_mb, shm_mb = map(int, texts[0].split()[:2])
    assert tmp_mb <= limits.job_scratch_mb and shm_mb <= limits.shm_mb and "dev read-only" in texts[0]
    run, texts, done = job(sandbox, "import os\nprint(os.path.exists('/tmp/big'), os.path.exists('/dev/shm/big'))")
    assert texts[0].split() == ["False", "False"]


def test_the_whole_sandbox_stays_under_its_total_memory(sandbox):
    """Six processes of 800 MB each (4.8 GB, each under its own 2 GB limit) never take the sandbox past
    SandboxLimits.total_memory_mb together: the OOM killer ends some of them, and the next submission in
    the same warm sandbox is graded normally."""
    from backproplab.grading.sandbox import SandboxCgroup

    probe = SandboxCgroup.create(SandboxLimits())
    if probe is None:
        pytest.skip("no cgroup can be made here (not root, or no cgroup v1 memory and pids controllers)")
    probe.remove()
    run, texts, done = job(sandbox, """
import subprocess, sys
hog = "import time\\nx = b'x' * (800 << 20)\\nprint('held', flush=True)\\ntime.sleep(5)"
procs = [subprocess.Popen([sys.executable, '-c', hog], stdout=subprocess.PIPE) for _ in range(6)]
held = sum(p.communicate()[0] == b'held\\n' for p in procs)
print('held', held)
""", deadline=120)
    assert sandbox.cgroup is not None and sandbox.cgroup.peak_memory_mb() <= SandboxLimits().total_memory_mb
    if done is not None:
        assert int(texts[0].split()[-1]) < 6, texts
    run, texts, done = job(sandbox, "print(6 * 7)")
    assert done is not None and texts[0].strip() == "42", run.stderr


def test_a_killed_graders_cgroups_are_removed_by_the_next_one():
    """A grader killed before it could clean up leaves its (empty) cgroups behind: the next sandbox's
    cgroup removes every bplab cgroup whose grader pid no longer runs, and leaves a live grader's alone."""
    import subprocess

    from backproplab.grading.sandbox import SandboxCgroup

    probe = SandboxCgroup.create(SandboxLimits())
    if probe is None:
        pytest.skip("no cgroup can be made here (not root, or no cgroup v1 memory and pids controllers)")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    stale = [SandboxCgroup.ROOT / controller / f"bplab-{dead_pid}-stale" for controller in ("memory", "pids")]
    for folder in stale:
        folder.mkdir()
    try:
        fresh = SandboxCgroup.create(SandboxLimits())
        assert not any(folder.exists() for folder in stale)
        assert all(folder.exists() for folder in probe.folders + fresh.folders)  # this grader's own stay
        fresh.remove()
    finally:
        probe.remove()
        for folder in stale:
            if folder.exists():
                folder.rmdir()
