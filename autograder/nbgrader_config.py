# nbgrader configuration of the instructor workspace; `bplab grade` writes the same settings into
# each per-student course directory. The settings and their reasons: backproplab/grading/config.py.
from backproplab.grading.config import configure

configure(get_config())
