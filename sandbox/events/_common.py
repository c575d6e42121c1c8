"""Helpers shared by the event factories: seeded randomness, validation, time and ARN formats.

Everything random comes from the `random.Random(seed)` a factory creates, never from the global
`random` module, `uuid.uuid4()` or the clock, so the same seed always gives the same event.
"""

import base64
import random
import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

# Random event times fall in [2024-01-01, 2026-01-01): recent enough to look real.
_TIME_START = datetime(2024, 1, 1, tzinfo=UTC)
_TIME_SPAN_MS = 2 * 365 * 24 * 3600 * 1000

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_UPPER_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_rng(seed: object, *, namespace: str) -> random.Random:
    """A private generator for one factory family and seed.

    The namespace keeps families apart (seed 1's SQS ids share nothing with seed 1's S3 event);
    a str seed goes through SHA-512, so it is stable across runs and Python versions.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {type(seed).__name__} {seed!r}")
    return random.Random(f"coldstart:{namespace}:{seed}")


def uuid4(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def hex_string(rng: random.Random, length: int, *, upper: bool = False) -> str:
    text = f"{rng.getrandbits(4 * length):0{length}x}"
    return text.upper() if upper else text


def upper_alnum(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_UPPER_ALNUM) for _ in range(length))


def random_time(rng: random.Random) -> datetime:
    return _TIME_START + timedelta(milliseconds=rng.randrange(_TIME_SPAN_MS))


def random_ip(rng: random.Random) -> str:
    # The RFC 5737 documentation ranges: realistic, and never somebody's real address.
    prefix = rng.choice(("192.0.2", "198.51.100", "203.0.113"))
    return f"{prefix}.{rng.randint(1, 254)}"


def iso_millis(moment: datetime) -> str:
    """`2024-06-01T12:34:56.789Z`: the eventTime format of S3 notifications."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def parse_time(value: object, *, param: str) -> datetime:
    """A datetime or an ISO-8601 string (YAML gives either); naive means UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{param} must be an ISO-8601 time such as '2024-06-01T12:00:00Z', got {value!r}"
            ) from None
    if not isinstance(value, datetime):
        raise ValueError(f"{param} must be a datetime or an ISO-8601 string, got {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_region(region: object) -> str:
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ValueError(f"region must be an AWS Region name such as 'us-east-1', got {region!r}")
    return region


def check_account_id(account_id: object) -> str:
    if not isinstance(account_id, str) or not _ACCOUNT_ID.fullmatch(account_id):
        raise ValueError(
            f"account_id must be a string of 12 digits such as '123456789012', got {account_id!r}"
        )
    return account_id


def partition(region: str) -> str:
    """The ARN partition of a Region: `aws`, `aws-cn` or `aws-us-gov`."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def check_str(value: object, *, param: str, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{param} must be a string, got {type(value).__name__} {value!r}")
    if not value and not allow_empty:
        raise ValueError(f"{param} must not be empty")
    return value


def check_int(value: object, *, param: str, low: int, high: int | None = None) -> int:
    # bool is an int subclass; `size=True` is always a mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{param} must be an integer, got {type(value).__name__} {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValueError(f"{param} must be {bounds}, got {value}")
    return value


def check_str_list(value: object, *, param: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{param} must be a list of strings, got {type(value).__name__}")
    items: list[Any] = list(value)
    for index, item in enumerate(items):
        check_str(item, param=f"{param}[{index}]", allow_empty=True)
    return items


def b64_token(rng: random.Random, nbytes: int) -> str:
    """Opaque base64 text such as S3's x-amz-id-2 or an SQS receipt handle."""
    return base64.b64encode(rng.randbytes(nbytes)).decode()
