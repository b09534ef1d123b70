"""backproplab/grading/exchange.py and late.py without accounts: the exchange's permission checks, forged
inbound folders, the late penalty, and `bplab assign`/`collect`'s usage errors. The whole term with real
Unix accounts is tests/test_term.py."""
from __future__ import annotations

import json
import os
import pwd
from datetime import datetime
from pathlib import Path

import pytest

from backproplab.cli import main
from backproplab.grading.exchange import (
    FORGED_PREFIX,
    Exchange,
    ExchangeError,
    check_exchange,
    set_aside_forged,
    workspace_exchange,
)
from backproplab.grading.late import PercentPerDayLate
from backproplab.grading.workspace import Workspace

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ME = pwd.getpwuid(os.geteuid()).pw_name


def _exchange(tmp_path, mode):
    root = tmp_path / "exchange"
    root.mkdir()
    root.chmod(mode)
    return Exchange("backprop-lab", root)


def test_world_writable_root_without_sticky_bit_is_refused_with_the_fix(tmp_path):
    exchange = _exchange(tmp_path, 0o777)
    with pytest.raises(ExchangeError, match="chmod 1777"):
        check_exchange(exchange)


@pytest.mark.parametrize("mode", [0o1777, 0o755])
def test_sticky_or_closed_root_is_accepted(tmp_path, mode):
    check_exchange(_exchange(tmp_path, mode))


def test_missing_root_is_created_1777_only_when_asked(tmp_path):
    exchange = Exchange("backprop-lab", tmp_path / "srv" / "exchange")
    with pytest.raises(ExchangeError, match="does not exist"):
        check_exchange(exchange)
    check_exchange(exchange, create=True)
    assert exchange.root.stat().st_mode & 0o7777 == 0o1777


def test_world_writable_course_folder_is_refused(tmp_path):
    exchange = _exchange(tmp_path, 0o1777)
    exchange.course.mkdir()
    exchange.course.chmod(0o777)
    with pytest.raises(ExchangeError, match="chmod o-w"):
        check_exchange(exchange)


def test_a_folder_owned_by_someone_else_than_the_student_it_names_is_set_aside(tmp_path):
    exchange = _exchange(tmp_path, 0o1777)
    exchange.inbound.mkdir(parents=True)
    own = exchange.inbound / f"{ME}+04-backprop+2026-12-01 10:00:00.000000 UTC+abc"
    forged = exchange.inbound / "ana.lopez+04-backprop+2026-12-01 11:00:00.000000 UTC+xyz"
    other_lecture = exchange.inbound / "ana.lopez+05-initialization+2026-12-01 11:00:00.000000 UTC+xyz"
    for folder in (own, forged, other_lecture):
        folder.mkdir()
    reports = set_aside_forged(exchange, "04-backprop")
    assert reports == [f"inbound/{forged.name} claims to be from ana.lopez but belongs to {ME}: set aside"]
    assert sorted(p.name for p in exchange.inbound.iterdir()) == sorted(
        [own.name, FORGED_PREFIX + forged.name, other_lecture.name])


@pytest.mark.parametrize("seconds_late, penalty", [(0, 0.0), (1, 2.0), (86400, 2.0), (86401, 4.0), (86400 * 30, 20.0)])
def test_percent_per_day_takes_a_share_per_started_day_never_more_than_the_score(seconds_late, penalty):
    plugin = PercentPerDayLate(percent_per_day=10)
    assert plugin.late_submission_penalty("ana", 20.0, seconds_late) == pytest.approx(penalty)


def test_late_policy_travels_as_the_configured_plugin_and_its_settings(tmp_path):
    workspace = Workspace(tmp_path / "autograder", REPO_ROOT)
    assert '"plugin_class": "nbgrader.plugins.LateSubmissionPlugin"' in workspace.late_policy()
    with open(workspace.path / "nbgrader_config.py", "a") as f:
        f.write('\nc = get_config()\nc.AssignLatePenalties.plugin_class = "backproplab.grading.late.PercentPerDayLate"\n'
                'c.PercentPerDayLate.percent_per_day = 25\n')
    policy = workspace.late_policy()
    assert '"PercentPerDayLate": {"percent_per_day": 25}' in policy


def test_exchange_needs_a_course_id(tmp_path):
    workspace = Workspace(tmp_path / "autograder", REPO_ROOT)
    with pytest.raises(ExchangeError, match="course_id"):
        workspace_exchange(workspace)


@pytest.mark.parametrize("argv, message", [
    (["assign", "99-nothing"], "unknown lecture '99-nothing'"),
    (["assign", "04-backprop", "--due", "next tuesday-ish"], "cannot read the due date"),
    (["assign", "04-backprop"], "no course id"),
    (["collect", "04-backprop"], "no course id"),
    (["feedback", "--release"], "needs the lecture ids"),
])
def test_exchange_commands_explain_usage_errors(tmp_path, capsys, argv, message):
    code = main([*argv, "--workspace", str(tmp_path / "autograder"), "--root", REPO_ROOT])
    assert code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_an_extension_moves_one_student_s_due_date(tmp_path, capsys):
    """Two students submit the same correct notebook a day after the due date; one has `bplab extend` to a date after
    it: is only the other one's score cut by the 10% per day late policy, and does extend refuse a date not after the
    class's due date?"""
    from nbgrader.api import Gradebook

    from backproplab.grading.submissions import build_submission, write_notebook
    from catalog_helpers import catalog

    repo = Path(__file__).resolve().parents[1]
    ws = Workspace(tmp_path / "ws", repo)
    config = ws.path / "nbgrader_config.py"
    config.write_text(config.read_text() + '\nc = get_config()\n'
                      'c.AssignLatePenalties.plugin_class = "backproplab.grading.late.PercentPerDayLate"\n'
                      'c.PercentPerDayLate.percent_per_day = 10\n')
    ws.ensure_assignment("04-backprop")
    with Gradebook(ws.db_url) as gb:
        gb.update_or_create_assignment("04-backprop", duedate=datetime(2026, 12, 1, 12, 0))
    notebook = build_submission(ws.release_notebook("04-backprop"), catalog("04-backprop").ANSWERS)
    for student in ("ann", "bob"):
        folder = ws.path / "submitted" / student / "04-backprop"
        folder.mkdir(parents=True)
        write_notebook(notebook, folder / "backprop.ipynb")
        (folder / "timestamp.txt").write_text("2026-12-02 11:00:00.000000 UTC")
    workspace = ["--workspace", str(ws.path), "--root", str(repo)]
    assert main(["extend", "04-backprop", "ann", "--until", "2026-11-30 12:00:00 UTC", *workspace]) == 2
    assert "is due 2026-12-01 12:00:00 UTC already" in capsys.readouterr().err
    assert main(["extend", "04-backprop", "ann", "--until", "2026-12-03 12:00:00 UTC", *workspace]) == 0
    assert capsys.readouterr().out.startswith("ann: 04-backprop due 2026-12-03 12:00:00 UTC")
    assert main(["grade", str(ws.path / "submitted"), "--json", *workspace]) == 0
    results = {r["student"]: r for r in json.loads(capsys.readouterr().out)}
    assert results["ann"]["late_penalty"] == 0 and results["ann"]["score"] == results["ann"]["max_score"]
    assert results["bob"]["late_penalty"] == pytest.approx(0.1 * results["bob"]["max_score"])
