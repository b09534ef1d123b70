"""A new student's first session, in JupyterLab in a real browser (Debian's chromium).

Open lecture 04 in JupyterLab as `make lab` configures it (no news pop-up, none of nbgrader's
instructor tools), run everything, fix ``dense_backward`` (first right, then with the classic
missing 1/m, whose feedback shows student / expected = m everywhere), play with lecture 03's
activation explorer, and press nbgrader's Validate button.
The answers typed in come from the instructor's answer catalog, so they stay in step with the
checks. Fixtures (server, browser, step timing and failure screenshots): conftest.py here.
"""
from __future__ import annotations

import re
import uuid

import nbformat
import pytest

from catalog_helpers import catalog

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KERNEL_TIMEOUT = 120_000  # ms a cell may take on a busy 2-core machine
VALIDATE_TIMEOUT = 180_000  # ms: nbgrader runs the whole notebook in a fresh kernel on the server


def cell_index(notebook_path, predicate):
    """Return the position of the first cell of the notebook file for which predicate(cell) holds."""
    nb = nbformat.read(str(notebook_path), as_version=4)
    for index, cell in enumerate(nb.cells):
        if predicate(cell):
            return index
    raise LookupError(f"no such cell in {notebook_path}")


def grade_id_index(notebook_path, grade_id):
    return cell_index(notebook_path, lambda c: c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def first_test_index(notebook_path):
    """Position of the first graded code cell: the first exercise's visible test, where Run All stops."""
    return cell_index(notebook_path, lambda c: c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade"))


def open_notebook(page, server, relative_path):
    """Open a notebook in a fresh JupyterLab workspace; wait until every cell is shown and the kernel is idle.

    Returns the locator of the notebook's cells (in notebook order)."""
    expected_cells = len(nbformat.read(str(server.root / relative_path), as_version=4).cells)
    page.goto(server.url(f"lab/workspaces/journey-{uuid.uuid4().hex[:8]}/tree/{relative_path}"))
    cells = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")
    cells.first.wait_for()
    page.wait_for_function(f"document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell').length >= {expected_cells}")
    wait_for_idle_kernel(page)
    return cells


def wait_for_idle_kernel(page):
    page.locator('.jp-Notebook-ExecutionIndicator[data-status="idle"]').first.wait_for(timeout=KERNEL_TIMEOUT)


def run_all_cells(page):
    """Run All; on a loaded machine a Run All sent while the kernel is still connecting can be
    dropped (every prompt stays "[ ]"), so it is sent again once if no cell started."""
    started = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputPrompt:text-matches('\\[(\\*|\\d+)\\]')"
    for attempt in range(2):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.locator(started).first.wait_for(timeout=KERNEL_TIMEOUT // 2)
            return
        except Exception:
            if attempt:
                raise


def replace_cell_source(page, cell, source):
    """Type ``source`` into a code cell's CodeMirror editor, replacing what was there."""
    cell.scroll_into_view_if_needed()
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    # insert_text adds the text in one piece: no key events, so no auto-indent or bracket closing.
    page.keyboard.insert_text(source)
    first_line = source.strip().splitlines()[0]
    assert first_line in cell.locator(".cm-content").inner_text()


def run_cell_and_next(page):
    """Shift+Enter twice: run the edited cell, then the (test) cell below it."""
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")


def verdict(cell, pattern, timeout=KERNEL_TIMEOUT):
    """Wait until the cell's output shows the check's verdict matching ``pattern``; return the output locator."""
    output = cell.locator(".jp-OutputArea-output").filter(has_text=re.compile(pattern)).first
    output.wait_for(timeout=timeout)
    return output


NEWS_POPUP = "official Jupyter news"  # JupyterLab's "Would you like to get notified about official Jupyter news?"
INSTRUCTOR_ENTRIES = ("Formgrader", "Course List", "Create assignment")


def assert_student_lab(page):
    """No news pop-up and no nbgrader instructor tool: neither the Create Assignment side panel nor
    Formgrader / Course List / Create assignment in the Nbgrader menu, which keeps Assignment List."""
    assert page.get_by_text(NEWS_POPUP).count() == 0, "JupyterLab's news pop-up is shown"
    assert page.locator("#nbgrader-create_assignemnt").count() == 0  # (sic) nbgrader's id for the panel
    assert page.locator(".jp-SideBar .lm-TabBar-tab").filter(has_text=re.compile("Create Assignment", re.I)).count() == 0
    page.get_by_role("menuitem", name="Nbgrader", exact=True).click()
    menu = page.locator("#jp-mainmenu-nbgrader")
    menu.get_by_text("Assignment List").wait_for()
    entries = [text.strip() for text in menu.locator(".lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel").all_inner_texts()]
    page.keyboard.press("Escape")
    menu.wait_for(state="detached")
    assert "Assignment List" in entries and not set(INSTRUCTOR_ENTRIES) & set(entries), entries


def test_student_journey(lab_server, journey):
    """Does JupyterLab give a new student the checks' feedback, a live explorer widget and Validate's report?"""
    page = journey.page
    backprop = lab_server.root / "04-backprop/backprop.ipynb"
    activations = lab_server.root / "03-activations/activations.ipynb"
    answers = catalog("04-backprop")
    correct = answers.ANSWERS["dense_backward"]
    missing_mean = next(v for v in answers.VARIANTS
                        if v.exercise == "dense_backward" and v.expected_diagnosis == "missing-mean")
    dense_answer = grade_id_index(backprop, "dense_backward")
    dense_test = grade_id_index(backprop, "test_dense_backward")
    assert dense_test == dense_answer + 1, "the test cell must follow its answer cell"
    explorer = cell_index(activations, lambda c: c.cell_type == "code" and "widgets.interactive(" in c.source
                          and 'description="z"' in c.source)

    with journey.step("1 open 04-backprop and run all cells"):
        cells = open_notebook(page, lab_server, "04-backprop/backprop.ipynb")
        run_all_cells(page)
        # Run All stops at the first failing cell: the first exercise's visible test.
        feedback = verdict(cells.nth(first_test_index(backprop)), r"Not yet\W+not-implemented")
        assert "is not implemented yet" in feedback.inner_text()
        wait_for_idle_kernel(page)

    with journey.step("1b no news pop-up and no instructor tools"):
        assert_student_lab(page)

    with journey.step("2 type a correct dense_backward"):
        replace_cell_source(page, cells.nth(dense_answer), correct)
        run_cell_and_next(page)
        passed = verdict(cells.nth(dense_test), r"^\s*Passed")
        assert "dense_backward" in passed.inner_text()
        assert cells.nth(dense_test).locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0

    with journey.step("3 type dense_backward without the 1/m"):
        replace_cell_source(page, cells.nth(dense_answer), missing_mean.source)
        run_cell_and_next(page)
        failed = verdict(cells.nth(dense_test), r"Not yet\W+missing-mean")
        # The first rung names what was observed and nudges; it never states the formula (the hint ladder).
        assert "Hint:" in failed.inner_text() and "1/m" not in failed.inner_text()
        m = int(re.search(r"m = (\d+) times", failed.inner_text()).group(1))
        assert f"Your result is {m:.2f} times the expected one in every entry" in failed.inner_text()
        ratio_map = failed.locator("img").first
        ratio_map.wait_for()
        assert ratio_map.get_attribute("alt") == f"student / expected: {m:.2f} everywhere"
        assert ratio_map.get_attribute("src").startswith("data:image/png;base64,")
        assert ratio_map.evaluate("img => img.complete && img.naturalWidth > 0")
        wait_for_idle_kernel(page)

    # Step 4 in a second browser tab, as a student would: lecture 04 stays open for step 5.
    with journey.step("4 move the z slider of lecture 03's explorer"):
        tab = journey.new_page()
        cells_03 = open_notebook(tab, lab_server, "03-activations/activations.ipynb")
        run_all_cells(tab)  # runs the setup cells, stops at the first unfinished exercise
        verdict(cells_03.nth(first_test_index(activations)), r"Not yet\W+not-implemented")
        wait_for_idle_kernel(tab)
        cell = cells_03.nth(explorer)
        cell.scroll_into_view_if_needed()
        cell.locator(".jp-InputArea-editor").click()
        tab.keyboard.press("Shift+Enter")
        slider = cell.locator(".widget-slider").filter(has=tab.locator(".widget-label", has_text=re.compile(r"^z$")))
        slider.wait_for(timeout=KERNEL_TIMEOUT)
        plot = cell.locator(".widget-output img").first
        plot.wait_for(timeout=KERNEL_TIMEOUT)
        plot_before = plot.get_attribute("src")
        readout = slider.locator(".widget-readout")
        readout_before = readout.inner_text()
        # The readout is editable: typing a value moves the slider as dragging its handle would.
        readout.click()
        tab.keyboard.press("Control+A")
        tab.keyboard.insert_text("2.5")
        tab.keyboard.press("Enter")
        tab.wait_for_function("([node, before]) => { const img = node.querySelector('.widget-output img');"
                              " return img !== null && img.src !== before && img.complete && img.naturalWidth > 0; }",
                              arg=[cell.element_handle(), plot_before], timeout=KERNEL_TIMEOUT)
        assert float(readout.inner_text()) == pytest.approx(2.5)
        assert readout.inner_text() != readout_before
        tab.close()

    with journey.step("5 press Validate on lecture 04"):
        page.bring_to_front()
        page.locator(".jp-NotebookPanel-toolbar .validate-button").first.click()
        dialog = page.locator(".jp-Dialog").filter(has_text="Validation Results")
        dialog.wait_for(timeout=VALIDATE_TIMEOUT)
        message = dialog.locator("#validation-message")
        # Unfinished exercises and the missing 1/m fail: Validate must name the dense_backward test among them.
        assert "validation-failed" in message.get_attribute("class")
        assert 'check("dense_backward", dense_backward)' in message.inner_text()
        dialog.get_by_role("button", name=re.compile("ok", re.I)).click()
        dialog.wait_for(state="detached")
        assert page.get_by_text(NEWS_POPUP).count() == 0  # not later either
