"""The `bplab` command line: release, check, grade, feedback, export, report, demo.

Exit codes: 0 success (a graded batch counts as success even if students failed),
1 internal failure (or, for `release --check` and `check`, "not clean"/"a check failed"),
2 usage errors.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_release(args):
    from .grading.release import ReleaseError, find_root, release
    root = Path(args.root) if args.root else find_root()
    try:
        result = release(root, args.lectures or None, check=args.check)
    except ReleaseError as err:
        print(f"bplab release: {err}", file=sys.stderr)
        return 2 if "no lecture" in str(err) else 1
    if args.check:
        if result.stale:
            print("bplab release --check: stale files (run `bplab release`):")
            for line in result.stale:
                print(f"  {line}")
            return 1
        print("bplab release --check: course/ and solutions/ are up to date")
        return 0
    for path in result.written:
        print(f"wrote {path}")
    for path in result.removed:
        print(f"removed {path}")
    if not result.written and not result.removed:
        print("bplab release: nothing to do, course/ is up to date")
    return 0


def build_parser():
    """Return the argparse parser of `bplab` (one sub-command per instructor/student task)."""
    parser = argparse.ArgumentParser(prog="bplab", description="Backprop Lab: release, check and grade the lecture notebooks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("release", help="regenerate course/ from solutions/ with nbgrader",
                       description="Regenerate course/NN-topic/topic.ipynb from solutions/ with nbgrader "
                                   "generate_assignment, and strip outputs from solutions/.")
    p.add_argument("lectures", nargs="*", metavar="LECTURE", help="lecture ids (default: every folder in solutions/)")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 naming stale files")
    p.add_argument("--root", help="repository root (default: found from the current folder)")
    p.set_defaults(func=_cmd_release)
    return parser


def main(argv=None):
    """Run `bplab` with ``argv`` (default: sys.argv[1:]) and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits 2 on usage errors
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
