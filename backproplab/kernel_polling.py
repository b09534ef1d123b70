"""A bound on the wait when jupyter_client's asyncio channels miss a message: they wait in polls of a second.

nbclient (and so nbgrader's Validate button, autograde and formgrader) waits for each cell's reply with one zmq poll
as long as the cell's timeout. That poll sometimes misses its wake-up and returns only when the timeout fires, the
reply long there (jupyter/nbclient#312; seen here with pyzmq 26.4 and 27.3 alike): stock nbgrader autograde took
288 s for 20 lecture-04 notebooks that take 130 s without it. Validate runs in the Jupyter server's own process,
so each missed wake-up froze the student's JupyterLab for nbgrader's 30 s cell timeout.

``bound_missed_wakeups()`` makes every asyncio channel of this process poll in slices of ``SLICE_SECONDS``: the same
messages, the same timeouts, a missed wake-up costs at most a slice. Students' Jupyter server loads this module as
a server extension (binder/jupyter-student/, binder/postBuild); the test suite and the benchmark call it directly.
"""
from __future__ import annotations

import time
from queue import Empty

SLICE_SECONDS = 1.0


def bound_missed_wakeups():
    """Patch jupyter_client's AsyncZMQSocketChannel.get_msg in this process (once; calling again does nothing)."""
    from jupyter_client.channels import AsyncZMQSocketChannel

    whole = AsyncZMQSocketChannel.get_msg
    if getattr(whole, "in_slices", False):
        return

    async def get_msg(self, timeout=None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = SLICE_SECONDS if deadline is None else min(SLICE_SECONDS, max(0.0, deadline - time.monotonic()))
            try:
                return await whole(self, timeout=step)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    get_msg.in_slices = True
    AsyncZMQSocketChannel.get_msg = get_msg


def _jupyter_server_extension_points():
    return [{"module": "backproplab.kernel_polling"}]


def _load_jupyter_server_extension(server_app):
    bound_missed_wakeups()
