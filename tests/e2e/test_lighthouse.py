"""Lighthouse (the npm package, pinned in package-lock.json) on the live drive page in Debian's
Chromium, once as a phone and once as a desktop: SEO 100, accessibility and best practices at
least 97, performance at least 80 (each run's four scores are in the message either way).

`make install` puts Lighthouse in node_modules/ (`npm ci`); without it this skips, or fails
under REQUIRE_BROWSER=1 as the other browser tests do without Chromium."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import stripe_settings
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.helpers import LiveServer
from tests.factories import make_drive
from tests.fundraising.stripe_objects import deliver
from tests.fundraising.support import make_gift

pytestmark = pytest.mark.browser

LIGHTHOUSE = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("seo", "accessibility", "best-practices", "performance")
# The lowest score each category may have (Lighthouse's 0-1 scale; the report shows x100).
# Nothing is exempted. Served on http://127.0.0.1, the HTTPS audits (is-on-https,
# redirects-http) count the page as secure, as Chromium does localhost, so they do not test
# production's TLS; csp-xss only informs (it would rather have 'strict-dynamic' than Stripe's
# origins). Performance is noisy on a shared machine, hence the margin: seen here 90-95 on the
# phone (the layout shift when donate.js rewrites the time left and the end date), 100 on the
# desktop, with the light Stripe.js stand-in in place of Stripe's own.
MINIMUM = {"seo": 1.0, "accessibility": 0.97, "best-practices": 0.97, "performance": 0.8}
# One run per form factor: Lighthouse's own mobile default (a mid-range phone, simulated slow
# 4G and a 4x slower CPU) and its desktop preset.
FORM_FACTORS = {"mobile": ["--form-factor=mobile"], "desktop": ["--preset=desktop"]}


@pytest.fixture(scope="module")
def lighthouse() -> Path:
    """The Lighthouse command line. Missing: a skip, or a failure under REQUIRE_BROWSER=1."""
    missing = []
    if not LIGHTHOUSE.exists():
        missing.append(f"Lighthouse not found at {LIGHTHOUSE} (`make install` runs npm ci)")
    if not CHROMIUM.exists():
        missing.append(f"Chromium not found at {CHROMIUM} (install the chromium package)")
    if missing:
        message = "; ".join(missing)
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message + "; REQUIRE_BROWSER=1 makes this a failure")
        pytest.skip(message)
    return LIGHTHOUSE


@pytest.fixture(scope="module")
def drive_url(live_server: LiveServer, localstripe: str) -> str:
    """An open drive as donors see it: Stripe.js (the stand-in from localstripe) loaded, a
    story in Markdown, one gift in the recent list."""
    app = live_server.app
    app.config.update(stripe_settings(localstripe))  # before the first request builds the CSP
    drive_id = make_drive(
        app,
        slug="e2e-lighthouse",
        story="Five people need to leave **now**.\n\nEvery gift pays for part of a journey.",
    )
    deliver(app.test_client(), make_gift(app, drive_id, 2500).succeeded())
    return live_server("/drives/e2e-lighthouse")


def run_lighthouse(command: Path, url: str, form_factor: str, report: Path) -> dict[str, Any]:
    """One Lighthouse run; its Chromium is ended with it, even on a time-out."""
    chrome_flags = " ".join(["--headless=new", *CHROMIUM_ARGS])
    process = subprocess.Popen(
        [
            str(command),
            url,
            "--only-categories=" + ",".join(CATEGORIES),
            f"--chrome-path={CHROMIUM}",
            f"--chrome-flags={chrome_flags}",
            "--output=json",
            f"--output-path={report}",
            "--quiet",
            *FORM_FACTORS[form_factor],
        ],
        start_new_session=True,  # its own process group: Lighthouse and the Chromium it starts
    )
    try:
        returncode = process.wait(timeout=240)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert returncode == 0, f"Lighthouse exited with {returncode} on {url} ({form_factor})"
    result: dict[str, Any] = json.loads(report.read_text())
    return result


def failing_audits(result: dict[str, Any], category: str) -> list[str]:
    """Each audit that cost `category` points: its id, title, score and the first few items."""
    lines = []
    for ref in result["categories"][category]["auditRefs"]:
        audit = result["audits"][ref["id"]]
        if ref["weight"] == 0 or (audit["score"] is not None and audit["score"] >= 1):
            continue
        if audit["scoreDisplayMode"] in ("notApplicable", "manual", "informative"):
            continue
        score = audit.get("errorMessage") or audit["score"]
        lines.append(f"- {category}/{audit['id']} ({score}): {audit['title']}")
        items = (audit.get("details") or {}).get("items") or []
        for item in items[:5]:
            node = item.get("node") or {}
            where = node.get("snippet") or item.get("url") or item.get("source") or item
            lines.append(f"    {json.dumps(where)[:300]}")
    return lines


@pytest.mark.parametrize("form_factor", FORM_FACTORS)
def test_lighthouse_scores_on_the_drive_page(
    lighthouse: Path, drive_url: str, form_factor: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = run_lighthouse(lighthouse, drive_url, form_factor, tmp_path / "report.json")
    seconds = time.monotonic() - started
    assert not result.get("runtimeError"), result["runtimeError"]
    assert result["finalDisplayedUrl"] == drive_url  # the page itself, not a redirect
    # A category whose weighted audit errored has no score: that counts as 0 here.
    scores = {name: result["categories"][name]["score"] or 0.0 for name in CATEGORIES}
    summary = ", ".join(f"{name} {round(score * 100)}" for name, score in scores.items())
    print(f"Lighthouse {result['lighthouseVersion']} ({form_factor}, {seconds:.0f} s): {summary}")
    short = [name for name in CATEGORIES if scores[name] < MINIMUM[name]]
    details = [line for name in short for line in failing_audits(result, name)]
    assert not short, "\n".join([f"{form_factor}: {summary}", *details])
