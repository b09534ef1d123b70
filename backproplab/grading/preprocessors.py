"""nbgrader preprocessors that `config.configure` inserts into nbgrader's pipelines.

They derive from NbGraderPreprocessor, which is enabled by default (a plain nbconvert
Preprocessor registered by name is silently disabled)."""
from __future__ import annotations

from nbformat.v4 import new_output
from nbgrader.preprocessors import NbGraderPreprocessor

from .redact import is_hidden_test_source, redact_outputs, secret_lines
from .store import load_verdicts


class StderrIsNotFailure(NbGraderPreprocessor):
    """Autograde: stderr text in a test cell (a warning) is shown as ordinary output.

    Stock nbgrader scores a test cell 0 when it wrote to stderr; only an error should.
    """

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
            for output in cell.outputs:
                if output.output_type == "stream" and output.name == "stderr":
                    output.name = "stdout"
        return cell, resources


class RedactHiddenTests(NbGraderPreprocessor):
    """Feedback: hidden test cells show the outside verdict instead of their source and
    outputs, and no output anywhere repeats a line of hidden-test source (an answer cell
    could have printed it)."""

    def preprocess(self, nb, resources):
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            source_nb = gb.find_notebook(info["notebook"], info["assignment"])
            hidden_ids = {c.name for c in source_nb.source_cells if is_hidden_test_source(c.source or "")}
            hidden_sources = [c.source for c in source_nb.source_cells if c.name in hidden_ids]
        visible = [cell.source for cell in nb.cells
                   if cell.metadata.get("nbgrader", {}).get("grade_id") not in hidden_ids]
        lines = secret_lines(hidden_sources, visible)
        db_path = info["db_url"].replace("sqlite:///", "", 1)
        verdicts = {v["grade_id"]: v for v in load_verdicts(db_path, info["student"], info["assignment"])}
        for cell in nb.cells:
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if grade_id in hidden_ids:
                cell.source = "# Hidden test: its code is not shown."
                if cell.cell_type == "code":
                    cell.outputs = [new_output("stream", name="stdout", text=_verdict_text(verdicts.get(grade_id)))]
            else:
                if is_hidden_test_source(cell.source):  # a student pasted a hidden block marker
                    cell.source = "\n".join(l for l in cell.source.splitlines() if l.strip() not in lines)
                redact_outputs(cell, lines)
        return nb, resources


def _verdict_text(verdict):
    if verdict is None:
        return "Hidden test: not graded.\n"
    if verdict["passed"]:
        return f"Hidden test of {verdict['exercise']}: passed.\n"
    return f"Hidden test of {verdict['exercise']}: failed ({verdict['diagnosis']}). {verdict['message']}\n"
