"""Grading: nbgrader pipeline (release, grade, feedback, export, report) and outside verification.

Submodules are imported on demand; importing this package imports neither nbgrader nor torch.
"""
