"""The HTML page of `bplab similarity --html`: one self-contained file an instructor opens in a browser.

Pairs side by side, exercise by exercise, with the matched passages marked; the shared rare mistakes;
the answers that reproduce a course reference. Student code is hostile: every piece of it is escaped
(Jinja's autoescape and ``markupsafe.escape``), and the page runs no script and loads nothing.
"""
from __future__ import annotations

from markupsafe import Markup, escape

from .similarity import LEAD_NOTICE

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Similarity leads: {{ report.lecture }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
.notice { background: #fff4d6; border: 2px solid #e0a800; padding: .8em 1em; font-size: 1.05em; }
table { border-collapse: collapse; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
.side { width: 50%; }
pre { margin: 0; white-space: pre-wrap; font-size: .85em; }
mark { background: #ffd35c; }
details { margin: .4em 0 1em; }
summary { cursor: pointer; font-weight: 600; }
.muted { color: #666; }
</style></head><body>
<h1>Similarity leads: {{ report.lecture }}</h1>
<p class="notice" id="notice">{{ notice }}</p>
<p class="muted">{{ report.students|length }} graded students. Code the released notebook gives, the course's hints
and formulas, and passages more than {{ common }} students share are not counted. Pair score: the smaller of the
two shares of each one's answer code that the other matches; listed at {{ "%.0f"|format(100 * report.options.threshold) }}%
or more.</p>

<h2>Pairs whose answer code matches</h2>
{% if not pairs %}<p id="no-pairs">No pair at or above the threshold.</p>{% endif %}
{% for pair in pairs %}
<details class="pair" {% if loop.first %}open{% endif %} data-students="{{ pair.students|join(' ') }}">
<summary>{{ "%.0f"|format(100 * pair.score) }}% &nbsp; {{ pair.students[0] }} &harr; {{ pair.students[1] }}
{% for g in pair.shared_mistakes %}
 &nbsp;<span class="muted">(also share a rare mistake on {{ g.exercise }})</span>{% endfor %}</summary>
<table>
{% for match in pair.exercises %}
<tr><th colspan="2">{{ match.exercise }}: {{ "%.0f"|format(100 * match.similarity[0]) }}% of {{ pair.students[0] }}'s,
{{ "%.0f"|format(100 * match.similarity[1]) }}% of {{ pair.students[1] }}'s matched</th></tr>
<tr><td class="side"><pre>{{ marked(pair.students[0], match.exercise, match.passages[0]) }}</pre></td>
<td class="side"><pre>{{ marked(pair.students[1], match.exercise, match.passages[1]) }}</pre></td></tr>
{% endfor %}
</table></details>
{% endfor %}
{% if more %}<p class="muted">... and {{ more }} more pairs (<code>--json</code> lists them all).</p>{% endif %}

<h2>Shared rare mistakes</h2>
<p class="muted">The same diagnosis (and ratio student / expected) on an exercise most of those who tried it passed, made
by few of them; each student had inputs of their own.</p>
<table id="mistakes"><tr><th>share of those who tried</th><th>exercise</th><th>mistake</th><th>students</th></tr>
{% for g in report.mistakes %}
<tr><td>{{ "%.0f"|format(100 * g.share) }}%</td><td>{{ g.exercise }}</td>
<td>{% for m in g.mistake %}{{ m.diagnosis }}{% if m.ratio %} (student / expected = {{ m.ratio }}){% endif %} {% endfor %}</td>
<td>{{ g.students|join(", ") }}</td></tr>
{% else %}<tr><td colspan="4">none</td></tr>{% endfor %}
</table>

<h2>Answers reproducing a course reference</h2>
<p class="muted">Token for token (names, comments and layout aside) the library's implementation or an answer of the
course's catalog. A short answer may match by itself; the class share says how usual it is.</p>
<table id="references"><tr><th>similarity</th><th>student</th><th>exercise</th><th>reference</th><th>class share</th></tr>
{% for m in report.references %}
<tr><td>{{ "%.0f"|format(100 * m.similarity) }}%</td><td>{{ m.student }}</td><td>{{ m.exercise }}</td>
<td>{{ m.reference }}</td><td>{{ "%.0f"|format(100 * m.class_share) }}%</td></tr>
{% else %}<tr><td colspan="5">none</td></tr>{% endfor %}
</table>
{% for line in report.skipped %}<p class="muted">skipped {{ line }}</p>{% endfor %}
</body></html>
"""


def marked_source(source, passages):
    """``source`` (str) as escaped HTML with each (start, end) passage inside <mark>; overlapping passages merge."""
    merged = []
    for start, end in sorted(passages):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts, at = [], 0
    for start, end in merged:
        parts.append(escape(source[at:start]))
        parts.append(Markup("<mark>") + escape(source[start:end]) + Markup("</mark>"))
        at = end
    parts.append(escape(source[at:]))
    return Markup("").join(parts)


def render_html(report) -> str:
    """The page of a similarity.SimilarityReport (str): the top ``report.options.top`` pairs side by side."""
    from jinja2 import Environment

    def marked(student, exercise, passages):
        return marked_source(report.answers[student][exercise], passages)

    template = Environment(autoescape=True).from_string(_TEMPLATE)
    top = report.options.top
    return template.render(report=report, notice=LEAD_NOTICE, pairs=report.pairs[:top],
                           more=max(0, len(report.pairs) - top), marked=marked,
                           common=report.options.common_holders(len(report.students)))
