"""Helpers for browser tests: the live server type, signing in, the axe check, screenshots."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import PASSWORD, current_code

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@dataclass
class LiveServer:
    """The app and the base URL it answers on."""

    app: Flask
    url: str

    def __call__(self, path: str) -> str:
        return self.url + path


def assert_accessible(page: Any) -> None:
    """Run axe-core on the page as it is now; fail listing every WCAG 2.1 A/AA violation."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={
            "runOnly": {"type": "tag", "values": WCAG_21_AA},
            "resultTypes": ["violations"],
        },
    )
    violations = results.response["violations"]
    if violations:
        lines = [f"{len(violations)} axe violation(s) on {page.url}:"]
        for violation in violations:
            lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
            for node in violation["nodes"][:5]:
                lines.append(f"    {' '.join(node['target'])}: {node['failureSummary']}")
        pytest.fail("\n".join(lines))


def screenshot(page: Any, name: str) -> None:
    """Save a full-page PNG into docs/screenshots, only when SCREENSHOTS=1."""
    if os.environ.get("SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def code_now(app: Flask, email: str) -> str:
    return current_code(app, email, at=datetime.now(UTC))


def sign_in(page: Any, server: LiveServer, email: str, code: str | None = None) -> None:
    """Fill both sign-in steps, checking each form with axe before it is sent."""
    page.goto(server("/login"))
    assert_accessible(page)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/login/two-factor*")
    assert_accessible(page)
    page.get_by_label("Authentication code").fill(code or code_now(server.app, email))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
