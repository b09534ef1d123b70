"""A computation graph shown: as a table of its nodes and as a figure (lecture 02).

The engine (``graph.py``) builds and differentiates graphs; this module only reads them.
"""
from __future__ import annotations

from .graph import Var, short_text, topological_order

__all__ = ["graph_table", "format_graph_table", "graph_layout", "draw_graph"]


def graph_table(root: Var) -> list[tuple]:
    """One row (name, op, value, grad) per node in topological order (leaves first).

    name: ``Var.label``; op: the op name or "" for leaves ("const" for constants);
    value and grad: floats for scalars, arrays for matrices.
    """
    rows = []
    for node in topological_order(root):
        op = node.op or ("const" if node.is_constant else "")
        rows.append((node.label, op, node.value, node.grad))
    return rows


def format_graph_table(root: Var) -> str:
    """``graph_table`` as aligned plain text, for print()."""
    header = ("name", "op", "value", "grad")
    rows = [header] + [(name, op, short_text(v), short_text(g))
                       for name, op, v, g in graph_table(root)]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                     for row in rows)


def _layers(order: list[Var]) -> dict[int, int]:
    """Layer of each node (by id): an op sits one right of its deepest input; a leaf sits just
    left of its first consumer (so a constant appears next to the op that uses it)."""
    layer = {}
    for node in order:
        if node.op is not None:
            layer[id(node)] = 1 + max(layer.get(id(p), 0) for p in node.parents)
    consumers: dict[int, list[int]] = {}
    for node in order:
        for parent in node.parents:
            consumers.setdefault(id(parent), []).append(layer[id(node)])
    for node in order:
        if node.op is None:
            layer[id(node)] = min(consumers.get(id(node), [1])) - 1
    return layer


def graph_layout(root: Var) -> dict[int, tuple[float, float]]:
    """Node id -> (x, y) position: layers left to right, nodes spread top to bottom.

    Within a layer, nodes keep their depth-first discovery order, which keeps the inputs of
    one op next to each other.
    """
    order = topological_order(root)
    layer = _layers(order)
    columns: dict[int, list[Var]] = {}
    for node in order:
        columns.setdefault(layer[id(node)], []).append(node)
    position: dict[int, tuple[float, float]] = {}
    for x in sorted(columns):
        nodes = columns[x]
        count = len(nodes)
        for i, node in enumerate(nodes):
            # Top to bottom, centred on y = 0.
            position[id(node)] = (float(x), (count - 1) / 2.0 - i)
    return position


_GraphFigure = None  # the Figure subclass draw_graph makes, created on first use


def _graph_figure_class():
    """A matplotlib Figure that Jupyter shows as a PNG whatever the backend (created lazily: matplotlib
    is imported only when a graph is drawn)."""
    global _GraphFigure
    if _GraphFigure is None:
        from matplotlib.figure import Figure

        class GraphFigure(Figure):
            """A pyplot-free Figure (never registered, so it cannot leak) that renders itself in Jupyter.

            A plain pyplot-free Figure shows as ``<Figure size ... with 1 Axes>`` in a fresh kernel: IPython's
            PNG formatter for figures is installed only once pyplot has loaded the inline backend, which
            creating a pyplot figure does and this figure does not. ``_repr_png_`` is what IPython uses when
            no formatter is installed; when one is (the inline backend is active), the formatter wins and the
            figure is still shown once."""

            def _repr_png_(self):
                import io

                buffer = io.BytesIO()
                self.savefig(buffer, format="png", bbox_inches="tight")
                return buffer.getvalue()

        _GraphFigure = GraphFigure
    return _GraphFigure


def draw_graph(root: Var, ax=None):
    """Draw the computation graph below ``root``; returns the matplotlib Figure.

    Each node is a box with its label (name or expression), its op, its forward value and its
    gradient; arrows go from inputs to the op's output, layered left (leaves) to right (root).
    A constant (e.g. the 2 of ``2 * v``) shows its value only: it is not a variable, so its
    gradient, which the op's backward rule returns like any input's, is of no use.
    ax: an existing Axes to draw into, or None for a new figure sized to the graph; that figure
    is pyplot-free and shows itself as a PNG when it is a notebook cell's value (or displayed).
    """
    order = topological_order(root)
    position = graph_layout(root)
    n_columns = 1 + max(x for x, _ in position.values())
    n_rows = max(sum(1 for p in position.values() if p[0] == x) for x in range(int(n_columns)))
    if ax is None:
        fig = _graph_figure_class()(figsize=(max(4.0, 2.6 * n_columns), max(2.5, 1.5 * n_rows)))
        ax = fig.add_subplot()
    fig = ax.figure
    boxes = {}
    for node in order:
        x, y = position[id(node)]
        kind = node.op or ("const" if node.is_constant else "leaf")
        gradient = "no grad (constant)" if node.is_constant else f"grad {short_text(node.grad)}"
        text = f"{node.label}  [{kind}]\nvalue {short_text(node.value)}\n{gradient}"
        color = "#dbe9f6" if node.op is None else "#fde9c9"
        if node is root:
            color = "#d7f0d2"
        boxes[id(node)] = ax.text(x, y, text, ha="center", va="center", fontsize=8, family="monospace",
                                  bbox=dict(boxstyle="round,pad=0.4", facecolor=color, edgecolor="0.3"))
    for node in order:
        for parent in node.parents:
            # Coordinates relative to the two text boxes: from the input's right edge to the
            # output's left edge, whatever the boxes' widths turn out to be.
            ax.annotate("", xy=(0.0, 0.5), xycoords=boxes[id(node)], xytext=(1.0, 0.5),
                        textcoords=boxes[id(parent)],
                        arrowprops=dict(arrowstyle="->", color="0.4", shrinkA=4, shrinkB=4))
    ax.set_xlim(-0.6, n_columns - 0.4)
    ys = [y for _, y in position.values()]
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.set_axis_off()
    return fig
