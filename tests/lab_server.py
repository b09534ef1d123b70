"""A real JupyterLab server for tests (the browser tests and the authoring test).

``running_lab(root, home)`` starts ``jupyter lab`` from the project's venv rooted at ``root``,
on a free loopback port with a random token, in its own process group, with a private Jupyter
home under ``home``; it yields a ``LabServer`` and stops the group (by its id) afterwards.
``LabServer.contents(path)`` / ``save(path, model)`` use the REST contents API, the one
JupyterLab itself opens and saves files through.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# The students' Jupyter configuration (no news pop-up, no instructor parts of nbgrader): `make lab`
# adds it to Jupyter's config path, binder/postBuild applies the same to Binder's environment.
STUDENT_CONFIG = Path(__file__).resolve().parents[1] / "binder" / "jupyter-student"
SERVER_START_TIMEOUT = 90  # seconds; JupyterLab builds its page list on first start


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """A running JupyterLab: ``url(path)`` gives an authenticated address, ``root`` its folder."""

    def __init__(self, root: Path, port: int, token: str, process: subprocess.Popen, log: Path):
        self.root, self.port, self.token, self.process, self.log = root, port, token, process, log

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def url(self, path=""):
        return f"{self.base}/{path.lstrip('/')}{'&' if '?' in path else '?'}token={self.token}"

    def log_tail(self, lines=40):
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def contents(self, path):
        """The contents-API model of ``path`` (relative to root), with its content."""
        with urllib.request.urlopen(self.url(f"api/contents/{path}?content=1"), timeout=30) as response:
            return json.load(response)

    def save(self, path, model):
        """Save ``model`` (type, format, content) to ``path`` as JupyterLab's Save does (PUT)."""
        request = urllib.request.Request(self.url(f"api/contents/{path}"), method="PUT",
                                         data=json.dumps(model).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)


def _wait_until_up(server: LabServer):
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"jupyter lab did not answer within {SERVER_START_TIMEOUT}s:\n{server.log_tail()}")


def _stop(process: subprocess.Popen):
    """Stop the server's process group (the server and its kernels), by the group's id."""
    if process.poll() is not None:
        return
    pgid = os.getpgid(process.pid)
    os.killpg(pgid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(pgid, signal.SIGKILL)
        process.wait(timeout=15)


@contextlib.contextmanager
def running_lab(root: Path, home: Path, settings: dict | None = None, config_path: Path | None = None,
                command: list[str] | None = None):
    """Run ``jupyter lab`` rooted at ``root`` with a private Jupyter home under ``home``.

    ``command``: what starts JupyterLab in place of the venv's ``jupyter lab`` (it gets the same options),
    e.g. `bplab formgrader --`.

    ``settings``: {relative path under the settings folder: JSON text} written before the start.
    ``config_path``: a Jupyter config folder added to the search path after the private home
    (``JUPYTER_CONFIG_PATH``), as ``make lab`` adds the students' one (STUDENT_CONFIG).
    """
    home.mkdir(parents=True, exist_ok=True)
    port, token = _free_port(), secrets.token_hex(16)
    log = home / "jupyter-lab.log"
    env = {key: value for key, value in os.environ.items() if key != "MPLBACKEND"}  # inline plots, as for students
    env.update({
        "BPLAB_QUIET": "1", "OMP_NUM_THREADS": "1",
        # A private Jupyter home: no user settings, workspaces or runtime files leak in or out.
        "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "IPYTHONDIR": str(home / "ipython"), "MPLCONFIGDIR": str(home / "mpl")})
    env.pop("JUPYTER_CONFIG_PATH", None)
    if config_path is not None:
        env["JUPYTER_CONFIG_PATH"] = str(config_path)
    for relative, text in (settings or {}).items():
        path = home / "settings" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    jupyter = Path(sys.executable).parent / "jupyter"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            [*(command or [str(jupyter), "lab"]), "--no-browser", f"--ServerApp.token={token}", f"--port={port}",
             "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0", f"--ServerApp.root_dir={root}",
             "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers run as root
            cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    server = LabServer(root, port, token, process, log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        _stop(process)
