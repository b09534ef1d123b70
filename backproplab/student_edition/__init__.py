"""The student edition of the library: what `bplab export-student-repo` gives a class instead of the references.

- ``autograd_backed``: the graded library functions computed by PyTorch (shipped; see its docstring).
- ``answer_key``: the visible checks' cases, expected values and predicted mistakes as data (shipped).
- ``edition``: how the export writes the student edition from this repository (instructor only).
"""
