"""A real, throwaway PostgreSQL cluster on loopback, for tests (and scripts) that need one.

    with PostgresCluster() as pg:
        dsn = pg.create_database("crm")
        ...

The cluster lives in a fresh temp folder (data directory, server log, unix socket), listens on
127.0.0.1 only, on a free port, with trust authentication and fsync off. PostgreSQL refuses to
run as root, so when this process is root the folder is handed to the ``postgres`` OS user
(created with ``useradd --system`` if missing) and the server binaries run through
``runuser -u postgres --``. ``stop()`` always shuts the server down and removes the folder.

The pytest fixture ``postgres_cluster`` (session scope) starts one cluster per test session. It
skips when the server binaries are missing, except under ``CI=true``, where it fails: CI must
run these tests.
"""

from __future__ import annotations

import atexit
import contextlib
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

try:  # the class is usable without pytest; only the fixture needs it
    import pytest
except ImportError:  # pragma: no cover
    pytest = None  # type: ignore[assignment]

SERVER_BINARIES = ("initdb", "pg_ctl", "postgres")
SUPERUSER = "postgres"
OS_USER = "postgres"  # runs the server when this process is root
# sockaddr_un.sun_path is 108 bytes on Linux, including the trailing NUL.
_MAX_SOCKET_PATH = 107


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are not installed on this machine."""


class PostgresClusterError(RuntimeError):
    """The cluster could not be created, started or stopped (message includes the log tail)."""


def find_server_binaries() -> dict[str, str]:
    """Paths of initdb/pg_ctl/postgres: from PATH, else the newest /usr/lib/postgresql/*/bin.

    Raises :class:`PostgresUnavailable` naming what is missing.
    """
    found = {name: shutil.which(name) for name in SERVER_BINARIES}
    if all(found.values()):
        # pg_ctl starts the `postgres` next to its own (resolved) path; keep the trio together.
        return {name: str(Path(path).resolve()) for name, path in found.items()}  # type: ignore[arg-type]
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1,
        reverse=True,
    )
    for bindir in candidates:
        paths = {name: bindir / name for name in SERVER_BINARIES}
        if all(p.is_file() and os.access(p, os.X_OK) for p in paths.values()):
            return {name: str(p) for name, p in paths.items()}
    missing = [name for name, path in found.items() if not path]
    raise PostgresUnavailable(
        f"{', '.join(missing)} not on PATH and no /usr/lib/postgresql/*/bin holds all of "
        f"{', '.join(SERVER_BINARIES)}"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """One throwaway PostgreSQL cluster. ``start()``, use ``dsn()``, ``stop()``."""

    def __init__(
        self,
        base_dir: str | os.PathLike[str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.startup_timeout = startup_timeout
        self.host = "127.0.0.1"
        self.user = SUPERUSER
        self.port: int | None = None
        self.root: Path | None = None
        self._bin: dict[str, str] = {}
        self._as_root = os.geteuid() == 0
        self._started = False

    # -- paths ---------------------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self._root() / "data"

    @property
    def log_path(self) -> Path:
        return self._root() / "server.log"

    @property
    def socket_dir(self) -> Path:
        return self._root()

    def _root(self) -> Path:
        if self.root is None:
            raise PostgresClusterError("cluster not started")
        return self.root

    # -- public API ----------------------------------------------------------------------------

    def dsn(self, dbname: str = "postgres") -> str:
        if self.port is None or not self._started:
            raise PostgresClusterError("cluster not started")
        return f"postgresql://{self.user}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname), **kwargs)

    def create_database(self, name: str) -> str:
        """Create database ``name`` (UTF-8, from template0) and return its DSN."""
        with self.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                    sql.Identifier(name)
                )
            )
        return self.dsn(name)

    def drop_database(self, name: str) -> None:
        with self.connect(autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def start(self) -> PostgresCluster:
        """initdb + start on a free loopback port; wait until it accepts connections."""
        if self._started:
            return self
        self._bin = find_server_binaries()
        try:
            self._make_root()
            self._initdb()
            self._start_server()
            self._started = True
            atexit.register(self.stop)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Shut the server down (fast, then immediate, then SIGKILL) and remove the folder."""
        atexit.unregister(self.stop)
        self._started = False
        root, self.root = self.root, None
        if root is None:
            return
        data_dir = root / "data"
        try:
            if (data_dir / "postmaster.pid").exists():
                for mode in ("fast", "immediate"):
                    result = self._run(
                        [
                            self._bin["pg_ctl"],
                            "-D",
                            str(data_dir),
                            "-m",
                            mode,
                            "-w",
                            "-t",
                            "30",
                            "stop",
                        ],
                        cwd=root,
                        check=False,
                        timeout=60,
                    )
                    if result.returncode == 0:
                        break
                else:
                    self._kill_postmaster(data_dir)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except (OSError, PostgresClusterError):
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:]) or "(server log empty)"

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port {self.port}" if self._started else "stopped"
        return f"<PostgresCluster {state} root={self.root}>"

    # -- internals -----------------------------------------------------------------------------

    def _make_root(self) -> None:
        base = self.base_dir or Path(tempfile.gettempdir())
        if self._as_root:
            uid, gid = self._ensure_os_user()
            if self.base_dir is None and not self._traversable_by(base, uid, gid):
                base = Path("/tmp")  # TMPDIR may point somewhere private to root
            if not self._traversable_by(base, uid, gid):
                raise PostgresClusterError(
                    f"{base} is not reachable by the {OS_USER!r} OS user; pass another base_dir"
                )
        self.root = Path(tempfile.mkdtemp(prefix="pgc-", dir=base))
        if self._as_root:
            os.chown(self.root, uid, gid)
        socket_path = self.root / ".s.PGSQL.65535"
        if len(str(socket_path).encode()) > _MAX_SOCKET_PATH:
            raise PostgresClusterError(
                f"temp folder path too long for a unix socket: {self.root}; pass a shorter base_dir"
            )

    @staticmethod
    def _ensure_os_user() -> tuple[int, int]:
        try:
            entry = pwd.getpwnam(OS_USER)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    OS_USER,
                ],
                check=True,
                capture_output=True,
                text=True,
            )
            entry = pwd.getpwnam(OS_USER)
        return entry.pw_uid, entry.pw_gid

    @staticmethod
    def _traversable_by(path: Path, uid: int, gid: int) -> bool:
        """Can uid/gid search ``path`` and every ancestor? (The temp folder itself is made
        by root and chowned, so search permission on the base is all the OS user needs.)"""
        groups = {gid, *_supplementary_groups(uid)}
        for part in [path.resolve(), *path.resolve().parents]:
            try:
                st = part.stat()
            except OSError:
                return False
            if st.st_uid == uid:
                bits = st.st_mode >> 6
            elif st.st_gid in groups:
                bits = st.st_mode >> 3
            else:
                bits = st.st_mode
            if not bits & 0o1:
                return False
        return True

    def _run(
        self, args: list[str], *, cwd: Path, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        if self._as_root:
            args = ["runuser", "-u", OS_USER, "--", *args]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        try:
            result = subprocess.run(
                args,
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise PostgresClusterError(
                f"{' '.join(args)} timed out after {timeout}s\n--- server log ---\n"
                f"{self.log_tail()}"
            ) from exc
        if check and result.returncode != 0:
            raise PostgresClusterError(
                f"{' '.join(args)} exited {result.returncode}\n--- output ---\n"
                f"{(result.stdout + result.stderr).strip()}\n--- server log ---\n"
                f"{self.log_tail()}"
            )
        return result

    def _initdb(self) -> None:
        root = self._root()
        self._run(
            [
                self._bin["initdb"],
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            cwd=root,
        )
        # Trust on loopback and the private socket only; nothing else may connect.
        (self.data_dir / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\n", encoding="utf-8"
        )
        socket_dir = str(self.socket_dir).replace("'", "''")
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(
                "\n# throwaway test cluster (tests/pgcluster.py)\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{socket_dir}'\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "max_connections = 50\n"
                "shared_buffers = 32MB\n"
                "timezone = 'UTC'\n"
                "log_timezone = 'UTC'\n"
            )

    def _start_server(self) -> None:
        root = self._root()
        last_error: PostgresClusterError | None = None
        for _attempt in range(5):  # the free port can be taken between pick and bind
            self.port = _free_port()
            self.log_path.unlink(missing_ok=True)
            try:
                self._run(
                    [
                        self._bin["pg_ctl"],
                        "-D",
                        str(self.data_dir),
                        "-l",
                        str(self.log_path),
                        "-o",
                        f"-p {self.port}",
                        "-w",
                        "-t",
                        str(int(self.startup_timeout)),
                        "start",
                    ],
                    cwd=root,
                    timeout=self.startup_timeout + 30,
                )
                return
            except PostgresClusterError as exc:
                last_error = exc
                if "Address already in use" not in self.log_tail(200):
                    raise
        assert last_error is not None
        raise last_error

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                with psycopg.connect(self.dsn(), connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresClusterError(
                        f"PostgreSQL on {self.host}:{self.port} not ready after "
                        f"{self.startup_timeout}s: {exc}\n--- server log ---\n{self.log_tail()}"
                    ) from exc
                time.sleep(0.1)

    def _kill_postmaster(self, data_dir: Path) -> None:
        """Last resort: SIGKILL the postmaster this cluster started (pid from postmaster.pid)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)


def _supplementary_groups(uid: int) -> list[int]:
    name = pwd.getpwuid(uid).pw_name
    return [g.gr_gid for g in grp.getgrall() if name in g.gr_mem]


def ci_requires_postgres() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


if pytest is not None:

    @pytest.fixture(scope="session")
    def postgres_cluster():
        """One running :class:`PostgresCluster` for the whole session; stopped and removed
        at teardown. Skips without server binaries (fails instead when ``CI=true``)."""
        try:
            find_server_binaries()
        except PostgresUnavailable as exc:
            reason = f"PostgreSQL server binaries (initdb/pg_ctl) not found: {exc}"
            if ci_requires_postgres():
                pytest.fail(f"{reason} (CI=true: the postgres tests must run in CI)")
            pytest.skip(reason)
        cluster = PostgresCluster()
        try:
            try:
                cluster.start()
            except PostgresClusterError as exc:
                pytest.fail(f"could not start the throwaway PostgreSQL cluster:\n{exc}")
            yield cluster
        finally:
            cluster.stop()
