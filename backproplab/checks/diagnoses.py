"""The registry of diagnosis ids: the named mistakes a check can report.

The ids are DESIGN.md's and are stable: instructors' class reports count them. A check may
only report an id listed here (``require`` raises on an unknown id: that is our bug, not
the student's). To add a diagnosis, add one line below and say so in DESIGN.md. The lines say what
the mistake looks like, never the fix: the fix is each exercise's hint ladder (checks/hints.py).
"""
from __future__ import annotations

DIAGNOSES: dict[str, str] = {
    # Shapes and factors
    "wrong-shape": "the result has a different shape from the expected one",
    "transposed": "the result is the transpose of the expected one",
    "missing-mean": "the result is m times the expected one (the 1/m of the mean cost is missing)",
    "extra-mean": "the result is 1/m of the expected one (an extra 1/m, e.g. put into dz)",
    "sign-flipped": "the result has the wrong sign (or the update goes uphill)",
    "bias-shape": "the bias (or its gradient) has the right values but not the (1, n) shape",
    "bias-axis": "the bias gradient was summed over the wrong axis",
    "missing-keys": "a returned dict lacks expected keys (or names them differently)",
    "missing-bias": "the biases were left out (of a layer's output or of a parameter count)",
    "cache-format": "the forward caches are not the list of (A_prev, W, B, Z) tuples in layer order",
    # Activations
    "derivative-at-output": "g' was evaluated at the output A instead of the pre-activation Z",
    "relu-boundary": "wrong value exactly at ReLU's kink z = 0 (the convention is g'(0) = 0)",
    "softmax-axis": "softmax was normalized over the wrong axis (columns instead of rows)",
    "softmax-overflow": "softmax overflows on large inputs (NaN or infinity for scores near 1000)",
    "activation-layer": "an activation was applied at the wrong layer (shifted, missing, or before the linear step)",
    "weak-margin": "the right classes, but too close to the decision threshold",
    # Side effects and bad values
    "mutated-input": "the function modified one of its input arrays in place",
    "not-an-array": "the result is not a NumPy array / number of the expected kind",
    "non-finite": "the result contains NaN or infinity",
    # Regularization and initialization (used by lectures 05 and 06)
    "dropout-mask": "the dropout mask is wrong (keeps the wrong units or the wrong fraction)",
    "dropout-scale": "the kept units of inverted dropout have the wrong scale (or none)",
    "l2-factor": "the L2 term (or its gradient) is off by a constant factor, or penalizes the biases",
    "early-stop-lookahead": "early stopping picked the best epoch of the whole curve, ignoring the patience (peeking ahead)",
    "early-stop-restore": "early stopping returned the epoch where training stopped, not the best epoch before it",
    "early-stop-patience": "early stopping counted the patience wrong (one epoch off, or a tie counted as an improvement)",
    "off-by-one": "an index off by one (e.g. a 1-based epoch number where a 0-based index is expected)",
    "init-scale": "initial weights have the wrong standard deviation",
    "init-fan": "initial weights use the wrong fan (fan_out instead of fan_in, etc.)",
    "init-symmetry": "initial weights are identical, so hidden units stay symmetric",
    "init-bias": "initial biases are not all zero (biases always start at zero)",
    "init-seed": "the seed is ignored: the same seed gives different weights, or different seeds the same",
    # Computation graphs (lecture 02)
    "forward-difference": "a one-sided difference was used: its error shrinks like h instead of h squared",
    "step-scaling": "the finite difference is off by a factor of 2 (the wrong step length)",
    "missing-upstream": "a backward rule forgot to multiply the local derivative by the upstream gradient",
    "swapped-outputs": "the right gradients were returned in the wrong order (e.g. (dB, dA) for (dA, dB))",
    # Training
    "no-learning": "training did not reduce the cost or reach the expected accuracy",
    # Multi-class outputs and PyTorch training (lecture 07)
    "jacobian-diagonal": "only the diagonal of a Jacobian was used (an elementwise derivative where outputs are coupled)",
    "missing-zero-grad": "gradients accumulated across steps (they were never reset)",
    "double-softmax": "softmax applied before a loss that applies it itself (nn.CrossEntropyLoss takes raw scores)",
    # Optimizers and batch normalization (lecture 08)
    "momentum-ema": "momentum in its moving-average form where the accumulating form is asked",
    "stale-state": "the step used the optimizer's old state (velocity, cache or moments) instead of the updated one",
    "missing-bias-correction": "Adam's step used the moments without their bias correction",
    "eps-placement": "eps in the wrong place (inside a square root or outside it) or left out",
    "unbiased-variance": "batch norm standardized with the unbiased variance where the biased one is asked",
    "missing-mean-terms": "batch norm's dX treats the batch mean or variance as constants (their paths are missing)",
    # Backprop by hand through a whole network (lecture 09)
    "broadcast-sum": "the gradient of a value broadcast in the forward pass was not summed back over the broadcast "
                     "axis (or was summed over the other axis)",
    "missing-branch": "a value used twice got the gradient of one use only (the gradients of both uses add up)",
    "max-shift": "the row max subtracted before exp (log-sum-exp's shift) got a nonzero gradient: the loss does not "
                 "depend on it",
    "bessel-correction": "the running variance was kept with the biased batch variance where nn.BatchNorm1d stores "
                         "the unbiased one (m - 1, Bessel's correction)",
    "running-momentum-reversed": "batch norm's running averages weight the new batch by 1 - momentum where PyTorch's "
                                 "momentum is the new batch's weight",
    "batch-stats-at-inference": "batch norm in eval mode normalized with the batch's own statistics instead of the "
                                "running averages",
    # Integrity and running
    "forbidden-call": "torch or the library's own implementation was used in a NumPy exercise",
    "tampering": "the grading machinery was tampered with",
    "timeout": "the function did not finish in time",
    "crash": "the function raised an error (or the process died)",
    "not-implemented": "the function is not written yet (raises NotImplementedError or is missing)",
    # Fallback
    "wrong-values": "the values are wrong, with no more specific pattern found",
}


def require(diagnosis_id: str | None) -> str | None:
    """Return ``diagnosis_id`` unchanged if it is registered (or None); raise otherwise."""
    if diagnosis_id is not None and diagnosis_id not in DIAGNOSES:
        raise KeyError(f"unknown diagnosis id {diagnosis_id!r}: add it to backproplab/checks/diagnoses.py")
    return diagnosis_id
