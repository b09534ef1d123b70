"""Grading: nbgrader pipeline (release, grade, feedback, export, report) and the grading sandbox.

Submodules are imported on demand; importing this package imports neither nbgrader nor torch.
"""
