"""Showing a Verdict: HTML (+ a figure of the mistake's pattern) in Jupyter, text elsewhere.

Under a failed matrix the figure is chosen per verdict (``pattern_of``): the ratio map
student / expected when the ratio is the same in every entry (a missing 1/m reads
"student / expected: 8.00 everywhere"), else the heatmap of student - expected (a transpose
of a square matrix, a wrong formula), with the ratio map beside it when the ratio holds in
most entries only.

Every check also publishes ``application/vnd.backproplab.check+json`` display data
({"exercise", "hidden", "passed", "diagnosis", "message", "seed", "outputs"}), which the
``bplab check`` CLI reads from executed notebooks.
"""
from __future__ import annotations

import base64
import html
import io

import numpy as np

from .compare import ratio_map

__all__ = ["MIME_TYPE", "show", "in_jupyter", "heatmap_png", "pattern_of", "factor_text", "render_text",
           "render_html"]

MIME_TYPE = "application/vnd.backproplab.check+json"


def in_jupyter() -> bool:
    """True inside an IPython kernel (a notebook), False in a terminal or plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def heatmap_png(difference, title="student - expected", ratio=None, ratio_title=None) -> bytes:
    """A small PNG: the heatmap of a (rows, cols) difference matrix, and/or a ratio map.

    difference: student - expected, drawn with ``backproplab.plots.plot_heatmap`` (None: no panel);
    ratio: a ``compare.RatioMap`` drawn beside it (or alone), titled ``ratio_title``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from ..plots import plot_heatmap

    panels = [p for p in (difference, None if ratio is None else ratio.ratio) if p is not None]
    rows, cols = np.atleast_2d(panels[0]).shape
    width, height = min(1.6 + 0.45 * cols, 6.5), min(1.2 + 0.45 * rows, 4.5)
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
    axes = list(axes[0])
    if difference is not None:
        plot_heatmap(difference, ax=axes.pop(0), title=title)
    if ratio is not None:
        _ratio_panel(axes.pop(0), ratio, ratio_title or "student / expected")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _ratio_panel(ax, ratio, title):
    """student / expected as coloured cells, white at 1 (right), grey where the expected entry is ~0."""
    import matplotlib

    from ..plots import DIVERGING_CMAP

    values = np.atleast_2d(ratio.ratio)
    finite = values[np.isfinite(values)]
    if ratio.constant:
        low, high = float(finite.min()), float(finite.max())
    else:  # a few entries with a tiny expected value must not wash out the colours of the rest
        low, high = (float(q) for q in np.percentile(finite, [2.5, 97.5]))
    margin = 0.05 * max(high - 1.0, 1.0 - low, 1e-3)
    norm = matplotlib.colors.TwoSlopeNorm(vcenter=1.0, vmin=min(low, 1.0 - margin), vmax=max(high, 1.0 + margin))
    cmap = matplotlib.colormaps[DIVERGING_CMAP].with_extremes(bad="#d0d0d0")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, norm=norm, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    if values.size <= 64:
        for (i, j), value in np.ndenumerate(values):
            shade = float(norm(value)) if np.isfinite(value) else 0.5
            ax.text(j, i, f"{value:.3g}" if np.isfinite(value) else "-", ha="center", va="center",
                    fontsize="x-small", color="white" if abs(shade - 0.5) > 0.3 else "black")
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.set_xlabel(f"column (of {values.shape[1]})")
    ax.set_ylabel(f"row (of {values.shape[0]})")
    if len(title) > 34 and ": " in title:  # e.g. "student / expected:\n8.00 in 14 of 15 entries"
        title = title.replace(": ", ":\n", 1)
    ax.set_title(title, fontsize=10)


def factor_text(k: float) -> str:
    """A ratio for people: 8.00; 0.143 = 1/7.00; -1.00."""
    if 0 < abs(k) < 1:
        return f"{k:.3g} = 1/{1 / k:.2f}"
    return f"{k:.2f}"


def pattern_of(result) -> dict | None:
    """What shows a failed verdict's mistake best, decided from its numbers, or None (no matrix).

    {"show": "ratio" | "difference+ratio" | "difference", "ratio": RatioMap | None, "title": the ratio
    panel's title, "caption": the words above the figure}. A ratio that is the same in every entry
    ("scaled by k": a missing or extra 1/m, a flipped sign) is shown alone, since student - expected then
    only repeats the random inputs; a ratio that holds in most entries but not all is shown beside the
    difference (which entries break it); anything else (a transpose of a square matrix, a wrong formula)
    reads best as the difference alone.
    """
    difference = getattr(result, "difference", None)
    if result.passed or difference is None:
        return None
    expected = getattr(result, "expected", None)
    ratio = None
    if expected is not None and np.shape(expected) == np.shape(difference):
        ratio = ratio_map(np.asarray(expected) + difference, expected)
    # a factor other than 1 (the right value) and 0 (nothing computed: the difference says more)
    scaled = ratio is not None and abs(ratio.median - 1.0) > 1e-3 and abs(ratio.median) > 1e-3
    if scaled and ratio.constant:
        factor = factor_text(ratio.median)
        return {"show": "ratio", "ratio": ratio, "title": f"student / expected: {factor} everywhere",
                "caption": (f"Your result is {factor} times the expected one in every entry (student / expected"
                            f"{'; grey: the expected entry is 0' if ratio.counted < ratio.ratio.size else ''}):")}
    if scaled and 2 * ratio.matching >= ratio.counted:
        factor = factor_text(ratio.median)
        where = ("wherever expected is not 0" if ratio.matching == ratio.counted else
                 f"in {ratio.matching} of {ratio.counted} entries")
        return {"show": "difference+ratio", "ratio": ratio, "title": f"student / expected: {factor} {where}",
                "caption": (f"Where your result differs (student &minus; expected), and student / expected, "
                            f"which is {factor} {where}:")}
    return {"show": "difference", "ratio": None, "title": "",
            "caption": "Where your result differs (student &minus; expected):"}


def render_text(result) -> str:
    if result.passed:
        return f"PASSED: {result.message}"
    return f"FAILED [{result.diagnosis}]: {result.message}"


def _rungs_on_lines(text: str) -> str:
    """An escaped message with each rung of its hint ladder (checks/hints.py) on a line of its own."""
    for label in ("Hint:", "Step:", "Formula:"):
        text = text.replace(f" {label} ", f"<br><b>{label}</b> ", 1)
    return text


def render_html(result) -> str:
    color = "#1a7f37" if result.passed else "#b42318"
    label = "Passed" if result.passed else f"Not yet &mdash; {html.escape(result.diagnosis or '')}"
    body = (f'<div style="border-left:4px solid {color};padding:4px 10px">'
            f'<b style="color:{color}">{label}</b><br>{_rungs_on_lines(html.escape(result.message))}')
    try:
        pattern = pattern_of(result)
        if pattern is not None:
            difference = None if pattern["show"] == "ratio" else result.difference
            png = base64.b64encode(heatmap_png(difference, ratio=pattern["ratio"],
                                               ratio_title=pattern["title"])).decode("ascii")
            body += (f'<br><small>{pattern["caption"]}</small><br>'
                     f'<img src="data:image/png;base64,{png}" alt="{html.escape(pattern["title"] or "student - expected")}">')
    except Exception:  # a figure problem must never hide the verdict
        pass
    return body + "</div>"


def show(result) -> None:
    """Display a result: rich display data in Jupyter, a printed line elsewhere."""
    if in_jupyter():
        from IPython.display import display

        display({MIME_TYPE: result.to_json(), "text/html": render_html(result), "text/plain": render_text(result)},
                raw=True)
    else:
        print(render_text(result))
