"""Comparing a hand-written backward pass with autograd, one intermediate at a time (lecture 09).

Each gradient the student computed (a dict "d" + name -> array) is set beside autograd's for the same
name and gets one of four statuses:
- "exact": bit for bit the same array;
- "approximate": every entry within ``atol + rtol * |autograd|`` (float64 rounding: the two computed
  the same thing with the operations in another order), reported with the largest difference;
- "wrong": the right shape and different values, with the largest difference;
- "missing": absent, not an array, or of another shape than autograd's.
``compare_gradients`` makes the rows, ``gradient_table`` the Markdown table, ``plot_gradient_comparison``
the figure (the largest difference per intermediate on a log scale, coloured by status) and
``gradient_explorer`` a widget that shows one intermediate's arrays and their difference.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GradientMatch", "RTOL", "ATOL", "COLORS", "compare_gradients", "gradient_table",
           "plot_gradient_comparison", "gradient_explorer"]

RTOL, ATOL = 1e-7, 1e-12
COLORS = {"exact": "tab:green", "approximate": "tab:olive", "wrong": "tab:red", "missing": "tab:gray"}
_EXACT_BAR = 1e-20  # where an exact match is drawn on the log axis (its difference is 0)


@dataclass(frozen=True)
class GradientMatch:
    """One intermediate's comparison: name ("dZ1"), autograd's shape, status (see the module
    docstring), the largest |manual - autograd| (nan when missing) and the largest |autograd|."""

    name: str
    shape: tuple
    status: str
    max_difference: float
    scale: float


def compare_gradients(manual, autograd, rtol=RTOL, atol=ATOL):
    """manual, autograd: dicts name -> array (autograd's keys and order decide the rows)
    -> [GradientMatch], one per autograd key."""
    rows = []
    for name, expected in autograd.items():
        expected = np.asarray(expected, dtype=float)
        scale = float(np.max(np.abs(expected), initial=0.0))
        value = manual.get(name) if isinstance(manual, dict) else None
        if not isinstance(value, np.ndarray) or value.shape != expected.shape or value.dtype.kind not in "iuf":
            rows.append(GradientMatch(name, expected.shape, "missing", float("nan"), scale))
            continue
        value = value.astype(float)
        gap = float(np.max(np.abs(value - expected), initial=0.0)) if np.all(np.isfinite(value)) else float("inf")
        if np.array_equal(value, expected):
            status = "exact"
        elif np.allclose(value, expected, rtol=rtol, atol=atol):
            status = "approximate"
        else:
            status = "wrong"
        rows.append(GradientMatch(name, expected.shape, status, gap, scale))
    return rows


def gradient_table(matches) -> str:
    """A Markdown table: intermediate, shape, status, largest difference, largest |autograd|."""
    lines = ["| gradient | shape | matches autograd | largest difference | largest value |", "|---|---|---|---|---|"]
    for row in matches:
        gap = "" if row.status in ("missing", "exact") else f"{row.max_difference:.1e}"
        lines.append(f"| `{row.name}` | {row.shape} | {row.status} | {gap} | {row.scale:.2g} |")
    counts = {status: sum(row.status == status for row in matches) for status in COLORS}
    lines.append("")
    lines.append(", ".join(f"{count} {status}" for status, count in counts.items() if count))
    return "\n".join(lines)


def plot_gradient_comparison(matches, ax=None, title="your gradients against autograd"):
    """A horizontal bar per intermediate: its largest |manual - autograd| on a log axis (exact matches at
    the left edge, missing ones greyed out), coloured by status, with the approximate band marked. -> fig."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.22 * len(matches) + 1.2))
    names = [row.name for row in matches]
    widths = [_EXACT_BAR if row.status == "exact" else 1.0 if row.status == "missing" or
              not np.isfinite(row.max_difference) else max(row.max_difference, _EXACT_BAR) for row in matches]
    ax.barh(range(len(matches)), widths, color=[COLORS[row.status] for row in matches], left=_EXACT_BAR / 10)
    ax.set_xscale("log")
    ax.set_yticks(range(len(matches)), names, fontsize=8)
    ax.invert_yaxis()
    band = max([ATOL + RTOL * row.scale for row in matches] or [ATOL])
    ax.axvline(band, color="black", linestyle="--", linewidth=0.8)
    ax.set_xlabel("largest |yours - autograd| (log scale); dashed: the approximate band of the largest gradient")
    ax.set_title(title)
    ax.legend(handles=[Patch(color=color, label=status) for status, color in COLORS.items()], fontsize=8,
              loc="lower right")
    return ax.figure


def gradient_explorer(manual, autograd):
    """An ipywidgets view: pick an intermediate, see your array, autograd's and their difference as heatmaps
    (the status and largest difference in the title). -> the widget (make it a cell's last expression)."""
    import io

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import Image, clear_output, display

    matches = {row.name: row for row in compare_gradients(manual, autograd)}
    choice = widgets.Dropdown(options=[f"{name} ({row.status})" for name, row in matches.items()],
                              description="gradient")
    out = widgets.Output()

    def show(_=None):
        name = choice.value.split(" ")[0]
        row = matches[name]
        expected = np.atleast_2d(np.asarray(autograd[name], dtype=float))
        panels = [("autograd", expected)]
        if row.status != "missing":
            yours = np.atleast_2d(np.asarray(manual[name], dtype=float))
            panels = [("yours", yours)] + panels + [("yours - autograd", yours - expected)]
        with out:
            clear_output(wait=True)
            fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3), squeeze=False)
            for ax, (label, values) in zip(axes[0], panels):
                image = ax.imshow(values, aspect="auto", cmap="coolwarm" if label.startswith("yours -") else "viridis")
                fig.colorbar(image, ax=ax)
                ax.set_title(label, fontsize=9)
            gap = "" if row.status in ("missing", "exact") else f", largest difference {row.max_difference:.1e}"
            fig.suptitle(f"{name} {row.shape}: {row.status}{gap}", fontsize=10)
            fig.tight_layout()
            png = io.BytesIO()
            fig.savefig(png, format="png", dpi=80)   # a PNG whatever the backend (a Figure needs pyplot's inline one)
            plt.close(fig)
            display(Image(data=png.getvalue(), format="png"))

    choice.observe(show, names="value")
    show()
    return widgets.VBox([choice, out])
