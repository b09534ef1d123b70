"""The grading sandbox: every process that runs student code while grading runs inside bubblewrap.

Inside the sandbox (``sandbox_command``):
- new pid, network, ipc, uts and user namespaces; inside, the uid is 65534 (nobody) with no
  capabilities. When the grader runs as root, the sandbox also runs under a host uid of its own
  (a fresh unprivileged uid per sandbox, through ``setpriv``), so that its process limit is its
  own and it owns nothing on the host;
- read-only: /usr and the libraries, the Python installation (``sys.base_prefix``, ``sys.prefix``)
  and the ``backproplab`` package (which holds no answers: catalogs live in solutions/);
- the job folder (``/job``, read-only: the request) and a private writable scratch ``/tmp``
  (a size-limited tmpfs, also HOME and the working directory);
- nothing else of the host: no repository, workspace, gradebook, secret, other submissions,
  home folder, or /proc of other processes; no network (a loopback of its own only);
- limits (``SandboxLimits``): address space, CPU time, processes, file size, open files, scratch size;
  a lower CPU priority (nice 10) than the grader.

``run_sandboxed`` supervises one sandbox: it enforces a wall-clock deadline and an output cap,
never blocks on a pipe that student processes hold open (non-blocking reads, then SIGKILL of
the whole sandbox: its pid namespace dies with it, so no process it started survives).
"""
from __future__ import annotations

import atexit
import functools
import json
import multiprocessing.util
import os
import random
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import backproplab

from . import protocol
from .limits import HOST_UID_RANGE, SANDBOX_NICENESS, SANDBOX_UID, SandboxLimits
from .procfs import owned_folder, process_running, stat_fields

INSTALL_HINT = ("bubblewrap (bwrap) is needed to grade student code safely. Install it "
                "(Debian/Ubuntu: `sudo apt-get install bubblewrap`; the repository's `scripts/ensure-bwrap` "
                "does it), make sure unprivileged user namespaces are enabled (sysctl "
                "kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0), or pass --no-sandbox "
                "to grade anyway with every result flagged `unsandboxed`.")


class SandboxUnavailable(RuntimeError):
    """bwrap cannot run here (missing, or no user namespaces); the message names the fix."""


class SandboxCgroup:
    """One cgroup per sandbox where the grader may make one (root, cgroup v1's memory and pids controllers):
    everything in the sandbox together stays under ``total_memory_mb`` (RAM and swap, tmpfs included; past
    it the kernel's OOM killer ends the biggest process, the student's) and ``total_tasks``. Elsewhere
    ``create`` returns None and a sandbox is bounded by RLIMIT_AS x the process limit."""

    ROOT = Path("/sys/fs/cgroup")

    def __init__(self, folders):
        self.folders = folders

    @classmethod
    def create(cls, limits: SandboxLimits):
        if os.geteuid() != 0 or not all(os.access(cls.ROOT / c, os.W_OK) for c in ("memory", "pids")):
            return None
        cls.remove_stale()
        name = f"bplab-{os.getpid()}-{random.randrange(1 << 40):x}"
        memory, pids = cls.ROOT / "memory" / name, cls.ROOT / "pids" / name
        try:
            memory.mkdir()
            pids.mkdir()
            size = str(limits.total_memory_mb << 20)
            (memory / "memory.limit_in_bytes").write_text(size)
            if (memory / "memory.memsw.limit_in_bytes").exists():  # no way around the limit through swap
                (memory / "memory.memsw.limit_in_bytes").write_text(size)
            (pids / "pids.max").write_text(str(limits.total_tasks))
        except OSError:
            cls([memory, pids]).remove()
            return None
        return cls([memory, pids])

    @classmethod
    def remove_stale(cls):
        """Remove the cgroups of graders that are gone (killed before they could clean up), with any process
        still in them: ``bplab-<grader pid>-...`` whose grader pid no longer runs."""
        for controller in ("memory", "pids"):
            for folder in (cls.ROOT / controller).glob("bplab-*-*"):
                try:
                    owner = int(folder.name.split("-")[1])
                    os.kill(owner, 0)
                    continue  # its grader still runs
                except ProcessLookupError:
                    pass
                except (ValueError, PermissionError):
                    continue
                try:
                    for pid in (folder / "cgroup.procs").read_text().split():
                        os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass
                cls([folder]).remove()

    def enter(self):
        """Put the calling process (the sandbox's bwrap, before exec) into the cgroup."""
        for folder in self.folders:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def peak_memory_mb(self) -> float:
        return int((self.folders[0] / "memory.max_usage_in_bytes").read_text()) / (1 << 20)

    def remove(self):
        for folder in self.folders:
            for _ in range(100):  # the last processes may still be exiting
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


@dataclass
class SandboxRun:
    """What one sandboxed run left: its exit code, stdout (capped), the end of stderr, and why it stopped."""
    returncode: int | None
    stdout: bytes
    stderr: str
    timed_out: bool
    output_capped: bool
    seconds: float
    executor_died: bool = False  # the executor ended in the middle of a warm sandbox's job


def _readable_roots() -> list[Path]:
    """The host folders the sandbox sees read-only: the Python installation and the package."""
    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.prefix),
             Path(backproplab.__file__).resolve().parent}
    return sorted(roots, key=lambda p: len(p.parts))


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("lib", "lib64", "lib32", "bin", "sbin"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for etc in ("/etc/ld.so.cache", "/etc/fonts", "/etc/alternatives", "/etc/localtime", "/etc/ssl"):
        if os.path.exists(etc):
            args += ["--ro-bind", etc, etc]
    return args


def _parents(path: Path) -> list[str]:
    """``--dir`` arguments (mode 0755) for the parents of ``path``, so a uid can traverse them
    even where the host folder (e.g. /root) is private."""
    args = []
    for parent in reversed(path.parents):
        if str(parent) != "/":
            args += ["--perms", "0755", "--dir", str(parent)]
    return args


def sandbox_command(argv, *, job_dir, limits: SandboxLimits, env: dict, host_uid: int | None = None) -> list[str]:
    """The bwrap command line that runs ``argv`` in a new sandbox.

    ``job_dir``: a host folder shown read-only at /job; ``env``: the whole environment inside;
    ``host_uid``: when the grader is root, the unprivileged host uid the sandbox runs as
    (bwrap sets the mounts up as root, then ``setpriv`` drops to that uid and a second,
    unprivileged bwrap enters the user namespace).
    """
    bwrap = shutil.which("bwrap") or "bwrap"
    outer = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    outer += _system_binds()
    # the scratch first: a Python installation or checkout under /tmp is bound on top of it, read-only
    outer += ["--perms", "1777", "--size", str(limits.scratch_mb << 20), "--tmpfs", "/tmp"]
    for root in _readable_roots():
        outer += _parents(root) + ["--ro-bind", str(root), str(root)]
    outer += ["--ro-bind", str(job_dir), "/job", "--proc", "/proc", "--dev", "/dev", "--chdir", "/tmp"]
    for key, value in env.items():
        outer += ["--setenv", key, value]
    if host_uid is None:  # an unprivileged grader: one bwrap enters the user namespace itself
        return [*outer, "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--", *argv]
    drop = [shutil.which("setpriv") or "setpriv", f"--reuid={host_uid}", f"--regid={host_uid}", "--clear-groups",
            "--no-new-privs", "--bounding-set=-all", "--inh-caps=-all", "--"]
    inner = [bwrap, "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--bind", "/", "/", "--dev", "/dev",
             "--die-with-parent", "--chdir", "/tmp", "--"]
    return [*outer, "--", *drop, *inner, *argv]


def _process_count(uid: int) -> int:
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if f"\t{uid}\t" in next(line for line in status.read_text().splitlines() if line.startswith("Uid:")):
                count += 1
        except (OSError, StopIteration):
            continue
    return count


def _apply_limits(limits: SandboxLimits, nproc: int, cgroup: SandboxCgroup | None = None):
    def apply():
        if cgroup is not None:
            cgroup.enter()
        mb = 1 << 20
        for what, value in ((resource.RLIMIT_AS, limits.memory_mb * mb), (resource.RLIMIT_FSIZE, limits.file_size_mb * mb),
                            (resource.RLIMIT_NOFILE, limits.open_files), (resource.RLIMIT_NPROC, nproc),
                            (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(what, (value, value))
        # soft limit: SIGXCPU; hard limit a few seconds later: SIGKILL
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        os.nice(SANDBOX_NICENESS)
    return apply


@functools.lru_cache(maxsize=1)
def sandbox_problem() -> str | None:
    """None when bwrap can start a sandbox here, else a message that names the fix."""
    if sys.platform != "linux":
        return f"the grading sandbox needs Linux (this is {sys.platform}). " + INSTALL_HINT
    if shutil.which("bwrap") is None:
        return "bwrap was not found. " + INSTALL_HINT
    with tempfile.TemporaryDirectory(prefix="bplab-probe-") as job:
        try:
            run = run_sandboxed([sys.executable, "-I", "-c", "print('ok')"], job_dir=job, limits=SandboxLimits(),
                                env={"PATH": "/usr/bin:/bin"}, deadline=60)
        except OSError as err:
            return f"bwrap could not start ({err}). " + INSTALL_HINT
    if run.stdout.strip() != b"ok":
        return f"bwrap could not start a sandbox ({run.stderr.strip()[-300:] or run.returncode}). " + INSTALL_HINT
    return None


def require_sandbox():
    """Raise SandboxUnavailable (naming the fix) unless bwrap works here."""
    problem = sandbox_problem()
    if problem:
        raise SandboxUnavailable(problem)


def run_sandboxed(argv, *, job_dir, limits: SandboxLimits, env: dict, deadline: float,
                  max_output: int = 64 << 20) -> SandboxRun:
    """Run ``argv`` in a new sandbox; return when it exits, or kill it at ``deadline`` seconds or
    once it printed ``max_output`` bytes. Never blocks longer than the deadline."""
    host_uid = random.randrange(*HOST_UID_RANGE) if os.geteuid() == 0 else None
    nproc = limits.processes + (0 if host_uid is not None else _process_count(os.getuid()))
    os.chmod(job_dir, 0o755)  # the sandbox's uid reads the request; nothing else is in there
    cmd = sandbox_command(argv, job_dir=job_dir, limits=limits, env=env, host_uid=host_uid)
    cgroup = SandboxCgroup.create(limits)
    try:
        return _supervise(cmd, preexec=_apply_limits(limits, nproc, cgroup), deadline=deadline, max_output=max_output)
    finally:
        if cgroup is not None:
            cgroup.remove()


def run_unsandboxed(argv, *, job_dir, limits: SandboxLimits, env: dict, deadline: float,
                    max_output: int = 64 << 20, stdin_data: bytes | None = None) -> SandboxRun:
    """``--no-sandbox``: the same supervision and rlimits, but student code sees the host."""
    nproc = limits.processes + _process_count(os.getuid())
    return _supervise(argv, preexec=_apply_limits(limits, nproc), deadline=deadline, max_output=max_output,
                      cwd=job_dir, env=env, stdin_data=stdin_data)


class _OutputReader:
    """Reads a process's stdout without ever blocking past a deadline (student processes may
    hold the pipe open) and up to a byte cap."""

    def __init__(self, stream):
        self.fd = stream.fileno()
        os.set_blocking(self.fd, False)
        self.pending = b""  # bytes read past the end of the last complete read

    def read(self, *, until_at, max_output, stop=None):
        """Bytes up to EOF, or up to and including the first line for which ``stop(line)`` is true.
        Returns (data, how): how is eof | stopped | timed-out | capped."""
        data, size, scanned = bytearray(self.pending), len(self.pending), 0
        self.pending = b""
        while True:
            if stop is not None:
                while (end := data.find(b"\n", scanned)) >= 0:
                    line, scanned = bytes(data[scanned:end]), end + 1
                    if stop(line):
                        self.pending = bytes(data[scanned:])
                        return bytes(data[:scanned]), "stopped"
            if size >= max_output:
                return bytes(data[:max_output]), "capped"
            left = until_at - time.monotonic()
            if left <= 0:
                return bytes(data), "timed-out"
            ready, _, _ = select.select([self.fd], [], [], min(left, 1.0))
            if not ready:
                continue
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:  # EOF: every process holding the pipe closed it
                return bytes(data), "eof"
            data += chunk
            size += len(chunk)


def _supervise(cmd, *, preexec, deadline, max_output, cwd=None, env=None, stdin_data=None) -> SandboxRun:
    started = time.monotonic()
    with tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin_data else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=err_file, start_new_session=True, preexec_fn=preexec,
                                cwd=cwd, env=env)
        if stdin_data:  # a few bytes: they fit in the pipe's buffer, so this cannot block
            proc.stdin.write(stdin_data)
            proc.stdin.close()
        how = "eof"
        try:
            data, how = _OutputReader(proc.stdout).read(until_at=started + deadline, max_output=max_output)
        finally:
            _kill(proc, grace=2 if how == "eof" else 0)
            proc.stdout.close()
        err_file.seek(0)
        stderr = err_file.read()[-8000:].decode("utf-8", "replace")
    return SandboxRun(proc.returncode, data, stderr, how == "timed-out", how == "capped", time.monotonic() - started)


JOBS_PREFIX = "bplab-jobs-"  # a warm sandbox's job folder (its requests), named after the grading process


class WarmSandbox:
    """One sandbox kept for a series of submissions, running ``executor`` as a job server.

    Starting a sandbox and importing numpy, matplotlib, torch and the library costs seconds; here
    it is paid once per ``max_jobs`` submissions. Between jobs the executor kills every process
    the job started and empties the scratch (``executor.sweep``), so each submission starts
    from the same clean state. Anything unusual (a deadline, an output cap, an executor that
    died) kills the whole sandbox; the next job starts a new one. A job whose sandbox died
    before it began (no ``started`` line: no student code of it ran) is retried once in a new one, and
    so is a job whose executor died in the middle of it (it may be the previous job's doing, or the
    machine's): a second death in a fresh sandbox is the job's own. The hidden seed travels on the
    executor's stdin (``private``), never in the request file, which the kernels can read. The executor
    asks for a new sandbox (``"recycle": true``) before its CPU limit could fall short for a job.
    """

    def __init__(self, argv, *, limits: SandboxLimits, env: dict, max_jobs: int = 40, startup_deadline: float = 300):
        self.argv, self.limits, self.env = list(argv), limits, dict(env)
        self.max_jobs, self.startup_deadline = max_jobs, startup_deadline
        self.proc = self.reader = self.job_dir = self.err_file = self.cgroup = None
        self.jobs = 0
        self.lock = threading.Lock()

    def run(self, request: dict, *, deadline: float, max_output: int, private: dict | None = None) -> SandboxRun:
        """Run one job (an executor request; ``private``: what goes on the executor's stdin line instead of the
        request file); its records, as ``run_sandboxed`` returns them."""
        with self.lock:
            before, during = 0, 0  # deaths before the job began, and in the middle of it
            while True:
                if self.proc is None or self.proc.poll() is not None or self.jobs >= self.max_jobs:
                    self._start()
                run = self._run_job(request, deadline, max_output, private or {})
                if run is None:
                    before += 1
                    if before == 2:
                        raise RuntimeError(f"the grading sandbox died before the job began, twice: "
                                           f"{self._stderr()[-1000:]}")
                elif run.executor_died and during == 0:
                    during += 1
                else:
                    return run

    def _start(self):
        self.close()
        host_uid = random.randrange(*HOST_UID_RANGE) if os.geteuid() == 0 else None
        nproc = self.limits.processes + (0 if host_uid is not None else _process_count(os.getuid()))
        self.job_dir = str(owned_folder(JOBS_PREFIX))
        os.chmod(self.job_dir, 0o755)
        self.err_file = tempfile.TemporaryFile()
        self.cgroup = SandboxCgroup.create(self.limits)
        cmd = sandbox_command(self.argv, job_dir=self.job_dir, limits=self.limits, env=self.env, host_uid=host_uid)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err_file,
                                     start_new_session=True, preexec_fn=_apply_limits(self.limits, nproc, self.cgroup))
        self.reader, self.jobs = _OutputReader(self.proc.stdout), 0
        _, how = self.reader.read(until_at=time.monotonic() + self.startup_deadline, max_output=1 << 16,
                                  stop=lambda raw: protocol.is_line(raw, protocol.READY))
        if how != "stopped":
            message = self._stderr()[-2000:]
            self.close()
            raise RuntimeError(f"the grading sandbox did not start ({how}): {message}")

    def _run_job(self, request, deadline, max_output, private):
        started = time.monotonic()
        self.jobs += 1
        number = self.jobs
        request_path = Path(self.job_dir) / f"request-{number}.json"
        request_path.write_text(json.dumps(request))
        request_path.chmod(0o644)
        try:
            self.proc.stdin.write(protocol.line(protocol.job(number, f"/job/{request_path.name}", **private)))
            self.proc.stdin.flush()
            until_at = started + deadline
            _, how = self.reader.read(until_at=until_at, max_output=1 << 16,
                                      stop=lambda raw: protocol.is_line(raw, protocol.started(number)))
            if how != "stopped":
                self.close()
                return None
            data, how = self.reader.read(until_at=until_at, max_output=max_output,
                                         stop=lambda raw: protocol.is_done(raw, number)
                                         or protocol.is_line(raw, protocol.retry(number)))
            last = data.rstrip().rsplit(b"\n", 1)[-1]
            if how == "stopped" and protocol.is_line(last, protocol.retry(number)):  # the fork server stalled: a new sandbox
                self.close()
                return None
        except OSError:  # the executor is gone (a broken pipe)
            self.close()
            return None
        finally:
            request_path.unlink(missing_ok=True)
        if how != "stopped":  # a deadline, an output cap, or a sandbox that ended: none of it is reused
            stderr = self._stderr()
            self.close()
            return SandboxRun(None, data, stderr, how == "timed-out", how == "capped", time.monotonic() - started,
                              executor_died=how == "eof")
        if (protocol.read(last) or {}).get("recycle") is True:  # the done line
            self.close()
        return SandboxRun(0, data, "", False, False, time.monotonic() - started)

    def _stderr(self):
        if self.err_file is None:
            return ""
        self.err_file.seek(0)
        return self.err_file.read()[-8000:].decode("utf-8", "replace")

    def close(self):
        """Kill the sandbox as one unit."""
        if self.proc is not None:
            _kill(self.proc, grace=0)
            for stream in (self.proc.stdin, self.proc.stdout):
                try:
                    stream.close()
                except OSError:
                    pass
            self.proc = None
        if self.err_file is not None:
            self.err_file.close()
            self.err_file = None
        if self.job_dir is not None:
            shutil.rmtree(self.job_dir, ignore_errors=True)
            self.job_dir = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None


_warm: dict = {}
_warm_lock = threading.Lock()


def warm_sandbox(argv, *, limits: SandboxLimits, env: dict) -> WarmSandbox:
    """This process's warm sandbox for this command, limits and environment (one per thread
    that grades: a Dask worker process grades one submission at a time per thread)."""
    key = (tuple(argv), limits, tuple(sorted(env.items())), threading.get_ident())
    with _warm_lock:
        if key not in _warm:
            if not _warm:  # a worker forked by multiprocessing's fork server ends without atexit, with its finalizers
                multiprocessing.util.Finalize(None, _close_warm_sandboxes, exitpriority=0)
            _warm[key] = WarmSandbox(argv, limits=limits, env=env)
        return _warm[key]


@atexit.register
def _close_warm_sandboxes():
    while _warm:
        _warm.popitem()[1].close()


def _kill(proc, grace):
    """Kill the sandbox as one unit: bwrap's session (its pid namespace dies with its init). Returns once
    the namespace's init is gone too: it runs in a session of its own (--new-session) and dies only after
    bwrap (--die-with-parent), and the kernel kills every process of the namespace before it exits."""
    try:
        if grace and proc.poll() is None:
            proc.wait(timeout=grace)  # the executor exits by itself after its last line
    except subprocess.TimeoutExpired:
        pass
    inits = _children(proc.pid)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    deadline = time.monotonic() + 10
    while any(process_running(pid) for pid in inits) and time.monotonic() < deadline:
        time.sleep(0.01)


def _children(pid) -> list[int]:
    """The pids whose parent is ``pid`` (from /proc; [] once it is gone)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if int(stat_fields(name)[1]) == pid:
                    found.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return found
