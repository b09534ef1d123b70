"""Tests for backproplab.model: forward/backward through whole networks, updates and training.

Oracles for gradients: PyTorch float64 autograd on the same params (torch_model_gradients)
and central finite differences (gradient_check, and for dz the cost as a function of Z[l]).
Networks have 1 to 4 layers, every hidden activation and each output pairing.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from backproplab.activations import get_activation
from backproplab.data import make_moons, xor
from backproplab.gradcheck import gradient_check, model_cost_function, numerical_gradient
from backproplab.init import initialize_parameters
from backproplab.layers import dense_backward, dropout_backward, l2_penalty
from backproplab.losses import loss_for_output
from backproplab.model import (
    TrainOptions,
    accuracy,
    compute_cost,
    count_parameters,
    initialize_velocity,
    model_backward,
    model_forward,
    network_dtype,
    num_layers,
    predict,
    train,
    update_parameters,
    update_parameters_momentum,
)
from backproplab.torch_reference import torch_model_gradients
from strategies import FLOAT_DTYPES, cast, networks

TORCH_RTOL, TORCH_ATOL = 1e-9, 1e-11
# Central differences (h = 1e-5), entry by entry: truncation O(h^2) is ~1e-10 of an entry, and
# round-off ~eps * J / h is ~1e-11 absolute. A relative test alone fails on the tiny first-layer
# gradients of deep sigmoid nets (seen: a norm-wise 1.0e-5 on W1 with dropout), so small entries
# get an absolute floor far below any real mistake (a missing 1/m or a transpose is off by O(1)).
FD_RTOL, FD_ATOL = 1e-5, 1e-8
KINKED = {"relu", "leaky_relu", "elu"}
# A float32 network against the float64 one on the same numbers: up to 4 layers of roundings
# (6e-8 relative each) that grow through the weights, on values of order 1-10.
F32_RTOL, F32_ATOL = 1e-4, 1e-5


def _assume_away_from_kinks(net, caches, margin=1e-3):
    """Discard draws with a kinked activation's pre-activation within ``margin`` of 0, and with a
    sigmoid output within 1e-5 of 1: there 1 - a keeps only a few digits, and the central
    differences of log(1 - a) lose ~1e-12 / (1 - a) to rounding (seen: 2e-4 at 1 - a = 1e-8)."""
    for (_, _, _, Z, *_), name in zip(caches, net.activations):
        if name in KINKED:
            assume(np.min(np.abs(Z)) > margin)
    if net.activations[-1] == "sigmoid":
        assume(np.max(caches[-1][3]) < 11.0)  # sigmoid(11) = 1 - 1.7e-5


def _assert_matches_central_differences(cost, params, grads):
    """Does every dW, dB equal the central differences of ``cost`` (params -> float) entry by entry?"""
    for key, value in params.items():
        numeric = numerical_gradient(lambda x, key=key: cost({**params, key: x}), value)
        np.testing.assert_allclose(grads["d" + key], numeric, rtol=FD_RTOL, atol=FD_ATOL, err_msg=key)


def _grads_close(grads, reference, keys):
    for key in keys:
        assert grads[key].shape == reference[key].shape, key
        np.testing.assert_allclose(grads[key], reference[key], rtol=TORCH_RTOL, atol=TORCH_ATOL, err_msg=key)


def _gradient_keys(L):
    return [f"{kind}{l}" for l in range(1, L + 1) for kind in ("dW", "dB", "dz")]


@given(net=networks())
def test_model_forward_caches_and_output_match_torch(net):
    """Are the caches (A_prev, W, B, Z) per layer, in order, with Z and AL equal to torch's?"""
    AL, caches = model_forward(net.X, net.params, net.activations)
    reference = torch_model_gradients(net.X, net.Y, net.params, net.activations)
    L = len(net.activations)
    assert len(caches) == L
    np.testing.assert_array_equal(caches[0][0], net.X)
    for l, (A_prev, W, B, Z) in enumerate(caches, start=1):
        assert W is net.params[f"W{l}"] and B is net.params[f"B{l}"]
        np.testing.assert_allclose(Z, reference[f"Z{l}"], rtol=TORCH_RTOL, atol=TORCH_ATOL)
        if l > 1:
            np.testing.assert_allclose(A_prev, get_activation(net.activations[l - 2]).forward(caches[l - 2][3]))
    np.testing.assert_allclose(AL, reference["AL"], rtol=TORCH_RTOL, atol=TORCH_ATOL)


@given(net=networks(), lambd=st.sampled_from([0.0, 0.7]))
def test_model_backward_matches_torch_autograd(net, lambd):
    """Do dW, dB (mean-cost gradients, with L2) and dz (= m * Z.grad) of every layer equal torch's?"""
    AL, caches = model_forward(net.X, net.params, net.activations)
    grads = model_backward(AL, net.Y, caches, net.activations, lambd=lambd)
    reference = torch_model_gradients(net.X, net.Y, net.params, net.activations, lambd=lambd)
    _grads_close(grads, reference, _gradient_keys(len(caches)))
    np.testing.assert_allclose(compute_cost(AL, net.Y, net.activations, net.params, lambd), reference["cost"],
                               rtol=TORCH_RTOL, atol=TORCH_ATOL)


@given(net=networks(), lambd=st.sampled_from([0.0, 0.7]))
def test_model_backward_matches_gradient_check(net, lambd):
    """Does every dW, dB agree with central differences of the cost (with L2), and gradient_check report
    an error for every parameter?"""
    AL, caches = model_forward(net.X, net.params, net.activations)
    _assume_away_from_kinks(net, caches)
    grads = model_backward(AL, net.Y, caches, net.activations, lambd=lambd)
    cost = model_cost_function(net.X, net.Y, net.activations, lambd)
    assert set(gradient_check(cost, net.params, grads)) == set(net.params)
    _assert_matches_central_differences(cost, net.params, grads)


def _cost_from_Z(net, l):
    """The cost as a function of Z[l] alone: apply g[l], then the layers above l."""
    L = len(net.activations)
    upper = {f"{kind}{i - l}": net.params[f"{kind}{i}"] for i in range(l + 1, L + 1) for kind in "WB"}
    cost, _ = loss_for_output(net.activations[-1])

    def J(Z):
        A = get_activation(net.activations[l - 1]).forward(Z)
        AL = model_forward(A, upper, net.activations[l:])[0] if l < L else A
        return cost(AL, net.Y)

    return J


@given(net=networks())
def test_model_backward_dz_is_per_example_gradient_by_finite_differences(net):
    """Is every dz[l] m times the central-difference gradient of the cost w.r.t. Z[l] (no 1/m)?"""
    AL, caches = model_forward(net.X, net.params, net.activations)
    _assume_away_from_kinks(net, caches)
    grads = model_backward(AL, net.Y, caches, net.activations)
    m = net.X.shape[0]
    for l, cache in enumerate(caches, start=1):
        expected = m * numerical_gradient(_cost_from_Z(net, l), cache[3].copy())
        np.testing.assert_allclose(grads[f"dz{l}"], expected, rtol=1e-6, atol=1e-7, err_msg=f"dz{l}")


@given(net=networks(min_layers=2, outputs=("sigmoid", "softmax")), alpha=st.sampled_from([0.2, 0.5]),
       seed=st.integers(0, 1000))
def test_model_backward_with_dropout_matches_torch_and_finite_differences(net, alpha, seed):
    """With the forward pass's dropout masks, do the gradients equal torch's and central differences'?"""
    AL, caches = model_forward(net.X, net.params, net.activations, dropout=alpha, rng=np.random.default_rng(seed))
    _assume_away_from_kinks(net, caches)
    assert all(len(cache) == 5 for cache in caches) and caches[-1][4] is None
    grads = model_backward(AL, net.Y, caches, net.activations, dropout=alpha)
    masks = [cache[4] for cache in caches]
    reference = torch_model_gradients(net.X, net.Y, net.params, net.activations, masks=masks, dropout=alpha)
    _grads_close(grads, reference, _gradient_keys(len(caches)))

    def cost_with_same_masks(params):
        # The same seed redraws the same masks, since the shapes do not change.
        AL, _ = model_forward(net.X, params, net.activations, dropout=alpha, rng=np.random.default_rng(seed))
        return compute_cost(AL, net.Y, net.activations)

    _assert_matches_central_differences(cost_with_same_masks, net.params, grads)


def test_model_forward_with_dropout_draws_its_own_rng():
    """Without an rng, does dropout still run (a fresh generator) and return masks?"""
    params = initialize_parameters([3, 4, 1], "he", seed=0)
    _, caches = model_forward(np.ones((2, 3)), params, ["relu", "sigmoid"], dropout=0.5)
    assert caches[0][4].shape == (2, 4)


def test_model_backward_ignores_dropout_rate_for_caches_without_masks():
    """Given caches from a pass without dropout, does dropout > 0 leave the gradients unchanged?"""
    params = initialize_parameters([3, 4, 1], "he", seed=0)
    X, Y = np.random.default_rng(1).normal(size=(5, 3)), np.ones((5, 1))
    AL, caches = model_forward(X, params, ["tanh", "sigmoid"])
    with_rate = model_backward(AL, Y, caches, ["tanh", "sigmoid"], dropout=0.5)
    without = model_backward(AL, Y, caches, ["tanh", "sigmoid"])
    for key in without:
        np.testing.assert_array_equal(with_rate[key], without[key])


def test_model_forward_rejects_wrong_number_of_activations():
    """Does giving 1 activation name for a 2-layer network raise ValueError?"""
    with pytest.raises(ValueError, match="2 layers"):
        model_forward(np.ones((1, 2)), initialize_parameters([2, 3, 1], "he", 0), ["sigmoid"])


def test_model_backward_rejects_unpaired_output():
    """Does an output activation with no paired loss (relu) raise ValueError?"""
    params = initialize_parameters([2, 1], "he", 0)
    AL, caches = model_forward(np.ones((1, 2)), params, ["relu"])
    with pytest.raises(ValueError, match="output"):
        model_backward(AL, np.ones((1, 1)), caches, ["relu"])


def test_parameter_count_worked_examples():
    """Do 2-3-1 and 784-512-512-10 have 13 and 669,706 parameters (counting initialize_parameters' arrays)?"""
    for sizes, expected in (([2, 3, 1], 13), ([784, 512, 512, 10], 669_706)):
        params = initialize_parameters(sizes, "zeros")
        assert sum(value.size for value in params.values()) == expected
        assert count_parameters(sizes) == expected
        assert num_layers(params) == len(sizes) - 1


@given(net=networks(max_layers=2), lambd=st.sampled_from([0.0, 1.5]))
def test_compute_cost_adds_l2_penalty(net, lambd):
    """Is compute_cost the paired loss plus l2_penalty(params, lambd, m)?"""
    AL, _ = model_forward(net.X, net.params, net.activations)
    cost, _ = loss_for_output(net.activations[-1])
    expected = cost(AL, net.Y) + l2_penalty(net.params, lambd, net.X.shape[0])
    assert compute_cost(AL, net.Y, net.activations, net.params, lambd) == pytest.approx(expected, rel=1e-12)


def _params_and_grads(seed=0):
    params = initialize_parameters([3, 4, 2], "xavier", seed)
    rng = np.random.default_rng(seed + 1)
    grads = {"d" + key: rng.normal(size=value.shape) for key, value in params.items()}
    return params, grads


def test_update_parameters_steps_against_the_gradient_without_mutating():
    """Is each new param p - lr * dp, with the input params and grads unchanged?"""
    params, grads = _params_and_grads()
    before = {key: value.copy() for key, value in params.items()}
    grads_before = {key: value.copy() for key, value in grads.items()}
    new = update_parameters(params, grads, 0.3)
    for key in params:
        np.testing.assert_array_equal(params[key], before[key])
        np.testing.assert_array_equal(grads["d" + key], grads_before["d" + key])
        np.testing.assert_allclose(new[key], before[key] - 0.3 * grads["d" + key], rtol=1e-15)
        assert new[key] is not params[key]


def test_momentum_is_an_exponential_average_of_gradients():
    """With a constant gradient g, is v_k = (1 - beta^k) g and p_k = p_0 - lr sum_j v_j, inputs unchanged?"""
    params, grads = _params_and_grads()
    velocity = initialize_velocity(params)
    assert all(np.all(v == 0) and v.shape == params[k[1:]].shape for k, v in velocity.items())
    beta, lr, steps = 0.9, 0.1, 5
    current, v = params, velocity
    for _ in range(steps):
        previous_params, previous_v = current, v
        snapshot = {key: value.copy() for key, value in previous_v.items()}
        current, v = update_parameters_momentum(current, grads, v, lr, beta)
        for key in snapshot:
            np.testing.assert_array_equal(previous_v[key], snapshot[key])
        assert current is not previous_params
    for key in params:
        g = grads["d" + key]
        np.testing.assert_allclose(v["d" + key], (1 - beta ** steps) * g, rtol=1e-12)
        travelled = sum(1 - beta ** j for j in range(1, steps + 1))
        np.testing.assert_allclose(current[key], params[key] - lr * travelled * g, rtol=1e-12, atol=1e-15)


def test_predict_and_accuracy_per_output_kind():
    """Does predict threshold sigmoid at 0.5, one-hot softmax's argmax, pass identity through, and accuracy count rows?"""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(7, 3))
    for output, nL in (("sigmoid", 2), ("softmax", 3), ("identity", 2)):
        params = initialize_parameters([3, 4, nL], "xavier", seed=1)
        acts = ["tanh", output]
        AL, _ = model_forward(X, params, acts)
        P = predict(X, params, acts)
        expected = {"sigmoid": (AL > 0.5).astype(float), "softmax": np.eye(nL)[np.argmax(AL, axis=1)],
                    "identity": AL}[output]
        np.testing.assert_array_equal(P, expected)
        Y = expected.copy()
        Y[0] = 1.0 - Y[0] if output == "sigmoid" else np.roll(Y[0], 1)
        assert accuracy(X, Y, params, acts) == pytest.approx((len(X) - 1) / len(X))
        assert accuracy(X, P, params, acts) == 1.0


def test_train_learns_xor(capsys):
    """Does full-batch training of a 2-8-1 tanh/sigmoid network reach 100% on XOR, silently?"""
    X, Y = xor()
    params, history = train(X, Y, initialize_parameters([2, 8, 1], "xavier", seed=0), ["tanh", "sigmoid"],
                            TrainOptions(learning_rate=1.0, epochs=1500, record_every=100))
    assert accuracy(X, Y, params, ["tanh", "sigmoid"]) == 1.0
    assert history["train_cost"][-1] < history["train_cost"][0]
    assert history["epoch"][-1] == 1500 and len(history["epoch"]) == 15
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("options", [dict(), dict(momentum=0.9), dict(dropout=0.1), dict(lambd=0.01)],
                         ids=["sgd", "momentum", "dropout", "l2"])
def test_train_learns_moons_with_minibatches(options, capsys):
    """Do minibatch SGD, momentum, dropout and L2 each fit 200 moons to >= 95% training accuracy, silently?"""
    X, Y = make_moons()
    acts = ["relu", "relu", "sigmoid"]
    params, history = train(X, Y, initialize_parameters([2, 16, 16, 1], "he", seed=0), acts,
                            TrainOptions(learning_rate=0.1, epochs=300, batch_size=32, record_every=50, seed=0, **options))
    assert accuracy(X, Y, params, acts) >= 0.95
    assert history["train_acc"][-1] == accuracy(X, Y, params, acts)
    assert capsys.readouterr().err == ""


def test_train_l2_shrinks_weights():
    """Does training with L2 end with smaller weight norms than the same run without it?"""
    X, Y = make_moons(m=100)
    start = initialize_parameters([2, 8, 1], "he", seed=0)
    norms = []
    for lambd in (0.0, 2.0):
        params, _ = train(X, Y, start, ["relu", "sigmoid"], TrainOptions(learning_rate=0.5, epochs=100, lambd=lambd))
        norms.append(l2_penalty(params, 1.0, 1))
    assert norms[1] < norms[0]


def test_train_records_validation_and_leaves_inputs_alone():
    """With validation data, are val_cost/val_acc recorded, and are the initial params unchanged?"""
    X, Y = make_moons(m=60)
    start = initialize_parameters([2, 6, 1], "he", seed=0)
    snapshot = {key: value.copy() for key, value in start.items()}
    _, history = train(X, Y, start, ["relu", "sigmoid"], TrainOptions(epochs=10, record_every=3), validation=(X[:20], Y[:20]))
    assert history["epoch"] == [3, 6, 9, 10]
    assert len(history["val_cost"]) == len(history["val_acc"]) == 4
    for key in start:
        np.testing.assert_array_equal(start[key], snapshot[key])


def test_train_regression_has_no_accuracy():
    """For an identity output (MSE), are accuracies None and does the cost fall?"""
    X = np.linspace(-1, 1, 20)[:, None]
    Y = 3 * X + 0.5
    _, history = train(X, Y, initialize_parameters([1, 1], "xavier", seed=0), ["identity"],
                       TrainOptions(learning_rate=0.5, epochs=50))
    assert history["train_acc"][-1] is None
    assert history["train_cost"][-1] < 1e-3 * history["train_cost"][0]


def test_train_progress_bar_only_when_asked_or_long(capsys, monkeypatch):
    """Is the bar drawn on stderr with progress=True, and automatic only for >= 2000 steps outside pytest/graders?"""
    from backproplab import model

    X, Y = xor()
    train(X, Y, initialize_parameters([2, 2, 1], "xavier", 0), ["tanh", "sigmoid"], TrainOptions(epochs=3, progress=True))
    assert "epochs" in capsys.readouterr().err
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    monkeypatch.delenv("BPLAB_QUIET", raising=False)
    assert model._progress_wanted(None, 2000) and not model._progress_wanted(None, 1999)
    assert not model._progress_wanted(False, 10**6)
    monkeypatch.setenv("BPLAB_QUIET", "1")
    assert not model._progress_wanted(None, 10**6)



@pytest.mark.parametrize("options, named", [
    (dict(learning_rate=0.0), "learning_rate must be > 0"), (dict(epochs=-1), "epochs must be >= 0"),
    (dict(batch_size=0), "batch_size must be >= 1"), (dict(momentum=1.0), "momentum must be in [0, 1)"),
    (dict(lambd=-0.1), "lambd must be >= 0"), (dict(dropout=1.0), "dropout must be in [0, 1)"),
    (dict(record_every=0), "record_every must be >= 1")])
def test_train_options_name_a_bad_field_in_one_line(options, named):
    """Does TrainOptions refuse each impossible value with one line naming the field and its range?"""
    with pytest.raises(ValueError) as error:
        TrainOptions(**options)
    assert str(error.value) == f"TrainOptions: {named}" + (" (or None: the full batch)" if "batch_size" in named else "")


def test_train_options_are_frozen_and_their_defaults_are_trains():
    """Is a TrainOptions immutable, and does train() with none give the same run as with TrainOptions()?"""
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainOptions().epochs = 3
    X, Y = xor()
    start = initialize_parameters([2, 3, 1], "xavier", seed=1)
    default, history = train(X, Y, start, ["tanh", "sigmoid"])
    explicit, explicit_history = train(X, Y, start, ["tanh", "sigmoid"], TrainOptions())
    assert history == explicit_history and len(history["epoch"]) == 100
    for key in default:
        np.testing.assert_array_equal(default[key], explicit[key])

def _arrays_of(caches):
    return [item for cache in caches for item in cache if isinstance(item, np.ndarray)]


@given(net=networks(), lambd=st.sampled_from([0.0, 0.7]), dropout=st.sampled_from([0.0, 0.3]),
       seed=st.integers(0, 1000))
def test_float32_network_stays_float32(net, lambd, dropout, seed):
    """With float32 X, Y and params, are AL, every cached array (and dropout mask) and every gradient
    float32, close to the float64 network's on the same numbers, and the cost a float close to its?"""
    net32 = cast(net, np.float32)
    results = {}
    for dtype, case in ((np.float32, net32), (np.float64, cast(net32, np.float64))):
        AL, caches = model_forward(case.X, case.params, case.activations, dropout=dropout,
                                   rng=np.random.default_rng(seed))
        grads = model_backward(AL, case.Y, caches, case.activations, lambd=lambd, dropout=dropout)
        assert AL.dtype == dtype and all(a.dtype == dtype for a in _arrays_of(caches))
        assert all(g.dtype == dtype for g in grads.values())
        cost = compute_cost(AL, case.Y, case.activations, case.params, lambd)
        assert type(cost) is float
        results[dtype] = AL, grads, cost
    (AL32, grads32, cost32), (AL64, grads64, cost64) = results[np.float32], results[np.float64]
    np.testing.assert_allclose(AL32, AL64, rtol=F32_RTOL, atol=F32_ATOL)
    for key in grads64:
        np.testing.assert_allclose(grads32[key], grads64[key], rtol=F32_RTOL, atol=F32_ATOL, err_msg=key)
    assert cost32 == pytest.approx(cost64, rel=F32_RTOL, abs=F32_ATOL)


def _z_replaced_by_a(caches):
    """The caches with each hidden Z[l] replaced by A[l] (the next cache's A_prev), as lecture 04's check
    builds them to predict the derivative-at-output mistake."""
    return [(A_prev, W, B, caches[l + 1][0], *rest) if l + 1 < len(caches) else (A_prev, W, B, Z, *rest)
            for l, (A_prev, W, B, Z, *rest) in enumerate(caches)]


@pytest.mark.parametrize("z_replaced", [False, True], ids=["forward-caches", "Z-replaced-by-A"])
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@given(net=networks(min_layers=2), dropout=st.sampled_from([0.0, 0.3]), seed=st.integers(0, 1000))
def test_model_backward_is_bit_for_bit_the_layer_functions(dtype, z_replaced, net, dropout, seed):
    """Is every gradient of model_backward (ReLU's mask applied in place, no dA[0]) exactly what
    dense_backward, dropout_backward and the activations' backward give from the cache's Z, layer by
    layer, also when Z is not g^-1(A_prev) (the checks' derivative-at-output caches)?"""
    net = cast(net, dtype)
    AL, caches = model_forward(net.X, net.params, net.activations, dropout=dropout, rng=np.random.default_rng(seed))
    if z_replaced:
        caches = _z_replaced_by_a(caches)
    grads = model_backward(AL, net.Y, caches, net.activations, dropout=dropout)
    dz = AL - net.Y
    for l in range(len(caches), 0, -1):
        A_prev, W, _, _ = caches[l - 1][:4]
        np.testing.assert_array_equal(grads[f"dz{l}"], dz, err_msg=f"dz{l}")
        dA_prev, dW, dB = dense_backward(dz, A_prev, W)
        np.testing.assert_array_equal(grads[f"dW{l}"], dW, err_msg=f"dW{l}")
        np.testing.assert_array_equal(grads[f"dB{l}"], dB, err_msg=f"dB{l}")
        if l > 1:
            below = caches[l - 2]
            if dropout:
                dA_prev = dropout_backward(dA_prev, below[4], dropout)
            dz = get_activation(net.activations[l - 2]).backward(dA_prev, below[3])


@given(net=networks(max_layers=2))
def test_network_dtype_is_the_parameters_and_data_follow_it(net):
    """Do float32 params make a float32 network even for float64 X and Y (cast as torch's .to(dtype)
    would need), float64 params keep float32 X in float64, and integer params count as float64?"""
    params32 = cast(net.params, np.float32)
    assert network_dtype(params32) == np.float32 and network_dtype(net.params) == np.float64
    AL, caches = model_forward(net.X, params32, net.activations)
    assert AL.dtype == np.float32 and caches[0][0].dtype == np.float32
    grads = model_backward(AL, net.Y, caches, net.activations)
    assert all(g.dtype == np.float32 for g in grads.values())
    AL64, _ = model_forward(net.X.astype(np.float32), net.params, net.activations)
    assert AL64.dtype == np.float64
    mixed = {**params32, "B1": net.params["B1"]}
    assert network_dtype(mixed) == np.float64
    integer = {key: np.round(value).astype(int) for key, value in net.params.items()}
    assert network_dtype(integer) == np.float64 and model_forward(net.X, integer, net.activations)[0].dtype == np.float64
    assert predict(net.X, params32, net.activations).dtype == np.float32


@pytest.mark.parametrize("learning_rate,beta", [(0.3, 0.9), (np.float64(0.3), np.float64(0.9))])
def test_updates_keep_the_float_dtype(learning_rate, beta):
    """Do update_parameters and momentum keep float32 params and velocities float32 for Python or NumPy
    scalars, close to float64's, with inputs unchanged; and in float64 equal p - lr * dp exactly?"""
    params, grads = _params_and_grads()
    params32, grads32 = cast(params, np.float32), cast(grads, np.float32)
    snapshot = {key: value.copy() for key, value in {**params32, **grads32}.items()}
    new32 = update_parameters(params32, grads32, learning_rate)
    moved32, velocity32 = update_parameters_momentum(params32, grads32, initialize_velocity(params32), learning_rate, beta)
    for key, value in {**params32, **grads32}.items():
        np.testing.assert_array_equal(value, snapshot[key])
    new64 = update_parameters(cast(params32, np.float64), cast(grads32, np.float64), 0.3)
    moved64, velocity64 = update_parameters_momentum(cast(params32, np.float64), cast(grads32, np.float64),
                                                     initialize_velocity(params), 0.3, 0.9)
    for got, expected in ((new32, new64), (moved32, moved64), (velocity32, velocity64)):
        for key in expected:
            assert got[key].dtype == np.float32 and expected[key].dtype == np.float64
            np.testing.assert_allclose(got[key], expected[key], rtol=1e-6, atol=1e-7, err_msg=key)
    for key in params:
        np.testing.assert_array_equal(update_parameters(params, grads, 0.3)[key], params[key] - 0.3 * grads["d" + key])


def test_train_in_float32_matches_float64():
    """Does train keep float32 params float32 (with float64 data cast once) and reach the float64
    run's costs and accuracy on the moons?"""
    X, Y = make_moons(m=100)
    start = initialize_parameters([2, 8, 8, 1], "he", seed=0)
    runs = {}
    for dtype in FLOAT_DTYPES:
        params, history = train(X, Y, cast(start, dtype), ["tanh", "relu", "sigmoid"],
                                TrainOptions(learning_rate=0.5, epochs=60, batch_size=25, momentum=0.9, lambd=0.01,
                                             record_every=20))
        assert all(value.dtype == dtype for value in params.values())
        runs[dtype] = history
    np.testing.assert_allclose(runs[np.float32]["train_cost"], runs[np.float64]["train_cost"], rtol=1e-3)
    assert runs[np.float32]["train_acc"] == runs[np.float64]["train_acc"]
