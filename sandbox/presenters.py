"""What a viewer may see of a submission's results.

Hidden cases show only their name, verdict, points and rationale to learners: never the
event, the return value, the logs or the expected value (a learner could print the event).
`after_pass` cases open up once the learner has passed the exercise. Instructors see all.
"""

import json
from typing import Any

from sandbox.verdicts import LABELS, Verdict

DETAIL_KEYS = ("event", "result", "error", "logs", "expected", "got", "http", "batch", "report")


def case_for_viewer(case: dict[str, Any], *, instructor: bool, passed: bool) -> dict[str, Any]:
    shown = dict(case)
    visible = case["visibility"] == "visible" or (case["visibility"] == "after_pass" and passed)
    shown["details_visible"] = visible or instructor
    shown["hidden_from_learner"] = not visible
    if not shown["details_visible"]:
        for key in DETAIL_KEYS:
            shown.pop(key, None)
        shown["hint"] = ""
        if case["verdict"] != Verdict.PASSED:
            shown["message"] = "This hidden case did not pass. " + (case.get("rationale") or "")
    shown["label"] = LABELS.get(case["verdict"], case["verdict"])
    shown["passed"] = case["verdict"] == Verdict.PASSED
    for key in ("event", "result", "expected", "got"):
        if key in shown and shown[key] is not None:
            shown[key + "_json"] = json.dumps(shown[key], indent=2, ensure_ascii=False, default=repr)
    return shown


def results_for_viewer(submission, *, instructor: bool, passed: bool) -> list[dict[str, Any]]:
    return [case_for_viewer(case, instructor=instructor, passed=passed) for case in submission.results]
