"""Tests for backproplab.init: shapes, scales (against torch.nn.init) and their effect on deep networks."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

from backproplab.init import INIT_METHODS, init_std, initialize_parameters
from backproplab.model import TrainOptions, model_forward, train
from strategies import layer_sizes, seeds

DEPTH, WIDTH, BATCH = 10, 256, 500


@pytest.mark.parametrize("method", INIT_METHODS)
@given(sizes=layer_sizes(), seed=seeds())
def test_initialize_parameters_shapes_and_zero_biases(method, sizes, seed):
    """Is W[l] (n_l, n_{l-1}), B[l] (1, n_l) of zeros, with nothing else, and reproducible by seed?"""
    params = initialize_parameters(sizes, method, seed)
    L = len(sizes) - 1
    assert set(params) == {f"{kind}{l}" for l in range(1, L + 1) for kind in "WB"}
    for l in range(1, L + 1):
        assert params[f"W{l}"].shape == (sizes[l], sizes[l - 1])
        np.testing.assert_array_equal(params[f"B{l}"], np.zeros((1, sizes[l])))
    again = initialize_parameters(sizes, method, seed)
    for key in params:
        np.testing.assert_array_equal(params[key], again[key])


def _torch_sample_std(method, fan_in, fan_out):
    """The sample std of a (fan_out, fan_in) weight drawn by torch.nn.init's matching normal variant."""
    import torch

    torch.manual_seed(0)
    W = torch.empty(fan_out, fan_in, dtype=torch.float64)
    if method == "xavier":
        torch.nn.init.xavier_normal_(W)
    elif method == "he":
        torch.nn.init.kaiming_normal_(W, mode="fan_in", nonlinearity="relu")
    else:
        torch.nn.init.normal_(W, std=0.01)
    return float(W.std())


@pytest.mark.parametrize("method", ["random", "xavier", "he"])
@pytest.mark.parametrize("fan_in,fan_out", [(400, 300), (100, 700)])
def test_initialization_std_matches_torch_nn_init(method, fan_in, fan_out):
    """Over >= 70,000 weights, is the sample std within 2% of init_std, and of torch.nn.init's sample std?

    The sample std of N normals has relative standard error 1/sqrt(2N) < 0.3%, so 2% is
    a wide band that still separates fan-in from fan-out and xavier from he.
    """
    W = initialize_parameters([fan_in, fan_out], method, seed=0)["W1"]
    std = init_std(method, fan_in, fan_out)
    assert abs(W.mean()) < 5 * std / np.sqrt(W.size)
    assert W.std() == pytest.approx(std, rel=0.02)
    assert W.std() == pytest.approx(_torch_sample_std(method, fan_in, fan_out), rel=0.02)


def test_zeros_initialization_is_all_zeros():
    """Does "zeros" give all-zero weights?"""
    params = initialize_parameters([3, 4, 2], "zeros", seed=0)
    assert all(np.all(value == 0) for value in params.values())


def test_unknown_initialization_is_rejected():
    """Does an unknown method raise ValueError naming the valid ones?"""
    with pytest.raises(ValueError, match="xavier"):
        initialize_parameters([2, 2], "glorot-uniform")


def _activation_variances(method, activation, seed=0):
    """Variance of A[l] for l = 1..DEPTH of a DEPTH-layer, WIDTH-unit network on N(0, 1) inputs."""
    X = np.random.default_rng(seed).standard_normal((BATCH, WIDTH))
    params = initialize_parameters([WIDTH] * (DEPTH + 1), method, seed)
    AL, caches = model_forward(X, params, [activation] * DEPTH)
    return np.array([np.var(cache[0]) for cache in caches[1:]] + [np.var(AL)])


def test_he_relu_keeps_activation_variance_over_ten_layers():
    """With He + ReLU, does every layer's activation variance stay within [0.5, 2] x layer 1's?

    He's std sqrt(2/n) exactly compensates ReLU halving E[z^2], so the variance is preserved
    in expectation; with 256 units each layer's variance wanders by a few percent (we saw
    0.7-1.15), and the factor-2 band leaves room for that while a wrong fan or gain would
    shift it by 2x per layer (2^9 after 10 layers).
    """
    variances = _activation_variances("he", "relu")
    ratios = variances / variances[0]
    assert np.all((ratios >= 0.5) & (ratios <= 2.0)), ratios


def test_xavier_tanh_keeps_activation_variance_over_ten_layers():
    """With Xavier + tanh, does every layer's activation variance stay within [0.1, 1] x layer 1's?

    Xavier keeps Var(Z) ~ Var(A_prev) for equal fans; tanh's curvature alone then shrinks
    the variance slowly, about like 1/l (0.13 at layer 10 in our runs), never growing.
    Scales a factor sqrt(2) off shrink or grow it geometrically and leave this band.
    """
    variances = _activation_variances("xavier", "tanh")
    ratios = variances / variances[0]
    assert np.all((ratios >= 0.1) & (ratios <= 1.0 + 1e-9)), ratios


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_random_small_initialization_vanishes(activation):
    """With N(0,1) x 0.01 weights, does the activation variance fall below 1e-12 of layer 1's by layer 10?

    Each layer multiplies the variance by about n * 0.01^2 = 0.0256 (x 1/2 for ReLU).
    """
    variances = _activation_variances("random", activation)
    ratios = variances / variances[0]
    assert ratios[-1] < 1e-12, ratios


def test_zeros_initialization_keeps_hidden_units_identical_after_training():
    """After 50 training steps from zeros, are all hidden units of a layer still identical (symmetry)?"""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = (X[:, :1] * X[:, 1:2] > 0).astype(float)
    params, _ = train(X, Y, initialize_parameters([3, 5, 4, 1], "zeros"), ["tanh", "sigmoid", "sigmoid"],
                      TrainOptions(learning_rate=0.5, epochs=50))
    # Rows of W[l] are hidden unit l's incoming weights; identical rows = identical units.
    for l in (1, 2):
        W, B = params[f"W{l}"], params[f"B{l}"]
        np.testing.assert_allclose(W, np.broadcast_to(W[:1], W.shape), rtol=0, atol=1e-12)
        np.testing.assert_allclose(B, np.broadcast_to(B[:, :1], B.shape), rtol=0, atol=1e-12)
    # The output layer did learn (so the check above is not about nothing moving).
    assert np.any(params["W3"] != 0) or np.any(params["B3"] != 0)


@pytest.mark.parametrize("method", INIT_METHODS)
@given(sizes=layer_sizes(), seed=seeds())
def test_initialize_parameters_dtype(method, sizes, seed):
    """Is float64 the default, and does dtype=np.float32 give float32 arrays holding the float64
    draws of the same seed, rounded?"""
    params64 = initialize_parameters(sizes, method, seed)
    params32 = initialize_parameters(sizes, method, seed, dtype=np.float32)
    assert set(params32) == set(params64)
    for key in params64:
        assert params64[key].dtype == np.float64 and params32[key].dtype == np.float32, key
        np.testing.assert_array_equal(params32[key], params64[key].astype(np.float32), err_msg=key)


@pytest.mark.parametrize("dtype", [int, np.int32, bool, "U3"])
def test_initialize_parameters_rejects_non_float_dtypes(dtype):
    """Does a non-float dtype raise ValueError (integer weights could not learn)?"""
    with pytest.raises(ValueError, match="float"):
        initialize_parameters([2, 3], "he", seed=0, dtype=dtype)


def test_float32_init_trains_a_float32_network():
    """Does a float32 initialization make model_forward compute in float32 on float64 data?"""
    X = np.random.default_rng(0).standard_normal((5, 4))
    AL, caches = model_forward(X, initialize_parameters([4, 3, 2], "he", seed=0, dtype=np.float32), ["relu", "softmax"])
    assert AL.dtype == np.float32 and all(cache[3].dtype == np.float32 for cache in caches)


def test_init_std_docstring_names_the_methods_not_their_numbers():
    """Does init_std's docstring (and the module's) name every method without stating xavier's or he's standard
    deviation, which lecture 05's exercise init_std asks students to derive?"""
    import inspect

    import backproplab.init as init

    for doc in (inspect.getdoc(init_std), init.__doc__, inspect.getdoc(initialize_parameters)):
        squeezed = "".join(doc.split())
        assert [f for f in ("sqrt(2", "sqrt(1", "2/(fan_in", "/fan_in", "2/n", "(fan_in+fan_out)")
                if f in squeezed] == [], doc
    assert all(method in inspect.getdoc(init_std) for method in INIT_METHODS)
