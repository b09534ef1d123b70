"""Binder (repo2docker) environment in binder/: checked offline against the project's own pins.

Binder itself is out of reach from here, so these tests hold binder/ to repo2docker's rules
(requirements.txt without local entries, executable postBuild/start with shebangs) and to the
project: the same runtime dependencies as pyproject.toml, pinned to the versions installed in
the tested environment, torch as the +cpu build from PyTorch's CPU index.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
# nbgrader's instructor-side parts; students keep validate (and assignment list, harmless without an exchange).
INSTRUCTOR_LAB_PLUGINS = {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:course-list",
                          "@jupyter/nbgrader:create-assignment"}
INSTRUCTOR_SERVER_EXTENSIONS = {"nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list"}
NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"  # JupyterLab's news pop-up (and update check)
STUDENT_CONFIG = BINDER / "jupyter-student"  # what `make lab` adds to JUPYTER_CONFIG_PATH


def runtime_requirements():
    """pyproject.toml's [project] dependencies as {canonical name: Requirement}."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {canonicalize_name(r.name): r for r in map(Requirement, project["dependencies"])}


def binder_lines():
    """requirements.txt without comments and blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in (BINDER / "requirements.txt").read_text().splitlines())
    return [line for line in lines if line]


def binder_pins():
    """{canonical name: Requirement} of requirements.txt's requirement lines (options skipped)."""
    return {canonicalize_name(r.name): r for r in map(Requirement, (l for l in binder_lines() if not l.startswith("-")))}


def pinned_version(requirement):
    (spec,) = requirement.specifier
    assert spec.operator == "==", f"{requirement} is not an exact == pin"
    return spec.version


def postbuild_commands():
    """postBuild's command lines, split like the shell would (comments and `set` lines skipped)."""
    lines = (line.strip() for line in (BINDER / "postBuild").read_text().splitlines())
    return [shlex.split(line) for line in lines if line and not line.startswith(("#", "set "))]


def test_requirements_has_no_local_entries():
    """Does requirements.txt avoid editable installs and file paths, which repo2docker cannot resolve before the copy?"""
    for line in binder_lines():
        assert not line.startswith(("-e", "--editable", ".", "/", "file:")), line
        assert "@ file:" not in line and not re.match(r"^[\w.-]*/", line), line


def test_requirements_pin_every_runtime_dependency_exactly():
    """Does requirements.txt pin (==) exactly the runtime dependencies that pyproject.toml declares?"""
    pins = binder_pins()
    assert set(pins) == set(runtime_requirements())
    for requirement in pins.values():
        pinned_version(requirement)  # asserts the == form


def test_requirements_pins_satisfy_pyproject_and_match_the_tested_environment():
    """Is each pin allowed by pyproject.toml's range and equal to the version installed in the tested .venv?"""
    declared = runtime_requirements()
    for name, requirement in binder_pins().items():
        version = pinned_version(requirement)
        public_version = version.split("+", 1)[0]  # pyproject pins torch without the local +cpu label
        assert declared[name].specifier.contains(public_version, prereleases=True), (requirement, declared[name])
        assert importlib.metadata.version(name) in (version, public_version), (name, version)


def test_torch_is_the_cpu_build_from_the_cpu_index():
    """Is torch pinned as +cpu of pyproject's version, with PyTorch's CPU wheel index as an extra index?"""
    torch_version = pinned_version(binder_pins()["torch"])
    assert torch_version == pinned_version(runtime_requirements()["torch"]) + "+cpu"
    assert f"--extra-index-url {CPU_INDEX}" in binder_lines()
    assert not any(line.startswith("--index-url") for line in binder_lines()), "PyPI must stay the main index"


@pytest.mark.parametrize("script", ["postBuild", "start"])
def test_scripts_are_executable_bash_with_a_shebang(script):
    """Are postBuild and start executable, with a shebang, and valid bash?"""
    path = BINDER / script
    assert os.access(path, os.X_OK), f"chmod +x binder/{script}"
    assert path.read_text().startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n", str(path)], check=True)


def test_postbuild_installs_the_package_without_dependencies():
    """Does postBuild install the repository itself with --no-deps (requirements.txt already pinned them)?"""
    installs = [cmd for cmd in postbuild_commands() if "pip" in cmd and "install" in cmd]
    assert installs and all("--no-deps" in cmd and cmd[-1] == "." for cmd in installs), installs
    assert "set -euo pipefail" in (BINDER / "postBuild").read_text()


def postbuild_disabled():
    """({lab plugins}, {server extensions}) that postBuild disables."""
    lab = {cmd[-1] for cmd in postbuild_commands() if cmd[:3] == ["jupyter", "labextension", "disable"]}
    server = {cmd[-1] for cmd in postbuild_commands() if cmd[:4] == ["jupyter", "server", "extension", "disable"]}
    return lab, server


def test_postbuild_disables_only_the_news_and_the_instructor_side_of_nbgrader():
    """Does postBuild disable the news pop-up and formgrader, course list and create assignment (lab +
    server), and keep validate?"""
    lab, server = postbuild_disabled()
    assert lab == INSTRUCTOR_LAB_PLUGINS | {NEWS_PLUGIN}
    assert server == INSTRUCTOR_SERVER_EXTENSIONS
    assert not any("validate" in name for name in lab | server)


def test_binder_and_make_lab_give_students_the_same_jupyterlab():
    """Does postBuild disable exactly what the students' config folder of `make lab` disables, at the
    sys_prefix level that Binder's server reads?"""
    import json

    lab, server = postbuild_disabled()
    page_config = json.loads((STUDENT_CONFIG / "labconfig" / "page_config.json").read_text())
    server_config = json.loads((STUDENT_CONFIG / "jupyter_server_config.json").read_text())
    assert {name for name, off in page_config["disabledExtensions"].items() if off} == lab
    assert {name for name, on in server_config["ServerApp"]["jpserver_extensions"].items() if not on} == server
    installed = json.loads((BINDER / "jupyter_server_config.d" / "backproplab.json").read_text())
    enabled = {name for name, on in installed["ServerApp"]["jpserver_extensions"].items() if on}
    assert {name for name, on in server_config["ServerApp"]["jpserver_extensions"].items() if on} == enabled \
        == {"backproplab.kernel_polling"}
    # postBuild installs that file where Binder's server reads config (sys.prefix's jupyter_server_config.d);
    # `jupyter server extension enable` would log a failure for an extension no config file lists yet, and exit 0
    text = (BINDER / "postBuild").read_text()
    assert "install -D -m 644 binder/jupyter_server_config.d/backproplab.json" in text
    assert "print(sys.prefix)')/etc/jupyter/jupyter_server_config.d/backproplab.json" in text
    assert not any(cmd[:4] == ["jupyter", "server", "extension", "enable"] for cmd in postbuild_commands())
    assert importlib.import_module("backproplab.kernel_polling")._jupyter_server_extension_points()
    levels = {cmd[3] for cmd in postbuild_commands() if cmd[:3] == ["jupyter", "labextension", "disable"]}
    assert levels == {"--level=sys_prefix"}


def test_disabled_names_exist_in_the_installed_nbgrader():
    """Are the names postBuild disables real nbgrader 0.9.6 (and JupyterLab) plugin ids and server extension modules?"""
    bundle = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter" / "nbgrader" / "static"
    javascript = "".join(p.read_text(errors="replace") for p in bundle.glob("*.js"))
    for plugin in INSTRUCTOR_LAB_PLUGINS | {"@jupyter/nbgrader:validate-assignment"}:
        assert f'"{plugin}"' in javascript, plugin
    for module in INSTRUCTOR_SERVER_EXTENSIONS | {"nbgrader.server_extensions.validate_assignment"}:
        assert importlib.util.find_spec(module) is not None, module
    core = "".join(p.read_text(errors="replace") for p in (Path(sys.prefix) / "share" / "jupyter" / "lab" / "static")
                   .glob("jlab_core.*.js"))
    assert f'"{NEWS_PLUGIN}"' in core, NEWS_PLUGIN


def test_start_limits_threads_and_runs_the_command():
    """Does binder/start set OMP_NUM_THREADS=1 and exec the command it is given?"""
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    result = subprocess.run([str(BINDER / "start"), sys.executable, "-c",
                             "import os, sys; print(os.environ['OMP_NUM_THREADS']); sys.exit(7)"],
                            env=env, capture_output=True, text=True)
    assert result.stdout.strip() == "1"
    assert result.returncode == 7  # exec: the command's own exit code comes back
