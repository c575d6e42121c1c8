import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

SOLUTION = "course/content/03-s3-to-lambda/exercise/solution.py"


def test_invoke_json_against_an_exercise(capsys, settings):
    call_command(
        "invoke", "--code", str(settings.BASE_DIR / SOLUTION), "--exercise", "s3-to-lambda", "--json"
    )
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "passed"
    assert len(doc["cases"]) == 4
    first = doc["cases"][0]
    assert first["status"] == "passed" and first["result"]["key"] == "uploads/photo.jpg"
    assert first["logs"].startswith("START RequestId: ")
    assert first["init_duration_ms"] is not None and doc["cases"][1]["init_duration_ms"] is None
    assert isinstance(first["billed_duration_ms"], int) and first["max_memory_used_mb"] >= 1


def test_invoke_text_with_an_event_file_prints_logs_and_the_error(tmp_path, capsys):
    code = tmp_path / "lambda_function.py"
    code.write_text(
        "def lambda_handler(event, context):\n    print('got', event['x'])\n    return event['missing']\n"
    )
    event = tmp_path / "event.json"
    event.write_text('{"x": 1}')
    call_command("invoke", "--code", str(code), "--event", str(event))
    out = capsys.readouterr().out
    assert "got 1" in out
    assert '"errorType": "KeyError"' in out
    assert "REPORT RequestId: " in out
    assert "0/1 case passed" in out


def test_invoke_names_a_missing_file():
    with pytest.raises(CommandError, match="No such file"):
        call_command("invoke", "--code", "/nonexistent.py", "--exercise", "s3-to-lambda")
