"""The leaky integrate-and-fire (LIF) neuron: where firing-rate activation functions come from.

Units follow the course notes (seed 003), with the membrane voltage rescaled so that rest is 0 and the
firing threshold is 1: below threshold ``tau_m dv/dt = v_in - v``; when ``v`` reaches 1 the neuron
spikes, ``v`` is reset to 0 and held there for the refractory period ``tau_ref``. Times are in seconds,
rates in spikes per second (Hz). Typical cortical values: ``tau_m = 0.02``, ``tau_ref = 0.002``.

Shapes: ``v_in`` is a constant input per neuron, a float or an ndarray of shape (n,) (n independent
neurons simulated side by side). Traces are (steps, n) with one row per time step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["TAU_M", "TAU_REF", "LIFRun", "lif_simulate", "lif_rate", "lif_simulated_rate"]

TAU_M = 0.02     # membrane time constant (s)
TAU_REF = 0.002  # refractory period (s)


@dataclass(frozen=True)
class LIFRun:
    """One simulation: ``t`` (steps,) the time of each step (s); ``v`` (steps, n) the voltage after
    each step, or None when not recorded; ``spike_times`` a list of n arrays (s), one per neuron."""

    t: np.ndarray
    v: np.ndarray | None
    spike_times: list


def lif_simulate(v_in, duration, dt=1e-4, tau_m=TAU_M, tau_ref=TAU_REF, record=True) -> LIFRun:
    """Integrate LIF neurons with constant inputs by Euler steps of ``dt`` seconds, starting at rest (v = 0).

    Inputs:
    - v_in: constant normalized input per neuron, float or ndarray of shape (n,)
    - duration: simulated time in seconds; steps = round(duration / dt)
    - dt, tau_m, tau_ref: step, membrane time constant and refractory period, in seconds
    - record: keep the voltage trace (steps, n); False saves the memory when only spikes are needed

    Returns an LIFRun. A spike is recorded at the step where v first reaches the threshold 1; the trace shows
    that step's value (>= 1), then the reset value 0 during the refractory period.
    """
    v_in = np.atleast_1d(np.asarray(v_in, dtype=float))
    if v_in.ndim != 1:
        raise ValueError(f"v_in must be a float or of shape (n,), not {v_in.shape}")
    steps = int(round(duration / dt))
    refractory_steps = int(round(tau_ref / dt))
    v = np.zeros_like(v_in)
    resting = np.zeros(v_in.shape, dtype=int)  # steps left in the refractory period
    trace = np.empty((steps, v_in.size)) if record else None
    spikes = [[] for _ in range(v_in.size)]
    for k in range(steps):
        free = resting == 0
        v = np.where(free, v + (dt / tau_m) * (v_in - v), 0.0)
        resting = np.where(free, 0, resting - 1)
        fired = v >= 1.0
        if trace is not None:
            trace[k] = v
        if fired.any():
            for i in np.flatnonzero(fired):
                spikes[i].append((k + 1) * dt)
            v = np.where(fired, 0.0, v)
            resting = np.where(fired, refractory_steps, resting)
    t = dt * np.arange(1, steps + 1)
    return LIFRun(t, trace, [np.array(s) for s in spikes])


def lif_rate(v_in, tau_m=TAU_M, tau_ref=TAU_REF):
    """Steady-state firing rate (Hz) of an LIF neuron with constant input: its tuning curve, solved exactly.

    Inputs:
    - v_in: normalized input, float or ndarray of any shape
    - tau_m, tau_ref: membrane time constant and refractory period, in seconds

    Returns an ndarray of the shape of v_in: 0 where v_in <= 1 (the voltage never reaches the threshold), else the
    inverse of the time between spikes (the refractory period plus the time to climb from 0 to 1).
    """
    v_in = np.asarray(v_in, dtype=float)
    above = v_in > 1.0
    safe = np.where(above, v_in, 2.0)  # no log of a non-positive number where the rate is 0
    climb = -tau_m * np.log1p(-1.0 / safe)
    return np.where(above, 1.0 / (tau_ref + climb), 0.0)


def lif_simulated_rate(v_in, duration=1.0, dt=1e-5, tau_m=TAU_M, tau_ref=TAU_REF):
    """Firing rate (Hz) measured in a simulation: spikes after the first, divided by the time they span.

    Inputs: v_in, float or ndarray of shape (n,); the rest as in lif_simulate.
    Returns an ndarray of shape (n,): 0 for a neuron with fewer than two spikes in ``duration``.
    """
    run = lif_simulate(v_in, duration, dt=dt, tau_m=tau_m, tau_ref=tau_ref, record=False)
    return np.array([(len(s) - 1) / (s[-1] - s[0]) if len(s) >= 2 else 0.0 for s in run.spike_times])
