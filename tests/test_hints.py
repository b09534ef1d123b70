"""The hint ladder (backproplab/checks/hints.py): no first try hands out the answer, later tries climb.

The leak detector (``leaks``) reads a failed check's rung-1 message as a student sees it, without the case's
label (a description of the test's inputs, e.g. "J = sum(w * exp(x))") and the replay call. It reports
- code: NumPy or Python syntax that computes something (``@``, ``.T``, ``axis=``, ``keepdims``, ``np.``,
  ``sum(``, ``sqrt(``, ...), a division by m (``/ m``, ``1/m``);
- notation: a formula typeset in LaTeX or Unicode (``\\frac``, ``^T``, ``ᵀ``, ``Σ``, ``√``, ...);
- an equation: a name set equal to an expression with an operator (``dz = dA * ...``);
- the exercise's own later rungs: any run of four words or symbols of the rung-2 step or the rung-3 formula
  (a formula in words is found this way), unless the run is made of filler words only.
The nudge itself must be prose: no operator symbol and no word that names an operation (transpose, divide,
square root, ...). Measured on every exercise with generic wrong answers and every catalog's wrong answers.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from backproplab import LECTURES
from backproplab.checks import EXERCISES, CheckFailed, check, get_exercise
from backproplab.checks.core import FAILED_TRIES
from backproplab.checks.diagnoses import DIAGNOSES
from backproplab.checks.hints import GENERAL, RUNGS, Hint, hint_for, ladder_text, rung_for
from catalog_helpers import catalog, failure, namespace, variant_verdicts

CODE = [r"@", r"\.T\b", r"\baxis\s*=", r"keepdims", r"\bnp\.", r"\b(sum|mean|sqrt|exp|log|max|outer|dot)\(",
        r"\.(sum|mean|max|reshape)\(", r"(?<![\w.])/\s*m\b", r"\b1\s*/\s*m\b", r"\*\*", r"\.\w+\(", r"\.grad\b",
        r"\b[A-Za-z_]\w*\(\s*[A-Za-z_][\w'\[\]]*\s*,\s*[A-Za-z_][\w'\[\]]*"]  # a call with arguments: model_forward(X, params
NOTATION = [r"\\frac", r"\\sum", r"\\sqrt", r"\\top", r"\^\s*\{?T\b", "ᵀ", "Σ", "∑", "√", "⊙", "·"]
EQUATION = r"\b[A-Za-z_][\w']*(\[[^\]]*\])?\s*=(?!\s*-?\d)\s*[^=,;.:?!]*?[-+*/@^]"  # not "J = -1.04" (a value)
EXPRESSION = r"\b[A-Za-z_][\w']*\s*[*/]\s*[A-Za-z_(]"  # two named quantities combined: dout * X_hat, dz / m
OPERATION_WORDS = (r"\b(transpos\w*|divid\w*|multipl\w*|times|square[ds]? root|sqrt|subtract\w*|plus|minus|"
                   r"summ?(ed|ing)? over|average\w* over|mean over|keepdims|axis|squared?)\b")
FILLER = {"the", "a", "an", "of", "and", "or", "to", "in", "on", "at", "by", "for", "with", "is", "are", "be", "it",
          "its", "this", "that", "each", "every", "one", "as", "from", "your", "you", "not", "no", "than", "which",
          "what", "s", "'", ",", ".", ":", ";", "(", ")", "-", "?", "do", "does", "same", "how", "all"}


def _tokens(text):
    return re.findall(r"\d+(?:\.\d+)?|[a-z_'][a-z0-9_']*|[^\sa-z0-9_]", text.lower())


def _content(token):
    """A token that carries meaning: a word of two letters or more that is not filler nor a key like dW1, or an
    operator (a run of names, "W1, B1, W2", says nothing of how they are computed)."""
    return (len(token) > 1 and token not in FILLER and not re.fullmatch(r"[a-z]{1,2}\d+", token)) or \
        token in "=+-*/^·⊙Σ√←²"


SHAPE = r"\((\s*[\w{}\-]+\s*,)+\s*[\w{}\-]+\s*\)"  # (m, n), (n_l, n_{l-1}): a neutral fact, not a formula


def _grams(text, n=4):
    """The runs of n tokens of ``text`` with at least two meaningful ones (not e.g. "σ ( z )"), shapes left out."""
    tokens = _tokens(re.sub(SHAPE, " ", text))
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)
            if sum(map(_content, tokens[i:i + n])) >= 2}


def leaks(text, hint: Hint | None = None) -> list[str]:
    """What in ``text`` (a rung-1 message) gives away the answer: [(kind: fragment)], empty when nothing does."""
    found = [f"code: {m.group(0)}" for pattern in CODE for m in [re.search(pattern, text)] if m]
    found += [f"notation: {m.group(0)}" for pattern in NOTATION for m in [re.search(pattern, text)] if m]
    found += [f"{kind}: {m.group(0)}" for kind, pattern in (("equation", EQUATION), ("expression", EXPRESSION))
              for m in [re.search(pattern, text)] if m]
    if hint is not None:
        shared = _grams(text) & (_grams(hint.step) | _grams(hint.formula))
        found += [f"later rung: {' '.join(gram)}" for gram in sorted(shared)[:3]]
    return found


def nudge_problems(nudge: str) -> list[str]:
    """A nudge is prose: no operator symbol, no word naming an operation."""
    found = [f"symbol {s}" for s in "=*/^@√ᵀΣ" if s in nudge]
    return found + [f"word {m.group(0)}" for m in re.finditer(OPERATION_WORDS, nudge.lower())]


def student_view(result, case_label=True) -> str:
    """A failed verdict's message without the case's label and the replay call (they describe the test)."""
    text = result.message
    text = re.sub(r"\(seed \d+; replay with check\([^)]*\)\)", "", text)
    text = re.sub(r"\(Next hint: check\([^)]*\)\.\)", "", text)
    return re.sub(r"failed a (hidden )?test \(case \d+ of \d+.*?\): ", "failed a test: ", text)


@pytest.fixture(autouse=True)
def first_try():
    """Each test starts as a fresh kernel session: no failed tries yet."""
    FAILED_TRIES.clear()
    yield
    FAILED_TRIES.clear()


# ---- the detector fails on the messages the checks gave before the ladder -----------------------------------

BEFORE = [  # verbatim first-try messages of the checks before the hint ladder (issue 26)
    ("dense_forward", "Z is wrong: 12 of 12 entries of Z are wrong (largest error 2.1 at index (1, 2)). Look at: "
                      "Z = A_prev @ W.T + B, with A_prev (m, n_prev), W (n, n_prev), B (1, n) -> Z (m, n)."),
    ("matmul_backward", "dA is wrong: 6 of 6 entries of dA are wrong. Look at: dA = s @ B.T, shape (p, q)."),
    ("dense_backward", "dW is wrong: 15 of 15 entries of dW are wrong. Look at: dW[l] = (1/m) dz[l].T @ A[l-1], "
                       "shape (n_l, n_{l-1})."),
    ("init_std", "std = 0, which is not the expected result. Look at: std = 0.01 (random), sqrt(2 / (n_{l-1} + "
                 "n_l)) (xavier), sqrt(2 / n_{l-1}) (he), 0 (zeros); fan_in = n_{l-1}, fan_out = n_l."),
    ("softmax_backward", "dz is wrong. Look at: dz_i = a_i * (dA_i - sum_k dA_ik a_ik) for each row i, with a_i = "
                         "softmax(Z_i) (sum over axis=1, keepdims=True)"),
    ("adam_update", "params['W1'] is wrong. Look at: the step uses m / (1 - beta1**t) and v / (1 - beta2**t): "
                    "-learning_rate * m_hat / (sqrt(v_hat) + eps), eps after the root (torch.optim.Adam)"),
    ("train_two_layer", "Each iteration: AL, caches = model_forward(X, params, ['tanh', 'sigmoid']); grads = "
                        "model_backward(AL, Y, caches, ...); params = update_parameters(params, grads, learning_rate)."),
    ("softmax", "A is wrong: which is normalized over the wrong axis (each ROW must sum to 1: axis=1)."),
    ("dense_backward", "dB is wrong: which has the right values but lost the (1, n) shape (use keepdims=True)."),
]


@pytest.mark.parametrize("exercise, message", BEFORE, ids=[f"{e}-{i}" for i, (e, _) in enumerate(BEFORE)])
def test_detector_flags_the_messages_the_checks_gave_before_the_ladder(exercise, message):
    """Would the leak detector have failed on the formula-bearing first-try messages of before the ladder?"""
    assert leaks(message, hint_for(get_exercise(exercise), "*")), message


def test_detector_finds_formulas_in_words():
    """Are batch norm's old dgamma/dbeta sentence (no code, no equation sign), a message that repeats the step in
    other surroundings, and a nudge that describes the operations all caught, while a pointer to the notebook is not?"""
    old = ("dgamma and dbeta are (1, n) means over the batch of dout * X_hat and of dout (gradients of the mean "
           "cost, like dB)")
    hint = get_exercise("batchnorm_backward").hints["*"]
    assert leaks(old)
    words = hint.step.split()
    assert leaks("Look again: " + " ".join(words[5:12]) + ".", hint)
    assert nudge_problems("Sum dz over the examples and divide by m.") and not nudge_problems(
        "Which section of the notebook derives one example's gradient?")
    assert leaks("dgamma is right.", hint) == []


# ---- every exercise has a ladder, in prose, without code -------------------------------------------------

EXERCISE_NAMES = sorted(name for name, ex in EXERCISES.items() if ex.lecture in LECTURES)


@pytest.mark.parametrize("name", EXERCISE_NAMES)
def test_every_exercise_has_a_ladder_of_prose_keyed_by_known_diagnoses(name):
    """Does every exercise have a "*" rung and entries only for registered diagnoses, each rung filled, each nudge
    prose (no operator, no operation named), no rung code, and no nudge repeating its step or formula?"""
    hints = get_exercise(name).hints
    assert "*" in hints, name
    assert set(hints) - {"*"} <= set(DIAGNOSES), set(hints) - set(DIAGNOSES)
    for diagnosis, hint in hints.items():
        assert isinstance(hint, Hint) and all(len(part) > 20 for part in (hint.nudge, hint.step, hint.formula))
        assert nudge_problems(hint.nudge) == [], (diagnosis, hint.nudge)
        assert leaks(hint.nudge, hint) == [], (diagnosis, hint.nudge)
        for part in (hint.step, hint.formula):  # later rungs may use notation, never code
            code = [m.group(0) for pattern in CODE[:8] for m in [re.search(pattern, part)] if m]
            assert code == [], (diagnosis, part)


def test_general_rungs_cover_the_failures_that_say_nothing_about_the_quantity():
    """Do mutated inputs, forbidden calls and timeouts get the general ladder, prose at rung 1?"""
    ex = get_exercise("dense_backward")
    for diagnosis, hint in GENERAL.items():
        assert hint_for(ex, diagnosis) is hint and nudge_problems(hint.nudge) == []
    assert hint_for(ex, "wrong-values") is ex.hints.get("wrong-values", ex.hints["*"])


@pytest.mark.parametrize("lecture", LECTURES)
def test_specific_diagnoses_of_the_catalogs_have_their_own_entry(lecture):
    """Does every exercise-specific diagnosis that a lecture's catalog expects have its own ladder entry?"""
    ended = {"crash", "timeout", "not-implemented", "forbidden-call", "tampering", "mutated-input", "not-an-array",
             "wrong-values", "non-finite", "wrong-shape", "transposed", "sign-flipped", "missing-keys", "bias-shape",
             "missing-mean", "extra-mean"}  # the generic ones, which "*" may answer
    missing = sorted({(v.exercise, v.expected_diagnosis) for v in catalog(lecture).VARIANTS
                      if v.expected_diagnosis and v.expected_diagnosis not in ended
                      and v.expected_diagnosis not in get_exercise(v.exercise).hints})
    assert missing == []


# ---- no first try gets the formula: generic wrong answers and the catalogs' ---------------------------------


def _leaves(value, transform):
    """``value`` with every numeric leaf (array or number) replaced by transform(array) (None: left as it is)."""
    if isinstance(value, dict):
        return {key: _leaves(item, transform) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_leaves(item, transform) for item in value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        new = transform(value.astype(float))
        return value if new is None else new
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        new = transform(np.asarray(float(value)))
        return value if new is None else type(value)(float(new))
    return value


def _inputs(args, found=None):
    found = [] if found is None else found
    for arg in args:
        if isinstance(arg, np.ndarray):
            found.append(arg)
        elif isinstance(arg, dict):
            _inputs(arg.values(), found)
        elif isinstance(arg, (list, tuple)):
            _inputs(arg, found)
    return found


def _generic(kind, correct):
    """A wrong answer built from the correct one: zeros, a constant, random values, transposed, or the inputs."""
    rng = np.random.default_rng(0)

    def answer(*args, **kwargs):
        right = correct(*args, **kwargs)
        if kind == "inputs":
            given = _inputs(args) + _inputs(kwargs.values())
            return _leaves(right, lambda x: next((g.copy() for g in given if g.shape == x.shape), None))
        return _leaves(right, {"zeros": np.zeros_like, "constant": lambda x: np.full_like(x, 0.5),
                               "random": lambda x: rng.normal(size=x.shape),
                               "transposed": lambda x: x.T.copy() if x.ndim == 2 and x.shape[0] != x.shape[1]
                               else None}[kind])
    return answer


GENERIC = ("zeros", "constant", "random", "transposed", "inputs")
SLOW = {"train_two_layer", "torch_train"}  # one call trains a network: zeros and random only
ANSWERED = [(lecture, name) for lecture in LECTURES for name in catalog(lecture).ANSWERS]


def _assert_first_try_leaks_nothing(result):
    ex = get_exercise(result.exercise)
    hint = hint_for(ex, result.diagnosis)
    text = student_view(result)
    assert hint is not None and hint.nudge in result.message, result.message
    assert "Step:" not in result.message and "Formula:" not in result.message
    assert leaks(text, hint) + leaks(text, ex.hints["*"]) == [], text


@pytest.mark.parametrize("lecture, name", ANSWERED, ids=[f"{lec}:{n}" for lec, n in ANSWERED])
def test_generic_wrong_answers_get_no_formula_on_the_first_try(lecture, name):
    """Do zeros, a constant, random values, a transposed result and the inputs returned unchanged each fail with a
    rung-1 message that holds no code, no notation, no equation and nothing of the step or the formula?"""
    correct = namespace(lecture)[name]
    failed = 0
    for kind in ("zeros", "random") if name in SLOW else GENERIC:
        FAILED_TRIES.clear()
        result = failure(name, _generic(kind, correct), hidden=False)
        if result is not None:
            failed += 1
            _assert_first_try_leaks_nothing(result)
    assert failed >= 1, name


VARIANTS = [(lecture, v) for lecture in LECTURES for v in catalog(lecture).VARIANTS
            if v.expected_diagnosis and not v.sandbox_only]


@pytest.mark.xdist_group("catalog-variants")
@pytest.mark.parametrize("lecture, variant", VARIANTS, ids=[f"{lec}:{v.exercise}:{v.name}" for lec, v in VARIANTS])
def test_catalog_wrong_answers_get_no_formula_on_the_first_try(lecture, variant):
    """Does every wrong answer of the catalogs fail its first visible (or hidden) try with a rung-1 message that
    gives nothing of the answer away?"""
    verdicts = variant_verdicts(lecture, variant)
    result = verdicts.visible or verdicts.hidden
    assert result is not None and verdicts.first_failure_tries == 1
    _assert_first_try_leaks_nothing(result)


def _solution_lines(source):
    """The answer's computing lines, without spaces: assignments and returns (not the def, comments, docstrings)."""
    lines = []
    for line in source.splitlines():
        line = line.strip()
        if line.startswith(("def ", "#", '"', "'", "import ", "from ")) or len(line) < 12:
            continue
        line = re.sub(r"\s+", "", line.removeprefix("return "))
        if re.search(r"[-+*/@]|\w\(", line):  # it computes something (not "return dA, dB")
            lines.append(line)
    return lines


@pytest.mark.parametrize("lecture", LECTURES)
def test_no_rung_holds_a_line_of_the_model_answers(lecture):
    """Does no rung of any exercise of the lecture hold a computing line of the notebook's model answers?"""
    module = catalog(lecture)
    lines = [(name, line) for name, source in module.ANSWERS.items() for line in _solution_lines(source)]
    assert lines
    for name in module.ANSWERS:
        for hint in get_exercise(name).hints.values():
            for part in (hint.nudge, hint.step, hint.formula):
                squeezed = re.sub(r"\s+", "", part)
                assert [line for _, line in lines if line in squeezed] == [], (name, part)


# ---- escalation -------------------------------------------------------------------------------------------


def _zeros_dense_backward(dz, A_prev, W):
    return np.zeros_like(A_prev), np.zeros_like(W), np.zeros((1, W.shape[0]))


def test_failed_tries_climb_the_ladder_two_tries_per_rung_and_a_pass_resets_nothing():
    """Do tries 1-2 show rung 1, tries 3-4 rung 2 and try 5 rung 3 (the formula), and does a pass in between
    leave the count as it was?"""
    hint = get_exercise("dense_backward").hints["*"]
    shown = []
    for _ in range(5):
        result = failure("dense_backward", _zeros_dense_backward, hidden=False)
        shown.append(("Step:" in result.message, "Formula:" in result.message))
        assert hint.nudge in result.message
    assert shown == [(False, False), (False, False), (True, False), (True, False), (True, True)]
    assert FAILED_TRIES["dense_backward"] == 5
    correct = namespace("04-backprop")["dense_backward"]
    assert failure("dense_backward", correct, hidden=False) is None
    assert FAILED_TRIES["dense_backward"] == 5
    assert hint.formula in failure("dense_backward", _zeros_dense_backward, hidden=True, seed=3).message


def test_asking_for_a_rung_shows_at_least_that_rung_and_bad_requests_are_refused():
    """Does hint=2 / hint=3 on a first try show the step / the formula, and is hint=4 a clear error?"""
    hint = get_exercise("dense_backward").hints["*"]
    with pytest.raises(CheckFailed) as failed:
        check("dense_backward", _zeros_dense_backward, hint=2)
    second = failed.value.result.message
    assert hint.step in second and hint.formula not in second and "hint=3" in second
    with pytest.raises(CheckFailed) as failed:
        check("dense_backward", _zeros_dense_backward, hint=3)
    third = failed.value.result.message
    assert hint.step in third and hint.formula in third and "Next hint" not in third
    for bad in (0, 4, True, "2"):
        with pytest.raises(ValueError, match="hint must be 1, 2 or 3"):
            check("dense_backward", _zeros_dense_backward, hint=bad)


def test_rung_for_and_ladder_text_follow_the_documented_rule():
    """Is the rule tries 1-2 -> 1, 3-4 -> 2, 5+ -> 3, at least the requested rung, with the rungs in order?"""
    assert [rung_for(t) for t in range(1, 8)] == [1, 1, 2, 2, 3, 3, 3]
    assert rung_for(1, 3) == 3 and rung_for(6, 1) == 3 and RUNGS == 3
    ex = get_exercise("matmul_backward")
    hint = ex.hints["*"]
    text = ladder_text(ex, "no-such-entry", 3)
    assert text.index(hint.nudge) < text.index(hint.step) < text.index(hint.formula)
