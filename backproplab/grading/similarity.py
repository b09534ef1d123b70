"""`bplab similarity LECTURE`: leads for an instructor on a graded class, never verdicts.

Three kinds of lead, read from the workspace alone (nothing here writes it):

- **Shared code.** Each graded student's answer cells (nbgrader ``solution`` cells of the autograded
  notebook) are fingerprinted per exercise with copydetect (MOSS's winnowing over Pygments tokens:
  names, strings and comments do not count, so renaming and comments change nothing). The released
  notebook's code and the course's own hints and formulas are subtracted as boilerplate, and so is
  the class's idiom: a fingerprint more than ``SimilarityOptions.common_holders(n)`` students hold
  (MOSS's ``-m``). Only pairs that share a remaining fingerprint are compared (an inverted index,
  as Dolos does), so a class of 500 is not 124,750 comparisons. A pair's score is the smaller of
  the two shares of answer code the other one matches.
- **Shared rare mistakes.** Students whose verdicts on an exercise most of those who tried it passed
  carry the same diagnosis and pattern (the constant ratio student / expected when the message names one),
  held by few: on fresh per-student inputs, the same unusual mistake is a signal that similar-looking
  code that everybody writes alike is not.
- **The course's own references.** An answer that reproduces, almost token for token, the library's
  implementation of its exercise or an answer of the lecture's catalog (the model answer included).

Every output says what ``LEAD_NOTICE`` says.
"""
from __future__ import annotations

import ast
import copy
import importlib.util
import io
import math
import re
import sqlite3
from collections import Counter, defaultdict
from contextlib import closing
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

from . import cells

LEAD_NOTICE = ("These are leads for a human, not verdicts: similar code and shared mistakes can be innocent "
               "(a common idiom, a study group, the same wrong turn). Read both submissions before you decide anything.")

# Diagnoses that say nothing about how an answer was written.
_NOT_EVIDENCE = frozenset({"not-implemented"})
# A check's message names a constant factor as "every entry is 8 times the expected value".
_RATIO = re.compile(r"every entry is (-?[0-9.eE+-]+) times the expected value")
# Code in the course's prose: fenced blocks, <code> elements and `spans`.
_PROSE_CODE = re.compile(r"```(?:python)?\n(.*?)```|<code>(.*?)</code>|`([^`\n]+)`", re.S)


class SimilarityError(Exception):
    """A similarity report that cannot be made as asked (the message is one line)."""


@dataclass(frozen=True)
class SimilarityOptions:
    """How leads are found. ``noise`` and ``guarantee`` are copydetect's thresholds, in characters of
    tokenized code (names become V, strings S, whitespace and comments vanish): a shared passage shorter
    than ``noise`` is never seen, one of ``guarantee`` or more always is. Equal, they keep every k-gram
    (copydetect's defaults): winnowing would choose among copydetect's hashes, Python's ``hash``, which is
    salted per process, and the same class would score differently from one run to the next."""

    noise: int = 25
    guarantee: int = 25
    common_share: float = 0.05      # a fingerprint held by more than this share of the class is idiom ...
    common_floor: int = 3           # ... and always when more than this many students hold it
    threshold: float = 0.5          # a pair's score at or above which it is a lead
    min_shared: int = 60            # characters of tokenized code a lead pair must share at least
    top: int = 30                   # pairs shown (the JSON lists every pair at or above the threshold)
    majority: float = 0.5           # mistakes count on an exercise more than this share of its tryers passed ...
    rare_share: float = 0.2         # ... made by two of them, or at most this share
    reference_threshold: float = 0.9  # share of an answer matching a course reference
    reference_min: int = 120        # characters of tokenized code an answer needs for a reference match

    @property
    def window(self) -> int:
        return self.guarantee - self.noise + 1

    def common_holders(self, students: int) -> int:
        """The most students a fingerprint may be held by and still count as evidence."""
        return max(self.common_floor, math.ceil(self.common_share * students))


@dataclass
class ClassAnswers:
    """What the workspace holds for one lecture: ``answers`` {student: {exercise: answer cell source}},
    ``verdicts`` {student: [verdict rows of store.py's bplab_verdicts]}, ``released`` the released
    notebook (nbformat), ``skipped`` [one line per graded student whose graded notebook is missing or unreadable]."""

    lecture: str
    answers: dict
    verdicts: dict
    released: object
    skipped: list = field(default_factory=list)


# ---------------------------------------------------------------------------------- reading the workspace

def _read_only(db_path):
    return closing(sqlite3.connect(f"{Path(db_path).resolve().as_uri()}?mode=ro", uri=True))


def _table_rows(db_path, query, args):
    with _read_only(db_path) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(query, args)]


def _has_table(db_path, name):
    with _read_only(db_path) as conn:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None


def answer_cells(nb) -> dict:
    """{exercise (grade_id): source} of the code answer cells (nbgrader ``solution``, not ``grade``) of ``nb``."""
    found = {}
    for cell in nb.cells:
        if cells.is_answer(cell) and cells.grade_id(cell):
            found[cells.grade_id(cell)] = cell.source
    return found


def read_class(workspace, lecture) -> ClassAnswers:
    """Read the graded submissions of ``lecture`` from ``workspace`` (a grading.workspace.Workspace), never writing.

    Raises SimilarityError for a lecture the repository lacks or one with nothing graded."""
    from .notebooks import read_notebook

    known = workspace.lectures()
    if lecture not in known:
        raise SimilarityError(f"unknown lecture {lecture!r} (known: {', '.join(known)})")
    db = workspace.db_path
    if not db.is_file() or not _has_table(db, "bplab_submissions"):
        raise SimilarityError(f"nothing graded yet in {workspace.path} (run `bplab grade` first)")
    rows = _table_rows(db, "SELECT student FROM bplab_submissions WHERE lecture=? ORDER BY student", (lecture,))
    if not rows:
        raise SimilarityError(f"nothing of {lecture} graded yet in {workspace.path} (run `bplab grade` first)")
    answers, skipped = {}, []
    for row in rows:
        student = row["student"]
        graded = sorted((workspace.path / "autograded" / student / lecture).glob("*.ipynb"))
        if len(graded) != 1:
            skipped.append(f"{student}: no graded notebook under autograded/{student}/{lecture}/")
            continue
        try:
            answers[student] = answer_cells(read_notebook(graded[0]))
        except (OSError, ValueError) as err:   # nbformat's errors are ValueErrors
            skipped.append(f"{student}: cannot read {graded[0].relative_to(workspace.path)}: {err}".splitlines()[0])
    verdicts = defaultdict(list)
    for row in _table_rows(db, "SELECT * FROM bplab_verdicts WHERE lecture=? ORDER BY student, grade_id", (lecture,)):
        verdicts[row["student"]].append(row)
    released_path = workspace.release_notebook_path(lecture)
    if not released_path.is_file():  # the workspace's own release is what students got; course/ is the same
        released_path = workspace.root / "course" / lecture / released_path.name
    return ClassAnswers(lecture, answers, dict(verdicts), read_notebook(released_path), skipped)


# ---------------------------------------------------------------------------------- fingerprints

def _fingerprint(name, source, options, boilerplate=None):
    from copydetect import CodeFingerprint

    return CodeFingerprint(name, options.noise, options.window, boilerplate=boilerplate,
                           fp=io.StringIO(source), language="python")


def _course_text(lecture):
    """The text the course shows for the lecture's exercises: every rung of their hint ladders."""
    from ..checks import EXERCISES

    texts = []
    for exercise in EXERCISES.values():
        if exercise.lecture == lecture:
            texts += [part for hint in exercise.hints.values() for part in (hint.nudge, hint.step, hint.formula)]
    return texts


def boilerplate_hashes(released, lecture, options):
    """Every k-gram hash (no winnowing) of the released notebook's code cells, of the code in its prose
    (hint ladders included) and of the course's hints and formulas for the lecture: what no student wrote."""
    import numpy as np

    pieces = [c.source for c in released.cells if c.cell_type == "code"]
    for cell in released.cells:
        if cell.cell_type == "markdown":
            pieces += ["".join(groups) for groups in _PROSE_CODE.findall(cell.source)]
    pieces += _course_text(lecture)
    whole = _exact_options(options)
    hashes = [np.fromiter(_fingerprint("boilerplate.py", piece, whole).hashes, dtype=np.int64) for piece in pieces]
    return np.unique(np.concatenate(hashes)) if hashes else np.array([], dtype=np.int64)


def _exact_options(options):
    """The same noise threshold with a window of one: every k-gram, for boilerplate to subtract."""
    from dataclasses import replace

    return replace(options, guarantee=options.noise)


def answer_fingerprints(answers, boilerplate, options):
    """{exercise: {student: CodeFingerprint}} of ``answers`` ({student: {exercise: source}}), boilerplate subtracted."""
    per_exercise = defaultdict(dict)
    for student, by_exercise in answers.items():
        for exercise, source in by_exercise.items():
            per_exercise[exercise][student] = _fingerprint(f"{student}/{exercise}.py", source, options, boilerplate)
    return dict(per_exercise)


def without_idiom(fingerprints, students, options):
    """Copies of ``fingerprints`` ({exercise: {student: CodeFingerprint}}) without the class's idiom: the
    fingerprints held by more than ``options.common_holders(students)`` students.

    Returns (those copies, {exercise: number of idiom fingerprints removed})."""
    limit = options.common_holders(students)
    kept, idiom = {}, {}
    for exercise, prints in fingerprints.items():
        holders = Counter(h for fp in prints.values() for h in fp.hashes)
        common = {h for h, n in holders.items() if n > limit}
        idiom[exercise] = len(common)
        kept[exercise] = {student: _without(fp, common, options.noise) for student, fp in prints.items()}
    return kept, idiom


def _without(fingerprint, hashes, k):
    """A copy of a copydetect CodeFingerprint without ``hashes`` (a set), its token coverage recomputed."""
    from copydetect.utils import get_token_coverage

    if not hashes & fingerprint.hashes:
        return fingerprint
    kept = copy.copy(fingerprint)
    kept.hashes = fingerprint.hashes - hashes
    kept.hash_idx = {h: i for h, i in fingerprint.hash_idx.items() if h not in hashes}
    kept.token_coverage = get_token_coverage(kept.hash_idx, k, len(kept.filtered_code))
    return kept


# ---------------------------------------------------------------------------------- pairs

@dataclass
class ExerciseMatch:
    """One exercise of a pair: each side's share of its answer code that the other matches, its matched
    characters of tokenized code, and the matched passages as (start, end) offsets into its answer cell."""

    exercise: str
    similarity: tuple
    shared: tuple
    passages: tuple

    def to_json(self):
        return {"exercise": self.exercise, "similarity": [round(float(s), 4) for s in self.similarity],
                "shared": [int(s) for s in self.shared],
                "passages": [[[int(a), int(b)] for a, b in side] for side in self.passages]}


@dataclass
class PairLead:
    """Two students whose answer code matches: ``score`` is the smaller of ``similarity`` (each side's
    share of all its answer code, over the exercises, that the other matches)."""

    students: tuple
    similarity: tuple
    exercises: list
    shared_mistakes: list = field(default_factory=list)

    @property
    def score(self):
        return min(self.similarity)

    def to_json(self):
        return {"students": list(self.students), "score": round(float(self.score), 4),
                "similarity": [round(float(s), 4) for s in self.similarity],
                "exercises": [m.to_json() for m in self.exercises], "shared_mistakes": self.shared_mistakes}


def _candidates(prints):
    """Pairs of students (sorted tuples) of one exercise that share at least one fingerprint."""
    holders = defaultdict(list)
    for student, fp in prints.items():
        for h in fp.hashes:
            holders[h].append(student)
    pairs = set()
    for students in holders.values():
        if len(students) > 1:
            pairs.update(combinations(sorted(students), 2))
    return pairs


def _passages(slices):
    return tuple((int(a), int(b)) for a, b in zip(slices[0], slices[1])) if len(slices) and len(slices[0]) else ()


def compare_pairs(fingerprints, students, options):
    """Every pair sharing a fingerprint, compared with copydetect exercise by exercise: [PairLead], best first."""
    from copydetect import compare_files

    coverage = {s: sum(prints[s].token_coverage for prints in fingerprints.values() if s in prints) for s in students}
    matches = defaultdict(list)
    for exercise, prints in sorted(fingerprints.items()):
        for a, b in _candidates(prints):
            overlap, similarity, slices = compare_files(prints[a], prints[b])
            if overlap:
                shared = (float(similarity[0]) * prints[a].token_coverage, float(similarity[1]) * prints[b].token_coverage)
                matches[a, b].append(ExerciseMatch(exercise, tuple(float(s) for s in similarity), shared,
                                                   (_passages(slices[0]), _passages(slices[1]))))
    leads = []
    for (a, b), found in matches.items():
        shared = [sum(m.shared[i] for m in found) for i in (0, 1)]
        if min(shared) < options.min_shared or not coverage[a] or not coverage[b]:
            continue
        leads.append(PairLead((a, b), (shared[0] / coverage[a], shared[1] / coverage[b]), found))
    return sorted(leads, key=lambda lead: (-lead.score, lead.students))


# ---------------------------------------------------------------------------------- shared mistakes

def mistake_of(verdicts) -> tuple:
    """A student's mistake on one exercise, from its verdict rows (all failed ones): the sorted distinct
    (diagnosis, constant ratio or "") pairs, the ratio rounded to 3 significant digits; () when none counts."""
    found = set()
    for v in verdicts:
        if v["passed"] or not v["diagnosis"] or v["diagnosis"] in _NOT_EVIDENCE:
            continue
        ratio = _RATIO.search(v["message"] or "")
        found.add((v["diagnosis"], f"{float(ratio.group(1)):.3g}" if ratio else ""))
    return tuple(sorted(found))


def shared_mistakes(verdicts, options):
    """Groups of students who made the same rare mistake on an exercise most of the class passed, rarest
    first: [{exercise, mistake: [{diagnosis, ratio}], students, share, passed_share}]. Shares are of the
    students who attempted the exercise (a `not-implemented` is no attempt); a mistake is rare when at most
    ``options.rare_share`` of them, or two, made it."""
    by_exercise = defaultdict(lambda: defaultdict(list))
    for student, rows in verdicts.items():
        for row in rows:
            by_exercise[row["exercise"]][student].append(row)
    groups = []
    for exercise, per_student in sorted(by_exercise.items()):
        attempted = {s: rows for s, rows in per_student.items()
                     if any(v["passed"] or v["diagnosis"] not in _NOT_EVIDENCE for v in rows)}
        passed = sum(all(v["passed"] for v in rows) for rows in attempted.values())
        if len(attempted) < 3 or passed / len(attempted) <= options.majority:
            continue
        made = defaultdict(list)
        for student, rows in attempted.items():
            mistake = mistake_of(rows)
            if mistake:
                made[mistake].append(student)
        rare = max(2, options.rare_share * len(attempted))
        for mistake, who in made.items():
            if 1 < len(who) <= rare:
                groups.append({"exercise": exercise, "mistake": [{"diagnosis": d, "ratio": r or None} for d, r in mistake],
                               "students": sorted(who), "share": round(len(who) / len(attempted), 4),
                               "passed_share": round(passed / len(attempted), 4)})
    return sorted(groups, key=lambda g: (g["share"], g["exercise"], g["students"]))


# ---------------------------------------------------------------------------------- the course's own references

def _library_source(dotted):
    """The source of a library function named ``module.function``, read from its file (nothing imported, so
    torch's helpers need no torch), or None when it cannot be found."""
    module_name, _, name = dotted.rpartition(".")
    spec = importlib.util.find_spec(module_name)
    if spec is None or not spec.origin:
        return None
    source = Path(spec.origin).read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(source, node)
    return None


def course_references(root, lecture) -> dict:
    """{exercise: [(reference name, source)]}: the library's implementation of each exercise of the lecture,
    its catalog's model answer (the solution notebook's) and every catalog variant."""
    from ..checks import EXERCISES
    from .answer_catalogs import catalog_path, load_catalog

    references = defaultdict(list)
    for exercise in EXERCISES.values():
        if exercise.lecture == lecture:
            for dotted in exercise.library_functions:
                source = _library_source(dotted)
                if source:
                    references[exercise.name].append((f"library {dotted}", source))
    if catalog_path(root, lecture).is_file():
        catalog = load_catalog(root, lecture)
        for exercise, source in catalog.ANSWERS.items():
            references[exercise].append(("catalog model answer", source))
        for variant in catalog.VARIANTS:
            references[variant.exercise].append((f"catalog variant {variant.name}", variant.source))
    return dict(references)


def reference_matches(fingerprints, references, boilerplate, options):
    """Answers that reproduce a course reference: [{student, exercise, reference, similarity, class_share}], the
    most similar first. ``fingerprints``: answer_fingerprints' (the idiom kept: a reference half the class
    reproduces is still named); ``class_share``: the share of the class matching that same reference."""
    from copydetect import compare_files

    students = {s for prints in fingerprints.values() for s in prints}
    found = []
    for exercise, refs in references.items():
        prints = [(name, _fingerprint(f"{name}.py", source, options, boilerplate)) for name, source in refs]
        for student, mine in sorted(fingerprints.get(exercise, {}).items()):
            if mine.token_coverage < options.reference_min:
                continue
            best = None
            for name, reference in prints:
                _, similarity, _ = compare_files(mine, reference)
                if similarity[0] >= options.reference_threshold and (best is None or similarity[0] > best[1]):
                    best = (name, float(similarity[0]))
            if best:
                found.append({"student": student, "exercise": exercise, "reference": best[0],
                              "similarity": round(best[1], 4)})
    per_reference = Counter((m["exercise"], m["reference"]) for m in found)
    for match in found:
        match["class_share"] = round(per_reference[match["exercise"], match["reference"]] / max(1, len(students)), 4)
    return sorted(found, key=lambda m: (-m["similarity"], m["class_share"], m["student"], m["exercise"]))


# ---------------------------------------------------------------------------------- the report

@dataclass
class SimilarityReport:
    """Everything `bplab similarity` shows: ``pairs`` [PairLead] at or above the threshold (best first),
    ``mistakes`` (shared_mistakes), ``references`` (reference_matches), the class's answers for the HTML view."""

    lecture: str
    options: SimilarityOptions
    students: list
    pairs: list
    mistakes: list
    references: list
    answers: dict
    skipped: list
    idiom: dict

    def to_json(self) -> dict:
        return {"notice": LEAD_NOTICE, "lecture": self.lecture, "students": len(self.students),
                "threshold": self.options.threshold, "common_holders": self.options.common_holders(len(self.students)),
                "pairs": [p.to_json() for p in self.pairs], "shared_mistakes": self.mistakes,
                "reference_matches": self.references, "skipped": self.skipped}


def similarity_report(workspace, lecture, options=None) -> SimilarityReport:
    """Read ``lecture``'s graded class from ``workspace`` and find the leads (module docstring)."""
    options = options or SimilarityOptions()
    found = read_class(workspace, lecture)
    boilerplate = boilerplate_hashes(found.released, lecture, options)
    students = sorted(found.answers)
    fingerprints = answer_fingerprints(found.answers, boilerplate, options)
    distinctive, idiom = without_idiom(fingerprints, len(students), options)
    pairs = [p for p in compare_pairs(distinctive, students, options) if p.score >= options.threshold]
    mistakes = shared_mistakes(found.verdicts, options)
    for pair in pairs:
        pair.shared_mistakes = [{"exercise": g["exercise"], "mistake": g["mistake"], "share": g["share"]}
                                for g in mistakes if set(pair.students) <= set(g["students"])]
    references = reference_matches(fingerprints, course_references(workspace.root, lecture), boilerplate, options)
    return SimilarityReport(lecture, options, students, pairs, mistakes, references, found.answers,
                            found.skipped, idiom)


def format_similarity(report) -> str:
    """The report as terminal text: the notice, the top pairs, the shared rare mistakes, the reference matches."""
    n, options = len(report.students), report.options
    lines = [f"bplab similarity {report.lecture}: {n} graded student(s)", f"NOTE: {LEAD_NOTICE}", "",
             f"Pairs whose answer code matches (score >= {options.threshold:.0%} of each one's own code, after the "
             f"released notebook, the hints and code more than {options.common_holders(n)} students share):"]
    for pair in report.pairs[:options.top]:
        per = ", ".join(f"{m.exercise} {min(m.similarity):.0%}" for m in pair.exercises)
        lines.append(f"  {pair.score:>4.0%}  {pair.students[0]} <-> {pair.students[1]}  ({per})")
        for g in pair.shared_mistakes:
            lines.append(f"        also share a rare mistake on {g['exercise']}: {_mistake_words(g['mistake'])}")
    if not report.pairs:
        lines.append("  none")
    elif len(report.pairs) > options.top:
        lines.append(f"  ... and {len(report.pairs) - options.top} more (--json lists them all)")
    lines += ["", f"Shared rare mistakes (on an exercise more than {options.majority:.0%} of those who tried it passed, "
                  f"made by two of them or at most {options.rare_share:.0%}; each student had inputs of their own):"]
    for g in report.mistakes:
        lines.append(f"  {g['share']:>4.0%} of those who tried  {g['exercise']}: {_mistake_words(g['mistake'])}  "
                     f"({', '.join(g['students'])})")
    if not report.mistakes:
        lines.append("  none")
    lines += ["", f"Answers reproducing a course reference (>= {options.reference_threshold:.0%} token for token):"]
    for m in report.references:
        lines.append(f"  {m['similarity']:>4.0%}  {m['student']}  {m['exercise']} ~ {m['reference']}"
                     f"  ({m['class_share']:.0%} of the class match it)")
    if not report.references:
        lines.append("  none")
    lines += [f"  skipped {line}" for line in report.skipped]
    return "\n".join(lines)


def _mistake_words(mistake):
    return ", ".join(m["diagnosis"] + (f" (student / expected = {m['ratio']})" if m["ratio"] else "") for m in mistake)
