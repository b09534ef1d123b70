"""Every limit of the grading sandbox, declared once with its default and the reason for it.

``SandboxLimits`` travels with a sandbox (host.py applies it); the output and deadline constants are
what ``SandboxedExecute`` asks of each run. A course may change ``memory_mb`` and ``cpu_seconds`` (and
the cell timeout) through ``c.SandboxedExecute`` in its nbgrader_config.py (grading/settings.py).
"""
from __future__ import annotations

from dataclasses import dataclass

SANDBOX_UID = 65534              # the uid inside the sandbox (nobody)
HOST_UID_RANGE = (3_000_000, 3_900_000)  # per-sandbox host uids when the grader runs as root
SANDBOX_NICENESS = 10            # student code yields the CPU to the grader (deadlines, other jobs' judging)

CELL_TIMEOUT = 60                # seconds per cell in the student's kernel
WALL_SECONDS_PER_CELL = 3        # a submission's deadline: margin + cells x this + two cell timeouts,
MAX_DEADLINE = 1200              # ... and never more than this
CELL_OUTPUT_LIMIT = 2 << 20      # bytes of outputs kept per cell
SUBMISSION_OUTPUT_LIMIT = 6 << 20  # bytes of outputs kept for all cells together (past it: dropped and flagged)
JOB_MESSAGE_LIMIT = 8 << 20      # bytes of one JSON line from a verification job (a record is at most ~4 MB)
EXECUTOR_CPU_PER_SUBMISSION = 60  # CPU seconds the executor may spend on one submission (its outputs and records;
                                  # at most a quarter of cpu_seconds); a sandbox is recycled before its executor's
                                  # CPU limit leaves less than this
RECORD_OUTPUT_LIMIT = 32 << 20   # bytes of outcome records kept per test cell (a record is at most ~4 MB)
SANDBOX_OUTPUT_LIMIT = 256 << 20  # bytes a whole run may print
MAX_RESTARTS = 8                 # new kernels after a kernel died in a cell (the deadline still applies)
VERIFY_SECONDS = 180             # a submission's verification jobs together (its graded calls, made before its kernel runs)


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits of one sandbox (each process in it, except ``processes`` and the tmpfs sizes)."""
    memory_mb: int = 2048        # RLIMIT_AS per process: torch maps ~1 GiB at import
    cpu_seconds: int = 300       # RLIMIT_CPU per process: a kernel that ignores SIGINT is killed
    processes: int = 128         # RLIMIT_NPROC for the sandbox's uid (threads count too)
    file_size_mb: int = 64       # RLIMIT_FSIZE
    open_files: int = 256        # RLIMIT_NOFILE
    scratch_mb: int = 256        # size of the tmpfs at /tmp
    job_scratch_mb: int = 256    # each kernel's private /tmp (its HOME and working folder), gone with it
    shm_mb: int = 64             # each kernel's private /dev/shm, gone with it
    total_memory_mb: int = 3072  # the whole sandbox together (tmpfs included), where a cgroup can be made
    total_tasks: int = 512       # processes and threads of the whole sandbox together, likewise

    def isolation(self) -> dict:
        """What each kernel's job namespace gets (forkserver.isolate_job)."""
        return {"scratch_mb": self.job_scratch_mb, "shm_mb": self.shm_mb}
