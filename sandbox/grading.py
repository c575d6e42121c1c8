"""The trusted side of grading: run the cases in the jail, apply the checks, store the verdict.

grade(submission_id)
  ├─ build_cases()       events seeded per learner; AWS state to seed
  ├─ run_cases()         one runtime per submission; a fault discards it (next case starts cold)
  └─ judge()             the checks, here in the worker: the jail never sees them
"""

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sandbox import fleet
from sandbox.cases import Case, build_cases
from sandbox.checks import CheckContext, CheckFailed
from sandbox.contracts.alb import alb_error_response, alb_http_response
from sandbox.contracts.sqs import sqs_batch_outcome
from sandbox.exercise_files import checks_module, exercise_source
from sandbox.jail.process import InitOutcome, RuntimeProcess
from sandbox.jail.selftest import JailUnavailable
from sandbox.models import Submission
from sandbox.services import submission_finish, submission_start
from sandbox.verdicts import (
    MARSHAL_ERROR_HINT,
    OUTPUT_LIMIT_MESSAGE,
    Verdict,
    crashed_message,
    memory_message,
    timeout_message,
)

log = logging.getLogger(__name__)

# Lambda runs module init under a 10 s limit of its own (facts §5).
INIT_TIMEOUT_S = 10.0


class InfrastructureError(Exception):
    """The platform failed (the jail would not start, ...): retry, never blame the learner."""


@dataclass
class CaseRun:
    """What happened in the jail for one case: raw material for judge()."""

    case: Case
    record: dict[str, Any] | None
    logs: str
    fault: str | None = None
    fault_detail: str = ""
    init_error: dict[str, Any] | None = None
    init_failed: bool = False  # the module never loaded: nothing of the handler ran
    oom_killed: bool = False  # the jail's memory cgroup killed it
    # Known here, not reported by the jail: which invoke of its runtime this was (1 = cold).
    request_id: str = ""
    invocation: int = 0


def run_cases(*, code: str, definition: dict[str, Any], cases: list[Case]) -> list[CaseRun]:
    try:
        launcher = fleet.launcher()
    except JailUnavailable as exc:
        raise InfrastructureError(f"no jail on this worker: {exc}") from exc
    runs: list[CaseRun] = []
    runtime: RuntimeProcess | None = None
    failed_init: InitOutcome | None = None
    invocations = 0  # in the current runtime
    try:
        for case in cases:
            if failed_init is None and runtime is None:
                runtime = _start(launcher, code=code, definition=definition)
                invocations = 0
                if not runtime.last_init.ok:
                    failed_init = runtime.last_init
                    runtime.kill()
                    runtime = None
            if failed_init is not None:
                # As on Lambda, every invoke retries init and fails the same way; don't pay for it again.
                runs.append(
                    CaseRun(
                        case, None, failed_init.logs, init_error=failed_init.error, fault=failed_init.fault,
                        fault_detail=failed_init.describe(), init_failed=True, oom_killed=failed_init.oom_killed,
                    )
                )  # fmt: skip
                continue
            request_id = str(uuid.uuid4())
            invocations += 1
            outcome = runtime.invoke(
                request_id=request_id,
                event=case.event,
                aws_state=case.aws_state,
                timeout_s=float(definition["timeout"]),
            )
            runs.append(
                CaseRun(
                    case, outcome.record, outcome.logs, fault=outcome.fault, fault_detail=outcome.describe(),
                    request_id=request_id, invocation=invocations,
                )
            )  # fmt: skip
            if outcome.fault:
                runtime.kill()
                runtime = None
    finally:
        if runtime is not None:
            runtime.kill()
    return runs


def _start(launcher, *, code: str, definition: dict[str, Any]) -> RuntimeProcess:
    """A runtime of its own for this submission, ready and initialised with the learner's module.

    From this process's warm pool when it runs on the fleet's jail: already confined, the
    heavy imports done, never used before and never used again (killed by run_cases).
    """
    memory_mb, timeout_s = int(definition["memory"]), float(definition["timeout"])
    try:
        pool = fleet.warm_pool()
        if pool.serves(launcher):
            runtime = pool.acquire(memory_mb=memory_mb, timeout_s=timeout_s)
        else:
            runtime = RuntimeProcess.start(launcher, memory_mb=memory_mb, timeout_s=timeout_s)
    except Exception as exc:
        raise InfrastructureError(f"the runtime did not start: {exc}") from exc
    runtime.init(
        code=code,
        handler=definition["handler"],
        function_name=definition["function_name"],
        memory_mb=int(definition["memory"]),
        timeout_s=float(definition["timeout"]),
        env=definition["env"],
        init_timeout_s=INIT_TIMEOUT_S,
    )
    return runtime


def judge(run: CaseRun, *, definition: dict[str, Any], checks) -> dict[str, Any]:
    """Turn one CaseRun into a case result (the format in docs/results.md)."""
    case = run.case
    record = run.record or {}
    result: dict[str, Any] = {
        "name": case.name,
        "visibility": case.visibility,
        "rationale": case.rationale,
        "points": case.points,
        "earned": 0,
        "verdict": Verdict.PASSED,
        "message": "",
        "hint": "",
        "event": case.event,
        "logs": run.logs,
        "report": next((ln for ln in run.logs.splitlines() if ln.startswith("REPORT ")), ""),
    }
    for key in ("duration_ms", "billed_duration_ms", "max_memory_used_mb", "init_duration_ms"):
        result[key] = record.get(key)
    trigger = definition["trigger"]
    memory_mb = int(definition["memory"])

    if run.fault or run.init_failed:
        return result | _fault_verdict(run, definition=definition)
    error = record.get("error")
    if error:
        if error.get("errorType") == "MemoryError":
            return result | {
                "verdict": Verdict.MEMORY_LIMIT,
                "error": error,
                "message": memory_message(memory_mb),
            }
        message = f"Your handler raised {error.get('errorType')}: {error.get('errorMessage')}"
        verdict = {"verdict": Verdict.ERROR, "error": error, "message": message}
        if error.get("errorType") == "Runtime.MarshalError":
            verdict["hint"] = MARSHAL_ERROR_HINT
        if trigger == "alb":
            verdict["message"] += " — ALB answers 502 Bad Gateway when the function raises."
            verdict |= _http_if_alb(trigger, "unhandled")
        if trigger == "sqs":
            verdict["message"] += (
                " — the whole batch returns to the queue and is retried after the visibility timeout."
            )
            verdict["hint"] = sqs_batch_outcome(
                message_ids=_message_ids(case.event),
                response=None,
                raised=True,
                report_batch_item_failures=bool(definition["report_batch_item_failures"]),
            ).reason
        return result | verdict

    value = record.get("result")
    result["result"] = value
    ctx = CheckContext(
        event=case.event,
        result=value,
        logs=run.logs,
        aws_state=record.get("aws_state") or {},
        seed_state=case.aws_state or {},
        env=definition["env"],
        request_id=run.request_id,
        invocation=run.invocation,
        function_name=definition["function_name"],
        memory_mb=memory_mb,
        timeout_s=float(definition["timeout"]),
    )
    if trigger == "alb":
        ctx.http = alb_http_response(value, multi_value=bool(definition["alb_multi_value"]))
        result["http"] = _http_dict(ctx.http)
    if trigger == "sqs":
        ctx.batch = sqs_batch_outcome(
            message_ids=_message_ids(case.event),
            response=value,
            raised=False,
            report_batch_item_failures=bool(definition["report_batch_item_failures"]),
        )
        result["batch"] = {
            "deleted": ctx.batch.deleted,
            "retried": ctx.batch.retried,
            "whole_batch_failed": ctx.batch.whole_batch_failed,
            "reason": ctx.batch.reason,
        }
    for name in case.checks:
        try:
            getattr(checks, name)(ctx)
        except CheckFailed as failure:
            result |= {"verdict": Verdict.FAILED, "message": failure.message, "hint": failure.hint}
            if failure.expected is not None:
                result["expected"] = failure.expected
            return result
    result["earned"] = case.points
    return result


def _fault_verdict(run: CaseRun, *, definition: dict[str, Any]) -> dict[str, Any]:
    """The verdict when the runtime failed (or the module never loaded): no checks apply."""
    memory_mb = int(definition["memory"])
    if run.oom_killed or (run.fault == "crashed" and "MemoryError" in run.logs[-2000:]):
        return {"verdict": Verdict.MEMORY_LIMIT, "message": memory_message(memory_mb)}
    if run.fault == "output_limit":
        return {"verdict": Verdict.OUTPUT_LIMIT, "message": OUTPUT_LIMIT_MESSAGE}
    if run.fault in ("crashed", "bad_record"):
        return {"verdict": Verdict.CRASHED, "message": crashed_message(run.fault_detail)}
    if run.fault == "timeout" and run.init_failed:
        return {
            "verdict": Verdict.TIMEOUT,
            "message": "Module init (the code outside your handler) did not finish within 10 s, Lambda's init limit. "
            "Move slow work into the handler, or make it faster.",
        }
    if run.fault == "timeout":
        message = timeout_message(float(definition["timeout"]))
        if definition["trigger"] == "sqs":
            message += " The event source mapping then retries the whole batch, finished messages too."
        return {"verdict": Verdict.TIMEOUT, "message": message} | _http_if_alb(
            definition["trigger"], "timeout"
        )
    error = run.init_error or {}
    return {"verdict": Verdict.ERROR, "error": error, "message": init_error_message(error)}


def _message_ids(event: Any) -> list[str]:
    return [r.get("messageId") for r in event.get("Records", [])] if isinstance(event, dict) else []


def _http_if_alb(trigger: str, kind: str) -> dict[str, Any]:
    return {"http": _http_dict(alb_error_response(kind))} if trigger == "alb" else {}


def _http_dict(http) -> dict[str, Any]:
    return {
        "status": http.status,
        "headers": [list(pair) for pair in http.headers],
        "body": http.body.decode("utf-8", "replace"),
        "ok": http.ok,
        "reason": http.reason,
    }


def init_error_message(error: dict[str, Any]) -> str:
    kind = error.get("errorType", "")
    text = error.get("errorMessage", "")
    if kind == "Runtime.UserCodeSyntaxError":
        return f"Python could not parse lambda_function.py: {text}. Nothing ran; fix the syntax first."
    if kind == "Runtime.HandlerNotFound":
        return f"{text}. Lambda calls the function named in the handler setting; check its name and that it is defined at module level."
    if kind == "Runtime.ImportModuleError":
        return f"{text}. Only the standard library, boto3 and Pillow are available here (as in a Lambda deployment package that bundles Pillow)."
    return f"Your module raised {kind} while loading (init phase): {text}"


def grade(submission_id: int) -> None:
    """Grade one submission. Raises InfrastructureError for the task to retry."""
    submission = submission_start(submission_id=submission_id)
    if submission is None:
        return  # gone, or already graded: a redelivered task is a no-op
    exercise = submission.exercise
    source = exercise_source(exercise.slug)
    checks = checks_module(source)
    definition = source.definition
    cases = build_cases(
        definition,
        seed=submission.variant_seed,
        checks=checks,
        only_sample=submission.kind == Submission.Kind.TEST,
    )
    runs = run_cases(code=submission.code, definition=definition, cases=cases)
    results = [judge(run, definition=definition, checks=checks) for run in runs]
    score = sum(r["earned"] for r in results)
    max_score = sum(r["points"] for r in results)
    passed = all(r["verdict"] == Verdict.PASSED for r in results)
    status = Submission.Status.PASSED if passed else Submission.Status.FAILED
    submission_finish(
        submission=submission,
        status=status,
        results=results,
        score=score,
        max_score=max_score,
        message=summary_message(results, kind=submission.kind),
        isolation=fleet.isolation_level(),
    )


def summary_message(results: list[dict[str, Any]], *, kind: str) -> str:
    failing = [r for r in results if r["verdict"] != Verdict.PASSED]
    if not failing:
        return (
            "Your handler passed the sample event. Submit it to run every case."
            if kind == Submission.Kind.TEST
            else "Every case passed. Well done."
        )
    first = failing[0]
    return f"{len(failing)} of {len(results)} case{'s' if len(results) != 1 else ''} did not pass. Start with “{first['name']}”."
