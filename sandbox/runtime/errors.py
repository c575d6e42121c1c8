"""Error documents and handler lookup, with the types and messages of awslambdaric.

reference/aws-lambda-facts.md §5: ``{"errorMessage", "errorType", "requestId",
"stackTrace"}``, stackTrace = ``traceback.format_list`` of the frames with the
runtime's own leading frames removed; runtime-generated types are
``Runtime.ImportModuleError``, ``Runtime.HandlerNotFound``,
``Runtime.UserCodeSyntaxError``, ``Runtime.MalformedHandlerName``,
``Runtime.MarshalError``...; an exception raised by the function reports its own type.
"""

import importlib
import os
import sys
import traceback
from collections.abc import Callable
from types import TracebackType

RUNTIME_DIR = os.path.dirname(os.path.abspath(__file__))


class FaultError(Exception):
    """A failure the runtime reports itself (awslambdaric's FaultException)."""

    MARSHAL_ERROR = "Runtime.MarshalError"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"

    def __init__(self, exception_type: str, msg: str, trace: list[str] | None = None) -> None:
        super().__init__(msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace


def make_error(
    error_message: str | None,
    error_type: str | None,
    stack_trace: list[str] | None,
    request_id: str | None = None,
) -> dict:
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def split_handler(handler: str) -> tuple[str, str]:
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultError(FaultError.MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {e}") from None
    return module_name, function_name


def get_handler(handler: str) -> Callable:
    """Import the function's module and return its handler (awslambdaric's ``_get_handler``)."""
    module_name, function_name = split_handler(handler)
    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise FaultError(
                FaultError.BUILT_IN_MODULE_CONFLICT,
                f"Cannot use built-in module {module_name} as a handler module",
            )
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as e:
        raise FaultError(
            FaultError.IMPORT_MODULE_ERROR, f"Unable to import module '{module_name}': {e}"
        ) from None
    except SyntaxError as e:
        trace = [f'  File "{e.filename}" Line {e.lineno}\n    {e.text}']
        raise FaultError(
            FaultError.USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{module_name}': {e}", trace
        ) from None
    try:
        return getattr(module, function_name)
    except AttributeError:
        raise FaultError(
            FaultError.HANDLER_NOT_FOUND, f"Handler '{function_name}' missing on module '{module_name}'"
        ) from None


def user_frames(tb: TracebackType | None) -> list[tuple[str, int | None, str, str | None]]:
    """The traceback's frames without the runtime's own leading ones, as 4-tuples.

    awslambdaric drops the leading frames of its bootstrap.py; ours are every
    file of this package. Tuples (not FrameSummary) so that ``format_list``
    prints no caret lines, as on Lambda.
    """
    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for index, frame in enumerate(frames):
        if not frame[0].startswith(RUNTIME_DIR + os.sep):
            return frames[index:]
    return frames


def error_from_exception(exc: BaseException, request_id: str | None = None) -> dict:
    """The error document of an exception raised by the function's code."""
    if isinstance(exc, FaultError):
        return make_error(exc.msg, exc.exception_type, exc.trace, request_id)
    stack_trace = traceback.format_list(user_frames(exc.__traceback__))
    return make_error(str(exc), type(exc).__name__, stack_trace, request_id)


def clip_error(error: dict, message_chars: int, trace_chars: int) -> dict:
    """A copy small enough for the record (the log line keeps the whole error)."""
    message = error["errorMessage"]
    if len(message) > message_chars:
        message = message[:message_chars] + f"... [{len(message) - message_chars} characters cut]"
    trace: list[str] = []
    used = 0
    for element in error["stackTrace"]:
        used += len(element)
        if used > trace_chars:
            trace.append(f"... [{len(error['stackTrace']) - len(trace)} frames cut]\n")
            break
        trace.append(element)
    return {**error, "errorMessage": message, "stackTrace": trace}


# Logged (as a WARNING record) before an init error, since awslambdaric 2.0.
LAMBDA_UNHANDLED_EXCEPTION_WARNING = (
    "LAMBDA_WARNING: "
    "Unhandled exception. "
    "The most likely cause is an issue in the function code. "
    "However, in rare cases, a Lambda runtime update can cause unexpected function behavior. "
    "For functions using managed runtimes, runtime updates can be triggered by a function change, "
    "or can be applied automatically. "
    "To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. "
    "If this error correlates with a change in the runtime version, you may be able to mitigate this error "
    "by temporarily rolling back to the previous runtime version. "
    "For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html"
)
