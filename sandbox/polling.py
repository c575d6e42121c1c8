"""How soon a waiting learner's status panel asks again (its ``hx-trigger="load delay:…"``).

A warm runtime grades in about 100 ms, so the first look comes at 250 ms. After that the
polls land on a 700 ms grid counted from when the submission was queued (0.7 s, 1.4 s, …):
never later than a plain every-700-ms poll would see the result, and one poll more at most,
which a class-sized queue can afford (a poll is ~13 ms of the web server's CPU).
"""

FIRST_POLL_MS = 250
POLL_EVERY_MS = 700
MIN_POLL_MS = 150  # closer to a grid point than this: wait for the next one


def poll_delay_ms(age_ms: float) -> int:
    """The wait before the next poll, for a submission queued ``age_ms`` ago."""
    if age_ms < FIRST_POLL_MS - MIN_POLL_MS:
        return round(FIRST_POLL_MS - age_ms)
    delay = POLL_EVERY_MS - age_ms % POLL_EVERY_MS
    if delay < MIN_POLL_MS:
        delay += POLL_EVERY_MS
    return round(delay)
