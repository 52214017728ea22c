"""Shared helpers for the benchmarks: processes, PostgreSQL, gunicorn, wrk, CPU time, cleanup.

The app's environment and the data it is measured with are in `seeding.py`.

Everything listens on 127.0.0.1 only, every wait has a deadline, and every process started here
is registered with `Processes` so it is stopped when the script exits (normally or not).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
VENV_BIN = ROOT / ".venv" / "bin"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SERVER_CPU = "0"  # gunicorn (and PostgreSQL) run here
CLIENT_CPU = "1"  # the load generator runs here
WEBHOOK_SECRET = "whsec_benchmark_secret_not_for_production"  # noqa: S105  (a throw-away)
DRIVE_SLUG = "bench-drive"
WORKER_ARGS = ["-k", "sync", "-w", "2", "--threads", "1", "--backlog", "2048"]
# Each run has its own servers: no shared control socket in ~/.gunicorn.
EXTRA_ARGS = ["--no-control-socket"]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- process bookkeeping --------------------------------------------------------------------


class Processes:
    """Every child process and temporary folder, stopped and removed at exit."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen[bytes]] = []
        self.postgres: list[Any] = []
        self.folders: list[Path] = []
        atexit.register(self.cleanup)
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.cleanup()
        raise SystemExit(128 + signum)

    def spawn(self, command: list[str], log_path: Path, env: dict[str, str] | None = None) -> Any:
        with log_path.open("ab") as handle:
            process = subprocess.Popen(
                command,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        self.children.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)
        if process in self.children:
            self.children.remove(process)

    def tempdir(self, prefix: str) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=prefix))
        self.folders.append(folder)
        return folder

    def cleanup(self) -> None:
        for process in list(self.children):
            try:
                self.stop(process)
            except Exception as error:  # cleanup goes on whatever happens
                log(f"could not stop {process.pid}: {error}")
        for server in list(self.postgres):
            try:
                server.stop()
            except Exception as error:
                log(f"could not stop PostgreSQL: {error}")
            self.postgres.remove(server)
        for folder in list(self.folders):
            if os.environ.get("BENCH_KEEP"):
                log(f"kept {folder} (BENCH_KEEP is set)")
                self.folders.remove(folder)
                continue
            shutil.rmtree(folder, ignore_errors=True)
            self.folders.remove(folder)


# --- databases ------------------------------------------------------------------------------


def start_postgres(procs: Processes) -> Any:
    """A throw-away PostgreSQL server (tests/postgres.py), pinned to the server core."""
    from tests import postgres

    server = postgres.start_server()
    if server is None:
        raise SystemExit("PostgreSQL binaries not found (install the postgresql package)")
    procs.postgres.append(server)
    pid = postmaster_pid(server)
    # The database is part of the server side: it shares the server's core, not the client's.
    subprocess.run(
        ["taskset", "-a", "-p", "-c", SERVER_CPU, str(pid)], check=True, capture_output=True
    )
    return server


# --- servers and load -----------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_gunicorn(
    procs: Processes,
    target: str,
    env: dict[str, str],
    log_dir: Path,
    name: str,
    chdir: Path = ROOT,
    extra: Iterable[str] = (),
) -> Server:
    """gunicorn pinned to the server core, listening on 127.0.0.1 only."""
    port = free_port()
    log_path = log_dir / f"gunicorn-{name}.log"
    command = [
        "taskset",
        "-c",
        SERVER_CPU,
        str(VENV_BIN / "gunicorn"),
        *WORKER_ARGS,
        *EXTRA_ARGS,
        *extra,
        "--chdir",
        str(chdir),
        "-b",
        f"127.0.0.1:{port}",
        target,
    ]
    process = procs.spawn(command, log_path, env)
    server = Server(process, port, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn {name} exited:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(server.base + "/__nothing__", timeout=2):  # noqa: S310
                pass
            return server
        except urllib.error.HTTPError:
            return server  # it answered (a 404 is an answer)
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"gunicorn {name} did not start:\n{log_path.read_text()[-3000:]}")


def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"cannot read latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: str
    non_2xx: int
    server_cpu_ms_per_request: float


def run_wrk(
    url: str, duration: int, server_pids: Iterable[int], connections: int = 16
) -> WrkResult:
    """wrk pinned to the client core; bounded by its duration (plus a generous timeout).

    Also measures the CPU the server side (gunicorn and, for PostgreSQL, the database) spent
    per request during the run."""
    server_pids = list(server_pids)
    cpu_before = cpu_seconds(server_pids)
    command = [
        "taskset",
        "-c",
        CLIENT_CPU,
        "wrk",
        "--latency",
        "-t1",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "5s",
        url,
    ]
    done = subprocess.run(
        command, check=True, capture_output=True, text=True, timeout=duration + 60
    )
    cpu_used = cpu_seconds(server_pids) - cpu_before
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Socket errors:.*", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return WrkResult(
        rps,
        p50,
        p99,
        total,
        errors.group(0) if errors else "",
        int(non_2xx.group(1)) if non_2xx else 0,
        cpu_used * 1000 / max(total, 1),
    )


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (Linux /proc)."""
    found, queue = [], [pid]
    while queue and len(found) < 10_000:
        current = queue.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                children = (task / "children").read_text().split()
                queue.extend(int(child) for child in children)
        except OSError:
            continue
    return found


def cpu_seconds(root_pids: Iterable[int]) -> float:
    """User plus system CPU time used so far by these processes and their descendants.

    Under a busy shared machine the wall-clock rate swings with other people's load; the CPU
    the server side spends per request does not, so it is reported beside the rate.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for root in root_pids:
        for pid in process_tree(root):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def postmaster_pid(server: Any) -> int:
    return int((server.datadir / "postmaster.pid").read_text().split()[0])


def machine_description() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    wrk_version = (wrk.stdout or wrk.stderr).split("\n")[0].strip()
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {sys.version.split()[0]}, {wrk_version}, "
        f"gunicorn {' '.join(WORKER_ARGS)}, server on CPU {SERVER_CPU}, client on CPU {CLIENT_CPU}"
    )
