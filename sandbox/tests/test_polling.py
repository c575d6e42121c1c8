"""The waiting panel's poll schedule: a first look at 250 ms, then a 700 ms grid from queueing."""

import pytest

from sandbox.polling import poll_delay_ms


def poll_times(grading_ms: float, *, answer_ms: float = 10, request_ms: float = 15) -> list[float]:
    """When the page polls (ms after queueing) until it sees a result ready at ``grading_ms``."""
    now, times = answer_ms, []
    while True:
        now += poll_delay_ms(now) + request_ms
        times.append(now)
        if now >= grading_ms:
            return times


def test_a_quick_grade_is_seen_at_the_first_look():
    assert poll_times(120) == [pytest.approx(265, abs=1)]


@pytest.mark.parametrize("grading_ms", [300, 650, 900, 1500, 2500, 6000])
def test_never_later_than_polling_every_700_ms_and_at_most_one_poll_more(grading_ms):
    times = poll_times(grading_ms)
    plain = [700 * k + 15 for k in range(1, 20)]  # every 700 ms after the answer, as before
    plain = plain[: next(i for i, t in enumerate(plain) if t >= grading_ms) + 1]
    assert times[-1] <= plain[-1] + 15
    assert len(times) <= len(plain) + 1


def test_a_poll_just_before_a_grid_point_waits_for_the_next_one():
    assert poll_delay_ms(690) == 710  # not 10 ms: two polls in a row would see the same spinner
    assert poll_delay_ms(705) == 695
    assert poll_delay_ms(0) == 250
