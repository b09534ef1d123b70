"""The graded formulas a student derives, in every notation a notebook could hand them out in (issue 26, item 2).

Every exercise of every lecture in ``backproplab.LECTURES`` has an entry in ``FORMS``: either the forms of the
quantity it asks the student to derive, or ``DEFINITION`` with the reason it has none (its formula is a definition
the lecture teaches, and the exercise is to implement it). tests/test_lectures.py looks for the forms in what a
student reads before answering: every markdown and code cell above the answer cell of the student notebook, the
answer cell's stub and docstring, and the first rung of the check's hint ladder. The formula may come after the
answer cell's checks ("What you derived").

A form is a regular expression, matched either against ``normalized(text)`` (``math``: LaTeX, Unicode and NumPy
code brought to one spelling) or against the text in lower case with runs of white space made one space
(``words``).

``normalized`` spells:
- a transpose ``^T`` (``^\\top``, ``^{\\top}``, ``\\intercal``, ``ᵀ``, ``.T``), a power ``^`` (``**``);
- a product by juxtaposition (``*``, ``@``, ``\\cdot``, ``\\odot``, ``⊙``, ``·``, ``\\times`` dropped);
- a fraction ``a/b`` (``\\frac{a}{b}``, ``\\dfrac``, ``\\tfrac``, ``\\frac1m``), each part in parentheses unless
  it is one name or number; ``2.0`` as ``2``;
- a layer index ``[l]`` (``^{[l]}``), ``A_prev``/``A_{\\text{prev}}`` as ``Aprev``;
- no white space, ``$``, braces, ``\\left``/``\\right``/``\\big``, LaTeX spacing, ``\\text``/``\\mathrm``/
  ``\\operatorname`` wrappers or ``np.``; Greek letters by their LaTeX names (``\\sigma``, ``\\alpha``, ...).

``PENDING`` names the lectures whose notebooks another branch is rewriting: their tests are expected to fail until
that branch is merged; remove the entry then.
"""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Forms:
    math: tuple = ()    # regexes on normalized(text)
    words: tuple = ()   # regexes on the text in lower case, white space collapsed


@dataclass(frozen=True)
class Definition:
    why: str            # the exercise implements a definition the lecture teaches: nothing to derive


DEFINITION = Definition

_UNICODE = {"ᵀ": "^T", "⊙": "", "·": "", "×": "", "−": "-", "∑": "\\sum", "σ": "\\sigma", "δ": "\\delta",
            "α": "\\alpha", "λ": "\\lambda", "β": "\\beta", "∂": "\\partial", "√": "\\sqrt"}
_DROP = ("\\,", "\\;", "\\!", "\\:", "$")
_DROP_COMMANDS = re.compile(r"\\(left|right|[bB]igg?[lr]?|qquad|quad|displaystyle|cdot|odot|times)(?![a-zA-Z])")


def _argument(text: str, start: int) -> tuple[str, int]:
    """The LaTeX argument at ``start`` (a balanced ``{...}`` or one character) and the index after it."""
    while start < len(text) and text[start] == " ":
        start += 1
    if start >= len(text):
        return "", start
    if text[start] != "{":
        return text[start], start + 1
    depth = 0
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start + 1:index], index + 1
    return text[start + 1:], len(text)


def _grouped(part: str) -> str:
    part = part.strip()
    return part if re.fullmatch(r"\\?\w+", part) else f"({part})"


def _fractions(text: str) -> str:
    match = re.search(r"\\[dt]?frac", text)
    while match:
        numerator, after = _argument(text, match.end())
        denominator, after = _argument(text, after)
        numerator, denominator = (_grouped(_fractions(part)) for part in (numerator, denominator))
        text = f"{text[:match.start()]}{numerator}/{denominator}{text[after:]}"
        match = re.search(r"\\[dt]?frac", text)
    return text


def normalized(text: str) -> str:
    for raw, plain in _UNICODE.items():
        text = text.replace(raw, plain)
    text = re.sub(r"\\(text|mathrm|operatorname|mathbf|boldsymbol)\s*\{([^{}]*)\}", r"\2", text)
    text = re.sub(r"\^\s*\{?\s*\\(top|intercal)\s*\}?", "^T", text)
    text = re.sub(r"\\(top|intercal)\b", "^T", text)
    text = _fractions(text)
    text = _DROP_COMMANDS.sub("", text)
    for token in _DROP:
        text = text.replace(token, "")
    text = re.sub(r"\.T\b", "^T", text)
    text = text.replace("**", "^").replace("@", "").replace("*", "").replace("np.", "")
    text = re.sub(r"\s+", "", text).replace("{", "").replace("}", "")
    text = text.replace("^[", "[")
    text = re.sub(r"(\d)\.0\b", r"\1", text)
    return re.sub(r"A_?\\?(text)?prev|A_prev", "Aprev", text)


def words(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower())


def found(forms: Forms, text: str) -> list[str]:
    """The forms (their patterns) that ``text`` contains."""
    math, plain = normalized(text), words(text)
    return ([p for p in forms.math if re.search(p, math)] + [p for p in forms.words if re.search(p, plain)])


PENDING: dict[str, str] = {}

_SIGMA = r"(\\?sigma\(\w\)|a|A|out)"
_TRUE_CLASS = r"minus the log(arithm)? of the (predicted )?probability (of|given to) (its|the) (true|correct) class"
FORMS = {
    "01-architecture": {
        "count_parameters": Forms(math=(r"\\sum_l=1\^L", r"n_l\(n_l-1\+1\)", r"n_ln_l-1\+n_l", r"n_l-1n_l\+n_l"),
                                  words=(r"n_l times n_\{?l-1\}? plus n_l",)),
        "dense_forward": Forms(math=(r"(Aprev|A\[l-1\]|A\[0\]|X)W(\[l\]|\[1\])?\^T\+B",),
                               words=(r"(a_?prev|the input|x) times (the transpose of w|w transposed)",)),
        "model_forward": Forms(math=(r"Z\[l\]=A\[l-1\]W\[l\]\^T\+B\[l\]", r"A\[l\]=g\[l\]\(A\[l-1\]")),
        "xor_parameters": DEFINITION("the answer is a choice of weights, not a formula"),
    },
    "02-computation-graphs": {
        "numerical_gradient": DEFINITION("the central difference is the definition the lecture teaches"),
        "mul_backward": Forms(math=(r"\\partialout(_ij)?/\\partiala(_ij)?=b", r"upstream(b|y),upstream(a|x)",
                                    r"grad_a=upstreamb")),
        "exp_backward": Forms(math=(r"d/dxe\^x=e\^x", r"upstreamout,?\)", r"dexp\(x\)=exp\(x\)")),
        "sigmoid_backward_rule": Forms(math=(rf"{_SIGMA}\(1-{_SIGMA}\)", r"\\sigma'\(z\)=\\sigma\(z\)\(")),
        "matmul_backward": Forms(math=(r"(?<![\w\\])(s|upstream)(B|W|y)\^T", r"(?<![\w\\])(A|X|x)\^T(s|upstream)(?!\w)"),
                                 words=(r"transpose of b", r"a transposed times")),
    },
    "03-activations": {
        "sigmoid": DEFINITION("the logistic function and its two overflow-free forms are taught; the exercise is to "
                              "compute them without a warning"),
        "tanh": DEFINITION("the definition is taught; the exercise is to compute it without overflow"),
        "relu": DEFINITION("the definition is taught"),
        "leaky_relu": DEFINITION("the definition is taught"),
        "softmax": DEFINITION("the definition and its shift invariance are taught; the exercise is the stable code"),
        "sigmoid_backward": Forms(math=(rf"{_SIGMA}\(1-{_SIGMA}\)", r"\\sigma'\(z\)=\\sigma\(z\)\(",
                                        r"dA\\sigma\(Z\)\(1")),
        "tanh_backward": Forms(math=(r"1-a\^2", r"1-\\?tanh\^2", r"1-\\?tanh\(\w\)\^2", r"1-A\^2",
                                     r"tanh'\(z\)=1")),
        "relu_backward": Forms(math=(r"relu'\(z\)=\\begincases1",)),
        "leaky_relu_backward": Forms(math=(r"leaky\\?_relu'\(z\)=\\begincases1",)),
    },
    "04-backprop": {
        "binary_cross_entropy": Forms(math=(r"y_?i?k?\\?log\(?a_?i?k?\)?\+\(1-y", r"\\log\(1-a", r"\\log1-a")),
        "dense_backward": Forms(math=(r"dz(\[l\])?\^T(Aprev|A\[l-1\]|A)(?!\w)", r"(?<![\w\\])dz(\[l\])?W(?!\w)",
                                      r"\\delta_iW", r"dz\.sum\(axis=0", r"sum\(dz,axis=0"),
                                words=(r"transpose of dz", r"row i of da[^.]*=")),
        "model_backward": Forms(math=(r"dz(\[L\])?=A(\[L\])?-Y", r"(?<![\w\\])AL?(\[L\])?-Y(?![\w:])"),
                                words=(r"\ba minus y\b",)),
        "update_parameters": DEFINITION("the gradient-descent step is the definition the lecture teaches"),
        "gradient_check": DEFINITION("the relative error is the definition the lecture teaches"),
        "train_two_layer": DEFINITION("the loop assembles the lecture's functions; there is no formula"),
        "torch_gradients": DEFINITION("the PyTorch API and the course's dz convention are taught"),
    },
    "05-initialization": {
        "init_std": Forms(math=(r"Var\(w\)=\(?[12]/", r"sqrt\(?2/", r"\\sqrt\(?2/", r"\\sqrt\(?1/n"),
                          words=(r"two over the fan", r"\b2 over n")),
        "initialize_parameters": DEFINITION("draws entries with exercise 1's standard deviation; nothing to derive"),
        "layer_statistics": DEFINITION("a forward pass and a standard deviation per layer; nothing to derive"),
    },
    "06-overfitting": {
        "l2_penalty": DEFINITION("the penalty is the definition the lecture teaches"),
        "l2_backward": Forms(math=(r"\\?lambda?/mW", r"\(\\lambda/m\)W", r"\\lambdaW/m", r"lambd/mW"),
                             words=(r"lambda over m times",)),
        "dropout_forward": Forms(math=(r"1/\(1-\\?alpha\)", r"/\(1-\\?alpha\)", r"c=1/\(1-"),
                                 words=(r"divided by 1 ?- ?(alpha|the drop rate)", r"scaled by 1/\(1",)),
        "dropout_backward": Forms(math=(r"dA(_ij)?mask", r"dA(_ij)?M(_ij)?/\(1-")),
        "early_stopping_epoch": DEFINITION("the stopping rule is stated in words; the exercise is its code"),
    },
    "07-multiclass": {
        "softmax_backward": Forms(math=(r"a_?j?\(dA_?j?-", r"A\(dA-", r"dA_j-\\sum_kdA_ka_k", r"sum\(dAA,axis=1",
                                        r"\(dAA\)\.sum\(axis=1"),
                                  words=(r"minus the weighted (sum|mean) of", r"dot product of da and a")),
        "softmax_cross_entropy": Forms(math=(r"-\\sum_k(=1\^n)?y_k\\?loga_k", r"-1/m\\sum_i", r"Ylog\(AL?\)\)?\.sum",
                                             r"-sum\(Ylog"),
                                       words=(_TRUE_CLASS,)),
        "torch_train": DEFINITION("the PyTorch loop is taught; the exercise assembles it"),
    },
    "08-optimization": {
        "momentum_update": Forms(math=(r"V\\leftarrow\\betaV\+(\\nablaE|g|dW)", r"U_n\+1=\\betaU_n\+\\nablaE",
                                       r"betavelocity\[")),
        "rmsprop_update": Forms(math=(r"S\\leftarrow\\betaS\+\(1-\\beta\)(g|\\nablaE|dW)", r"g/\(\\sqrtS\+\\epsilon\)",
                                      r"betacache\["),
                                words=(r"divided elementwise by \$\\sqrt\{?s\}?",)),
        "adam_update": Forms(math=(r"/\(1-\\beta_?1\^t\)", r"/\(1-beta1\^t\)", r"/\(1-0\.9\^t\)", r"\\hatm_t=m_t/")),
        "batchnorm_forward": DEFINITION("batch normalization's forward pass is the definition the lecture teaches"),
        "batchnorm_eval": Forms(math=(r"\(1-momentum\)running\w*\+momentum", r"\(1-0\.1\)(running|mean|var)\+0\.1",
                                      r"sum\(\(batch-mu\)\^2,axis=0,keepdims=True\)/\(m-1\)",
                                      r"\\gamma\(X-\\bar\\mu\)/\\sqrt\(?\\bar\\sigma\^2\+\\epsilon"),
                                words=(r"`momentum` is the weight of the \*?\*?new batch",)),
        "batchnorm_backward": Forms(math=(r"d\\gamma=(1/m)?\\sum", r"d\\beta=(1/m)?\\sum", r"sum\(doutX_hat,axis=0",
                                          r"s\(d\\hatx_k-1/m\\sum_id\\hatx_i-\\hatx_k",
                                          r"dX_hat-mean\(dX_hat,axis=0"),
                                    words=(r"sum (over the batch )?of dout times x_?hat",)),
    },
    "09-backprop-by-hand": {
        "backward_by_hand": Forms(math=(r"dlogP\W*=-Y/m", r"logP\w*\)?=-(Y\w*/m|1/mY)",
                                        r"dvar.{0,6}=-(0?\.5|1/2).{0,8}S.{0,5}\^3",
                                        r"\+(2.{0,8}D.{0,5}/m|2/mD).{0,8}dvar")),
        "cross_entropy_backward": Forms(math=(r"1/m\(\\?softmax\(Z(\[3\]|3)?\)-Y\)", r"\(softmax\(\w+\)-Y\w*\)/m",
                                              r"\(P-Y\)/m", r"\(A-Y\)/m", r"-Y\)/(m|Z3\.shape\[0\])")),
        "batchnorm_backward_dZ": Forms(math=(r"\\gammaS\(dH-", r"dH-dH\.mean\(axis=0", r"-N\(dHN\)\.mean\(axis=0",
                                             r"\\gammas\(\\partialJ/\(?\\partialh_k\)?-")),
        "train_by_hand": Forms(math=(r"\(1-0\.1\)\\?(text)?(mean|var)\w*\+0\.1", r"0\.9running\[",
                                     r"var\w*\W*\w?\W*b/\(b-1\)")),
    },
}
