"""Loaded (as Python's sitecustomize) by the processes of the benchmark's second stock-nbgrader run: nbgrader's
jupyter_client channels wait in polls of a second (backproplab/kernel_polling.py says why: a missed wake-up costs
stock its 30 s cell timeout, so its wall time varies by a minute or more between identical runs while its CPU does
not). Nothing else of nbgrader changes, and its kernels do not load this."""
import sys

if sys.orig_argv[1:3] == ["-m", "nbgrader"]:
    from backproplab.kernel_polling import bound_missed_wakeups

    bound_missed_wakeups()
