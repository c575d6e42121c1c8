"""`manage.py generate_event s3|alb|sqs ...`: print a canned event, like `sam local generate-event`."""

import argparse
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from sandbox.events import build_event


def _pair(separator: str) -> Any:
    def parse(text: str) -> tuple[str, str]:
        name, found, value = text.partition(separator)
        if not found or not name:
            raise argparse.ArgumentTypeError(f"expected NAME{separator}VALUE, got {text!r}")
        return name.strip(), value.strip() if separator == ":" else value

    return parse


def _grouped(pairs: list[tuple[str, str]] | None) -> dict[str, list[str]] | None:
    if not pairs:
        return None
    grouped: dict[str, list[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return grouped


class Command(BaseCommand):
    help = "Print a seeded S3, ALB or SQS event as JSON (like `sam local generate-event`)."

    def add_arguments(self, parser: CommandParser) -> None:
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("--seed", type=int, default=0, help="same seed, same event (default 0)")
        common.add_argument("--region", help="AWS Region (default us-east-1)")
        sources = parser.add_subparsers(dest="source", required=True, metavar="{s3,alb,sqs}")

        s3 = sources.add_parser("s3", parents=[common], help="an S3 object notification")
        s3.add_argument(
            "--removed", action="store_true", help="ObjectRemoved:Delete instead of ObjectCreated:Put"
        )
        s3.add_argument("--bucket")
        s3.add_argument("--key", help="the object key, unencoded ('red flower.jpg')")
        s3.add_argument("--size", type=int)
        s3.add_argument("--etag")
        s3.add_argument("--version-id")
        s3.add_argument("--event-time", help="ISO-8601, e.g. 2024-06-01T12:00:00Z")

        alb = sources.add_parser("alb", parents=[common], help="an ALB request to a Lambda target")
        alb.add_argument("--health-check", action="store_true", help="an ELB-HealthChecker request")
        alb.add_argument("--method")
        alb.add_argument("--path")
        alb.add_argument("--query", type=_pair("="), action="append", metavar="NAME=VALUE")
        alb.add_argument("--header", type=_pair(":"), action="append", metavar="NAME:VALUE")
        alb.add_argument("--body")
        alb.add_argument("--content-type")
        alb.add_argument("--multi-value", action="store_true", help="a target group with multi-value headers")
        alb.add_argument("--target-group-arn")

        sqs = sources.add_parser("sqs", parents=[common], help="a batch of SQS messages")
        sqs.add_argument("--count", type=int, help="number of messages, 1-10 (random when not given)")
        sqs.add_argument("--body", action="append", help="a message body; repeat for several messages")
        sqs.add_argument("--queue-name")
        sqs.add_argument("--account-id")
        sqs.add_argument("--fifo", action="store_true")
        sqs.add_argument("--attribute", type=_pair("="), action="append", metavar="NAME=VALUE")
        sqs.add_argument("--receive-count", type=int)

    def handle(self, *args: Any, **options: Any) -> None:
        source = options["source"]
        if source == "s3":
            name = "s3.object_removed" if options["removed"] else "s3.object_created"
            params = self._given(
                options, "bucket", "key", "size", "etag", "version_id", "event_time", "region"
            )
        elif source == "alb":
            name = "alb.health_check" if options["health_check"] else "alb.request"
            params = self._given(
                options, "method", "path", "body", "content_type", "target_group_arn", "region", "multi_value"
            )
            params.update(self._given({"query": _grouped(options["query"])}, "query"))
            params.update(self._given({"headers": _grouped(options["header"])}, "headers"))
        else:
            name = "sqs.batch"
            params = self._given(options, "queue_name", "account_id", "region", "fifo", "receive_count")
            params.update(
                self._given({"size": options["count"], "bodies": options["body"]}, "size", "bodies")
            )
            if options["attribute"]:
                params["message_attributes"] = dict(options["attribute"])
        try:
            event = build_event(name, seed=options["seed"], **params)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps(event, indent=2))

    @staticmethod
    def _given(options: dict[str, Any], *names: str) -> dict[str, Any]:
        """The options the user gave: left out, the factory's own default (or seeded choice) applies."""
        return {n: options[n] for n in names if options.get(n) not in (None, False)}
