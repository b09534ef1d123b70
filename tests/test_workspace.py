"""The workspace's blank gradebook (backproplab/grading/workspace.py: write_blank_gradebook)."""
from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from backproplab.grading.workspace import write_blank_gradebook


def _stamp(path):
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute("SELECT version_num FROM alembic_version").fetchall()


def test_a_blank_gradebook_is_made_without_an_alembic_process(tmp_path, monkeypatch):
    """Does nbgrader open the blank gradebook as one already stamped (it never asks alembic), with its tables?"""
    import nbgrader.api

    def no_alembic():
        raise AssertionError("nbgrader asked alembic for the revision")

    monkeypatch.setattr(nbgrader.api, "get_alembic_version", no_alembic)
    path = tmp_path / "blank.db"
    write_blank_gradebook(path)
    assert len(_stamp(path)) == 1
    with nbgrader.api.Gradebook(f"sqlite:///{path}", "") as gb:
        assert gb.students == [] and gb.assignments == []


@pytest.mark.slow
def test_the_blank_gradebook_carries_the_revision_nbgrader_stamps(tmp_path):
    """Is the revision the one nbgrader's own ``alembic heads`` process gives a new gradebook?"""
    from nbgrader.api import Gradebook

    from backproplab.grading.release import ensure_scripts_on_path

    ensure_scripts_on_path()
    ours, stock = tmp_path / "ours.db", tmp_path / "stock.db"
    write_blank_gradebook(ours)
    Gradebook(f"sqlite:///{stock}", "").close()
    assert _stamp(ours) == _stamp(stock)
