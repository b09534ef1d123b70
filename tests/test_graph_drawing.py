"""Tests for backproplab.graph_drawing: a computation graph's table and figure."""
from __future__ import annotations

import numpy as np

from backproplab import graph as G
from backproplab import graph_drawing as D


def test_graph_table_of_the_worked_example():
    """Does the table list J = 2(ab + c)'s nodes with op, value and gradient (DESIGN.md's worked example)?"""
    a, b, c = G.Var(3.0, "a"), G.Var(2.0, "b"), G.Var(5.0, "c")
    J = 2 * (a * b + c)
    J.name = "J"
    J.backward()
    rows = {name: (op, value, grad) for name, op, value, grad in D.graph_table(J)}
    assert rows["J"] == ("mul", 22.0, 1.0)
    assert rows["a"] == ("", 3.0, 4.0)
    assert rows["b"] == ("", 2.0, 6.0)
    assert rows["c"] == ("", 5.0, 2.0)


def test_format_graph_table_lists_every_node():
    """Does the text table have a header plus one line per node, with J's value and gradient?"""
    a, b, c = G.Var(3.0, "a"), G.Var(2.0, "b"), G.Var(5.0, "c")
    J = 2 * (a * b + c)
    J.name = "J"
    J.backward()
    lines = D.format_graph_table(J).splitlines()
    assert len(lines) == 1 + len(G.topological_order(J))
    assert lines[-1].split() == ["J", "mul", "22", "1"]


def test_draw_graph_draws_one_box_and_one_arrow_per_node_and_edge():
    """Does draw_graph return a Figure with a labelled box per node and an arrow per edge?"""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    a, b, c = G.Var(3.0, "a"), G.Var(2.0, "b"), G.Var(5.0, "c")
    J = 2 * (a * b + c)
    J.name = "J"
    J.backward()
    open_before = plt.get_fignums()
    fig = D.draw_graph(J)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    nodes = G.topological_order(J)
    edges = sum(len(node.parents) for node in nodes)
    labels = [text.get_text() for text in ax.texts if text.get_text()]
    assert len(labels) == len(nodes)
    assert sum(1 for text in ax.texts if not text.get_text()) == edges  # arrows are empty annotations
    assert any(label.startswith("J") and "value 22" in label and "grad 1" in label for label in labels)
    assert any(label.startswith("a ") and "grad 4" in label for label in labels)
    # The constant 2 of 2 * v is no variable: its box shows no gradient (the text speaks of a
    # mul node with a constant input, not of a gradient 11 for "2").
    assert [label for label in labels if "[const]" in label] == ["2  [const]\nvalue 2\nno grad (constant)"]
    fig.canvas.draw()  # the arrows' box-relative coordinates resolve at draw time
    # Jupyter shows the pyplot-free figure through _repr_png_ when no inline formatter is installed yet.
    assert fig._repr_png_().startswith(b"\x89PNG")
    assert plt.get_fignums() == open_before  # no pyplot figure leaked


def test_draw_graph_into_given_axes_for_a_matrix_graph():
    """Does draw_graph draw into a given Axes (and return its figure) for a matrix-valued graph?"""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X, W = G.Var(np.ones((4, 3)), "X"), G.Var(np.ones((2, 3)), "W")
    J = G.mean(G.relu(X @ W.T))
    J.backward()
    fig, ax = plt.subplots()
    try:
        assert D.draw_graph(J, ax=ax) is fig
        fig.canvas.draw()
        assert len([t for t in ax.texts if t.get_text()]) == len(G.topological_order(J))
    finally:
        plt.close(fig)
