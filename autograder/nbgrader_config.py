# nbgrader configuration of the instructor workspace (nbgrader's own autograde refuses here: `bplab grade`
# grades, with the same settings in a course folder of its own per submission). The settings and their
# reasons: backproplab/grading/config.py.
from backproplab.grading.config import configure_workspace

configure_workspace(get_config())

# Course policy: an exercise that is right given correct helpers keeps its points when a helper
# exercise it calls is wrong (True by default; set False to take the points of both).
# get_config().JudgeOutcomes.credit_dependents = False
