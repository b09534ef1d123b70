"""Forks pre-loaded ipykernels inside the grading sandbox.

``python -I -m backproplab.grading.sandbox.forkserver MODULE ...`` is started by the executor
(``executor``) once per sandbox, before any submission. It imports what the lectures' kernels
import (numpy, matplotlib, torch, the library, ipykernel), so a kernel starts by ``fork`` in a few
milliseconds instead of seconds of imports per submission.

It never holds anything of a submission: a command is one stdin line naming a spec file that the
executor wrote; only the forked child reads it (environment, working folder, connection file)
and becomes an ordinary ipykernel. It is not dumpable, so the kernels it forks (same uid) cannot
ptrace it or read its memory.

Each kernel is a job of its own (``isolate_job``): the forked child enters new user, mount, pid
and ipc namespaces and forks the kernel as the init of that pid namespace, so every process the
student's code starts dies with the kernel, whatever its state, and none of them can name (signal,
trace) the fork server, the executor or another job's processes. The kernel gets a private
size-limited /tmp (HOME, the working folder) and /dev/shm and a read-only /dev: nothing it writes
survives it, and a /proc of its own (every other process of the sandbox covered). Then it drops to
uid 65534 with no capabilities in a second user namespace. The fork
server answers each command with the kernel's pid (as the executor sees it), or -1.
"""
from __future__ import annotations

import ctypes
import importlib
import json
import os
import re
import resource
import select
import signal
import sys

PR_SET_DUMPABLE = 4
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID = 0x20000, 0x08000000, 0x10000000, 0x20000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = \
    1, 2, 4, 0x20, 0x1000, 0x2000, 0x4000, 0x40000
JOB_UID = 65534
REPORT_SECONDS = 20  # the longest the fork server waits for a forked child to name its kernel
_libc = ctypes.CDLL(None, use_errno=True)


def set_dumpable(flag: bool):
    _libc.prctl(PR_SET_DUMPABLE, int(flag), 0, 0, 0)


def _call(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _map_ids(inside: int, uid: int, gid: int):
    """Map one uid and gid of a new user namespace (written by the process that entered it)."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    for name, outside in (("uid_map", uid), ("gid_map", gid)):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(f"{inside} {outside} 1")


def _mount_tmpfs(target: str, size_mb: int):
    os.makedirs(target, exist_ok=True)
    _call(_libc.mount(b"tmpfs", target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                      f"size={size_mb}m,mode=1777".encode()), f"tmpfs at {target}")


def mounts_under(folder):
    """Mount points below ``folder`` (a Python installation or checkout under /tmp is bound
    read-only into the sandbox's scratch) and the folders that lead to them."""
    mounts, leading = set(), set()
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        for line in f:
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point.startswith(folder.rstrip("/") + "/"):
                mounts.add(point)
                parent = os.path.dirname(point)
                while parent.startswith(folder.rstrip("/") + "/"):
                    leading.add(parent)
                    parent = os.path.dirname(parent)
    return mounts, leading


def _private_tmp(size_mb: int):
    """A new tmpfs on /tmp that keeps the read-only mounts below the old one (the Python installation
    or checkout, when they live under /tmp): built aside, then moved over /tmp."""
    stage = "/tmp/.job-tmp"
    _mount_tmpfs(stage, size_mb)
    mounts, leading = mounts_under("/tmp")
    outermost = []
    for point in sorted(mounts - {stage}, key=len):
        if not any(point.startswith(kept + "/") for kept in outermost):
            outermost.append(point)
    for point in outermost:
        target = stage + point[len("/tmp"):]
        os.makedirs(target, exist_ok=True)
        _call(_libc.mount(point.encode(), target.encode(), None, MS_BIND | MS_REC, None), f"bind {point}")
    # the folders leading to those mounts stay read-only, as bwrap made them in the sandbox's /tmp
    for top in sorted(stage + folder[len("/tmp"):] for folder in leading if os.path.dirname(folder) == "/tmp"):
        _call(_libc.mount(top.encode(), top.encode(), None, MS_BIND | MS_REC, None), f"bind {top}")
        _call(_libc.mount(None, top.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None),
              f"read-only {top}")
    _call(_libc.mount(stage.encode(), b"/tmp", None, MS_MOVE, None), "move the job's /tmp")


def _drop_capabilities():
    """No capabilities at all, for good: a second user namespace mapped to uid 65534, an empty capset,
    no_new_privs (an execve cannot gain any back)."""
    _call(_libc.unshare(CLONE_NEWUSER), "unshare user")
    _map_ids(JOB_UID, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    _call(_libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()), "capset")
    _call(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def _hide_processes(own):
    """A /proc of the job's own: every process and thread of the sandbox but ``own`` (sandbox pids) is
    covered by an empty read-only tmpfs, so the job cannot watch the executor or the fork servers (their
    CPU, state, children). A fresh proc mount would be simpler, but the sandbox's /proc has locked
    overmounts (bwrap's), which make the kernel refuse one in a nested user namespace."""
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in own:
            continue
        try:
            threads = [t for t in os.listdir(f"/proc/{name}/task") if t != name]
        except OSError:
            threads = []
        for pid in (*threads, name):  # a thread's /proc/<tid> is reachable though not listed
            _libc.mount(b"tmpfs", f"/proc/{pid}".encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV,
                        b"size=4k,mode=0555")  # one that exited meanwhile needs no cover


def isolate_job(limits: dict, report_fd: int):
    """In a freshly forked (single-threaded) child: new namespaces, then fork the job's init. This
    process writes the init's pid to ``report_fd``, waits for it and exits; only the init returns,
    as pid 1 of the job's pid namespace, with its private /tmp and /dev/shm and no capabilities."""
    uid, gid = os.geteuid(), os.getegid()
    _call(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC), "unshare")
    _map_ids(0, uid, gid)
    init = os.fork()
    if init:
        os.write(report_fd, f"{init}\n".encode())
        os.close(report_fd)
        os.waitpid(init, 0)
        os._exit(0)
    os.close(report_fd)
    _call(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "private mounts")
    _private_tmp(limits["scratch_mb"])
    _call(_libc.mount(None, b"/dev", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None),
          "read-only /dev")
    _mount_tmpfs("/dev/shm", limits["shm_mb"])
    _hide_processes({int(os.readlink("/proc/self"))})  # its parent, a copy of the fork server, is covered too
    for path in limits.get("hide", ()):  # a verification job's: the answers' source, torch
        _call(_libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, b"size=4k,mode=0555"),
              f"hide {path}")
    _drop_capabilities()
    _call(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "pdeathsig")


def preload(modules):
    """Import ``modules``; return the names that failed (a lecture without torch still grades)."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
    return failed


def become_job(spec_path, report_fd):
    """In the forked child: read the spec, isolate the job (``isolate_job``, when the spec asks) and
    become its init: an ipykernel until it is shut down or killed, or, when the spec says ``verify``,
    a verification job (verification.py) talking to the executor over the socket it names."""
    try:
        os.setpgid(0, 0)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, report_fd)
        os.closerange(report_fd + 1, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        with open(spec_path, encoding="utf-8") as f:
            spec = json.load(f)
        # read before isolating: the job's /tmp hides the executor's scratch
        verify, connection = spec.get("verify"), None
        if verify:
            import socket

            with open(verify["spec"], encoding="utf-8") as f:
                verify_spec = json.load(f)
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            connection.connect(verify["socket"])
        else:
            with open(spec["connection_file"], encoding="utf-8") as f:
                connection_text = f.read()
        set_dumpable(True)  # /proc/self/uid_map is the process's own only while it is dumpable
        if spec.get("isolate"):
            isolate_job(spec["isolate"], report_fd)
        else:
            os.write(report_fd, f"{os.getpid()}\n".encode())
            os.close(report_fd)
        os.makedirs(spec["cwd"], exist_ok=True)
        os.environ.update(spec["env"])
        os.chdir(spec["cwd"])
        if verify:
            from .verification_job import serve

            serve(verify_spec, connection)
            return
        os.makedirs(os.path.dirname(spec["connection_file"]), exist_ok=True)
        with open(spec["connection_file"], "w", encoding="utf-8") as f:
            f.write(connection_text)
        from ipykernel.kernelapp import IPKernelApp

        sys.argv = ["ipykernel_launcher", "-f", spec["connection_file"]]
        IPKernelApp.launch_instance(argv=sys.argv[1:])
    finally:
        os._exit(0)


def _kernel_pid(report_fd) -> int:
    """The pid a forked child reports, or -1 when it reports none in time."""
    data = b""
    try:
        while not data.endswith(b"\n") and select.select([report_fd], [], [], REPORT_SECONDS)[0]:
            chunk = os.read(report_fd, 32)
            if not chunk:
                break
            data += chunk
    finally:
        os.close(report_fd)
    try:
        return int(data)
    except ValueError:
        return -1


def _preload_and_fork(modules, second) -> list[str]:
    """Import ``modules``, forking a second fork server on the way (``second``: "IN,OUT,COUNT"): once the first
    COUNT modules are imported, a child takes the pipes IN (its commands) and OUT (its answers) as its stdin and
    stdout and serves with only those, while this process imports the rest. Returns the names that failed, as
    ``preload``. (The verifier's fork server, without torch, so shares the imports the two have in common.)"""
    read_fd, write_fd, count = (int(n) for n in second.split(","))
    failed = preload(modules[:count])
    sys.stdout.flush()
    if os.fork() == 0:
        os.dup2(read_fd, 0)
        os.dup2(write_fd, 1)
    else:
        failed += preload(modules[count:])
    os.close(read_fd)
    os.close(write_fd)
    return failed


def main(argv=None):
    """``[--fork-second IN,OUT,COUNT] MODULE ...``: import the modules (``_preload_and_fork`` with the option),
    say it is ready, then fork a job per stdin line."""
    modules = sys.argv[1:] if argv is None else argv
    set_dumpable(False)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped as they exit
    if modules[:1] == ["--fork-second"]:
        failed = _preload_and_fork(modules[2:], modules[1])
    else:
        failed = preload(modules)
    usage = resource.getrusage(resource.RUSAGE_SELF)  # a forked second server's own, since its fork
    print(json.dumps({"ready": True, "failed": failed, "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
                      "torch": "torch" in sys.modules, "pid": os.getpid()}), flush=True)
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        report_read, report_write = os.pipe()
        if os.fork() == 0:
            os.close(report_read)
            become_job(line.strip(), report_write)
        os.close(report_write)
        print(_kernel_pid(report_read), flush=True)


if __name__ == "__main__":
    main()
