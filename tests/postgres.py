"""A throw-away PostgreSQL server from the machine's binaries, for the test session.

pytest-postgresql cannot start a server as root (PostgreSQL refuses to run as root, and CI runs
as root), so this does the same small job itself: initdb into a temporary folder, start on a free
port with fsync off, and drop privileges to the `postgres` (or `nobody`) user when needed.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def find_bindir() -> Path | None:
    """The folder holding pg_ctl and initdb, newest version first."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    datadir: Path
    port: int
    user: str | None

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--locale=C",
        )
        options = (
            f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.datadir),
            "-o",
            options,
            "-l",
            str(self.datadir / "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_server() -> PostgresServer | None:
    """Start a server in a new temporary folder, or return None without PostgreSQL binaries."""
    bindir = find_bindir()
    if bindir is None:
        return None
    user = None
    # Not under pytest's own temporary tree: that is private to root, and the server is not.
    base = Path(tempfile.mkdtemp(prefix="safepassage-pg-"))
    datadir = base / "pgdata"
    if os.geteuid() != 0:
        datadir.mkdir(mode=0o700)
    else:
        user = "postgres"
        try:
            account = pwd.getpwnam(user)
        except KeyError:
            user = "nobody"
            account = pwd.getpwnam(user)
        base.chmod(0o755)
        datadir.mkdir(mode=0o700)
        os.chown(datadir, account.pw_uid, account.pw_gid)
    server = PostgresServer(bindir, datadir, free_port(), user)
    server.start()
    return server
