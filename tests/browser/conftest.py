"""Fixtures for the browser tests: a real JupyterLab server and Debian's chromium via Playwright.

The server runs ``jupyter lab`` from the project's venv, rooted at a temporary copy of course/,
on a free loopback port with a random token, in its own process group (shut down by that
group's id, never by name). Chromium is Debian's /usr/bin/chromium, never a downloaded browser,
with a fresh profile. Every step of a test runs inside ``journey.step(name)``: its duration is
recorded (printed, shown in the terminal summary and appended to test-artifacts/browser-steps.txt)
and a failing step leaves a screenshot in test-artifacts/<test>-<step>.png.
"""
from __future__ import annotations

import contextlib
import shutil
import time
from pathlib import Path

import pytest

from lab_server import STUDENT_CONFIG, running_lab

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
# Offline machine: keep chromium from phoning home or waiting for the network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STEP_TIMINGS: list[tuple[str, str, float, str]] = []  # (test, step, seconds, "ok"/"FAILED")
FIXTURE_TIMINGS: list[tuple[str, float]] = []  # (what, seconds), this process only


def pytest_collection_modifyitems(config, items):
    """Skip the browser tests (with the reason) only when Debian's chromium is missing."""
    if CHROMIUM.exists():
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: run scripts/ensure-chromium "
                                   "(apt-get install chromium) to run the browser tests")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    if not STEP_TIMINGS:
        return
    terminalreporter.section("browser test steps (seconds)")
    for what, seconds in FIXTURE_TIMINGS:
        terminalreporter.write_line(f"{seconds:7.1f}  setup  {what}")
    for test, step, seconds, status in STEP_TIMINGS:
        terminalreporter.write_line(f"{seconds:7.1f}  {status:<6} {test} :: {step}")
    terminalreporter.write_line(f"{sum(s for *_, s, _ in STEP_TIMINGS):7.1f}  total of the steps")


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    """A JupyterLab server rooted at a temporary copy of course/ (what a student clones), configured
    as `make lab` configures it (the students' Jupyter config folder on JUPYTER_CONFIG_PATH)."""
    home = tmp_path_factory.mktemp("lab-home")
    root = tmp_path_factory.mktemp("lab") / "course"
    shutil.copytree(REPO / "course", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    started = time.monotonic()
    # Render every cell (no windowing), so that the tests find a cell by its position in the notebook.
    tracker = {"@jupyterlab/notebook-extension/tracker.jupyterlab-settings": '{"windowingMode": "none"}'}
    with running_lab(root, home, tracker, config_path=STUDENT_CONFIG) as server:
        FIXTURE_TIMINGS.append(("start jupyter lab", time.monotonic() - started))
        yield server


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    """A Playwright browser context in Debian's chromium with a fresh profile folder."""
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    started = time.monotonic()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(30_000)
        FIXTURE_TIMINGS.append(("start chromium", time.monotonic() - started))
        try:
            yield context
        finally:
            context.close()


class Journey:
    """Runs named steps of one test: times each, screenshots the page when a step fails.

    ``page`` is the test's first browser tab; ``new_page()`` opens another one (screenshots
    then show the tab opened last)."""

    def __init__(self, test_name: str, context, record):
        self.test_name, self.context, self.record = test_name, context, record
        self.page = self.new_page()

    def new_page(self):
        self.current = self.context.new_page()
        return self.current

    @contextlib.contextmanager
    def step(self, name: str):
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self.record(name, time.monotonic() - started, "FAILED")
            ARTIFACTS.mkdir(exist_ok=True)
            slug = "".join(c if c.isalnum() else "-" for c in f"{self.test_name}-{name}")
            page = self.current if not self.current.is_closed() else self.page
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / f"{slug}.png"))
            raise
        self.record(name, time.monotonic() - started, "ok")


def _recorder(item):
    """Return record(step, seconds, status): prints the timing now and keeps it in the item's
    user_properties, which reach the terminal summary also from pytest-xdist workers."""
    def record(step, seconds, status):
        item.user_properties.append(("browser-step", (item.name, step, round(seconds, 1), status)))
        line = f"{seconds:7.1f}s  {status:<6} {item.name} :: {step}"
        print(f"[browser] {line}", flush=True)
        # Also on disk: under `pytest -n`, this conftest's terminal summary may not run in the controller.
        ARTIFACTS.mkdir(exist_ok=True)
        with open(ARTIFACTS / "browser-steps.txt", "a", encoding="utf-8") as log:
            log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
    return record


def pytest_runtest_logreport(report):
    if report.when == "teardown":
        STEP_TIMINGS.extend(tuple(value) for key, value in report.user_properties if key == "browser-step")


@pytest.fixture
def journey(request, lab_server, browser_context):
    """The step recorder of this test, with a fresh tab in the shared browser (closed afterwards)."""
    journey = Journey(request.node.name, browser_context, _recorder(request.node))
    try:
        yield journey
    finally:
        for page in browser_context.pages:
            page.close()
