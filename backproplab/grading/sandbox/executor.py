"""Runs submissions' code cells in real ipykernels, inside the grading sandbox.

``python -I -m backproplab.grading.sandbox.executor [--sweep] [--preload MODULE,...]`` is started by
``sandbox.WarmSandbox`` (or, with --no-sandbox, ``sandbox.run_unsandboxed``). Everything here is
as untrusted as the student's code: it shares the sandbox with the kernels. The trusted side
treats what it prints as data (validated JSON, size-capped) and judges nothing from it but outcomes.

It serves one job after another, in the job protocol of protocol.py (a stdin line per job naming its request
file; a stdout line per executed cell, between the job's ``started`` and ``done`` lines). What one submission
may cost the executor is its own: its outputs are kept up to ``SUBMISSION_OUTPUT_LIMIT`` bytes, and its CPU up
to ``EXECUTOR_CPU_PER_SUBMISSION`` (``CpuAccount``).

Kernels are forked from a fork server that imported the heavy modules once (forkserver.py).
Between jobs (``--sweep``) every other process of the sandbox is killed and the scratch emptied,
so each submission starts from the same clean state. This process and the fork server are not
dumpable: a kernel (same uid) can signal them, which only ends the sandbox, but not trace them.

When the kernel dies in a cell (os._exit, a crash, a resource limit), the executor starts a new
kernel, runs the cells before it again without recording them, and goes on after it: one broken
cell costs only its own tests. Imports stay cheap: no nbformat (its schema check costs seconds).
"""
from __future__ import annotations

import itertools
import json
import os
import queue
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ...kernel_client import CellRecorder, OutputBudget, until_idle
from . import protocol
from .forkserver import mounts_under, set_dumpable
from .procfs import cpu_seconds, process_running, stat_fields
from .protocol import OUTCOMES_MIME


class ForkServerStalled(RuntimeError):
    """The fork server gave no kernel in time, twice: the job is retried in a new sandbox."""


class ForkServer:
    """A fork server (forkserver.py), started once, before any submission. A spawn has a
    deadline: a server that does not answer in time, or at once one that is dead or stopped, is replaced (by a
    process of its own) and asked once more.

    ``forked``: a server another one forked (``ForkedServer``), already started; None: start a process, which
    forks a ``second`` server when given (its commands' read end, its answers' write end, and how many of the
    modules it shares: forkserver.py's ``--fork-second``)."""

    SPAWN_SECONDS = 30

    def __init__(self, modules, forked=None, second=None):
        self.modules = list(modules)
        self.cpu_seconds = 0.0
        self._start(forked, second)

    def _start(self, forked=None, second=None):
        options = ["--fork-second", ",".join(map(str, second))] if second else []
        self.proc = forked or subprocess.Popen(
            [sys.executable, "-I", "-m", "backproplab.grading.sandbox.forkserver", *options, *self.modules],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1,
            pass_fds=second[:2] if second else ())
        ready = json.loads(self._line(300) or "{}")
        if not ready.get("ready"):
            raise RuntimeError("a fork server did not start")
        self.cpu_seconds += float(ready.get("cpu_seconds", 0.0))
        self.loaded_torch = bool(ready.get("torch"))
        if forked is not None:
            forked.pid = int(ready.get("pid", -1))

    def _line(self, seconds) -> str:
        """The server's next line within ``seconds``; "" at once when the server is dead or stopped (SIGSTOP from
        outside), which no wait would cure."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([self.proc.stdout], [], [], min(left, 1.0))[0]:
                return self.proc.stdout.readline()
            if not self._serving():
                return ""
        return ""

    def _serving(self) -> bool:
        if self.proc.pid <= 0:  # a forked server, not yet named by its ready line
            return True
        try:
            return self.proc.poll() is None and stat_fields(self.proc.pid)[0] not in ("T", "t")
        except (OSError, IndexError):
            return False

    def spawn(self, spec_path) -> int:
        for _attempt in (1, 2):
            try:
                self.proc.stdin.write(f"{spec_path}\n")
                self.proc.stdin.flush()
                pid = int(self._line(self.SPAWN_SECONDS) or -1)
            except (OSError, ValueError):
                pid = -1
            if pid > 0:
                return pid
            self.replace()
        raise ForkServerStalled("the kernel fork server gave no kernel in time, twice")

    def replace(self):
        self.proc.kill()
        self.proc.wait()
        self._start()

    def alive(self):
        return self.proc.poll() is None


class ForkedServer:
    """A fork server that the kernel fork server forked (not this process's child), seen through its pipes as
    ``ForkServer`` sees a process it started: ``stdin``, ``stdout``, ``pid`` (from its ready line), ``poll``, ``kill``."""

    def __init__(self, commands_fd, answers_fd):
        self.stdin = os.fdopen(commands_fd, "w", buffering=1)
        self.stdout = os.fdopen(answers_fd, "r")
        self.pid = -1

    def poll(self):
        return None if self.pid > 0 and process_running(self.pid) else -1

    def kill(self):
        _signal(self.pid, signal.SIGKILL)

    def wait(self):  # its parent, the kernel fork server, reaps it
        for _ in range(500):
            if self.poll() is not None:
                break
            time.sleep(0.01)
        for stream in (self.stdin, self.stdout):
            try:
                stream.close()
            except OSError:
                pass


class Kernel:
    """A real ipykernel, forked from the fork server, driven through jupyter_client."""

    def __init__(self, forkserver, scratch, env, number, isolate, checkpoint):
        from jupyter_client.blocking import BlockingKernelClient
        from jupyter_client.connect import write_connection_file

        connection_file, _ = write_connection_file(str(scratch / f"kernel-{number}.json"), ip="127.0.0.1",
                                                   key=os.urandom(16).hex().encode())
        spec = scratch / f"kernel-{number}.spec.json"
        spec.write_text(json.dumps({"env": env, "cwd": str(scratch), "connection_file": connection_file,
                                    "isolate": isolate}))
        self.pid = forkserver.spawn(spec)
        self.checkpoint = checkpoint  # before each cell and after every message: where the CPU account raises
        self.client = BlockingKernelClient()
        self.client.load_connection_file(connection_file)
        self.client.start_channels()
        self._wait_for_ready(timeout=60)

    def _wait_for_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.alive():
            msg_id = self.client.kernel_info()
            try:
                while True:
                    reply = self.client.get_shell_msg(timeout=1.0)
                    if reply.get("parent_header", {}).get("msg_id") == msg_id:
                        break
            except queue.Empty:
                continue
            if self._iopub_carried(msg_id, timeout=0.05):  # else iopub was not yet connected: ask again at once
                return
        raise RuntimeError("the kernel did not start")

    def _iopub_carried(self, msg_id, timeout) -> bool:
        """Whether iopub brings the idle status of request ``msg_id`` within ``timeout``: then the subscription is
        connected and no cell's output can be missed (a subscriber that joins late loses what came before it,
        so the caller asks again). What the kernel published while starting is read and dropped on the way."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = self.client.get_iopub_msg(timeout=left)
            except queue.Empty:
                return False
            if msg.get("parent_header", {}).get("msg_id") == msg_id and msg.get("msg_type") == "status" \
                    and msg.get("content", {}).get("execution_state") == "idle":
                return True
        return False

    def run(self, source, timeout, recorder):
        """Execute ``source``; return ok | error | timeout | kernel-died."""
        self.checkpoint()  # no cell starts once the submission's allowance is spent
        msg_id = self.client.execute(source, store_history=True, allow_stdin=False, stop_on_error=False)
        ended = until_idle(self.client, msg_id, timeout, recorder.add, self.alive, self.checkpoint)
        if ended == "timeout":
            return self._interrupt(recorder, msg_id)
        return "kernel-died" if ended == "died" else "error" if recorder.errored else "ok"

    def _interrupt(self, recorder, msg_id):
        _signal(self.pid, signal.SIGINT)
        recorder.add({"msg_type": "error", "content": {"ename": "CellTimeoutError", "evalue": "the cell ran out of time",
                                                       "traceback": ["CellTimeoutError: the cell ran out of time"]}})
        if until_idle(self.client, msg_id, 5, lambda msg: None, self.alive, self.checkpoint) == "idle":
            return "timeout"  # the interrupted cell ended
        self.shutdown()  # deaf to SIGINT: the next cell needs a new kernel
        return "kernel-died"

    def alive(self):
        """The fork server reaps its children at once, so a dead kernel has no /proc entry."""
        return process_running(self.pid)

    def cpu_seconds(self):
        """CPU of the kernel and its reaped children so far (read before it is killed)."""
        return cpu_seconds(self.pid)

    def shutdown(self):
        """Kill the kernel: the init of the job's pid namespace, so every process it started dies too."""
        try:
            self.client.stop_channels()
        except Exception:
            pass
        _signal(self.pid, signal.SIGKILL)


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def emit(message):
    sys.stdout.write(protocol.line(message).decode())
    sys.stdout.flush()


class Servers:
    """The sandbox's two fork servers: ``kernels`` (everything the lectures import, torch included) and
    ``verifier`` (the same without torch: NumPy exercises' verification jobs are forked from it). The kernel
    server forks the verifier's once it has imported what the two share, then imports torch and the rest: the
    shared imports are paid once (0.8 CPU s per sandbox)."""

    def __init__(self, modules):
        shared = [m for m in modules if not m.startswith(WITHOUT_TORCH)] + VERIFIER_MODULES
        commands_read, commands_write = os.pipe()
        answers_read, answers_write = os.pipe()
        forked = ForkedServer(commands_write, answers_read)
        try:
            self.kernels = ForkServer(shared + [m for m in modules if m.startswith(WITHOUT_TORCH)],
                                      second=(commands_read, answers_write, len(shared)))
        finally:
            os.close(commands_read)
            os.close(answers_write)
        self.verifier = ForkServer(shared, forked=forked)
        if self.verifier.loaded_torch:
            raise RuntimeError("a module preloaded for verification imports torch")

    def alive(self):
        return self.kernels.alive() and self.verifier.alive()

    def pids(self):
        return {self.kernels.proc.pid, self.verifier.proc.pid}

    @property
    def cpu_seconds(self):
        return self.kernels.cpu_seconds + self.verifier.cpu_seconds


WITHOUT_TORCH = ("torch", "ipykernel", "backproplab.torch_reference")
VERIFIER_MODULES = ["IPython.core.interactiveshell", "backproplab.grading.sandbox.verification_job"]


def verify(request, servers: Servers, scratch) -> tuple[dict[int, list], float]:
    """The graded calls of the submission, made in verification jobs (verification.py) before its kernel
    runs: ({test cell index: [outputs to put there]} (a record, or the error that stopped it), the jobs' CPU seconds)."""
    from .verification import VerificationJob, hidden_paths, lent_helpers, plan_calls

    cells, settings = request["cells"], request["verify"]
    planned, withheld = plan_calls(cells, set(request["test_cells"]), set(settings["cells"]), int(request["hidden_seed"]))
    job_cells = [[index, source] for index, source in cells if index in set(settings["cells"])]
    budget = time.monotonic() + settings["seconds"]
    counter = itertools.count(1)
    spent = {}  # {job pid: its CPU seconds}, read just before it is killed

    def end(pid):
        spent.setdefault(pid, cpu_seconds(pid))
        _signal(pid, signal.SIGKILL)

    def run(calls, helpers=None):
        torch_allowed = next(iter(calls.values())).torch_allowed
        number = next(counter)
        job = VerificationJob(calls, max(1.0, budget - time.monotonic()), helpers,
                              cells_seconds=5.0 + request["cell_timeout"] * len(job_cells))
        spec_path = scratch / f"verify-{number}.json"
        spec_path.write_text(json.dumps(job.spec(job_cells, withheld, request["cell_timeout"])))
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        socket_path = str(scratch / f"verify-{number}.sock")
        listener.bind(socket_path)
        listener.listen(1)
        isolate = request.get("isolate")
        if isolate is not None:
            isolate = {**isolate, "hide": hidden_paths(torch_allowed)}
        job_spec = scratch / f"verify-{number}.spec.json"
        job_spec.write_text(json.dumps({"env": request["kernel_env"], "cwd": str(scratch), "isolate": isolate,
                                        "verify": {"socket": socket_path, "spec": str(spec_path)}}))
        server = servers.kernels if torch_allowed else servers.verifier
        try:
            pid = server.spawn(job_spec)
            return job.serve(listener, lambda: end(pid))
        finally:
            listener.close()

    results = {}
    for kind in sorted(set(p.job_kind for p in planned)):  # NumPy calls first; each kind in jobs of its own
        remaining = {position: p for position, p in enumerate(planned) if p.job_kind == kind}
        for _attempt in range(request["max_restarts"] + 1):  # a job that dies in a call: the calls after it in a new one
            if not remaining or time.monotonic() >= budget:
                break
            try:
                results.update(run(remaining))
            except OSError as err:  # the job could not be set up (e.g. a submission too large for the scratch)
                results.update({position: {"error": ["GraderError", f"the graded calls could not be made ({err})"]}
                                for position in remaining})
            remaining = {position: p for position, p in remaining.items() if position not in results}
        for position in remaining:
            results[position] = {"error": ["CellTimeoutError", "the graded calls ran out of time"]}
    # with_reference: only where a helper fails and the exercise calling it fails too (the judge credits nothing
    # else); helpers are judged first, so a submission whose helpers pass costs no judging of the callers
    verdicts = {}

    def fails(exercise):
        if exercise not in verdicts:
            verdicts[exercise] = any("record" not in results[position] or not p.passes(results[position]["record"])
                                     for position, p in enumerate(planned) if p.call.exercise == exercise)
        return verdicts[exercise]

    for exercise in dict.fromkeys(p.call.exercise for p in planned if p.helpers):
        calls = {position: p for position, p in enumerate(planned) if p.call.exercise == exercise
                 and "record" in results[position]}
        helpers = next(iter(calls.values())).helpers if calls else []
        failing = [h for h in helpers if fails(h)]
        lent = lent_helpers(failing, exercise, withheld) if failing and fails(exercise) else {}
        if lent and time.monotonic() < budget:
            try:
                served = run(calls, lent)
            except OSError:
                served = {}
            for position, with_reference in served.items():
                results[position]["record"]["with_reference"] = with_reference
    outputs = {}
    for position, planned_call in enumerate(planned):
        outputs.setdefault(planned_call.cell, []).append(_record_output(results[position], planned_call,
                                                                        request["record_output_limit"]))
    return outputs, sum(spent.values())


def _record_output(result, planned, limit) -> dict:
    """A test cell's output for one graded call: its record, or the error that stopped it."""
    if "record" in result:
        output = {"output_type": "display_data", "metadata": {},
                  "data": {OUTCOMES_MIME: result["record"], "text/plain": f"{planned.call.exercise}: outcomes recorded"}}
        if len(json.dumps(output)) <= limit:
            return output
        result = {"error": ["OutputLimitError", f"the outcomes of {planned.call.exercise} are too large to record"]}
    ename, evalue = result["error"]
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]}


def run_job(request, servers: Servers, scratch, budget: OutputBudget, checkpoint):
    """Run one submission's cells; emit a line per cell; return (restarts, the kernels' CPU seconds,
    seconds to start the first kernel). Test cells get the verification jobs' records (``verify``);
    a record the kernel itself displays is dropped and counted; outputs past ``budget`` are dropped.
    ``checkpoint()`` (the CPU account's ``check``) is called before each cell and after every kernel message."""
    started = time.monotonic()
    records, verify_cpu = verify(request, servers, scratch) if request.get("verify") else ({}, 0.0)
    emit({"verify_seconds": round(time.monotonic() - started, 3), "verify_cpu_seconds": round(verify_cpu, 3)})
    env, cells, timeout = request["kernel_env"], request["cells"], request["cell_timeout"]
    kernels = []

    def new_kernel():
        kernels.append(Kernel(servers.kernels, scratch, env, len(kernels) + 1, request.get("isolate"), checkpoint))
        return kernels[-1]

    started = time.monotonic()
    kernel, restarts, broken, cpu = new_kernel(), 0, set(), verify_cpu
    kernel_start = round(time.monotonic() - started, 3)
    kernel_cpu = kernel.cpu_seconds()
    try:
        for position, (index, source) in enumerate(cells):
            recorder = CellRecorder(request["cell_output_limit"], budget, dropped_mime=OUTCOMES_MIME)
            started = time.monotonic()
            status = kernel.run(source, timeout, recorder)
            seconds = round(time.monotonic() - started, 3)
            now = kernel.cpu_seconds()
            cell_cpu, kernel_cpu = now - kernel_cpu, now
            recorder.outputs.extend(records.get(index, []))
            died = status == "kernel-died" or not kernel.alive()
            if died:
                broken.add(index)
                if not any(o["output_type"] == "error" for o in recorder.outputs):
                    recorder.add({"msg_type": "error", "content": {
                        "ename": "DeadKernelError", "evalue": "the kernel died while running this cell",
                        "traceback": ["DeadKernelError: the kernel died while running this cell (os._exit, a crash, "
                                      "or a resource limit such as memory or CPU time)"]}})
            emit({"index": index, "execution_count": recorder.execution_count, "outputs": recorder.outputs,
                  "status": status, "seconds": seconds, "cpu_seconds": round(cell_cpu, 3),
                  "stray_records": recorder.stray_records})
            if not died:
                continue
            cpu += kernel.cpu_seconds()
            kernel.shutdown()
            if restarts >= request["max_restarts"]:
                return restarts, cpu, kernel_start
            restarts += 1
            kernel = new_kernel()
            for earlier_index, earlier in cells[:position]:  # the state the next cells expect, not recorded
                if earlier_index not in broken and kernel.run(earlier, timeout, CellRecorder(0)) == "kernel-died":
                    break
            kernel_cpu = kernel.cpu_seconds()
        cpu += kernel.cpu_seconds()
        return restarts, cpu, kernel_start
    finally:  # also when the executor's CPU for this submission ran out in the middle of a cell
        kernels[-1].shutdown()


def _ancestors():
    pids, pid = set(), os.getppid()
    while pid > 0:
        pids.add(pid)
        try:
            pid = int(stat_fields(pid)[1])
        except (OSError, IndexError, ValueError):
            break
    return pids


def sweep(protected) -> bool:
    """Kill every process of the sandbox but the executor, its ancestors and the fork server, whatever
    its state, until none is left: nothing a submission started lives on into the next one. (Each
    kernel's pid namespace already takes its processes with it; this is the second line.)"""
    for _ in range(400):
        others = []
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in protected:
                if process_running(name):
                    others.append(int(name))
        if not others:
            return True
        for pid in others:
            _signal(pid, signal.SIGKILL)
        time.sleep(0.005)
    return False


def wipe(folder, budget=1_000_000) -> bool:
    """Empty ``folder`` (the scratch), whatever permissions or depth the submission left on what
    it made, keeping only read-only mounts; False when something is left (the supervisor then
    discards the sandbox)."""
    folder = str(folder)
    mounts, leading = mounts_under(folder)
    stack = [os.path.join(folder, name) for name in os.listdir(folder)]
    while stack and budget > 0:
        budget -= 1
        path = stack.pop()
        try:
            if path in mounts:
                continue
            if path in leading:
                stack.extend(os.path.join(path, child) for child in os.listdir(path))
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, 0o700)
                children = os.listdir(path)
                if children:
                    stack.append(path)
                    stack.extend(os.path.join(path, child) for child in children)
                    continue
                os.rmdir(path)
            else:
                os.unlink(path)
        except OSError:
            continue
    kept = mounts | leading
    return all(os.path.join(where, name) in kept for where in (folder, *leading) for name in os.listdir(where))


class ExecutorCpuSpent(BaseException):
    """This submission has spent the executor's CPU allowance (``EXECUTOR_CPU_PER_SUBMISSION``), e.g. with
    floods of output or of messages to parse: its remaining cells are not run. Raised on SIGXCPU, or at the
    next checkpoint (a BaseException, so no handler of the executor's own swallows it)."""


class CpuAccount:
    """Per-submission CPU accounting of the long-lived executor. RLIMIT_CPU counts a process's whole life,
    and the executor serves up to 40 submissions: so before each one, its soft limit is set to what it used
    so far plus one submission's allowance (SIGXCPU past it: ``ExecutorCpuSpent``), and once the sandbox's
    own limit leaves less than an allowance, the sandbox is recycled. No submission can spend another's.

    SIGXCPU that comes while jupyter_client's asyncio loop runs (its blocking client waits in one) only marks the
    submission spent, and ``check`` raises after the message: asyncio logs and swallows an exception raised in
    one of its callbacks, and the future that callback was to complete would then never complete (the executor
    blocked for good: the job's deadline, not its verdict)."""

    def __init__(self, allowance):
        import resource

        self.soft, self.hard = resource.getrlimit(resource.RLIMIT_CPU)
        # a quarter of the sandbox's limit at most, so that a sandbox serves at least a few submissions
        self.allowance = allowance if self.soft == resource.RLIM_INFINITY else min(allowance, self.soft / 4)
        self.spent = False
        signal.signal(signal.SIGXCPU, self._spent)

    def _spent(self, signum, frame):
        import asyncio

        self._set(self.soft)  # one signal per submission: SIGXCPU repeats every second past the soft limit
        self.spent = True
        if asyncio._get_running_loop() is None:
            raise ExecutorCpuSpent()

    def check(self):
        """Raise ``ExecutorCpuSpent`` if this submission's allowance ran out while the raise had to wait."""
        if self.spent:
            raise ExecutorCpuSpent()

    def _set(self, soft):
        import resource

        resource.setrlimit(resource.RLIMIT_CPU, (soft, self.hard))

    def _left(self) -> float:
        import resource

        return float("inf") if self.soft == resource.RLIM_INFINITY else self.soft - _cpu_seconds()

    def exhausted(self) -> bool:
        """Less than one submission's allowance is left under the sandbox's limit: time for a new sandbox."""
        return self._left() < self.allowance

    def start(self, allowance=None):
        """Allow the submission about to run ``allowance`` CPU seconds of the executor (default: ``allowance``)."""
        import math
        import resource

        self.spent = False
        if self.soft != resource.RLIM_INFINITY:
            self._set(min(self.soft, math.ceil(_cpu_seconds() + min(allowance or self.allowance, self.allowance))))

    def stop(self):
        self._set(self.soft)


def main(argv=None):
    """Serve jobs (protocol.py): a stdin line per job; on stdout the lines of each job, between its ``started``
    and ``done`` lines. The hidden seed comes on stdin, never in the request file, which the kernels could
    read. With --sweep (in the sandbox only), every process the
    job started is killed and the scratch emptied before "done"; "recycle": true in it asks for a new sandbox."""
    from .limits import EXECUTOR_CPU_PER_SUBMISSION, SUBMISSION_OUTPUT_LIMIT

    argv = sys.argv[1:] if argv is None else argv
    set_dumpable(False)
    sweeping = "--sweep" in argv
    modules = argv[argv.index("--preload") + 1].split(",") if "--preload" in argv else []
    servers = Servers([m for m in modules if m])
    ancestors = _ancestors()
    warmup = servers.cpu_seconds + _cpu_seconds()
    account = CpuAccount(EXECUTOR_CPU_PER_SUBMISSION)
    emit(protocol.READY)
    scratch_root = Path.cwd()
    while True:
        line = sys.stdin.readline()
        if not line:
            return 0
        job = json.loads(line)
        if not servers.alive() or account.exhausted():
            return 3  # before "started": the supervisor retries the job in a new sandbox
        emit(protocol.started(job["job"]))
        cpu_before = _cpu_seconds()
        with open(job["request"], encoding="utf-8") as f:
            request = json.load(f)
        request["hidden_seed"] = job.get("hidden_seed", 0)
        scratch = scratch_root / f"job-{job['job']}"
        scratch.mkdir()
        budget = OutputBudget(request.get("submission_output_limit", SUBMISSION_OUTPUT_LIMIT))
        restarts, kernels_cpu, kernel_start, cpu_spent = 0, 0.0, 0.0, False
        account.start(request.get("executor_cpu_seconds"))
        try:
            restarts, kernels_cpu, kernel_start = run_job(request, servers, scratch, budget, account.check)
            account.check()  # spent after the last message the kernels sent
        except ForkServerStalled:
            emit(protocol.retry(job["job"]))  # no fault of the submission: the supervisor runs it again
            return 5
        except ExecutorCpuSpent:
            cpu_spent = True
        finally:
            account.stop()
        protected = {os.getpid(), *servers.pids(), *ancestors}
        clean = not sweeping or (sweep(protected) and wipe(scratch_root))
        emit(protocol.done(job["job"], restarts=restarts, kernel_start_seconds=kernel_start,
                           cpu_seconds=round(warmup + kernels_cpu + _cpu_seconds() - cpu_before, 3),
                           output_dropped_bytes=budget.dropped, executor_cpu_spent=cpu_spent,
                           recycle=cpu_spent or account.exhausted()))  # spent mid-spawn, a fork server may be out of step
        warmup = 0.0
        if not clean:
            return 4


def _cpu_seconds():
    """This process's CPU (the kernels' is read from /proc before they are killed)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    sys.exit(main())
