"""The embedded PostgreSQL 16 server (pgserver wheel) used when DATABASE_URL is unset.

pgserver reuses a server already running on the same data directory (a leftover of a
crash included) instead of starting a second one, and stops it when the last process
holding a handle exits.

pgserver trusts ``postmaster.pid``: a live pid there means "the server runs". After a crash
and a reboot that pid may belong to an unrelated process; pgserver then connects to a socket
that does not exist, and at exit *kills that process*. :func:`check_postmaster_pid` looks
first: a pid that is not a PostgreSQL of this data directory makes the file stale, and it is
removed when no PostgreSQL process uses the directory (otherwise one line says what to do).
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

_servers: dict[Path, object] = {}


class EmbeddedServerError(RuntimeError):
    """The embedded PostgreSQL cannot start; the one-line message names the file or directory at fault."""


def _uses_data_dir(process: psutil.Process, pgdata: Path) -> bool | None:
    """Is ``process`` a PostgreSQL (postmaster or backend) of ``pgdata``? None when we may not look."""
    try:
        name = process.name()
        cmdline = process.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return None
    if "postgres" not in name and not any("postgres" in part for part in cmdline[:1]):
        return False
    if str(pgdata) in cmdline:  # the postmaster: postgres -D <pgdata> ...
        return True
    try:
        return Path(process.cwd()).resolve() == pgdata.resolve()  # backends run in the data directory
    except (psutil.NoSuchProcess, psutil.ZombieProcess, FileNotFoundError):
        return False
    except psutil.AccessDenied:
        return None


def check_postmaster_pid(pgdata: Path) -> None:
    """Remove a stale ``postmaster.pid`` naming a live unrelated process, or raise ``EmbeddedServerError``.

    A missing file, a dead pid (PostgreSQL itself replaces that file) and a pid that is this data
    directory's server are left alone.
    """
    lock = pgdata / "postmaster.pid"
    try:
        first = lock.read_text("utf-8", errors="replace").splitlines()[:1]
    except FileNotFoundError:
        return
    except OSError as exc:
        raise EmbeddedServerError(f"cannot read {lock}: {exc.strerror or exc}") from None
    pid = int(first[0]) if first and first[0].strip().isdigit() else None
    if pid is not None and not psutil.pid_exists(pid):
        return  # a crash left it; PostgreSQL starts over it
    what = "no process id"
    if pid is not None:
        try:
            process = psutil.Process(pid)
        except psutil.NoSuchProcess:
            return
        owner = _uses_data_dir(process, pgdata)
        if owner:
            return  # this data directory's server: reused
        try:
            what = f"process {pid} ({process.name()})"
        except psutil.Error:
            what = f"process {pid}"
        if owner is None:
            raise EmbeddedServerError(
                f"{lock} names {what}, which may not be inspected: if no PostgreSQL runs on {pgdata}, "
                f"delete {lock} and retry"
            )
    users = []
    for candidate in psutil.process_iter():
        if candidate.pid != pid and _uses_data_dir(candidate, pgdata) is not False:
            users.append(candidate.pid)
    if users:
        raise EmbeddedServerError(
            f"{lock} names {what}, not the PostgreSQL of {pgdata}, but PostgreSQL processes {users[:5]} still use "
            f"that directory: stop them, then delete {lock} and retry"
        )
    try:
        lock.unlink()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise EmbeddedServerError(
            f"{lock} is stale (it names {what}, not PostgreSQL) and cannot be removed: {exc.strerror or exc}; "
            "delete it and retry"
        ) from None
    log.warning("removed stale %s: it named %s, not the PostgreSQL of this data directory", lock, what)


def start_embedded(pgdata: Path, *, keep_running: bool = False) -> str:
    """Start (or attach to) the server on ``pgdata`` and return its unix-socket URL.

    ``keep_running`` leaves the server up after this process exits (the test suite
    shares one server between workers that way).
    """
    pgdata = pgdata.absolute()
    server = _servers.get(pgdata)
    if server is None:
        os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

            pgdata.parent.mkdir(parents=True, exist_ok=True)
            check_postmaster_pid(pgdata)
            try:
                server = pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
            except Exception as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise EmbeddedServerError(
                    f"cannot start the embedded PostgreSQL in {pgdata} ({type(exc).__name__}{': ' + first[:200] if first else ''}); "
                    f"its log is in {pgdata / 'log'}"
                ) from None
        _servers[pgdata] = server
        log.info("embedded PostgreSQL serving %s", pgdata)
    return server.get_uri("postgres")  # type: ignore[attr-defined]
