"""Driving a Jupyter kernel cell by cell through jupyter_client: a cell's iopub messages made into nbformat
outputs (``CellRecorder``, under byte limits) and the wait for the cell's end (``until_idle``).

Run by the process that drives a kernel, never beside student code in one process: in the grader, the
sandbox's executor; on a student's machine, ``bplab check`` (selfcheck.py).
Standard library only (the caller brings the jupyter_client client).

A cell is done when the kernel reports it idle on iopub. nbclient waits for the shell channel's execute_reply
instead, which after a widget cell sometimes never arrives (jupyter/nbclient#312): a cell then sat out its
whole timeout.
"""
from __future__ import annotations

import json
import math
import queue
import time

TRUNCATED = "\n[output truncated by the grader]\n"


class OutputBudget:
    """The bytes of output a whole submission may keep, all cells together (nbgrader's LimitOutput counts
    lines: one line can be megabytes). What comes past it is dropped and counted (``dropped``), which
    flags the submission in the grader: the graded notebook stays small whatever the student printed."""

    def __init__(self, limit):
        self.limit, self.used, self.dropped = limit, 0, 0

    def take(self, size) -> bool:
        if self.dropped or self.used + size > self.limit:  # once over it, nothing more is kept
            self.dropped += size
            return False
        self.used += size
        return True


class CellRecorder:
    """Collects one cell's iopub messages as nbformat v4 outputs, up to the cell's byte ``limit`` and the
    submission's ``budget`` (none by default: a student's own machine keeps everything). An output carrying
    the MIME type ``dropped_mime`` (the grader's: an outcome record, which only verification jobs make) is
    dropped and counted in ``stray_records``. ``errored``: the cell raised."""

    def __init__(self, limit=math.inf, budget=None, dropped_mime=None):
        self.outputs, self.limit, self.used, self.truncated = [], limit, 0, False
        self.budget = budget if budget is not None else OutputBudget(limit)
        self.dropped_mime = dropped_mime
        self.stray_records = 0
        self.execution_count = None
        self.errored = False

    def add(self, msg):
        kind, content = msg["msg_type"], msg["content"]
        if kind == "clear_output":  # what was shown stays spent from the submission's budget
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
            self.errored = True
            output = {"output_type": "error", "ename": content.get("ename", ""), "evalue": content.get("evalue", ""),
                      "traceback": content.get("traceback", [])}
        else:
            return
        if self.dropped_mime in output.get("data", {}):
            self.stray_records += 1
            return
        size = len(json.dumps(output))
        if self.used + size > self.limit or not self.budget.take(size):
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


def until_idle(client, msg_id, seconds, on_message, alive, checkpoint=None) -> str:
    """Pass the iopub messages of the request ``msg_id`` to ``on_message`` until the kernel reports it idle.

    ``client``: a jupyter_client kernel client; ``alive()``: whether the kernel still runs (asked while no
    message comes); ``checkpoint()``, if given: called after every message, whoever sent it (it may raise).
    Returns idle | died | timeout (``seconds`` passed first)."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = client.get_iopub_msg(timeout=min(1.0, left))
        except queue.Empty:
            msg = None
        if checkpoint:
            checkpoint()
        if msg is None:
            if not alive():
                return "died"
            continue
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
            return "idle"
        on_message(msg)
    return "timeout"
