"""Runs a submission's code cells in a real ipykernel, inside the grading sandbox.

``python -I -m backproplab.grading.sandbox_exec /job/request.json`` (started by
``preprocessors.SandboxedExecute`` through ``sandbox.run_sandboxed``). Everything here is as
untrusted as the student's code: it shares the sandbox with the kernel. The trusted side treats
what it prints as data (validated JSON, size-capped) and judges nothing from it but outcomes.

Request (JSON): {"cells": [[index, source], ...], "cell_timeout": s, "cell_output_limit": bytes,
"kernel_env": {...}, "max_restarts": n}.
Output: one JSON line per executed cell, {"index", "execution_count", "outputs", "status"} with
status ok | error | timeout | kernel-died, then {"done": true, "restarts": n}.

When the kernel dies in a cell (os._exit, a crash, a resource limit), the executor starts a new
kernel, runs the cells before it again without recording them, and goes on after it: one broken
cell costs only its own tests. Imports stay cheap: no nbformat (its schema check costs seconds).
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time

TRUNCATED = "\n[output truncated by the grader]\n"


OUTCOMES_MIME = "application/vnd.backproplab.outcomes+json"  # checks.core's; not imported: it pulls numpy


class CellRecorder:
    """Collects one cell's iopub messages as nbformat v4 outputs, up to a byte budget; outcome records
    have a budget of their own (big weight matrices), so ordinary output can never crowd them out."""

    def __init__(self, limit, record_limit=0):
        self.outputs, self.limit, self.used, self.truncated = [], limit, 0, False
        self.record_limit, self.record_used = record_limit, 0
        self.execution_count = None

    def add(self, msg):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "clear_output":
            self.outputs, self.used = [], 0
            return
        if kind == "execute_input":
            self.execution_count = content.get("execution_count")
            return
        if kind == "stream":
            output = {"output_type": "stream", "name": content.get("name", "stdout"), "text": content.get("text", "")}
        elif kind in ("display_data", "execute_result"):
            output = {"output_type": kind, "data": content.get("data", {}), "metadata": content.get("metadata", {})}
            if kind == "execute_result":
                output["execution_count"] = content.get("execution_count")
        elif kind == "error":
            output = {"output_type": "error", "ename": content.get("ename", ""), "evalue": content.get("evalue", ""),
                      "traceback": content.get("traceback", [])}
        else:
            return
        size = len(json.dumps(output))
        if OUTCOMES_MIME in output.get("data", {}) and self.record_used + size <= self.record_limit:
            self.record_used += size
            self.outputs.append(output)
            return
        if self.used + size > self.limit:
            if not self.truncated:
                self.truncated = True
                self.outputs.append({"output_type": "stream", "name": "stdout", "text": TRUNCATED})
            return
        self.used += size
        last = self.outputs[-1] if self.outputs else None
        if output["output_type"] == "stream" and last and last["output_type"] == "stream" and last["name"] == output["name"]:
            last["text"] += output["text"]
        else:
            self.outputs.append(output)


class Kernel:
    """A real ipykernel started by jupyter_client inside the sandbox."""

    def __init__(self, env):
        from jupyter_client.manager import KernelManager

        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, source, timeout, recorder):
        """Execute ``source``; return ok | error | timeout | kernel-died."""
        msg_id = self.client.execute(source, store_history=True, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + timeout
        errored = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return self._interrupt(recorder)
            try:
                msg = self.client.get_iopub_msg(timeout=min(left, 1.0))
            except queue.Empty:
                if not self.manager.is_alive():
                    return "kernel-died"
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                return "error" if errored else "ok"
            errored |= msg["msg_type"] == "error"
            recorder.add(msg)

    def _interrupt(self, recorder):
        self.manager.interrupt_kernel()
        recorder.add({"msg_type": "error", "content": {"ename": "CellTimeoutError", "evalue": "the cell ran out of time",
                                                       "traceback": ["CellTimeoutError: the cell ran out of time"]}})
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # drain until the interrupted cell reports idle
            try:
                msg = self.client.get_iopub_msg(timeout=1.0)
            except queue.Empty:
                continue
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                return "timeout"
        self.shutdown()  # deaf to SIGINT: the next cell needs a new kernel
        return "kernel-died"

    def alive(self):
        return self.manager.is_alive()

    def shutdown(self):
        try:
            self.client.stop_channels()
            self.manager.shutdown_kernel(now=True)
        except Exception:
            pass


def emit(record):
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    with open(argv[0], encoding="utf-8") as f:
        request = json.load(f)
    env = {**os.environ, **request["kernel_env"]}
    cells, timeout = request["cells"], request["cell_timeout"]
    started = time.monotonic()
    kernel, restarts, broken = Kernel(env), 0, set()
    emit({"kernel_start_seconds": round(time.monotonic() - started, 3)})
    for position, (index, source) in enumerate(cells):
        recorder = CellRecorder(request["cell_output_limit"], request.get("record_output_limit", 0))
        started = time.monotonic()
        status = kernel.run(source, timeout, recorder)
        seconds = round(time.monotonic() - started, 3)
        if status == "kernel-died" or not kernel.alive():
            broken.add(index)
            if not any(o["output_type"] == "error" for o in recorder.outputs):
                recorder.add({"msg_type": "error", "content": {
                    "ename": "DeadKernelError", "evalue": "the kernel died while running this cell",
                    "traceback": ["DeadKernelError: the kernel died while running this cell (os._exit, a crash, "
                                  "or a resource limit such as memory or CPU time)"]}})
            emit({"index": index, "execution_count": recorder.execution_count, "outputs": recorder.outputs,
                  "status": status, "seconds": seconds})
            kernel.shutdown()
            if restarts >= request["max_restarts"]:
                break
            restarts += 1
            kernel = Kernel(env)
            for earlier_index, earlier in cells[:position]:  # the state the next cells expect, not recorded
                if earlier_index not in broken and kernel.run(earlier, timeout, CellRecorder(0)) == "kernel-died":
                    break
            continue
        emit({"index": index, "execution_count": recorder.execution_count, "outputs": recorder.outputs,
              "status": status, "seconds": seconds})
    kernel.shutdown()
    emit({"done": True, "restarts": restarts, "cpu_seconds": _cpu_seconds()})


def _cpu_seconds():
    """CPU used in the sandbox (this process and its reaped kernels), for the benchmark: the host
    cannot count it, because the sandbox's processes are reaped inside its pid namespace."""
    import resource

    return round(sum(u.ru_utime + u.ru_stime for u in (resource.getrusage(resource.RUSAGE_SELF),
                                                        resource.getrusage(resource.RUSAGE_CHILDREN))), 3)


if __name__ == "__main__":
    main()
