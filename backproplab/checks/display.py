"""Showing a Verdict: HTML (+ a heatmap of student - expected) in Jupyter, text elsewhere.

Every check also publishes ``application/vnd.backproplab.check+json`` display data
({"exercise", "hidden", "passed", "diagnosis", "message", "seed", "outputs"}), which the
``bplab check`` CLI reads from executed notebooks.
"""
from __future__ import annotations

import base64
import html
import io

__all__ = ["MIME_TYPE", "show", "in_jupyter", "heatmap_png", "render_text", "render_html"]

MIME_TYPE = "application/vnd.backproplab.check+json"


def in_jupyter() -> bool:
    """True inside an IPython kernel (a notebook), False in a terminal or plain Python."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def heatmap_png(difference, title="student - expected") -> bytes:
    """A small PNG heatmap of a (rows, cols) difference matrix.

    Uses ``backproplab.plots.plot_heatmap`` when it exists, else a minimal matplotlib figure.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    try:
        from ..plots import plot_heatmap
    except ImportError:
        plot_heatmap = None
    if plot_heatmap is not None:
        result = plot_heatmap(difference, title=title)
        fig = getattr(result, "figure", result)
    else:
        rows, cols = difference.shape
        fig, ax = plt.subplots(figsize=(min(1 + 0.4 * cols, 6), min(0.8 + 0.4 * rows, 4)))
        limit = float(abs(difference).max()) or 1.0
        image = ax.imshow(difference, cmap="RdBu_r", vmin=-limit, vmax=limit)
        fig.colorbar(image, ax=ax)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("column")
        ax.set_ylabel("row")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def render_text(result) -> str:
    if result.passed:
        return f"PASSED: {result.message}"
    return f"FAILED [{result.diagnosis}]: {result.message}"


def render_html(result) -> str:
    color = "#1a7f37" if result.passed else "#b42318"
    label = "Passed" if result.passed else f"Not yet &mdash; {html.escape(result.diagnosis or '')}"
    body = (f'<div style="border-left:4px solid {color};padding:4px 10px">'
            f'<b style="color:{color}">{label}</b><br>{html.escape(result.message)}')
    if not result.passed and result.difference is not None:
        try:
            png = base64.b64encode(heatmap_png(result.difference)).decode("ascii")
            body += (f'<br><small>Where your result differs (student &minus; expected):</small><br>'
                     f'<img src="data:image/png;base64,{png}">')
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
