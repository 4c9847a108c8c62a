"""A throwaway PostgreSQL cluster of the tests' own: initdb in a temporary folder, a server on a
free 127.0.0.1 port (its Unix socket in that folder too), stopped and deleted at the end.

initdb and postgres refuse to run as root: as root, the cluster belongs to the `postgres`
system user when there is one (Debian's package creates it), else to `nobody`, and its commands
run through `runuser`. The folder is made with mkdtemp directly under the system's temporary
folder, so that this user can reach it (pytest's own tmp_path is private to root).
Durability is off (fsync, synchronous_commit, full_page_writes): it starts in about a second.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

HOST = "127.0.0.1"
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "40",
    "shared_buffers": "16MB",
    "listen_addresses": HOST,
}


def postgres_bin() -> Path | None:
    """The folder of initdb, pg_ctl and postgres: on PATH, else Debian's newest version."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = [path.parent for path in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    versions.sort(key=lambda folder: int(folder.parent.name) if folder.parent.name.isdigit() else 0)
    return versions[-1] if versions else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class PostgresCluster:
    """One cluster: `start()`, then `url` for SQLAlchemy, then `stop()`."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="dashsignal-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "socket"
        self.log = self.root / "server.log"
        self.port = 0
        self.user = self._unprivileged_user()
        self.socket_dir.mkdir()
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/postgres"

    def start(self) -> None:
        self._run(
            "initdb",
            *("-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"),
            *("--locale", "C", "--no-sync", "--no-instructions"),
        )
        for attempt in range(5):
            # Another process may take the free port before the server binds it: try another.
            self.port = _free_port()
            options = " ".join(f"-c {key}={value}" for key, value in SERVER_SETTINGS.items())
            options += f" -p {self.port} -k {self.socket_dir}"
            try:
                self._run(
                    "pg_ctl",
                    *("-D", str(self.data), "-l", str(self.log), "-o", options),
                    *("-w", "-t", "30", "-s", "start"),
                )
                return
            except subprocess.CalledProcessError:
                if attempt == 4:
                    raise RuntimeError("PostgreSQL did not start: " + self.log_tail()) from None
                time.sleep(0.1)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-s", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(
            command, check=True, cwd=self.root, capture_output=True, timeout=60, text=True
        )

    @staticmethod
    def _unprivileged_user() -> str | None:
        if os.geteuid() != 0:
            return None
        for name in ("postgres", "nobody"):
            try:
                pwd.getpwnam(name)
            except KeyError:
                continue
            return name
        raise RuntimeError("running as root, and there is neither a postgres nor a nobody user")
