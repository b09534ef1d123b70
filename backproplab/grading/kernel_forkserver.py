"""Forks pre-loaded ipykernels inside the grading sandbox.

``python -I -m backproplab.grading.kernel_forkserver MODULE ...`` is started by the executor
(``sandbox_exec``) once per sandbox, before any submission. It imports what the lectures' kernels
import (numpy, matplotlib, torch, the library, ipykernel), so a kernel starts by ``fork`` in a few
milliseconds instead of seconds of imports per submission.

It never holds anything of a submission: a command is one stdin line naming a spec file that the
executor wrote; only the forked child reads it (environment, working folder, connection file)
and becomes an ordinary ipykernel. It answers with the child's pid, one line per command. It is
not dumpable, so the kernels it forks (same uid) cannot ptrace it or read its memory.
"""
from __future__ import annotations

import ctypes
import importlib
import json
import os
import resource
import signal
import sys

PR_SET_DUMPABLE = 4


def set_dumpable(flag: bool):
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, int(flag), 0, 0, 0)


def preload(modules):
    """Import ``modules``; return the names that failed (a lecture without torch still grades)."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            failed.append(name)
    return failed


def become_kernel(spec_path):
    """In the forked child: read the spec and run an ipykernel until it is shut down or killed."""
    try:
        os.setpgid(0, 0)  # the executor kills the kernel's whole process group
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        set_dumpable(True)  # an ordinary process again: the student's code may inspect itself
        with open(spec_path, encoding="utf-8") as f:
            spec = json.load(f)
        os.environ.update(spec["env"])
        os.chdir(spec["cwd"])
        from ipykernel.kernelapp import IPKernelApp

        sys.argv = ["ipykernel_launcher", "-f", spec["connection_file"]]
        IPKernelApp.launch_instance(argv=sys.argv[1:])
    finally:
        os._exit(0)


def main(argv=None):
    modules = sys.argv[1:] if argv is None else argv
    set_dumpable(False)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # kernels are reaped as they exit
    failed = preload(modules)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"ready": True, "failed": failed, "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3)}),
          flush=True)
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        pid = os.fork()
        if pid == 0:
            become_kernel(line.strip())
        print(pid, flush=True)


if __name__ == "__main__":
    main()
