"""kernel_polling: jupyter_client's asyncio channels wait in polls of a second at most, the same messages and the
same timeouts (the real channel's poll is what misses wake-ups; here it is replaced by a recorder)."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from queue import Empty

import pytest
from jupyter_client.channels import AsyncZMQSocketChannel

from backproplab import kernel_polling


def run(coroutine):
    """``coroutine``'s result, from a loop of its own in another thread (another test may leave this thread's
    event loop running: nbclient's and Playwright's synchronous APIs run one)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


@pytest.fixture
def recorded(monkeypatch):
    """AsyncZMQSocketChannel.get_msg replaced by one that records each timeout it is given and answers the third
    call (None: never), then bounded."""
    calls, answer_on = [], {"call": 3}

    async def poll(self, timeout=None):
        calls.append(timeout)
        if len(calls) == answer_on["call"]:
            return {"msg_id": "reply"}
        await asyncio.sleep(timeout)
        raise Empty

    monkeypatch.setattr(AsyncZMQSocketChannel, "get_msg", poll)
    monkeypatch.setattr(kernel_polling, "SLICE_SECONDS", 0.01)
    kernel_polling.bound_missed_wakeups()
    kernel_polling.bound_missed_wakeups()   # a second call does not wrap twice
    return calls, answer_on


def test_a_long_wait_is_polled_in_slices_and_returns_the_message(recorded):
    calls, _ = recorded
    assert run(AsyncZMQSocketChannel.get_msg(None, timeout=30)) == {"msg_id": "reply"}
    assert len(calls) == 3 and max(calls) <= 0.01


def test_the_timeout_still_ends_the_wait_with_empty(recorded):
    calls, answer_on = recorded
    answer_on["call"] = None
    with pytest.raises(Empty):
        run(AsyncZMQSocketChannel.get_msg(None, timeout=0.05))
    assert 3 <= len(calls) <= 8 and max(calls) <= 0.01


def test_no_timeout_polls_in_slices_until_a_message(recorded):
    calls, _ = recorded
    assert run(AsyncZMQSocketChannel.get_msg(None)) == {"msg_id": "reply"}
    assert calls[:2] == [0.01, 0.01]
