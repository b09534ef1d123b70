"""A warm sandbox (sandbox.WarmSandbox running the executor and the fork server) grades one
submission after another: each job starts from the same clean state, whatever the previous
one did, and a job that breaks the sandbox costs only its own run."""
from __future__ import annotations

import json
import os
import subprocess
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


def job(sandbox, *cells, cell_timeout=60, deadline=120, private=None, **settings):
    """Run ``cells`` as one job (``settings``: more of the request); return (the run, {cell index: its printed
    text}, the done record)."""
    request = {"cells": [[i, source] for i, source in enumerate(cells)], "cell_timeout": cell_timeout,
               "cell_output_limit": 1 << 20, "record_output_limit": 0, "max_restarts": 2,
               "kernel_env": {"BPLAB_GRADING": "1"}, "isolate": SandboxLimits().isolation(), **settings}
    run = sandbox.run(request, deadline=deadline, max_output=1 << 24, private=private)
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
    """A submission looks for the fork server and the executor in /proc (it sees none: a /proc of its own)
    and sends SIGSTOP to every other pid listed there (from a child process, as the numbers belong to the
    sandbox's namespace, not its own). Nothing is reached: the next submission's kernel starts at once (a
    stalled fork server would cost the 30 s spawn deadline) and is graded normally."""
    run, texts, done = job(sandbox, """
import os, subprocess, sys
def named(p):
    try:
        return any(n in open(f'/proc/{p}/cmdline', 'rb').read() for n in (b'sandbox.forkserver', b'sandbox.executor'))
    except OSError:
        return False
listed = [p for p in os.listdir('/proc') if p.isdigit() and p not in (os.readlink('/proc/self'), '1')]
print('parent', os.getppid(), 'targets', any(named(p) for p in listed))
stopper = 'import os, signal, sys\\nfor p in sys.argv[1:]:\\n    try: os.kill(int(p), signal.SIGSTOP)\\n'
subprocess.run([sys.executable, '-c', stopper + '    except OSError: pass', *listed])
""", "print('after')")
    assert texts[0].split() == ["parent", "0", "targets", "False"], (texts, run.stderr)
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


def test_a_fork_server_that_runs_but_never_answers_is_replaced_within_the_spawn_deadline():
    """A fork server that is alive and running but gives no kernel is replaced after SPAWN_SECONDS (not waited on
    forever), and a spawn that fails twice raises ForkServerStalled, which retries the job in a new sandbox."""
    import subprocess
    import time

    from backproplab.grading.sandbox.executor import ForkServer, ForkServerStalled

    mute = subprocess.Popen([sys.executable, "-c", "import json, os, time\n"
                             "print(json.dumps({'ready': True, 'pid': os.getpid()}), flush=True)\ntime.sleep(120)"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    server = ForkServer([], forked=mute)
    server.SPAWN_SECONDS = 2
    started = time.monotonic()
    try:
        with pytest.raises(ForkServerStalled):
            server.spawn("/nonexistent/spec.json")  # the replacement (a real fork server) answers -1 for it
        assert mute.poll() is not None, "the silent server was not killed"
        assert server.proc is not mute
        assert time.monotonic() - started < 2 * server.SPAWN_SECONDS + 10
    finally:
        for proc in (mute, server.proc):
            proc.kill()
            proc.wait()


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
    the same warm sandbox is graded normally. Each holds its memory until every one has reported (its stdin
    closes): with a fixed hold instead, the first ones could let go before the last ones start, on a busy
    machine where the sandbox (nice 10) gets little CPU, and all six got through one after another."""
    from backproplab.grading.sandbox import SandboxCgroup

    probe = SandboxCgroup.create(SandboxLimits())
    if probe is None:
        pytest.skip("no cgroup can be made here (not root, or no cgroup v1 memory and pids controllers)")
    probe.remove()
    run, texts, done = job(sandbox, """
import subprocess, sys
hog = "import sys\\nx = b'x' * (800 << 20)\\nprint('held', flush=True)\\nsys.stdin.read()"
procs = [subprocess.Popen([sys.executable, '-c', hog], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
         for _ in range(6)]
held = sum(p.stdout.readline() == b'held\\n' for p in procs)  # a killed hog's pipe ends: b''
for p in procs:
    p.stdin.close()
    p.wait()
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


def test_a_killed_graders_job_folder_is_removed_by_the_next_sandbox(sandbox):
    """A grader killed with its warm sandbox leaves the sandbox's job folder in /tmp: the next warm sandbox removes
    every job folder whose grading process is gone, and keeps a live one's (this process's, from a first sandbox)."""
    import tempfile
    from pathlib import Path

    from backproplab.grading.sandbox.host import JOBS_PREFIX

    first = WarmSandbox(ARGV, limits=SandboxLimits(), env={**SANDBOX_ENV, **KERNEL_ENV})
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1   # a process id no process has
    left = Path(tempfile.gettempdir()) / f"{JOBS_PREFIX}{dead}-planted"
    left.mkdir()
    try:
        assert job(first, "print(1)")[1][0].strip() == "1"
        assert not left.exists()
        assert Path(first.job_dir).name.startswith(f"{JOBS_PREFIX}{os.getpid()}-")
        run, texts, done = job(sandbox, "print(2)")
        assert done is not None and texts[0].strip() == "2", run.stderr
        assert Path(first.job_dir).is_dir()   # a live grader's stays
    finally:
        first.close()
        if left.exists():
            left.rmdir()
    assert first.job_dir is None


def test_a_kernel_sees_a_proc_of_its_own_and_never_the_seed(sandbox):
    """Issue 27, items 2 and 4: a kernel finds no other process of the sandbox in /proc (neither listed nor
    by a thread's id), so it cannot watch the executor's CPU or the fork servers; its environment says that
    it is graded, and neither it nor the request file it can read holds the hidden seed."""
    probe = """
import glob, os
me = {os.readlink('/proc/self'), str(os.getppid())}
seen = []
for pid in range(1, 4096):
    try:
        seen.append(open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')[-2:])
    except OSError:
        pass
print('seen:', [c for c in seen if b'executor' in b''.join(c) or b'forkserver' in b''.join(c)])
print('env:', {k: v for k, v in os.environ.items() if k.startswith('BPLAB')})
seed = str(8675308 + 1)  # not in the cell's source, which the request holds
print('requests with the seed:', [p for p in glob.glob('/job/*') if seed in open(p).read()])
print('environment with the seed:', [k for k, v in os.environ.items() if seed in v or 'SEED' in k])
"""
    run, texts, done = job(sandbox, probe, private={"hidden_seed": 8675309})
    assert done is not None, run.stderr
    assert "seen: []" in texts[0] and "'BPLAB_GRADING': '1'" in texts[0], texts
    assert "requests with the seed: []" in texts[0] and "environment with the seed: []" in texts[0], texts


def test_a_submissions_outputs_are_kept_up_to_its_budget_and_the_rest_counted(sandbox):
    """Issue 27, item 3: nbgrader's LimitOutput counts lines; the executor keeps a submission's outputs up to
    a byte budget for all cells together (one 2 MB line per cell once made a 76 MB graded notebook) and
    counts what it dropped, which flags the submission. The next job has a budget of its own."""
    flood = "print('x' * 300_000)"
    run, texts, done = job(sandbox, flood, flood, flood, flood, "print('after')", submission_output_limit=700_000)
    assert done["output_dropped_bytes"] > 500_000 and len(run.stdout) < 1_000_000
    assert "after" not in texts[4] and "truncated" in texts[2] + texts[3]
    run, texts, done = job(sandbox, "print('honest')")
    assert texts[0] == "honest\n" and done["output_dropped_bytes"] == 0


def test_a_low_cpu_limit_still_serves_many_jobs_in_one_sandbox():
    """The executor's per-submission allowance is at most a quarter of the sandbox's CPU limit: a course that
    sets cpu_seconds = 60 still grades submission after submission in one warm sandbox."""
    warm = WarmSandbox(ARGV, limits=SandboxLimits(cpu_seconds=60), env={**SANDBOX_ENV, **KERNEL_ENV})
    try:
        for n in range(3):
            run, texts, done = job(warm, f"print({n} * 2)")
            assert texts[0] == f"{n * 2}\n" and done["recycle"] is False, (run.stdout[-300:], run.stderr)
        assert warm.jobs == 3
    finally:
        warm.close()


def test_a_job_cannot_spend_the_executors_cpu_for_the_next(sandbox):
    """Issue 27, item 2: RLIMIT_CPU counts the executor's whole life across up to 40 jobs. A job that makes
    it parse a flood of messages spends only its own allowance (its remaining cells are not run, it is
    reported), and the sandbox is recycled: the next job runs whole."""
    flood = ("import sys, time\nend = time.time() + 60\n"
             "while time.time() < end:\n    sys.stdout.write('y' * 60000 + '\\n'); sys.stdout.flush()")
    run, texts, done = job(sandbox, flood, "print('not reached')", executor_cpu_seconds=2, deadline=240)
    assert done is not None and done["executor_cpu_spent"] is True and done["recycle"] is True, run.stdout[-500:]
    assert 1 not in texts
    run, texts, done = job(sandbox, "print('honest')")
    assert texts[0] == "honest\n" and done["executor_cpu_spent"] is False


ASYNCIO_SPEND = """
import asyncio, resource, time
from backproplab.grading.sandbox.executor import CpuAccount, ExecutorCpuSpent
resource.setrlimit(resource.RLIMIT_CPU, (60, 65))
account = CpuAccount(1)
account.start()

def burn():  # a callback of the loop, as jupyter_client's message handling runs
    end = time.process_time() + 2.5
    while time.process_time() < end:
        pass

loop = asyncio.new_event_loop()
loop.call_soon(burn)
loop.run_until_complete(asyncio.sleep(0.01))  # asyncio would log and swallow an exception raised in burn
try:
    account.check()
    print("not raised")
except ExecutorCpuSpent:
    print("raised at the checkpoint")
"""


def test_the_cpu_account_raises_at_a_checkpoint_when_sigxcpu_comes_inside_the_asyncio_loop():
    """The executor's allowance can run out while jupyter_client's blocking client waits in its asyncio loop. An
    exception raised there from SIGXCPU was logged and swallowed by asyncio, whose future then never completed:
    the executor blocked to the job's deadline (a flaky hang). Now it is marked and raised at the next checkpoint."""
    run = subprocess.run([sys.executable, "-c", ASYNCIO_SPEND], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "raised at the checkpoint" and "Exception in callback" not in run.stderr, run.stderr


def test_a_job_whose_executor_died_under_it_is_run_again_once():
    """Issue 27, item 2: an executor that dies in the middle of a job (a limit the previous job spent, the
    machine) costs that job nothing: it is run again, once, in a new sandbox. A second death is its own."""
    import shutil
    import tempfile
    from pathlib import Path

    deaths = Path(tempfile.mkdtemp(prefix="bplab-deaths-", dir="/var/tmp"))
    deaths.chmod(0o777)
    fake = (f"import json, os, sys\nprint(json.dumps({{'ready': True}}), flush=True)\n"
            f"while True:\n    job = json.loads(sys.stdin.readline())\n"
            f"    print(json.dumps({{'job': job['job'], 'started': True}}), flush=True)\n"
            f"    if len(os.listdir({str(deaths)!r})) < job.get('deaths', 0):\n"
            f"        open(os.path.join({str(deaths)!r}, os.urandom(8).hex()), 'w').close()\n"
            f"        os._exit(9)\n"
            f"    print(json.dumps({{'done': True, 'job': job['job'], 'restarts': 0}}), flush=True)\n")
    for allowed, survives in ((1, True), (2, False)):
        for name in os.listdir(deaths):
            os.unlink(deaths / name)
        warm = WarmSandbox([sys.executable, "-I", "-c", fake], limits=SandboxLimits(), env={})
        warm._start = _bind_writable(warm, deaths)
        try:
            run = warm.run({}, deadline=60, max_output=1 << 16, private={"deaths": allowed})
        finally:
            warm.close()
        assert (run.returncode == 0) is survives and len(os.listdir(deaths)) == allowed
    shutil.rmtree(deaths)


def _bind_writable(warm, folder):
    """``warm``'s _start, with ``folder`` bound writable into its sandboxes (for a test's bookkeeping)."""
    from backproplab.grading.sandbox import host

    original = host.sandbox_command

    def start():
        def command(argv, **kw):
            cmd = original(argv, **kw)
            at = cmd.index("--chdir")  # after the scratch /tmp and the read-only roots
            return [*cmd[:at], *host._parents(folder), "--bind", str(folder), str(folder), *cmd[at:]]
        host.sandbox_command = command
        try:
            type(warm)._start(warm)
        finally:
            host.sandbox_command = original
    return start
