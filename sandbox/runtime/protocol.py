"""Numbers and words shared by both ends of the runtime protocol.

The runtime (inside the jail) and the worker (``sandbox.jail.process``) both read
these, so a limit is written down once. Standard library only, no imports at all.
See ``docs/runtime-protocol.md``.
"""

# Replies on the channel, one JSON document per line.
OP_READY = "ready"
OP_INIT = "init"
OP_START = "start"  # the handler is about to be called: the timeout clock starts
OP_END = "end"  # the handler returned (or raised) and the response is marshalled
OP_INVOKE = "invoke"  # the invocation record, the last line of an invoke

# Lambda's synchronous response limit. The quotas page says "6 MB"; the error
# message names 6291556 bytes, and that is the figure the service enforces.
MAX_RESPONSE_BYTES = 6_291_556
RESPONSE_TOO_LARGE_TYPE = "Function.ResponseSizeTooLarge"
RESPONSE_TOO_LARGE_MESSAGE = (
    f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
)

# The exported AWS state: bodies of S3 objects up to this size travel base64
# encoded; everything is cut (with "truncated": true) to fit the state budget.
EXPORT_BODY_MAX_BYTES = 256 * 1024
EXPORT_BODIES_TOTAL_BYTES = 1024 * 1024
EXPORT_STATE_MAX_BYTES = 2 * 1024 * 1024

# An error document's message and stack trace are cut to these sizes in the
# record (the [ERROR] log line keeps them whole, the worker caps the logs).
ERROR_MESSAGE_MAX_CHARS = 64 * 1024
STACK_TRACE_MAX_CHARS = 256 * 1024

# One channel line: the largest response, the largest state export, and an
# envelope for everything else. A longer line is a forged or broken record.
RECORD_ENVELOPE_BYTES = 64 * 1024
MAX_RECORD_BYTES = MAX_RESPONSE_BYTES + EXPORT_STATE_MAX_BYTES + RECORD_ENVELOPE_BYTES

# "Max Memory Used" = this baseline + what the process grew by since init
# started (see memory.py for why).
MEMORY_BASELINE_MB = 40

# The runtime exits with this status when its own code fails (a seed it cannot
# apply, a request it cannot parse): the worker reports it as "crashed".
EXIT_RUNTIME_ERROR = 70
