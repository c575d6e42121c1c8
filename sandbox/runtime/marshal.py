"""The response marshaller (awslambdaric's ``lambda_runtime_marshaller``).

- ``bytes`` pass through untouched (content type application/unknown);
- everything else is JSON with the default separators, ``ensure_ascii=False``
  (python3.12+ runtimes) and NaN allowed;
- ``Decimal`` is a number. awslambdaric writes it raw (``1.10`` stays ``1.10``);
  the standard library cannot, so here it becomes an int or a float (``1.1``):
  the same JSON value, a few bytes shorter at most;
- anything else fails with ``Runtime.MarshalError``
  ("Unable to marshal response: Object of type X is not JSON serializable").
"""

import decimal
import json
import math

from .errors import FaultError


class _Encoder(json.JSONEncoder):
    def default(self, o: object) -> object:
        if isinstance(o, decimal.Decimal):
            if o.is_nan():
                return math.nan
            if o.is_finite() and o.as_tuple().exponent >= 0:  # type: ignore[operator]
                return int(o)
            return float(o)
        return super().default(o)


_encoder = _Encoder(ensure_ascii=False, allow_nan=True)
_plain_encoder = _Encoder(allow_nan=True)


def to_json(obj: object) -> str:
    """JSON for values the runtime produces itself (ASCII only)."""
    return _plain_encoder.encode(obj)


def marshal_response(response: object) -> tuple[bytes, bool]:
    """(payload, is_json). Raises FaultError(MarshalError)."""
    if isinstance(response, bytes):
        return response, False
    try:
        text = _encoder.encode(response)
        return text.encode("utf-8"), True
    except Exception as e:  # awslambdaric turns any encoder failure into a MarshalError
        raise FaultError(FaultError.MARSHAL_ERROR, f"Unable to marshal response: {e}") from None
