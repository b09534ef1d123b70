"""Reading /proc: what the host (waiting for a sandbox to die, its scratch folders) and the executor (its kernels,
the sweep) both need.

Standard library only; it runs no student code and imports nothing of the sandbox's inside.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def stat_fields(pid):
    """The fields of /proc/PID/stat after the command name: [state, ppid, pgrp, ...]. Raises OSError once it is gone."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_seconds(pid) -> float:
    """CPU seconds of a process and its reaped children so far (0 once it is gone): the fork server reaps the
    kernels and verification jobs unaccounted, so the executor reads each one's before it is killed."""
    try:
        return sum(int(v) for v in stat_fields(pid)[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def process_running(pid) -> bool:
    """Some thread of it is alive: not yet a zombie (a PID 1 may never reap what it inherits). A leader
    whose main thread exited shows as a zombie while its other threads run, so every thread is read."""
    try:
        if stat_fields(pid)[0] not in ("Z", "X"):
            return True
        tasks = os.listdir(f"/proc/{pid}/task")
    except (OSError, IndexError):
        return False
    for task in tasks:
        try:
            if stat_fields(f"{pid}/task/{task}")[0] not in ("Z", "X"):
                return True
        except (OSError, IndexError):
            continue
    return False


def owned_folder(prefix: str, parent: str | None = None) -> Path:
    """A new folder ``<prefix><this pid>-<random>`` in ``parent`` (the temporary folder by default), after removing
    the folders of that form whose process is gone: a grader or worker killed (SIGKILL) cleans nothing up, and
    nothing else removes them (in /dev/shm they would stay until a reboot)."""
    place = Path(parent or tempfile.gettempdir())
    for left in place.glob(f"{prefix}*-*"):
        owner = left.name[len(prefix):].partition("-")[0]
        if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
            shutil.rmtree(left, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
