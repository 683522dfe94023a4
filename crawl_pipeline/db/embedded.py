"""The embedded PostgreSQL 16 server (pgserver wheel) used when DATABASE_URL is unset.

pgserver reuses a server already running on the same data directory (a leftover of a
crash included) instead of starting a second one, and stops it when the last process
holding a handle exits.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

log = logging.getLogger(__name__)

_servers: dict[Path, object] = {}


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
            server = pgserver.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
        _servers[pgdata] = server
        log.info("embedded PostgreSQL serving %s", pgdata)
    return server.get_uri("postgres")  # type: ignore[attr-defined]
