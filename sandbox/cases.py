"""Build the concrete cases of one grading run: events from the factories, seeded per learner."""

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sandbox.events import build_event


class CaseDefinitionError(Exception):
    """The exercise definition is broken: the author's fault, never the learner's."""


@dataclass(frozen=True)
class Case:
    index: int
    name: str
    visibility: str  # visible | hidden | after_pass
    points: int
    sample: bool
    rationale: str
    event: Any
    aws_state: dict[str, Any] | None
    checks: tuple[str, ...]


def build_cases(
    definition: dict[str, Any], *, seed: int, checks: ModuleType, only_sample: bool = False
) -> list[Case]:
    cases = []
    for index, spec in enumerate(definition["cases"]):
        if only_sample and not spec["sample"]:
            continue
        event = case_event(spec, index=index, seed=seed)
        cases.append(
            Case(
                index=index,
                name=spec["name"],
                visibility=spec["visibility"],
                points=spec["points"],
                sample=spec["sample"],
                rationale=spec.get("rationale", ""),
                event=event,
                aws_state=_aws_state(spec.get("aws"), event=event, checks=checks, case=spec["name"]),
                checks=tuple(_check_names(spec["checks"], checks=checks, case=spec["name"])),
            )
        )
    return cases


def case_event(spec: dict[str, Any], *, index: int, seed: int) -> Any:
    """The event of the case at `index` in a learner's variant (`seed`): each case gets its own seed."""
    event = spec["event"]
    if "literal" in event:
        return event["literal"]
    try:
        return build_event(event["factory"], seed=seed + index, **event.get("params", {}))
    except (TypeError, ValueError) as exc:
        raise CaseDefinitionError(
            f"case '{spec['name']}': event factory {event['factory']!r}: {exc}"
        ) from exc


def _aws_state(spec: Any, *, event: Any, checks: ModuleType, case: str) -> dict[str, Any] | None:
    if spec is None or isinstance(spec, dict):
        return spec
    seeder = getattr(checks, spec, None)
    if not callable(seeder):
        raise CaseDefinitionError(f"case '{case}': aws seed function {spec!r} is not defined in checks.py")
    return seeder(event)


def _check_names(names: list[str], *, checks: ModuleType, case: str) -> list[str]:
    for name in names:
        if not callable(getattr(checks, name, None)):
            raise CaseDefinitionError(f"case '{case}': check {name!r} is not defined in checks.py")
    return names
