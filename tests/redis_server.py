"""A throw-away redis-server (Debian's package) on a free port, for tests of what lives in Redis
in production: the job queue (RQ)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from tests.postgres import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def is_installed() -> bool:
    return Path(REDIS_SERVER).exists()


@contextmanager
def running(directory: Path) -> Iterator[str]:
    """Start redis-server (nothing saved to disk), yield its URL, stop it afterwards."""
    port = free_port()
    settings = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), *settings, "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    connection = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                connection.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(0.02)  # waiting for the server to listen, not for the test
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        connection.close()
        process.terminate()
        process.wait(timeout=10)
