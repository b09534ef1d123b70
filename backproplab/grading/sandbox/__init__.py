"""The grading sandbox: every process that runs student code while grading runs inside bubblewrap.

- ``limits``: every limit, declared once (``SandboxLimits`` and the per-run constants);
- ``host``: the grader's side: the bwrap command line, supervision (deadline, output cap, kill as one
  unit), ``WarmSandbox`` (one sandbox for a series of jobs) and ``SandboxCgroup``;
- ``executor``: runs inside the sandbox: serves jobs, drives the kernels, cleans up between jobs;
- ``forkserver``: runs inside the sandbox: imports the heavy modules once, forks each kernel into a
  job of its own (``isolate_job``: new pid, user, mount and ipc namespaces).

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
