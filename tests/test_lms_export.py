"""`bplab export --format canvas|long` and the roster: Canvas's gradebook import CSV, the long
format for pandas, the default CSV unchanged, and bad input refused with nothing written.

The fast tests store results in the sidecar tables only (export falls back to the stored scores);
the slow ones build nbgrader's gradebook with real generate_assignment and write_final_scores."""
import csv
import os
import subprocess

import pytest

from backproplab.checks import Verdict
from backproplab.cli import build_parser, main
from backproplab.grading.batch import write_final_scores
from backproplab.grading.contract import GradingResult
from backproplab.grading.lms_export import CANVAS_IDENTITY_COLUMNS, EXPORT_FORMATS, LONG_COLUMNS
from backproplab.grading.reports import ExportError, write_csv
from backproplab.grading.store import load_verdicts, save_result
from backproplab.grading.workspace import Workspace
from cli_command import bplab_command
from notebook_factory import (
    units_repository,
)

LECTURE = "99-units"        # in solutions/: the slow tests give it nbgrader rows
OTHER_LECTURE = "98-extra"  # only ever in the sidecar tables
CANVAS_HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]  # Canvas's own spelling and order


@pytest.fixture
def root(tmp_path):
    return units_repository(tmp_path)


def _result(student, lecture=LECTURE, passed_visible=True, diagnosis=None, late_penalty=0.0):
    verdicts = [Verdict("double", False, passed_visible, None if passed_visible else diagnosis, "m",
                        grade_id="test_double", points=1.0),
                Verdict("double", True, True, None, "m", grade_id="test_double_hidden", points=2.0)]
    return GradingResult(student, lecture, "graded", verdicts, [], manual_max_score=1.0, late_penalty=late_penalty,
                         digest="d", grader_version="v")


@pytest.fixture
def stored(root, tmp_path):
    """A workspace whose sidecar tables hold: ann (both lectures), o.brien-2 (LECTURE, visible test
    failed as "transposed") and Ana_Lopez (OTHER_LECTURE)."""
    ws = Workspace(tmp_path / "ws", root)
    save_result(ws.db_path, _result("ann"))
    save_result(ws.db_path, _result("ann", OTHER_LECTURE))
    save_result(ws.db_path, _result("o.brien-2", passed_visible=False, diagnosis="transposed"))
    save_result(ws.db_path, _result("Ana_Lopez", OTHER_LECTURE))
    return ws


def _export(ws, out, *options):
    return main(["export", str(out), "--root", str(ws.root), "--workspace", str(ws.path), *options])


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_canvas_header_is_canvas_identity_columns_then_one_column_per_lecture(stored, tmp_path, capsys):
    """Without a roster: Canvas's five identity columns in its order, a lecture column each, the
    Points Possible row, and each graded student with the nbgrader id as Student and SIS Login ID?"""
    out = tmp_path / "canvas.csv"
    assert _export(stored, out, "--format", "canvas") == 0
    rows = _rows(out)
    assert list(CANVAS_IDENTITY_COLUMNS) == CANVAS_HEADER
    assert rows[0] == CANVAS_HEADER + [OTHER_LECTURE, LECTURE]
    assert rows[1] == ["Points Possible", "", "", "", "", "3", "3"]
    assert rows[2:] == [["Ana_Lopez", "", "", "Ana_Lopez", "", "3", ""],
                        ["ann", "", "", "ann", "", "3", "3"],
                        ["o.brien-2", "", "", "o.brien-2", "", "", "2"]]
    err = capsys.readouterr().err
    assert "no --roster" in err and "SIS Login ID" in err


def test_canvas_with_roster_reports_graded_students_it_lacks_and_keeps_their_rows(stored, tmp_path, capsys):
    """Roster students in the roster's order (zed, with no grades, with empty cells), and Ana_Lopez,
    graded but not in the roster, named on stderr, still written with empty Canvas ids, exit 3?"""
    roster = _write(tmp_path / "roster.csv",
                    "student_id,name,canvas_id,sis_user_id,sis_login_id,section\n"
                    "o.brien-2,\"O'Brien, Pat\",1002,S-2,pobrien,Tue lab\n"
                    "ann,\"Lee, Ann\",1001,S-1,alee,Mon lab\n"
                    "zed,\"Zed, Zoe\",1003,S-3,zzed,Mon lab\n")
    out = tmp_path / "canvas.csv"
    assert _export(stored, out, "--format", "canvas", "--roster", str(roster)) == 3
    rows = _rows(out)
    assert rows[2:] == [["O'Brien, Pat", "1002", "S-2", "pobrien", "Tue lab", "", "2"],
                        ["Lee, Ann", "1001", "S-1", "alee", "Mon lab", "3", "3"],
                        ["Zed, Zoe", "1003", "S-3", "zzed", "Mon lab", "", ""],
                        ["Ana_Lopez", "", "", "", "", "3", ""]]
    err = capsys.readouterr().err
    assert "1 graded student(s) not in the roster" in err and "Ana_Lopez" in err
    assert "no --roster" not in err


def test_canvas_roster_missing_student_differing_in_case_is_hinted(stored, tmp_path, capsys):
    """Is a graded id that the roster has only in another case reported, with the roster's spelling?"""
    roster = _write(tmp_path / "roster.csv", "student_id\nann\no.brien-2\nana_lopez\n")
    assert _export(stored, tmp_path / "canvas.csv", "--format", "canvas", "--roster", str(roster)) == 3
    assert "Ana_Lopez (roster has 'ana_lopez')" in capsys.readouterr().err


def test_canvas_roster_can_be_canvas_gradebook_export(stored, tmp_path, capsys):
    """Does Canvas's own export work as the roster: SIS Login ID as our id, its Points Possible row
    and Test Student left out, and a lecture Canvas already has headed "name (assignment id)"?"""
    roster = _write(tmp_path / "Grades-NN101.csv", "\ufeff"
                    "Student,ID,SIS User ID,SIS Login ID,Section,99-units (5521),Current Score\n"
                    "    Points Possible,,,,,4,(read only)\n"
                    "\"Lee, Ann\",1001,S-1,ann,Mon lab,,\n"
                    "\"O'Brien, Pat\",1002,S-2,o.brien-2,Tue lab,2,\n"
                    "\"Lopez, Ana\",1004,S-4,Ana_Lopez,Tue lab,,\n"
                    "\"Student, Test\",1999,,,Mon lab,,\n")
    out = tmp_path / "canvas.csv"
    assert _export(stored, out, "--format", "canvas", "--roster", str(roster)) == 0
    rows = _rows(out)
    assert rows[0] == CANVAS_HEADER + [OTHER_LECTURE, "99-units (5521)"]
    assert rows[2:] == [["Lee, Ann", "1001", "S-1", "ann", "Mon lab", "3", "3"],
                        ["O'Brien, Pat", "1002", "S-2", "o.brien-2", "Tue lab", "", "2"],
                        ["Lopez, Ana", "1004", "S-4", "Ana_Lopez", "Tue lab", "3", ""]]
    assert "left out 1 Canvas user(s) without SIS Login ID" in capsys.readouterr().err


def test_long_rows_match_the_stored_verdicts(stored, tmp_path):
    """Does `--format long` write one row per stored verdict, with its exercise, grade_id, hidden,
    passed, diagnosis and points, and the submission's status?"""
    out = tmp_path / "long.csv"
    assert _export(stored, out, "--format", "long") == 0
    with open(out, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == LONG_COLUMNS
        written = [(r["student"], r["lecture"], r["exercise"], r["grade_id"], r["kind"], r["hidden"], r["passed"],
                    r["diagnosis"], float(r["score"]), float(r["max_score"]), r["status"]) for r in reader]
    expected = [(v["student"], v["lecture"], v["exercise"], v["grade_id"], "test", str(v["hidden"]), str(v["passed"]),
                 v["diagnosis"] or "", v["score"], v["max_score"], "graded") for v in load_verdicts(stored.db_path)]
    assert written == expected and len(written) == 8
    assert ("o.brien-2", LECTURE, "double", "test_double", "test", "False", "False", "transposed", 0.0, 1.0,
            "graded") in written


def test_default_format_is_todays_csv(stored, tmp_path):
    """Is the default export byte for byte today's CSV, and `--format csv` the same file?"""
    default, explicit = tmp_path / "grades.csv", tmp_path / "grades-csv.csv"
    assert _export(stored, default) == 0
    assert _export(stored, explicit, "--format", "csv") == 0
    assert default.read_bytes() == (
        "student,lecture,score,max_score,flagged,needs_manual_grading,status\r\n"
        "Ana_Lopez,98-extra,3.0,3.0,False,True,graded\r\n"
        "ann,98-extra,3.0,3.0,False,True,graded\r\n"
        "ann,99-units,3.0,3.0,False,True,graded\r\n"
        "o.brien-2,99-units,2.0,3.0,False,True,graded\r\n").encode()
    assert explicit.read_bytes() == default.read_bytes()


@pytest.mark.parametrize("options, message", [
    (["--format", "canvas", "--roster", "{tmp}/no-such-roster.csv"], "cannot read roster"),
    (["--format", "canvas", "--roster", "{tmp}"], "cannot read roster"),
    (["--format", "canvas", "--roster", "{tmp}/no-id.csv"], "has no student_id column"),
    (["--format", "canvas", "--roster", "{tmp}/twice.csv"], "student id 'ann' appears twice (rows 2 and 4)"),
    (["--format", "canvas", "--roster", "{tmp}/empty.csv"], "is empty"),
    (["--format", "long", "--roster", "{tmp}/twice.csv"], "--roster applies to --format canvas only"),
])
def test_bad_roster_exits_2_with_one_line_and_writes_nothing(stored, tmp_path, capsys, options, message):
    """Does each bad input give one `bplab export: ...` line, exit 2, and leave the output as it was
    (absent, or an older file untouched)?"""
    _write(tmp_path / "no-id.csv", "user,name\nann,Ann\n")
    _write(tmp_path / "twice.csv", "student_id,name\nann,Ann\nbob,Bob\nann,Ann again\n")
    _write(tmp_path / "empty.csv", "")
    options = [o.format(tmp=tmp_path) for o in options]
    fresh, older = tmp_path / "fresh.csv", _write(tmp_path / "older.csv", "keep me\n")
    for out in (fresh, older):
        assert _export(stored, out, *options) == 2
        err = capsys.readouterr().err
        assert err.startswith("bplab export: ") and err.count("\n") == 1 and message in err, err
    assert not fresh.exists() and older.read_text() == "keep me\n"
    assert sorted(p.name for p in tmp_path.glob(".*.tmp")) == []


@pytest.mark.parametrize("export_format", EXPORT_FORMATS)
def test_output_in_missing_folder_exits_2(stored, tmp_path, capsys, export_format):
    """Is an output path in a folder that does not exist refused with exit 2, whatever the format?"""
    out = tmp_path / "no-such-folder" / "grades.csv"
    assert _export(stored, out, "--format", export_format) == 2
    err = capsys.readouterr().err
    assert err == f"bplab export: cannot write {out}: folder {out.parent} does not exist\n"
    assert not out.parent.exists()


def test_unknown_format_is_a_usage_error(stored, tmp_path, capsys):
    """Does argparse refuse a format it does not offer (exit 2, naming the choices), writing nothing?"""
    out = tmp_path / "grades.csv"
    with pytest.raises(SystemExit) as exc:
        _export(stored, out, "--format", "blackboard")
    assert exc.value.code == 2
    assert "invalid choice: 'blackboard'" in capsys.readouterr().err
    assert not out.exists()
    export = next(a for a in build_parser()._actions if a.dest == "command").choices["export"]
    assert next(a for a in export._actions if a.dest == "format").choices == EXPORT_FORMATS


def test_write_csv_failing_midway_leaves_old_file_and_no_temporary(tmp_path):
    """Does a write that fails after some rows keep the old file and remove its temporary file?"""
    class Unprintable:
        def __str__(self):
            raise RuntimeError("boom")

    out = _write(tmp_path / "grades.csv", "old\n")
    with pytest.raises(RuntimeError):
        write_csv(out, [["a", "b"]] * 1000 + [[Unprintable()]])
    assert out.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["grades.csv"]
    with pytest.raises(ExportError, match="it is a folder"):
        write_csv(tmp_path, [["a"]])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """A workspace whose nbgrader gradebook holds LECTURE (real generate_assignment) with:
    ann: all tests passed, explain cell given 1 point in "formgrader" (manual_score);
    o.brien-2: visible test failed ("transposed"), explain cell not graded yet, 0.5 late penalty;
    Ana_Lopez: visible test failed, overridden to full marks by hand."""
    from nbgrader.api import Gradebook

    base = tmp_path_factory.mktemp("graded")
    ws = Workspace(base / "ws", units_repository(base))
    ws.ensure_assignment(LECTURE)
    write_final_scores(ws, _result("ann"))
    write_final_scores(ws, _result("o.brien-2", passed_visible=False, diagnosis="transposed", late_penalty=0.5))
    write_final_scores(ws, _result("Ana_Lopez", passed_visible=False, diagnosis="transposed"))
    with Gradebook(ws.db_url) as gb:
        gb.find_grade("explain_double", "units", LECTURE, "ann").manual_score = 1.0
        gb.find_grade("explain_double", "units", LECTURE, "ann").needs_manual_grade = False
        gb.find_grade("test_double", "units", LECTURE, "Ana_Lopez").manual_score = 1.0
        gb.db.commit()
    return ws


@pytest.mark.slow
def test_canvas_scores_come_from_nbgrader_in_a_real_cli_process(graded, tmp_path):
    """End to end in a `bplab` process: are the Canvas scores nbgrader's totals (manual grades and
    overrides counted), the Points Possible the lecture's with the explain cell, and a student with
    an unusual id matched through the roster?"""
    roster = _write(tmp_path / "roster.csv", "student_id,name,sis_login_id\nann,Ann,a1\no.brien-2,Pat,p2\n"
                                             "Ana_Lopez,Ana,a3\n")
    out = tmp_path / "canvas.csv"
    proc = subprocess.run(bplab_command("export", str(out), "--format", "canvas", "--roster", str(roster),
                                        "--root", str(graded.root), "--workspace", str(graded.path)),
                          capture_output=True, text=True, env=os.environ, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "wrote 3 row(s)" in proc.stdout
    assert "2 submission(s) still need manual grading" in proc.stderr  # o.brien-2's and Ana_Lopez's explain cells
    rows = _rows(out)
    assert rows[:2] == [CANVAS_HEADER + [LECTURE], ["Points Possible", "", "", "", "", "4"]]
    assert {row[3]: row[5] for row in rows[2:]} == {"a1": "4", "p2": "1.5", "a3": "3"}


@pytest.mark.slow
def test_long_format_holds_manual_cells_and_nbgrader_scores(graded, tmp_path):
    """Does the long format give the explain cells as manual rows (ann's manual score, o.brien-2's
    empty while ungraded) and the test cells' scores from nbgrader (Ana_Lopez's override)?"""
    out = tmp_path / "long.csv"
    assert _export(graded, out, "--format", "long") == 0
    with open(out, newline="", encoding="utf-8") as f:
        rows = {(r["student"], r["grade_id"]): r for r in csv.DictReader(f)}
    assert len(rows) == 9
    manual = rows["ann", "explain_double"]
    assert (manual["kind"], manual["exercise"], manual["score"], manual["max_score"], manual["needs_manual_grading"],
            manual["passed"]) == ("manual", "explain_double", "1.0", "1.0", "False", "")
    assert (rows["o.brien-2", "explain_double"]["score"], rows["o.brien-2", "explain_double"]["needs_manual_grading"]) \
        == ("", "True")
    overridden = rows["Ana_Lopez", "test_double"]
    assert (overridden["passed"], overridden["diagnosis"], overridden["score"]) == ("False", "transposed", "1.0")
    assert rows["o.brien-2", "test_double"]["score"] == "0.0"


# ---------------------------------------------------------------------------------------
# From the LMS, and a web page of the grades (issue 29, item 8).

ROSTER = """student_id,name,canvas_id,sis_user_id,sis_login_id,section
ana.lopez,"Lopez, Ana",1001,S-1001,alopez,Mon lab
o.brien-2,Pat O'Brien,1002,S-1002,pobrien,Tue lab
"""


def test_import_lms_puts_canvas_submissions_under_the_roster_s_ids(root, tmp_path, capsys):
    """Does `bplab import-lms` write each notebook of Canvas's submissions zip (late ones and re-uploads included)
    to submitted/<roster id>/<lecture>/<the lecture's notebook name>, and list, with exit 3, the files it left out:
    a Canvas user missing from the roster, a file that is no notebook, a path that tries to leave the folder?"""
    import zipfile

    roster = _write(tmp_path / "roster.csv", ROSTER)
    archive = tmp_path / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("lopezana_1001_5551_units.ipynb", '{"ana": 1}')
        z.writestr("obrienpat_LATE_1002_5552_units-1.ipynb", '{"pat": 1}')
        z.writestr("kimlee_1003_5553_units.ipynb", '{"lee": 1}')
        z.writestr("lopezana_1001_5554_notes.txt", "notes")
        z.writestr("../evil_1001_5555_units.ipynb", "{}")
    ws = tmp_path / "ws"
    code = main(["import-lms", LECTURE, str(archive), "--roster", str(roster), "--root", str(root),
                 "--workspace", str(ws)])
    out, err = capsys.readouterr()
    assert code == 3, err
    submitted = ws / "submitted"
    assert (submitted / "ana.lopez" / LECTURE / "units.ipynb").read_text() == '{"ana": 1}'
    assert (submitted / "o.brien-2" / LECTURE / "units.ipynb").read_text() == '{"pat": 1}'
    assert sorted(p.relative_to(submitted).parts[0] for p in submitted.rglob("*.ipynb")) == ["ana.lopez", "o.brien-2"]
    assert "not imported: kimlee_1003_5553_units.ipynb: Canvas user 1003 (kimlee) is not in the roster" in err
    assert "not imported: lopezana_1001_5554_notes.txt" in err and "not imported: ../evil_1001_5555_units.ipynb" in err
    assert not (tmp_path / "evil_1001_5555_units.ipynb").exists()
    assert "2 submission(s) of 99-units" in out
    assert main(["import-lms", LECTURE, str(roster), "--roster", str(roster), "--root", str(root),
                 "--workspace", str(ws)]) == 2
    assert capsys.readouterr().err.startswith(f"bplab import-lms: cannot read {roster}")


@pytest.mark.slow
def test_import_roster_names_the_students_in_the_gradebook(root, tmp_path, capsys):
    """Does `bplab import-roster` put each roster student, with first and last name and Canvas id, into nbgrader's
    gradebook (where formgrader shows them)?"""
    from nbgrader.api import Gradebook

    roster = _write(tmp_path / "roster.csv", ROSTER)
    ws = Workspace(tmp_path / "ws", root)
    assert main(["import-roster", str(roster), "--root", str(root), "--workspace", str(ws.path)]) == 0
    assert capsys.readouterr().out.startswith("2 student(s) in")
    with Gradebook(ws.db_url) as gb:
        students = {s.id: (s.first_name, s.last_name, s.lms_user_id) for s in gb.students}
    assert students == {"ana.lopez": ("Ana", "Lopez", "1001"), "o.brien-2": ("Pat", "O'Brien", "1002")}


def test_html_export_is_a_page_of_the_class_s_grades(stored, tmp_path):
    """Does `bplab export --format html` write one page with every student's score per lecture, the score bands
    and each exercise's mistakes with the students who made them, escaped, and readable by the instructor only?"""
    page = tmp_path / "grades.html"
    assert _export(stored, page, "--format", "html") == 0
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and text.count("<h2 ") == 2
    assert "<td>o.brien-2</td><td>2 / 3</td>" in text and "<td>ann</td><td>3 / 3</td>" in text
    assert "transposed (o.brien-2)" in text and "Students per score band" in text
    assert page.stat().st_mode & 0o077 == 0
