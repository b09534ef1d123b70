"""Reading /proc: what the host (waiting for a sandbox to die) and the executor (its kernels, the sweep) both need.

Standard library only; it runs no student code and imports nothing of the sandbox's inside.
"""
from __future__ import annotations

import os


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
