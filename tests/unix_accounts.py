"""Real Unix student accounts for the term test (tests/test_term.py): created with useradd, removed
with userdel, and a Python with nbgrader that they can run.

Students on a JupyterHub have nbgrader in their image. Here the suite's interpreter may live where
other users cannot reach it (pyenv under /root, a clone under a 0700 temporary folder), so each
term builds a small venv under its own world-readable folder: an interpreter of the same version
that every user can run, and this venv's nbgrader with its dependencies, hard-linked (copied across
file systems).

API
  can_create_accounts() -> str | None       why not (None: root, useradd and runuser are here)
  StudentAccounts(base)                    a context manager: .add(name) -> home Path; removed on exit
  student_python(folder) -> Path            a python with nbgrader that any user can run
  run_as(user, home, args, cwd=None) -> CompletedProcess   ``args`` as ``user`` with a clean environment
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
from importlib import metadata
from pathlib import Path


def can_create_accounts():
    if os.geteuid() != 0:
        return "creating Unix accounts needs root"
    missing = [tool for tool in ("useradd", "userdel", "runuser") if shutil.which(tool) is None]
    return f"missing {', '.join(missing)}" if missing else None


def run_as(user, home, args, cwd=None, timeout=120):
    """Run ``args`` as ``user`` (runuser: real uid and gids of the account) in ``cwd`` (default the
    home), with only HOME, USER, LOGNAME, PATH and LANG set, as a login would."""
    env = {"HOME": str(home), "USER": user, "LOGNAME": user, "PATH": "/usr/local/bin:/usr/bin:/bin",
           "LANG": "C.UTF-8"}
    return subprocess.run([shutil.which("runuser"), "-u", user, "--", *map(str, args)], cwd=str(cwd or home), env=env,
                          capture_output=True, text=True, timeout=timeout)


class StudentAccounts:
    """Unix accounts with private homes (0700) under ``base``/home, removed (with their homes) on exit."""

    def __init__(self, base):
        self.home_root = Path(base) / "home"
        self.names = []

    def __enter__(self):
        self.home_root.mkdir(parents=True, exist_ok=True)
        self.home_root.chmod(0o755)
        return self

    def add(self, name):
        try:
            pwd.getpwnam(name)
            raise RuntimeError(f"a Unix account {name!r} exists already: the term test will not touch it")
        except KeyError:
            pass
        home = self.home_root / name
        subprocess.run(["useradd", "--create-home", "--home-dir", str(home), "--user-group",
                        "--shell", "/usr/sbin/nologin", "-K", "HOME_MODE=0700", name],
                       check=True, capture_output=True, text=True)
        self.names.append(name)
        return home

    def __exit__(self, *exc):
        for name in self.names:
            subprocess.run(["userdel", "--remove", name], capture_output=True, text=True)
        return False


def _closure(root_name):
    """The installed distributions ``root_name`` needs, itself included, following extras
    (nbconvert needs ``bleach[css]``)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found, seen, todo = {}, set(), [(root_name, frozenset())]
    while todo:
        name, extras = todo.pop()
        if (canonicalize_name(name), extras) in seen:
            continue
        seen.add((canonicalize_name(name), extras))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency this venv does not have
        found[canonicalize_name(name)] = dist
        for requirement in map(Requirement, dist.requires or []):
            if requirement.marker is None or any(requirement.marker.evaluate({"extra": e}) for e in extras | {""}):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return list(found.values())


def _link_or_copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _shared_interpreter():
    """An interpreter of this version that every user can run: this one's, else the system's."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (Path(sys.executable).resolve(), Path("/usr/bin") / version, Path("/usr/local/bin") / version):
        if candidate.is_file() and all(os.stat(p).st_mode & 0o001 for p in (candidate, *candidate.parents)):
            return candidate
    raise RuntimeError(f"no {version} that every user can run (tried {sys.executable}, /usr/bin, /usr/local/bin)")


def student_python(folder):
    """Build ``folder`` as a venv with this venv's nbgrader and its dependencies; return its python."""
    folder = Path(folder)
    subprocess.run([str(_shared_interpreter()), "-m", "venv", "--without-pip", str(folder)], check=True)
    site = Path(sysconfig.get_paths(vars={"base": str(folder), "platbase": str(folder)})["purelib"])
    for dist in _closure("nbgrader"):
        for file in dist.files or []:
            src = Path(dist.locate_file(file)).resolve()
            if src.is_file() and not file.parts[0].startswith(".."):
                _link_or_copy(src, site / file)
    python = folder / "bin" / "python"
    # Byte-compile what the students' nbgrader commands import, once: they cannot write here.
    subprocess.run([str(python), "-c", "import nbgrader.apps, nbgrader.exchange.default, nbformat"], check=True)
    for path in (p for p in [folder, *folder.rglob("*")] if not p.is_symlink()):
        path.chmod(0o755 if path.is_dir() else 0o644 | (path.stat().st_mode & 0o111))
    return python
