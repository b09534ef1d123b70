"""backproplab.neurons: the leaky integrate-and-fire neuron (seed 003's model and numbers)."""
from __future__ import annotations

import numpy as np
import pytest

from backproplab.neurons import TAU_M, TAU_REF, lif_rate, lif_simulate, lif_simulated_rate


def test_defaults_are_the_notes_cortical_values():
    """Are the default time constants the notes' typical cortical values, 20 ms and 2 ms?"""
    assert (TAU_M, TAU_REF) == (0.02, 0.002)


def test_analytic_rate_is_zero_up_to_threshold_and_inverse_of_the_interspike_interval_above():
    """Is the rate 0 for v_in <= 1 and, above, 1 / (tau_ref + time to climb from 0 to 1), the climb solving
    v_in (1 - e^{-t/tau_m}) = 1?"""
    np.testing.assert_array_equal(lif_rate(np.array([-2.0, 0.0, 0.5, 1.0])), 0.0)
    v_in = np.array([1.01, 1.5, 2.0, 5.0, 50.0])
    climb = 1.0 / lif_rate(v_in) - TAU_REF
    np.testing.assert_allclose(v_in * (1 - np.exp(-climb / TAU_M)), 1.0, rtol=1e-12)
    assert lif_rate(2.0) == pytest.approx(1 / (0.002 + 0.02 * np.log(2)))  # 63.04 Hz


def test_analytic_rate_rises_and_saturates_at_the_inverse_refractory_period():
    """Does the tuning curve increase with the input and approach 1 / tau_ref = 500 Hz without reaching it?"""
    rates = lif_rate(np.linspace(1.001, 1e4, 2000))
    assert np.all(np.diff(rates) > 0)
    assert 495 < rates[-1] < 500


def test_simulated_rate_matches_the_analytic_tuning_curve():
    """Does the Euler simulation fire at the analytic rate (within 1%) from just above threshold to 20?"""
    v_in = np.array([1.1, 1.5, 2.0, 4.0, 10.0, 20.0])
    np.testing.assert_allclose(lif_simulated_rate(v_in, duration=1.0, dt=1e-5), lif_rate(v_in), rtol=0.01)


def test_subthreshold_input_never_spikes_and_settles_at_v_in():
    """Does a neuron with v_in < 1 stay silent, its voltage rising towards v_in (e-fold time tau_m)?"""
    run = lif_simulate(0.8, duration=0.2, dt=1e-4)
    assert run.v.shape == (2000, 1) and run.t.shape == (2000,)
    assert len(run.spike_times[0]) == 0
    step = int(round(TAU_M / 1e-4)) - 1
    assert run.v[step, 0] == pytest.approx(0.8 * (1 - np.exp(-1)), rel=0.01)
    assert run.v[-1, 0] == pytest.approx(0.8, rel=1e-3)


def test_trace_resets_and_rests_for_the_refractory_period_after_each_spike():
    """After each spike is the voltage 0 for tau_ref (20 steps of 0.1 ms), then does it climb again?"""
    dt = 1e-4
    run = lif_simulate(np.array([3.0, 0.5]), duration=0.1, dt=dt)
    assert run.v.shape == (1000, 2) and len(run.spike_times) == 2 and len(run.spike_times[1]) == 0
    spikes = run.spike_times[0]
    assert len(spikes) >= 5
    for time in spikes[:-1]:
        k = int(round(time / dt)) - 1                   # the step that reached the threshold
        assert run.v[k, 0] >= 1.0
        assert np.all(run.v[k + 1:k + 21, 0] == 0.0)    # refractory
        assert run.v[k + 21, 0] > 0.0                   # integrating again
    assert np.all(run.v[:, 0] < 1.0 + 3.0 * dt / TAU_M)


def test_unrecorded_run_keeps_no_trace_and_rejects_a_matrix_input():
    """Does record=False return spikes without a trace, and is a 2-D input refused?"""
    run = lif_simulate([2.0], duration=0.05, record=False)
    assert run.v is None and len(run.spike_times[0]) > 0
    with pytest.raises(ValueError):
        lif_simulate(np.ones((2, 2)), duration=0.01)
