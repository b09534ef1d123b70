"""`bplab similarity` (backproplab/grading/similarity.py, similarity_html.py) on a class graded once by the
real `bplab grade` (sandboxed) and shared by these tests.

The class, lecture 08-optimization:
- an honest class made of the answer catalog's correct answers: "model" (the solution notebook's), and
  "variant-1" and "variant-2" (the catalog's first and second correct variant of every exercise);
- two copied submissions: "copy-a" wrote its own answers (with eps under RMSProp's root, a mistake no one
  else makes), "copy-b" copied them with other names, some lines in another order and added comments (one
  of them hostile HTML, which the report must show as text);
- two students who answer only Adam and make the same mistake (t + 1 for t), written differently.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from filelock import FileLock

from backproplab.grading.notebooks import read_notebook
from backproplab.grading.similarity import (
    SimilarityOptions,
    answer_cells,
    answer_fingerprints,
    boilerplate_hashes,
    compare_pairs,
    course_references,
    mistake_of,
    shared_mistakes,
    similarity_report,
    without_idiom,
)
from backproplab.grading.similarity_html import marked_source
from backproplab.grading.submissions import build_submission, write_notebook
from backproplab.grading.workspace import Workspace
from catalog_helpers import catalog
from cli_command import bplab_command
from grading_batch import without_demos
from notebook_helpers import KERNEL_ENV, course_path, shared_run_folder

REPO = Path(__file__).resolve().parents[1]
LECTURE = "08-optimization"
COURSE_SECRET = "fedcba9876543210" * 4
HOSTILE = "</pre></td><script>document.title = 'pwned'</script><img src=x onerror=\"document.title='pwned'\">"

COPY_A = {
    "momentum_update": '''\
def momentum_update(params, grads, velocity, learning_rate, beta=0.9):
    updated_params = {}
    updated_velocity = {}
    for name in params.keys():
        grad_name = "d" + name
        vel = beta * velocity[grad_name] + grads[grad_name]
        updated_velocity[grad_name] = vel
        updated_params[name] = params[name] - learning_rate * vel
    return updated_params, updated_velocity
''',
    "rmsprop_update": '''\
def rmsprop_update(params, grads, cache, learning_rate, beta=0.9, eps=1e-8):
    updated_params = {}
    updated_cache = {}
    for name in params.keys():
        grad = grads["d" + name]
        avg = beta * cache["d" + name] + (1 - beta) * np.power(grad, 2)
        updated_cache["d" + name] = avg
        updated_params[name] = params[name] - learning_rate * grad / np.sqrt(avg + eps)
    return updated_params, updated_cache
''',
    "adam_update": '''\
def adam_update(params, grads, m, v, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
    updated_params, first, second = {}, {}, {}
    correction1 = 1 - np.power(beta1, t)
    correction2 = 1 - np.power(beta2, t)
    for name in params.keys():
        grad = grads["d" + name]
        first["d" + name] = beta1 * m["d" + name] + (1 - beta1) * grad
        second["d" + name] = beta2 * v["d" + name] + (1 - beta2) * np.power(grad, 2)
        corrected_first = first["d" + name] / correction1
        corrected_second = second["d" + name] / correction2
        updated_params[name] = params[name] - learning_rate * corrected_first / (np.sqrt(corrected_second) + eps)
    return updated_params, first, second
''',
    "batchnorm_forward": '''\
def batchnorm_forward(X, gamma, beta, eps=1e-5):
    batch_mean = np.average(X, axis=0).reshape(1, -1)
    deviations = X - batch_mean
    batch_var = np.average(np.power(deviations, 2), axis=0).reshape(1, -1)
    normalized = deviations / np.sqrt(batch_var + eps)
    result = normalized * gamma + beta
    return result, (X, normalized, batch_mean, batch_var, gamma, beta, eps)
''',
    "batchnorm_backward": '''\
def batchnorm_backward(dout, cache):
    X, normalized, batch_mean, batch_var, gamma, beta, eps = cache
    count = X.shape[0]
    grad_gamma = np.average(dout * normalized, axis=0).reshape(1, -1)
    grad_beta = np.average(dout, axis=0).reshape(1, -1)
    grad_normalized = dout * gamma
    inv = 1.0 / np.sqrt(batch_var + eps)
    grad_X = inv * (grad_normalized - np.average(grad_normalized, axis=0).reshape(1, -1)
                    - normalized * np.average(grad_normalized * normalized, axis=0).reshape(1, -1))
    return grad_X, grad_gamma, grad_beta
''',
}

# COPY_A with other names, lines in another order where the order does not matter, and comments.
COPY_B = {
    "momentum_update": f'''\
def momentum_update(params, grads, velocity, learning_rate, beta=0.9):
    # new dictionaries, the old ones stay as they were {HOSTILE}
    new_velocity = {{}}
    new_params = {{}}
    for p in params.keys():
        key = "d" + p   # the gradient's key
        velo = beta * velocity[key] + grads[key]
        new_params[p] = params[p] - learning_rate * velo
        new_velocity[key] = velo
    return new_params, new_velocity
''',
    "rmsprop_update": '''\
def rmsprop_update(params, grads, cache, learning_rate, beta=0.9, eps=1e-8):
    new_cache = {}
    new_params = {}
    for p in params.keys():
        g = grads["d" + p]
        # running mean of the squared gradient
        mean_sq = beta * cache["d" + p] + (1 - beta) * np.power(g, 2)
        new_params[p] = params[p] - learning_rate * g / np.sqrt(mean_sq + eps)
        new_cache["d" + p] = mean_sq
    return new_params, new_cache
''',
    "adam_update": '''\
def adam_update(params, grads, m, v, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
    # bias corrections first
    c2 = 1 - np.power(beta2, t)
    c1 = 1 - np.power(beta1, t)
    out, mom1, mom2 = {}, {}, {}
    for p in params.keys():
        g = grads["d" + p]
        mom2["d" + p] = beta2 * v["d" + p] + (1 - beta2) * np.power(g, 2)
        mom1["d" + p] = beta1 * m["d" + p] + (1 - beta1) * g
        hat2 = mom2["d" + p] / c2
        hat1 = mom1["d" + p] / c1
        out[p] = params[p] - learning_rate * hat1 / (np.sqrt(hat2) + eps)  # the step
    return out, mom1, mom2
''',
    "batchnorm_forward": '''\
def batchnorm_forward(X, gamma, beta, eps=1e-5):
    # mean and variance of every feature over the batch
    mean = np.average(X, axis=0).reshape(1, -1)
    diff = X - mean
    variance = np.average(np.power(diff, 2), axis=0).reshape(1, -1)
    xn = diff / np.sqrt(variance + eps)
    y = xn * gamma + beta
    return y, (X, xn, mean, variance, gamma, beta, eps)
''',
    "batchnorm_backward": '''\
def batchnorm_backward(dout, cache):
    X, xn, mean, variance, gamma, beta, eps = cache
    # gradients of gamma and beta
    d_beta = np.average(dout, axis=0).reshape(1, -1)
    d_gamma = np.average(dout * xn, axis=0).reshape(1, -1)
    n = X.shape[0]
    dxn = dout * gamma
    inverse = 1.0 / np.sqrt(variance + eps)
    dX = inverse * (dxn - np.average(dxn, axis=0).reshape(1, -1)
                    - xn * np.average(dxn * xn, axis=0).reshape(1, -1))
    return dX, d_gamma, d_beta
''',
}

# Adam's step number off by one, written as the catalog writes it and as copy-a would have.
OFF_BY_ONE_B = COPY_A["adam_update"].replace("beta1, t)", "beta1, t + 1)").replace("beta2, t)", "beta2, t + 1)")


def class_answers():
    """{student: {exercise: source}} of the class (module docstring); exercises not given stay unanswered."""
    answers, variants = catalog(LECTURE).ANSWERS, catalog(LECTURE).VARIANTS
    correct = {}
    for v in variants:
        if v.expected_diagnosis is None and not v.sandbox_only:
            correct.setdefault(v.exercise, []).append(v.source)
    (off_by_one,) = [v for v in variants if v.name == "t-plus-one"]
    return {"model": dict(answers),
            "variant-1": {exercise: sources[0] for exercise, sources in correct.items()},
            "variant-2": {exercise: sources[1] for exercise, sources in correct.items()},
            "copy-a": COPY_A, "copy-b": COPY_B,
            "adam-a": {"adam_update": off_by_one.source}, "adam-b": {"adam_update": OFF_BY_ONE_B}}


def _grade_class(shared):
    """Write the class in nbgrader's submitted/ layout and grade it with the real `bplab grade` (sandboxed)."""
    workspace, submitted = shared / "autograder", shared / "submitted"
    workspace.mkdir()
    (workspace / ".bplab-secret").write_text(COURSE_SECRET)
    released = without_demos(read_notebook(course_path(LECTURE)))
    for student, answers in class_answers().items():
        folder = submitted / student / LECTURE
        folder.mkdir(parents=True)
        write_notebook(build_submission(released, answers), folder / course_path(LECTURE).name)
    result = subprocess.run(bplab_command("grade", str(submitted), "--json", "--workers", "2", "--workspace",
                                          str(workspace), "--root", str(REPO), "--cell-timeout", "20",
                                          "--kernel-cpu-seconds", "60"),
                            capture_output=True, text=True, timeout=1800, env={**os.environ, **KERNEL_ENV}, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    return {r["student"]: r for r in json.loads(result.stdout)}


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """(workspace folder, {student: `bplab grade --json` result}), graded once per test run (any xdist worker)."""
    shared = shared_run_folder(tmp_path_factory) / "bplab-similarity-class"
    shared.mkdir(exist_ok=True)
    with FileLock(str(shared / "lock")):
        done = shared / "graded.json"
        if not done.exists():
            done.write_text(json.dumps(_grade_class(shared)))
    return shared / "autograder", json.loads(done.read_text())


def _similarity(workspace, *args):
    return subprocess.run(bplab_command("similarity", *args, "--workspace", str(workspace), "--root", str(REPO)),
                          capture_output=True, text=True, timeout=300, cwd=REPO)


def _listing(folder):
    """{relative path: sha256} of every file under ``folder``."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(folder).rglob("*")) if p.is_file()}


COPIED = ("copy-a", "copy-b")
HONEST = ("model", "variant-1", "variant-2")


@pytest.mark.slow
def test_the_class_was_graded_as_planned(graded_class):
    """The fixture's premises, from the real grader: the honest class and copy-b's own code pass, the copied
    pair shares eps-placement on RMSProp, the two Adam students share off-by-one."""
    _, results = graded_class
    failed = {s: {(t["exercise"], t["diagnosis"]) for t in r["tests"] if not t["passed"]} for s, r in results.items()}
    assert all(results[s]["status"] == "graded" for s in results)
    assert all(not failed[s] for s in HONEST), failed
    # The pair answers the exercises in COPY_A; any other exercise of the lecture is left unanswered.
    tried = {s: {pair for pair in failed[s] if pair[1] != "not-implemented"} for s in COPIED}
    assert tried["copy-a"] == tried["copy-b"] == {("rmsprop_update", "eps-placement")}
    assert ("adam_update", "off-by-one") in failed["adam-a"] & failed["adam-b"]


@pytest.mark.slow
def test_the_copied_pair_ranks_first_and_alone_above_the_threshold(graded_class):
    workspace, _ = graded_class
    run = _similarity(workspace, LECTURE, "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert "not verdicts" in report["notice"]
    assert report["students"] == 7
    (pair,) = report["pairs"]   # the honest class (and the Adam pair) rank no pair at or above the threshold
    assert tuple(pair["students"]) == COPIED
    assert pair["score"] >= report["threshold"] == 0.5
    # every exercise of the copied pair matched, the passages inside each answer cell
    assert {m["exercise"] for m in pair["exercises"]} == set(COPY_A)
    for match in pair["exercises"]:
        for side, student in zip(match["passages"], COPIED):
            source = (COPY_A if student == "copy-a" else COPY_B)[match["exercise"]]
            assert side and all(0 <= a < b <= len(source) for a, b in side)
    assert pair["shared_mistakes"] == [{"exercise": "rmsprop_update", "share": 0.4,
                                        "mistake": [{"diagnosis": "eps-placement", "ratio": None}]}]


@pytest.mark.slow
def test_honest_pairs_are_compared_and_stay_below_the_threshold(graded_class):
    """Not vacuous: the honest pairs that share code are compared, and score under the threshold."""
    workspace, _ = graded_class
    options = SimilarityOptions(threshold=0.01)
    report = similarity_report(Workspace(workspace, REPO), LECTURE, options)
    scores = {p.students: p.score for p in report.pairs}
    assert report.pairs[0].students == COPIED
    honest = {pair: score for pair, score in scores.items() if pair != COPIED}
    assert honest, scores   # e.g. model and variant-1 share RMSProp's model-answer form
    assert max(honest.values()) < SimilarityOptions().threshold, honest
    assert scores[COPIED] - max(honest.values()) > 0.3


@pytest.mark.slow
def test_a_shared_rare_mistake_is_found_rarest_first(graded_class):
    workspace, _ = graded_class
    report = json.loads(_similarity(workspace, LECTURE, "--json").stdout)
    groups = [(g["exercise"], tuple(g["students"]), g["mistake"][0]["diagnosis"]) for g in report["shared_mistakes"]]
    # Adam: passed by 5 of the 7 who tried it; RMSProp: by 3 of the 5 (the Adam students did not try it)
    assert groups == [("adam_update", ("adam-a", "adam-b"), "off-by-one"),
                      ("rmsprop_update", COPIED, "eps-placement")]
    assert [g["share"] for g in report["shared_mistakes"]] == [round(2 / 7, 4), 0.4]


@pytest.mark.slow
def test_answers_reproducing_a_course_reference(graded_class):
    """The honest class is the catalog: each of its long answers is found, named after its reference; copy-a's
    and copy-b's own code matches none."""
    workspace, _ = graded_class
    report = json.loads(_similarity(workspace, LECTURE, "--json").stdout)
    found = {(m["student"], m["exercise"]): m["reference"] for m in report["reference_matches"]}
    assert found[("model", "adam_update")] == "catalog model answer"
    assert found[("variant-2", "adam_update")] == "catalog variant loop-with-local-moments"
    assert found[("adam-a", "adam_update")] == "catalog variant t-plus-one"
    assert not {s for s, _ in found} & set(COPIED)
    assert all(m["similarity"] >= 0.9 for m in report["reference_matches"])


@pytest.mark.slow
def test_every_output_says_it_is_a_lead_and_the_workspace_is_left_byte_identical(graded_class, tmp_path):
    workspace, _ = graded_class
    before = _listing(workspace)
    page = tmp_path / "similarity.html"
    text = _similarity(workspace, LECTURE, "--html", str(page))
    as_json = _similarity(workspace, LECTURE, "--json")
    report = similarity_report(Workspace(workspace, REPO), LECTURE)
    assert text.returncode == as_json.returncode == 0
    assert "leads for a human, not verdicts" in text.stdout
    assert "leads for a human, not verdicts" in json.loads(as_json.stdout)["notice"]
    assert "leads for a human, not verdicts" in page.read_text()
    assert "copy-a <-> copy-b" in text.stdout and "adam_update: off-by-one" in text.stdout
    assert report.pairs[0].students == COPIED
    assert _listing(workspace) == before   # gradebook.db, graded notebooks, everything: byte for byte


@pytest.mark.slow
def test_cli_errors_are_one_line_with_a_nonzero_exit(graded_class, tmp_path):
    workspace, _ = graded_class
    before = _listing(workspace)
    empty = tmp_path / "new-workspace"
    empty.mkdir()
    cases = {
        "unknown lecture": (_similarity(workspace, "99-nothing"), "unknown lecture '99-nothing'"),
        "lecture not graded": (_similarity(workspace, "04-backprop"), "nothing of 04-backprop graded yet"),
        "no gradebook": (_similarity(empty, LECTURE), "nothing graded yet"),
        "no workspace": (_similarity(tmp_path / "missing", LECTURE), "nothing graded yet"),
        "html folder missing": (_similarity(workspace, LECTURE, "--html", str(tmp_path / "no" / "x.html")),
                                "folder"),
        "bad threshold": (_similarity(workspace, LECTURE, "--threshold", "2"), "--threshold"),
    }
    for name, (run, words) in cases.items():
        assert run.returncode == 2, (name, run.stdout, run.stderr)
        assert run.stderr.count("\n") == 1 and run.stderr.startswith("bplab similarity: "), (name, run.stderr)
        assert words in run.stderr and "Traceback" not in run.stderr, (name, run.stderr)
        assert run.stdout == "", name
    assert list(empty.iterdir()) == [] and not (tmp_path / "missing").exists()   # nothing created
    assert _listing(workspace) == before


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="/usr/bin/chromium is missing: run "
                    "scripts/ensure-chromium (apt-get install chromium) to run the browser tests")
def test_the_html_report_in_a_real_browser(graded_class, tmp_path):
    """Debian's chromium opens the page: the notice first, the copied pair open side by side with marked passages,
    copy-b's hostile comment shown as text (no script ran, no element injected), the mistakes and references listed."""
    from playwright.sync_api import sync_playwright

    workspace, _ = graded_class
    page_file = tmp_path / "similarity.html"
    assert _similarity(workspace, LECTURE, "--html", str(page_file)).returncode == 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                             args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            errors = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(page_file.as_uri())
            assert page.title() == f"Similarity leads: {LECTURE}"
            notice = page.locator("#notice")
            assert notice.is_visible() and "not verdicts" in notice.inner_text()
            first = page.locator("details.pair").first
            assert first.get_attribute("data-students") == "copy-a copy-b"
            assert first.get_attribute("open") is not None
            sides = first.locator("td.side")
            assert sides.count() == 2 * len(COPY_A)
            assert first.locator("td.side").nth(0).locator("mark").count() > 0
            assert first.locator("td.side").nth(1).locator("mark").count() > 0
            marked = " ".join(first.locator("mark").all_inner_texts())
            assert "np.average" in marked
            # the hostile comment: its text is there, as text; nothing it names exists or ran
            assert HOSTILE.split("<script>")[1].split("</script>")[0] in first.inner_text()
            assert page.locator("script").count() == 0 and page.locator("img").count() == 0
            assert page.title() != "pwned" and not errors
            assert "off-by-one" in page.locator("#mistakes").inner_text()
            assert "catalog model answer" in page.locator("#references").inner_text()
        finally:
            browser.close()


# ---------------------------------------------------------------- the parts, without grading

def _row(passed, diagnosis=None, message=""):
    return {"passed": passed, "diagnosis": diagnosis, "message": message}


def test_a_mistake_is_its_diagnoses_and_constant_ratio():
    rows = [_row(False, "wrong-values", "dW: ...; every entry is 2.000001 times the expected value"),
            _row(False, "wrong-values", "hidden: every entry is 2 times the expected value"), _row(True)]
    assert mistake_of(rows) == (("wrong-values", "2"),)
    assert mistake_of([_row(False, "transposed", "shape (3, 4) where (4, 3)")]) == (("transposed", ""),)
    assert mistake_of([_row(False, "not-implemented"), _row(True)]) == ()   # an unanswered exercise says nothing


def test_rare_mistakes_only_on_exercises_most_passed():
    def student(*rows):
        return [dict(r, exercise="e") for r in rows]
    ok, ratio = student(_row(True)), student(_row(False, "wrong-values", "every entry is 3 times the expected value"))
    blank = student(_row(False, "not-implemented"))
    options = SimilarityOptions()
    most_passed = {"a": ratio, "b": ratio, "c": ok, "d": ok, "e": ok, "f": blank, "g": blank}
    (group,) = shared_mistakes(most_passed, options)
    assert group["students"] == ["a", "b"] and group["share"] == 0.4 and group["mistake"][0]["ratio"] == "3"
    assert shared_mistakes({"a": ratio, "b": ratio, "c": ok, "d": blank}, options) == []   # half passed: no lead
    common = {**{f"w{i}": ratio for i in range(4)}, **{f"p{i}": ok for i in range(6)}}
    assert shared_mistakes(common, options) == []   # 40% made it: a common mistake, not a rare one


def test_renamed_reordered_and_commented_code_matches_after_the_boilerplate():
    """copydetect on the answers alone: copy-b matches copy-a; the released stub and the hints count for nothing."""
    released = read_notebook(course_path(LECTURE))
    stubs = answer_cells(released)
    options = SimilarityOptions()
    boilerplate = boilerplate_hashes(released, LECTURE, options)
    prints, _ = without_idiom(answer_fingerprints({"copy-a": COPY_A, "copy-b": COPY_B, "stub": stubs}, boilerplate,
                                                  options), 3, options)
    assert all(prints[e]["stub"].token_coverage == 0 for e in stubs)   # the released code is all boilerplate
    (pair,) = compare_pairs(prints, ["copy-a", "copy-b", "stub"], options)
    assert pair.students == COPIED and pair.score > 0.6


def test_the_library_implementation_is_a_reference_read_without_importing_it():
    references = course_references(REPO, "04-backprop")
    names = [name for name, _ in references["dense_backward"]]
    assert names[:2] == ["library backproplab.layers.dense_backward", "library backproplab.layers.dense_weight_gradients"]
    assert "catalog model answer" in names and "catalog variant einsum" in names
    library = dict(references["dense_backward"])["library backproplab.layers.dense_backward"]
    assert library.startswith("def dense_backward(")
    torch_ref = dict(references["torch_gradients"])
    assert any(name.startswith("library backproplab.torch_reference") for name in torch_ref)


def test_hostile_code_is_escaped_in_the_marked_source():
    html = str(marked_source(HOSTILE + "\nx = 1 < 2", [(0, 10), (5, 20)]))
    assert "<script>" not in html and "<img" not in html and html.count("<mark>") == 1
    assert "&lt;script&gt;" in html and "1 &lt; 2" in html
