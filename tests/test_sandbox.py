"""The grading sandbox (backproplab/grading/sandbox/host.py) with real bubblewrap: what student code
inside it can see and do, its limits, and that it dies as one unit at the deadline."""
from __future__ import annotations

import os
import socket
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from backproplab.grading.sandbox import SandboxLimits, run_sandboxed, sandbox_problem
from backproplab.grading.sandbox.limits import HOST_UID_RANGE

REPO = Path(__file__).resolve().parents[1]
ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp"}
pytestmark = pytest.mark.slow  # real bwrap sandboxes, seconds each


def run(code, tmp_path, *, limits=None, deadline=60, max_output=1 << 20):
    """Run Python ``code`` in a new sandbox; return the SandboxRun."""
    job = tmp_path / f"job-{uuid.uuid4().hex[:6]}"
    job.mkdir()
    (job / "request.json").write_text("{}")
    return run_sandboxed([sys.executable, "-I", "-c", textwrap.dedent(code)], job_dir=job, env=ENV,
                         limits=limits or SandboxLimits(),
                         deadline=deadline, max_output=max_output)


def lines(result):
    assert result.returncode == 0, result.stderr
    return result.stdout.decode().splitlines()


def test_bwrap_runs_here():
    """Can this machine start a sandbox (make test installs bubblewrap)?"""
    assert sandbox_problem() is None


def test_identity_namespaces_and_capabilities(tmp_path):
    """Is the code nobody (65534) with no capabilities, alone in its pid namespace, on its own host?"""
    out = lines(run("""
        import os, socket
        status = open('/proc/self/status').read()
        print(os.getuid(), os.getgid())
        print([l.split()[1] for l in status.splitlines() if l.startswith('CapEff')][0])
        print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))
        print(socket.gethostname())
    """, tmp_path))
    assert out[0] == "65534 65534"
    assert int(out[1], 16) == 0
    assert max(eval(out[2])) < 10  # only the sandbox's few processes
    assert out[3] == "sandbox"


def test_host_sees_an_unprivileged_uid(tmp_path):
    """Seen from the host, do the sandbox's processes run under a uid that is not the grader's root
    (a fresh one per sandbox) or, for an unprivileged grader, the grader's own?"""
    import threading

    marker = f"bplab-uid-{uuid.uuid4().hex}"
    thread = threading.Thread(target=run, args=(f"import time\n{marker!r}\ntime.sleep(3)", tmp_path))
    thread.start()
    uids = []
    while thread.is_alive():  # the sandboxed process lives as long as the run: seen however slowly it starts
        for pid in _host_processes_with(marker):
            try:
                if not Path(f"/proc/{pid}/cmdline").read_bytes().startswith(sys.executable.encode()):
                    continue  # bwrap itself, which carries the code in its arguments
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:  # it ended between the listing and the reading
                continue
            uids.append(int(next(l for l in status.splitlines() if l.startswith("Uid:")).split()[1]))
        if uids:
            break
        threading.Event().wait(0.1)
    thread.join()
    assert uids
    if os.geteuid() == 0:
        assert all(HOST_UID_RANGE[0] <= uid < HOST_UID_RANGE[1] for uid in uids), uids
    else:
        assert set(uids) == {os.getuid()}


def test_sees_python_and_package_but_nothing_of_the_host(tmp_path):
    """Are Python and backproplab there, and the repository, solutions/ (with the answer catalogs),
    workspace, home folders and the host's other files absent?"""
    canary = tmp_path / "instructor-canary.txt"
    canary.write_text("secret")
    out = lines(run(f"""
        import os, backproplab, numpy
        print(backproplab.__file__)
        for path in [{str(REPO / 'solutions')!r}, {str(REPO / 'solutions' / '04-backprop' / 'catalog.py')!r},
                     {str(REPO / 'autograder')!r}, {str(REPO / '.git')!r},
                     {str(canary)!r}, '/home', '/root/.bash_history', '/etc/shadow', '/etc/passwd', '/var', '/srv']:
            print(path, os.path.exists(path))
        print(sorted(os.listdir('/')))
    """, tmp_path))
    assert out[0].startswith(str(REPO / "backproplab"))
    assert all(line.endswith(" False") for line in out[1:-1]), out
    assert set(eval(out[-1])) <= {"usr", "bin", "lib", "lib64", "lib32", "sbin", "etc", "root", "work", "tmp",
                                  "proc", "dev", "job", *REPO.parts[1:2], *Path(sys.base_prefix).parts[1:2]}


def test_read_only_outside_the_scratch(tmp_path):
    """Is /tmp (HOME) writable and the package, Python and /job read-only?"""
    out = lines(run(f"""
        import os, backproplab
        open('/tmp/mine.txt', 'w').write('ok'); print(open('/tmp/mine.txt').read())
        for path in [os.path.join(os.path.dirname(backproplab.__file__), 'x.py'), {sys.prefix + '/x'!r}, '/job/x', '/usr/x']:
            try:
                open(path, 'w'); print('wrote', path)
            except OSError as err:
                print('refused', err.errno)
    """, tmp_path))
    assert out[0] == "ok" and all(line.startswith("refused") for line in out[1:]), out


def test_no_network_not_even_the_hosts_loopback(tmp_path):
    """Does a connection to a listener on the host's 127.0.0.1 fail, and no external name resolve?"""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    out = lines(run(f"""
        import socket
        for target in [('127.0.0.1', {port}), ('10.0.0.1', 80)]:
            s = socket.socket(); s.settimeout(2)
            try:
                s.connect(target); print('connected')
            except OSError as err:
                print('refused')
        try:
            socket.getaddrinfo('pypi.org', 443); print('resolved')
        except OSError:
            print('no dns')
    """, tmp_path))
    assert out == ["refused", "refused", "no dns"]
    with pytest.raises(socket.timeout):
        listener.accept()
    listener.close()


def test_memory_file_size_scratch_and_process_limits(tmp_path):
    """Do the memory, file-size, scratch-size and process limits refuse a bomb of each kind?"""
    limits = SandboxLimits(memory_mb=512, file_size_mb=4, scratch_mb=8, processes=16)
    out = lines(run("""
        import os, errno
        try:
            bytearray(1 << 30); print('allocated')
        except MemoryError:
            print('memory refused')
        try:
            open('/tmp/big', 'wb').write(b'x' * (6 << 20)); print('wrote big')
        except OSError as err:
            print('file size refused')
        os.remove('/tmp/big') if os.path.exists('/tmp/big') else None
        try:
            for i in range(4):
                open(f'/tmp/part{i}', 'wb').write(b'x' * (3 << 20))
            print('filled')
        except OSError as err:
            print('scratch refused', err.errno == errno.ENOSPC)
        children = 0
        try:
            for _ in range(64):
                pid = os.fork()
                if pid == 0:
                    import time; time.sleep(30); os._exit(0)
                children += 1
            print('forked', children)
        except OSError:
            print('fork refused after', children)
    """, tmp_path, limits=limits, deadline=60))
    assert out[0] == "memory refused" and out[1] == "file size refused" and out[2] == "scratch refused True"
    assert out[3].startswith("fork refused after") and int(out[3].split()[-1]) < 16


def _host_processes_with(marker):
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found


def test_deadline_kills_the_whole_sandbox_orphans_included(tmp_path):
    """At the deadline, is the sandbox killed with every process it started, even a double-forked,
    setsid'd one that ignores signals and holds stdout open?"""
    marker = f"bplab-orphan-{uuid.uuid4().hex}"
    result = run(f"""
        import os, signal, subprocess, time
        subprocess.Popen(['/bin/sh', '-c', 'trap "" HUP INT TERM; exec -a {marker} sleep 1000'], start_new_session=True)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print('started', flush=True)
        while True:
            time.sleep(1)
    """, tmp_path, deadline=10)  # room for a slow start on a busy machine; the sleeper never ends by itself
    assert result.timed_out and result.stdout.startswith(b"started") and result.seconds < 40
    assert _host_processes_with(marker) == []


def test_output_cap_stops_a_flood(tmp_path):
    """Is a sandbox that floods its stdout stopped at the cap, with the output truncated?"""
    result = run("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", tmp_path, max_output=1 << 20)
    assert result.output_capped and len(result.stdout) == 1 << 20


def test_missing_bwrap_names_the_fix(monkeypatch):
    """Without bwrap on the PATH, does the probe say so and name bubblewrap and --no-sandbox?"""
    monkeypatch.setenv("PATH", "/nonexistent")
    sandbox_problem.cache_clear()
    try:
        problem = sandbox_problem()
    finally:
        sandbox_problem.cache_clear()
    assert "bwrap was not found" in problem and "bubblewrap" in problem and "--no-sandbox" in problem
