"""Signed-in learners over HTTP: submit, then poll the status fragment until htmx would stop (286).

Closed loop: each client submits again as soon as its previous submission is graded.
Only ever talks to the local stack the benchmark started (127.0.0.1).
"""

import re
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests

SUBMISSION_URL = re.compile(r"/submissions/(\d+)/")
FINAL_ID = re.compile(r"#(\d+)")
PAGE_DELAY = re.compile(r'hx-trigger="load delay:(\d+)ms"')
STOP_POLLING = 286  # django-htmx's HttpResponseStopPolling


class LoadError(RuntimeError):
    pass


@dataclass
class Outcome:
    client: str
    submission_id: int | None
    posted_at: float  # monotonic
    finished_at: float | None  # when the 286 arrived
    status: str  # passed, failed, system_error, lost, http_error
    polls: int = 0
    detail: str = ""

    @property
    def latency_ms(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.posted_at) * 1000


class Client:
    def __init__(self, base: str, username: str, password: str, *, slug: str) -> None:
        assert base.startswith("http://127.0.0.1:"), base
        self.base = base
        self.username = username
        self.password = password
        self.slug = slug
        self.http = requests.Session()

    def login(self) -> None:
        page = self.http.get(f"{self.base}/accounts/login/", timeout=30)
        page.raise_for_status()
        answer = self.http.post(
            f"{self.base}/accounts/login/",
            data={
                "username": self.username,
                "password": self.password,
                "csrfmiddlewaretoken": self.http.cookies["csrftoken"],
            },
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 302 or "sessionid" not in self.http.cookies:
            raise LoadError(f"{self.username} could not sign in: HTTP {answer.status_code}")

    def submit(self, code: str) -> tuple[int, float | None]:
        """The new submission's id, and how soon the page would first poll it (None: final)."""
        answer = self.http.post(
            f"{self.base}/exercises/{self.slug}/run",
            data={"kind": "submit", "code": code},
            headers={"HX-Request": "true", "X-CSRFToken": self.http.cookies["csrftoken"]},
            timeout=30,
        )
        if answer.status_code != 200:
            raise LoadError(f"submit: HTTP {answer.status_code}")
        match = SUBMISSION_URL.search(answer.text) or FINAL_ID.search(answer.text)
        if match is None:
            raise LoadError(f"submit: no submission in the answer: {answer.text[:300]!r}")
        return int(match.group(1)), _page_delay(answer.text)

    def wait_final(
        self, submission_id: int, *, interval: float | None, first: float | None, deadline: float
    ) -> tuple[str, int]:
        """Poll with HX-Request until 286; (status, polls). "lost" past the deadline.

        ``interval`` None: wait as long as each fragment's own ``hx-trigger`` says, as the page does
        (``first`` from the POST's answer; None there means it was final already).
        """
        polls = 0
        delay = first
        while True:
            time.sleep(interval if interval is not None else delay or 0.0)
            if time.monotonic() > deadline:
                return "lost", polls
            answer = self.http.get(
                f"{self.base}/submissions/{submission_id}/", headers={"HX-Request": "true"}, timeout=30
            )
            polls += 1
            if answer.status_code == STOP_POLLING:
                text = answer.text
                for status in ("passed", "failed", "system_error"):
                    if f"summary-{status}" in text:
                        return status, polls
                return "unknown", polls
            if answer.status_code != 200:
                raise LoadError(f"status: HTTP {answer.status_code}")
            delay = _page_delay(answer.text)


def _page_delay(fragment: str) -> float | None:
    match = PAGE_DELAY.search(fragment)
    return int(match.group(1)) / 1000 if match else None


@dataclass
class LevelResult:
    concurrency: int
    duration_s: float
    poll_interval_s: float | None  # None: as the page polls
    started_at: float
    stopped_at: float
    think_s: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run_level(
    clients: list[Client],
    *,
    duration_s: float,
    poll_interval_s: float | None,
    drain_s: float,
    code: str,
    think_s: float = 0.0,
) -> LevelResult:
    """Every client submits in a loop for ``duration_s``; what is in flight then may finish within ``drain_s``.

    ``poll_interval_s``: a fixed interval between polls, or None to poll as the page does.
    ``think_s``: a pause after each result before the next submission (0: closed loop, back to back).
    """
    started = time.monotonic()
    stop_at = started + duration_s
    deadline = stop_at + drain_s
    result = LevelResult(len(clients), duration_s, poll_interval_s, started, stop_at, think_s=think_s)
    lock = threading.Lock()

    def loop(client: Client) -> None:
        n = 0
        while time.monotonic() < stop_at:
            n += 1
            # Distinct code every time: identical code within 10 s is one submission (a double-click).
            source = f"{code}\n# bench {client.username} {n} {uuid.uuid4().hex}\n"
            posted = time.monotonic()
            submission_id = None
            try:
                submission_id, first = client.submit(source)
                status, polls = client.wait_final(
                    submission_id, interval=poll_interval_s, first=first, deadline=deadline
                )
                finished = time.monotonic() if status != "lost" else None
                outcome = Outcome(client.username, submission_id, posted, finished, status, polls)
            except (LoadError, requests.RequestException) as exc:
                outcome = Outcome(client.username, submission_id, posted, None, "http_error", detail=str(exc))
                with lock:
                    result.errors.append(f"{client.username}: {exc}")
                time.sleep(0.2)
            with lock:
                result.outcomes.append(outcome)
            if think_s:
                time.sleep(think_s)

    threads = [threading.Thread(target=loop, args=(c,), name=f"client-{c.username}") for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()) + 35)  # + one request's timeout
    return result
