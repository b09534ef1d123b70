"""The `bplab-sandbox` kernel: ipykernel started under limits, for a student's submission.

``python -I -m backproplab.grading.sandbox_kernel [--memory-mb N] [--cpu-seconds S]
[--hide PATH]... [--keep PATH] -f CONNECTION_FILE``

Before ipykernel starts, the launcher
- sets resource limits: address space (RLIMIT_AS), CPU time (RLIMIT_CPU: the kernel is killed
  when it has used it up, even if it ignores SIGINT), file size, no core dumps;
- scrubs the environment down to a few harmless variables (no tokens or paths of the host);
- hides ``--hide`` paths (the instructor's gradebook, solutions/, .git, other students' folders)
  behind empty mounts in a private mount namespace (Linux user namespaces); ``--keep`` is a
  folder inside a hidden one that stays visible (the student's own course directory).
  The namespace is entered twice so that the student's code cannot unmount the masks. Where
  namespaces are unavailable the kernel still runs, and the scores are unaffected (they are
  decided outside the kernel); only the hiding is lost, and that is printed to the log.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import resource
import sys

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_RDONLY, _MS_BIND, _MS_REC, _MS_PRIVATE = 1, 4096, 16384, 1 << 18
_KEPT_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "VIRTUAL_ENV", "TMPDIR", "BPLAB_SEED")


def apply_limits(memory_mb, cpu_seconds):
    """Set the kernel's resource limits (memory_mb, cpu_seconds: int; 0 = leave as is)."""
    if memory_mb:
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
    if cpu_seconds:
        # soft limit sends SIGXCPU, hard limit SIGKILL a few seconds later
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 << 20, 256 << 20))


def scrub_environment(home):
    """Replace os.environ by a minimal one (str ``home`` becomes HOME and the IPython dir)."""
    kept = {k: os.environ[k] for k in _KEPT_ENV if k in os.environ}
    os.environ.clear()
    os.environ.update(kept)
    os.environ.update({"HOME": home, "IPYTHONDIR": os.path.join(home, ".ipython"), "MPLBACKEND": "Agg",
                       "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONNOUSERSITE": "1",
                       "NBGRADER_EXECUTION": "autograde"})


def _libc():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    return libc


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _enter_user_and_mount_namespace(libc):
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS), "unshare")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")


def hide_paths(hidden, keep=None):
    """Mask each path in ``hidden`` (list of str) for this process and its children.

    Folders become empty read-only tmpfs, files become /dev/null; ``keep`` (a folder inside one
    of the hidden folders) is bound back in. Raises OSError when namespaces are unavailable.
    """
    libc = _libc()
    _enter_user_and_mount_namespace(libc)
    _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "make / private")
    # opened inside the new namespace, so that it can be bound back in after masking
    keep_fd = os.open(keep, os.O_PATH) if keep else None
    for path in hidden:
        if not os.path.exists(path):
            continue
        if os.path.isdir(path):
            _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs", 0, b"size=64k,mode=755"), f"mask {path}")
            if keep and keep.startswith(path.rstrip("/") + "/"):
                inner = os.path.join(path, os.path.relpath(keep, path))
                os.makedirs(inner, exist_ok=True)
                _check(libc.mount(f"/proc/self/fd/{keep_fd}".encode(), inner.encode(), None,
                                  _MS_BIND | _MS_REC, None), f"keep {keep}")
        else:
            _check(libc.mount(b"/dev/null", path.encode(), None, _MS_BIND, None), f"mask {path}")
    if keep_fd is not None:
        os.close(keep_fd)
    # A second, nested namespace locks the masks: its owner cannot unmount them.
    _enter_user_and_mount_namespace(libc)


def main(argv=None):
    """Apply the sandbox, then run ipykernel with the remaining arguments (``-f CONNECTION_FILE``)."""
    parser = argparse.ArgumentParser(prog="bplab-sandbox-kernel")
    parser.add_argument("--memory-mb", type=int, default=0)
    parser.add_argument("--cpu-seconds", type=int, default=0)
    parser.add_argument("--hide", action="append", default=[])
    parser.add_argument("--keep")
    args, kernel_args = parser.parse_known_args(argv)
    home = os.getcwd()
    if args.hide:
        try:
            hide_paths([os.path.abspath(p) for p in args.hide], args.keep and os.path.abspath(args.keep))
        except OSError as err:
            print(f"bplab-sandbox: paths not hidden ({err})", file=sys.stderr)
    os.chdir(home)
    scrub_environment(home)
    apply_limits(args.memory_mb, args.cpu_seconds)
    from ipykernel.kernelapp import launch_new_instance
    sys.argv = ["bplab-sandbox-kernel", *kernel_args]
    launch_new_instance()


if __name__ == "__main__":
    main()
