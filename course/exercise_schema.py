"""The schema of exercise.yaml (documented in docs/authoring.md)."""

from sandbox.jail.limits import MAX_FUNCTION_MEMORY_MB

EXERCISE_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "trigger", "cases"],
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "handler": {"type": "string", "pattern": r"^lambda_function\.[A-Za-z_][A-Za-z0-9_]*$"},
        "function_name": {"type": "string", "pattern": r"^[A-Za-z0-9_-]{1,64}$"},
        "timeout": {"type": "number", "minimum": 1, "maximum": 30},
        "memory": {"type": "integer", "minimum": 128, "maximum": MAX_FUNCTION_MEMORY_MB},
        "trigger": {"enum": ["s3", "alb", "sqs", "direct"]},
        "alb_multi_value": {"type": "boolean"},
        "report_batch_item_failures": {"type": "boolean"},
        "env": {"type": "object", "additionalProperties": {"type": "string"}},
        "attempts": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "submits": {"type": "integer", "minimum": 1, "maximum": 1000},
                "refill_minutes": {"type": "number", "minimum": 0},
            },
        },
        "hints": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["after_failures", "text"],
                "properties": {
                    "after_failures": {"type": "integer", "minimum": 0},
                    "text": {"type": "string", "minLength": 1},
                },
            },
        },
        "cases": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "event", "checks"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "visibility": {"enum": ["visible", "hidden", "after_pass"]},
                    "sample": {"type": "boolean"},
                    "points": {"type": "integer", "minimum": 0},
                    "rationale": {"type": "string"},
                    "event": {
                        "oneOf": [
                            {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["factory"],
                                "properties": {
                                    "factory": {"type": "string"},
                                    "params": {"type": "object"},
                                },
                            },
                            {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["literal"],
                                "properties": {"literal": {}},
                            },
                        ]
                    },
                    # A literal seed, or the name of a function in checks.py: seed(event) -> state.
                    "aws": {"oneOf": [{"type": "object"}, {"type": "string"}]},
                    "checks": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                },
            },
        },
    },
}
