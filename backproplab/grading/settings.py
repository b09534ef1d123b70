"""Every setting of how a batch grades, declared once (``SETTINGS``): its type, default and help, the
preprocessor whose trait it is, whether a course sets it in nbgrader_config.py and the `bplab grade` flag
that overrides it.

From the declaration derive: ``GradingSettings`` (what each task carries, one field per setting), the
traitlets traits of ``SandboxedExecute`` and ``JudgeOutcomes`` (``trait``), the course's own values and
their checks (``course_settings``), and the flags of `bplab grade` with their help and defaults (``add_flags``,
``flag_values``). The kernel's resource defaults come from the sandbox's declaration (sandbox/limits.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field, make_dataclass

from ..checks.hints import RUNGS
from .sandbox.limits import CELL_TIMEOUT, SandboxLimits


@dataclass(frozen=True)
class Setting:
    """One grading setting. ``owner``: the preprocessor whose trait it is (``c.<owner>.<name>``), None when
    it is none's; ``course``: a course may set it in nbgrader_config.py; ``flag``: the `bplab grade` option
    that overrides it (a bool's flag sets the opposite of the default); ``low``/``high``: an int's bounds."""
    name: str
    type: type
    default: object
    help: str
    owner: str | None = None
    course: bool = False
    flag: str | None = None
    low: int = 1
    high: int | None = None


SETTINGS = (
    Setting("cell_timeout", int, CELL_TIMEOUT, "seconds per cell in the student's kernel",
            owner="SandboxedExecute", course=True, flag="--cell-timeout"),
    Setting("memory_mb", int, SandboxLimits.memory_mb, "MB of address space per process of the student's kernel",
            owner="SandboxedExecute", course=True),
    Setting("cpu_seconds", int, SandboxLimits.cpu_seconds,
            "CPU seconds the student's kernel may use in all, then it is killed",
            owner="SandboxedExecute", course=True, flag="--kernel-cpu-seconds"),
    Setting("sandboxed", bool, True, "grade in bubblewrap; --no-sandbox grades without it (unsafe: every result is "
            "flagged unsandboxed)", owner="SandboxedExecute", flag="--no-sandbox"),
    Setting("credit_dependents", bool, True, "an exercise that is right given correct helpers keeps its points when "
            "a helper it calls is wrong", owner="JudgeOutcomes", course=True),
    Setting("hint_rung", int, 1, "the last rung of the hint ladder that a failed test's feedback shows (1: the nudge; "
            f"{RUNGS}: up to the formula)", owner="JudgeOutcomes", course=True, high=RUNGS),
    Setting("late_policy", str, "{}", "nbgrader's late-penalty sections of nbgrader_config.py, JSON "
            "(Workspace.late_policy)"),
)

GradingSettings = make_dataclass(
    "GradingSettings", [(s.name, s.type, field(default=s.default)) for s in SETTINGS], frozen=True,
    namespace={"__doc__": "How a batch grades (the same for every task): one field per setting of SETTINGS."})
GradingSettings.__module__ = __name__  # pickled by reference to cross Dask (make_dataclass names no module before 3.12)


class SettingsError(ValueError):
    """A grading setting of the workspace's nbgrader_config.py that bplab grade cannot honour."""


def trait(name):
    """The traitlets trait (configurable) of the setting ``name``, for its owner's class body."""
    from traitlets import Bool, Int, Unicode

    setting = next(s for s in SETTINGS if s.name == name)
    if setting.type is int:
        return Int(setting.default, min=setting.low, max=setting.high, help=setting.help).tag(config=True)
    return {bool: Bool, str: Unicode}[setting.type](setting.default, help=setting.help).tag(config=True)


def _checked(setting, value):
    """``value`` of the course's nbgrader_config.py for ``setting``, or SettingsError naming the line."""
    line = f"c.{setting.owner}.{setting.name}"
    if setting.type is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"nbgrader_config.py: {line} must be True or False, not {value!r}")
    elif not isinstance(value, int) or isinstance(value, bool) or value < setting.low or \
            (setting.high is not None and value > setting.high):
        allowed = "a positive whole number" if setting.high is None else \
            f"a whole number from {setting.low} to {setting.high} ({setting.help})"
        raise SettingsError(f"nbgrader_config.py: {line} must be {allowed}, not {value!r}")
    return value


def course_settings(workspace, **overrides) -> GradingSettings:
    """GradingSettings of the workspace's nbgrader_config.py (each course setting of SETTINGS, its late policy) and
    ``overrides`` ({name: value}; a value given here wins, None means the course's or the default). A line of an
    owner's section that is no course setting raises SettingsError: bplab grade sets it per task."""
    config = workspace.config()
    chosen = {"late_policy": workspace.late_policy()}
    for owner in sorted({s.owner for s in SETTINGS if s.owner}):
        section = dict(config[owner]) if owner in config else {}
        allowed = {s.name: s for s in SETTINGS if s.owner == owner and s.course}
        unknown = sorted(set(section) - set(allowed))
        if unknown:
            raise SettingsError(f"nbgrader_config.py sets c.{owner}.{f', c.{owner}.'.join(unknown)}, which bplab grade "
                                f"sets itself per submission; a course may set only {', '.join(sorted(allowed))}. "
                                f"Remove the line(s).")
        chosen.update({name: _checked(allowed[name], value) for name, value in section.items()})
    chosen.update({name: value for name, value in overrides.items() if value is not None})
    return GradingSettings(**chosen)


def add_flags(parser):
    """Add to the argparse ``parser`` (`bplab grade`) the flag of each setting that has one."""
    for s in SETTINGS:
        if s.flag is None:
            continue
        if s.type is bool:
            parser.add_argument(s.flag, dest=s.name, action="store_const", const=not s.default, default=None,
                                help=s.help)
        else:
            where = f"c.{s.owner}.{s.name} of nbgrader_config.py, else " if s.course else ""
            parser.add_argument(s.flag, dest=s.name, type=s.type, default=None,
                                help=f"{s.help} (default: {where}{s.default})")


def flag_values(args) -> dict:
    """{name: value} of the settings whose flags ``args`` (parsed by a parser given ``add_flags``) holds, None when
    not given: ``course_settings``'s overrides."""
    return {s.name: getattr(args, s.name) for s in SETTINGS if s.flag is not None}
