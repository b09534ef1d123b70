"""What each lecture's notebook must contain: the facts the generic tests (tests/test_lectures.py)
check for every lecture, and the per-lecture test modules import.

A ``LectureSpec`` holds only what differs between lectures; everything else (grade ids, test
cell bodies, release, kernels, grading) follows docs/ARCHITECTURE.md's conventions alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LectureSpec:
    """One lecture's binding facts.

    - lecture: the id, e.g. "04-backprop" (folder name in solutions/ and course/).
    - signatures: {exercise: "(arg, arg=default)"}, in notebook order (DESIGN.md and the brief).
    - manual: grade ids of the "explain in your own words" questions (markdown, manually graded).
    - typical_mistakes: {exercise: catalog variant name} graded through `bplab grade`; exercises
      not named use the catalog's first kernel-detectable wrong variant.
    - credited_callers: {exercise: exercises whose correct answers call it, and which keep their
      points when it is wrong (the course default JudgeOutcomes.credit_dependents)}.
    - dependent_cells: what answer-dependent ungraded cells do in the blank student notebook:
      "none" (there are none), "quiet" (they exist and do not fail), "may-fail" (they exist and
      may fail with NotImplementedError).
    - points: None (any points > 0) or {"visible": allowed values, "hidden": allowed values}.
    - taught: snippets of answers the lecture's prose may show on purpose (an API it teaches, a call of an
      earlier exercise): tests/handout_checks.py's handed_out_code does not count them.
    """

    lecture: str
    signatures: dict
    manual: frozenset
    typical_mistakes: dict = field(default_factory=dict)
    credited_callers: dict = field(default_factory=dict)
    dependent_cells: str = "quiet"
    points: dict | None = None
    taught: frozenset = frozenset()


SPECS = {spec.lecture: spec for spec in (
    LectureSpec(
        "01-architecture",
        {"count_parameters": "(layer_sizes)", "dense_forward": "(A_prev, W, B)",
         "model_forward": "(X, params, activations)", "xor_parameters": "()"},
        frozenset({"explain_collapse", "explain_shapes"}),
        typical_mistakes={"count_parameters": "weights-only", "dense_forward": "W-not-transposed",
                          "model_forward": "caches-store-output", "xor_parameters": "xnor"},
        credited_callers={"dense_forward": {"model_forward"}},
    ),
    LectureSpec(
        "02-computation-graphs",
        {"numerical_gradient": "(f, x, h=1e-05)", "mul_backward": "(upstream, a, b, out)",
         "exp_backward": "(upstream, x, out)", "sigmoid_backward_rule": "(upstream, z, out)",
         "matmul_backward": "(s, A, B)"},
        frozenset({"explain_central_differences", "explain_gradient_accumulation"}),
    ),
    LectureSpec(
        "03-activations",
        {"sigmoid": "(Z)", "tanh": "(Z)", "relu": "(Z)", "leaky_relu": "(Z, alpha=0.01)", "softmax": "(Z)",
         "sigmoid_backward": "(dA, Z)", "tanh_backward": "(dA, Z)", "relu_backward": "(dA, Z)",
         "leaky_relu_backward": "(dA, Z, alpha=0.01)"},
        frozenset({"explain_vanishing_gradient", "explain_softmax_shift"}),
        dependent_cells="none",  # demos fall back to the library until an answer exists
        taught=frozenset({"A = sigmoid(Z)"}),  # sigmoid_backward reuses exercise 1
    ),
    LectureSpec(
        "04-backprop",
        {"binary_cross_entropy": "(AL, Y)", "dense_backward": "(dz, A_prev, W)",
         "model_backward": "(AL, Y, caches, activations)", "update_parameters": "(params, grads, learning_rate)",
         "gradient_check": "(cost_fn, params, grads, h=1e-05)",
         "train_two_layer": "(X, Y, n_hidden, learning_rate, num_iterations, seed=0)",
         "torch_gradients": "(X, Y, params, activations)"},
        frozenset({"explain_bias_gradient", "explain_gradient_check"}),
        points={"visible": (1, 2), "hidden": (2, 3)},
        taught=frozenset({"Z.retain_grad()"}),  # the PyTorch API torch_gradients is about
    ),
    LectureSpec(
        "05-initialization",
        {"init_std": "(method, fan_in, fan_out)", "initialize_parameters": "(layer_sizes, method, seed=None)",
         "layer_statistics": "(X, params, activation)"},
        frozenset({"explain_symmetry", "explain_he_factor"}),
        typical_mistakes={"init_std": "he-with-fan-out", "initialize_parameters": "seed-ignored",
                          "layer_statistics": "std-of-Z"},
        credited_callers={"init_std": {"initialize_parameters"}},
        # the statement fixes where the random numbers come from and what the biases start at; the setup's registry
        taught=frozenset({"rng = np.random.default_rng(seed)", "np.random.default_rng(seed)", "np.zeros((1, fan_out))",
                          "g = ACTIVATION_FUNCTIONS[activation]", "ACTIVATION_FUNCTIONS[activation]"}),
    ),
    LectureSpec(
        "06-overfitting",
        {"l2_penalty": "(params, lambd, m)", "l2_backward": "(W, lambd, m)", "dropout_forward": "(A, alpha, rng)",
         "dropout_backward": "(dA, mask, alpha)", "early_stopping_epoch": "(val_costs, patience=5)"},
        frozenset({"explain_dropout_scale", "explain_validation_set"}),
        typical_mistakes={"l2_penalty": "missing-half", "l2_backward": "missing-1/m",
                          "dropout_forward": "alpha-as-keep-probability", "dropout_backward": "no-scale",
                          "early_stopping_epoch": "argmin-of-the-whole-curve"},
    ),
    LectureSpec(
        "07-multiclass",
        {"softmax_backward": "(dA, Z)", "softmax_cross_entropy": "(AL, Y)",
         "torch_train": "(X, Y, params, learning_rate, epochs, batch_size)"},
        frozenset({"explain_jacobian_vector_product", "explain_zero_grad"}),
        typical_mistakes={"softmax_backward": "diagonal-only", "softmax_cross_entropy": "sum-not-mean",
                          "torch_train": "no-zero-grad"},
        # softmax_backward reuses lecture 03's softmax; the prose teaches PyTorch's loop, torch_train assembles it
        taught=frozenset({"A = softmax(Z)", "optimizer.zero_grad()", "loss.backward()", "optimizer.step()",
                          "nn.CrossEntropyLoss()", "torch.optim.SGD(model.parameters(), lr=learning_rate)"}),
    ),
    LectureSpec(
        "08-optimization",
        {"momentum_update": "(params, grads, velocity, learning_rate, beta=0.9)",
         "rmsprop_update": "(params, grads, cache, learning_rate, beta=0.9, eps=1e-08)",
         "adam_update": "(params, grads, m, v, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-08)",
         "batchnorm_forward": "(X, gamma, beta, eps=1e-05)",
         "batchnorm_eval": "(batches, X, gamma, beta, momentum=0.1, eps=1e-05)", "batchnorm_backward": "(dout, cache)"},
        frozenset({"explain_bias_correction", "explain_batchnorm_inference"}),
        typical_mistakes={"momentum_update": "ema-form", "rmsprop_update": "eps-under-the-root",
                          "adam_update": "no-bias-correction", "batchnorm_forward": "unbiased-variance",
                          "batchnorm_eval": "momentum-reversed", "batchnorm_backward": "statistics-as-constants"},
    ),
    LectureSpec(
        "09-backprop-by-hand",
        {"backward_by_hand": "(X, Y, params, cache)", "cross_entropy_backward": "(Z3, Y)",
         "batchnorm_backward_dZ": "(dH, N, S, gamma)",
         "train_by_hand": "(X, Y, params, running, learning_rate, epochs, batch_size)"},
        frozenset({"explain_broadcast_sum", "explain_bias_before_batchnorm"}),
        typical_mistakes={"backward_by_hand": "gamma-not-summed", "cross_entropy_backward": "no-1/m",
                          "batchnorm_backward_dZ": "bessel-factor", "train_by_hand": "biased-running-variance"},
        credited_callers={"backward_by_hand": {"train_by_hand"}},
        # train_by_hand assembles forward_pass and exercise 1, as the statement says
        taught=frozenset({"forward_pass(Xb, Yb, params)", "backward_by_hand(Xb, Yb, params, cache)"}),
    ),
)}
