# nbgrader configuration of the instructor workspace; `bplab grade` writes the same settings into
# each per-student course directory. The settings and their reasons: backproplab/grading/config.py.
from backproplab.grading.config import configure

configure(get_config())

# Course policy: an exercise that is right given correct helpers keeps its points when a helper
# exercise it calls is wrong (True by default; set False to take the points of both).
# get_config().JudgeOutcomes.credit_dependents = False
