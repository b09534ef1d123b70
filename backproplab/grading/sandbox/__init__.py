"""The grading sandbox: every process that runs student code while grading runs inside bubblewrap.

- ``protocol``: where the two sides meet (the job protocol, the outcome record's MIME type, the verification
  job's messages, ``check_calls``); ``limits``: every limit, declared once; ``procfs``: reading /proc.
  Both sides import these (standard library only) and nothing of each other;
- ``host``: the grader's side: the bwrap command line, supervision (deadline, output cap, kill as one
  unit), ``WarmSandbox`` (one sandbox for a series of jobs) and ``SandboxCgroup``;
- ``executor``: runs inside the sandbox: serves jobs, drives the kernels, cleans up between jobs;
- ``forkserver``: runs inside the sandbox: imports the heavy modules once, forks each kernel into a
  job of its own (``isolate_job``: new pid, user, mount and ipc namespaces);
- ``verification`` (the executor's side) and ``verification_job`` (the job's): the graded calls, made in a
  job with the answers withheld.

The host API is re-exported here.
"""
from .host import (  # noqa: F401  (re-exported: the sandbox's host API)
    INSTALL_HINT,
    SandboxCgroup,
    SandboxRun,
    SandboxUnavailable,
    WarmSandbox,
    require_sandbox,
    run_sandboxed,
    run_unsandboxed,
    sandbox_command,
    sandbox_problem,
    warm_sandbox,
)
from .limits import SandboxLimits  # noqa: F401  (re-exported)
