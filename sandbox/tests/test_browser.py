"""A learner in a real browser: sign in, open the exercise, type a handler, Submit, see the verdict."""

import os
import shutil

import pytest

from course.services import course_sync
from course.tests.factories import PASSWORD, make_learner

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Playwright's sync API runs an event loop in this thread; the ORM calls here are test setup.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Flags for this closed network: no background connections, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

WRONG = """import urllib.parse

def lambda_handler(event, context):
    s3 = event["Records"][0]["s3"]
    return {"bucket": s3["bucket"]["name"], "key": s3["object"]["key"], "size": s3["object"]["size"]}
"""


@pytest.fixture
def page(live_server, celery_worker, settings):
    from playwright.sync_api import sync_playwright

    course_sync(content_dir=settings.COURSE_CONTENT_DIR)
    make_learner("ada")
    # Playwright gives the browser a fresh, empty profile of its own.
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        page.set_default_timeout(30_000)
        yield page
        browser.close()


def _type_code(page, code: str) -> None:
    editor = page.locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    editor.fill(code)


def test_learner_submits_in_the_browser_and_sees_pass_then_failure(page, settings):
    from sandbox.exercise_files import exercise_source

    page.goto("/accounts/login/?next=/lessons/s3-to-lambda/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/lessons/s3-to-lambda/")

    # The CodeMirror editor replaced the textarea.
    assert page.locator(".cm-editor").is_visible()
    _type_code(page, exercise_source("s3-to-lambda").solution_path.read_text())
    page.keyboard.press("Control+Enter")  # Test: the sample case only
    page.locator("#status .summary").wait_for()
    assert "Sample case passed" in page.locator("#status .summary").inner_text()
    page.get_by_role("button", name="Submit for grading").click()
    page.locator("#status .summary h3", has_text="All cases passed").wait_for()
    assert page.locator("#status .case-passed").count() == 4
    page.locator(".exercise").screenshot(path=str(settings.BASE_DIR / "var" / "browser-pass.png"))

    _type_code(page, WRONG)
    page.get_by_role("button", name="Submit for grading").click()
    page.locator("#status .summary-failed").wait_for()
    failing = page.locator("#status .case-failed").first
    assert "A key with spaces" in failing.inner_text()
    assert "unquote_plus" in failing.inner_text()
    page.locator("#status").screenshot(path=str(settings.BASE_DIR / "var" / "browser-fail.png"))

    # An unsubmitted draft survives a reload.
    page.locator(".cm-content").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("# draft note")
    page.wait_for_timeout(600)  # the editor saves drafts 300 ms after typing stops
    page.reload()
    assert "# draft note" in page.locator(".cm-content").inner_text()
