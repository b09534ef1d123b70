"""backproplab/grading/sandbox/protocol.py: the lines both sides of the sandbox build and read.

The whole path (a real executor in a real sandbox) is in test_warm_sandbox.py and test_preprocessors.py; here,
that what one side writes the other recognises, and that the host reads the executor's lines as untrusted data."""
from __future__ import annotations

import json

from backproplab.grading.sandbox import protocol


def test_the_host_recognises_the_executors_own_lines():
    """Is each line the executor writes (protocol.line) the one the host waits for, and only for its own job?"""
    done = protocol.line(protocol.done(12, restarts=0, recycle=True))[:-1]
    assert protocol.is_done(done, 12) and not protocol.is_done(done, 1) and not protocol.is_done(done, 123)
    assert protocol.is_line(protocol.line(protocol.started(3))[:-1], protocol.started(3))
    assert not protocol.is_line(protocol.line(protocol.started(3))[:-1], protocol.started(31))
    assert protocol.is_line(b'{"ready": true}', protocol.READY)
    assert protocol.read(done) == {"done": True, "job": 12, "restarts": 0, "recycle": True}


def test_read_report_takes_the_executors_lines_as_untrusted_data():
    """Are lines that are not messages skipped, and values of the wrong type or sign read as absent?"""
    lines = [b"not json", b"[1, 2]", b"\xff\xfe",
             json.dumps({"index": True, "outputs": []}).encode(),            # a bool is not an index
             json.dumps({"index": 2, "outputs": "many", "execution_count": "7", "stray_records": -4}).encode(),
             json.dumps({"index": 3, "outputs": [{"output_type": "stream"}], "execution_count": 5}).encode(),
             json.dumps({"verify_seconds": "fast"}).encode(),
             json.dumps(protocol.done(1, restarts=2.0, cpu_seconds=-1, kernel_start_seconds=0.5,
                                      output_dropped_bytes=10, executor_cpu_spent="yes")).encode()]
    report = protocol.read_report(b"\n".join(lines))
    assert [(c.index, c.outputs, c.execution_count, c.stray_records) for c in report.cells] == [
        (2, [], None, 0), (3, [{"output_type": "stream"}], 5, 0)]
    assert (report.done, report.restarts, report.cpu_seconds, report.kernel_start_seconds, report.verify_seconds,
            report.output_dropped_bytes, report.executor_cpu_spent) == (True, 2, 0.0, 0.5, 0.0, 10, False)


def test_a_run_without_a_done_line_reads_as_not_done():
    """Does a run cut short (no done line) say so, with what its cells reported?"""
    report = protocol.read_report(protocol.line({"index": 0, "outputs": [], "execution_count": 1}))
    assert not report.done and [c.index for c in report.cells] == [0]
