"""How the tests and the benchmarks start the Stripe stand-in as a process of their own (this
module imports nothing of localstripe, so importing it has no side effects)."""

from __future__ import annotations

import sys
from pathlib import Path


def command_line(
    port_file: Path,
    *,
    delay_ms: int = 0,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    stripe_js: Path | None = None,
    debits_clear_ms: int | None = None,
    python: str = sys.executable,
) -> list[str]:
    """The command that starts this stand-in on a free port, writing the port to `port_file`
    (for the tests and the benchmarks, which start it as a process of their own)."""
    command = [python, "-m", "devtools.localstripe_server", "--port", "0"]
    command += ["--port-file", str(port_file), "--delay-ms", str(delay_ms)]
    if stripe_js is not None:
        command += ["--stripe-js", str(stripe_js)]
    if webhook_url and webhook_secret:
        command += ["--webhook-url", webhook_url, "--webhook-secret", webhook_secret]
    if debits_clear_ms is not None:  # 0: a SEPA Debit clears only when a test says so
        command += ["--debits-clear-ms", str(debits_clear_ms)]
    return command
