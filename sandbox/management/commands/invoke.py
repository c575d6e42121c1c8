"""Run a handler through exactly the path the worker uses (same jail, same runtime)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from sandbox.cases import Case, build_cases
from sandbox.exercise_files import ExerciseNotFound, checks_module, exercise_source
from sandbox.grading import judge, run_cases

DIRECT_DEFINITION = {
    "handler": "lambda_function.lambda_handler",
    "function_name": "coldstart-invoke",
    "timeout": 3,
    "memory": 128,
    "trigger": "direct",
    "env": {},
    "alb_multi_value": False,
    "report_batch_item_failures": False,
}


class Command(BaseCommand):
    help = "Invoke a handler file against an exercise's cases or an event file, and print what happened."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--code", required=True, help="Path to lambda_function.py")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--exercise", help="Run every case of this exercise (slug) and judge them")
        source.add_argument("--event", help="Path to an event JSON file (run once, no checks)")
        parser.add_argument("--seed", type=int, default=0, help="Variant seed for the exercise's events")
        parser.add_argument("--timeout", type=float, help="Function timeout in seconds (with --event)")
        parser.add_argument("--json", action="store_true", help="Print one JSON document")

    def handle(self, *args, **options) -> None:
        code_path = Path(options["code"])
        if not code_path.is_file():
            raise CommandError(f"No such file: {code_path}")
        code = code_path.read_text("utf-8")
        if options["exercise"]:
            try:
                source = exercise_source(options["exercise"])
            except ExerciseNotFound as exc:
                raise CommandError(str(exc)) from exc
            definition = source.definition
            checks = checks_module(source)
            cases = build_cases(definition, seed=options["seed"], checks=checks)
        else:
            try:
                event = json.loads(Path(options["event"]).read_text("utf-8"))
            except (OSError, ValueError) as exc:
                raise CommandError(f"Cannot read the event: {exc}") from exc
            definition = DIRECT_DEFINITION | ({"timeout": options["timeout"]} if options["timeout"] else {})
            checks = None
            cases = [Case(0, "event", "visible", 0, True, "", event, None, ())]
        runs = run_cases(code=code, definition=definition, cases=cases)
        results = [judge(run, definition=definition, checks=checks) for run in runs]
        if options["json"]:
            self.stdout.write(json.dumps(_document(runs, results), indent=2, default=str))
            return
        for run, result in zip(runs, results, strict=True):
            self.stdout.write(self.style.MIGRATE_HEADING(f"── {result['name']}: {result['verdict']}"))
            self.stdout.write(run.logs.rstrip())
            if run.record and "result" in run.record:
                self.stdout.write(
                    "Response:\n" + json.dumps(run.record["result"], indent=2, ensure_ascii=False)
                )
            if result.get("error"):
                self.stdout.write("Error:\n" + json.dumps(result["error"], indent=2, ensure_ascii=False))
            if result["message"]:
                self.stdout.write(f"Verdict: {result['message']}")
            if result["hint"]:
                self.stdout.write(f"Hint: {result['hint']}")
        passed = sum(r["verdict"] == "passed" for r in results)
        self.stdout.write(f"{passed}/{len(results)} case{'s' if len(results) != 1 else ''} passed")


def _document(runs, results) -> dict:
    cases = []
    for run, result in zip(runs, results, strict=True):
        record = run.record or {}
        cases.append(
            {
                "name": result["name"],
                "status": result["verdict"],
                "result": record.get("result"),
                "error": result.get("error"),
                "message": result["message"],
                "logs": run.logs,
                "duration_ms": record.get("duration_ms"),
                "billed_duration_ms": record.get("billed_duration_ms"),
                "max_memory_used_mb": record.get("max_memory_used_mb"),
                "init_duration_ms": record.get("init_duration_ms"),
            }
        )
    overall = "passed" if all(c["status"] == "passed" for c in cases) else "failed"
    return {"status": overall, "cases": cases}
