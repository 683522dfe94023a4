"""The same ingest done with dlt: a ``rest_api`` source over the simulator's OpenDota dialect.

A dlt pipeline (``dlt.sources.rest_api``) fetches ``/api/matches/{id}`` for the given match
ids (a dependent resource resolved from a resource of ids, ``parallelized`` over dlt's extract
thread pool with as many workers as our pipeline has, or, at dlt's default, one call after another)
and loads them into PostgreSQL with dlt's ``postgres`` destination, in a scratch database of its own. Each match is mapped to the fields
the crawl stores (the match row and its ten players, which dlt normalizes into the child table
``matches__players``), so dlt writes no more than we do; ``append``, dlt's cheapest write
disposition. Timed from ``pipeline.run`` to its return: extract, normalize and load, in steady
state: a first, untimed run of the first ``WARMUP`` ids creates dlt's tables and state (as our
pipeline's schema is migrated before its clock starts), the timed run loads the rest.

``bench/bench_ingest.py`` runs this beside its own contenders (live simulator and recorded
answers) and prints ``ingest pipeline / dlt``; alone it measures dlt only:
``.venv/bin/python bench/bench_ingest_dlt.py [--matches 2000]``. dlt is an optional extra
(``pip install -e '.[bench]'``); without it this says so and stops.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable, Mapping
from typing import Any

from common import scratch_database, server_url, simulator_process

KEY = "00000000-0000-4000-8000-00000000da7a"
WORLD_ACCOUNTS = 20_000
LATENCY_MS = 5.0
WARMUP = 25  # ids loaded before the clock starts
MATCH_FIELDS = ("match_id", "match_seq_num", "start_time", "duration", "lobby_type", "game_mode", "radiant_win",
                "region")
PLAYER_FIELDS = ("player_slot", "account_id", "hero_id", "isRadiant", "win", "kills", "deaths", "assists",
                 "gold_per_min", "xp_per_min", "last_hits", "denies", "net_worth", "hero_damage", "lane_role",
                 "rank_tier")


def available() -> str | None:
    """None when dlt can run here, else why not (one line)."""
    try:
        import dlt  # noqa: F401
        import psycopg2  # noqa: F401  (dlt's postgres destination)
        from dlt.sources.rest_api import rest_api_source  # noqa: F401
    except ImportError as exc:
        return f"dlt not installed ({exc.name}); pip install -e '.[bench]' to compare with it"
    return None


def version() -> str:
    import dlt

    return dlt.__version__


def _project(match: dict[str, Any]) -> dict[str, Any]:
    """The fields the crawl stores: the match row and its players."""
    row = {k: match.get(k) for k in MATCH_FIELDS}
    row["players"] = [{k: p.get(k) for k in PLAYER_FIELDS} for p in match.get("players", [])]
    return row


def _replay_session(bodies: Mapping[int, bytes], latency_ms: float):
    """A requests session answering from recorded bodies after the simulated latency (as ``Replay``)."""
    import requests
    from requests.adapters import BaseAdapter

    class ReplayAdapter(BaseAdapter):
        def send(self, request, **kwargs):
            time.sleep(latency_ms / 1000 * random.uniform(0.5, 1.5))
            response = requests.Response()
            response.status_code = 200
            response._content = bodies[int(request.path_url.split("?", 1)[0].rsplit("/", 1)[1])]
            response.headers["content-type"] = "application/json"
            response.url, response.request, response.encoding = request.url, request, "utf-8"
            return response

        def close(self):
            pass

    session = requests.Session()
    session.mount("http://", ReplayAdapter())
    return session


def _credentials(url: str):
    """dlt's PostgresCredentials from a URL (dlt's own parser wants a password; trust auth has none)."""
    from dlt.destinations.impl.postgres.configuration import PostgresCredentials
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(url)
    credentials = PostgresCredentials()
    credentials.database, credentials.username = info["dbname"], info.get("user", "postgres")
    credentials.password = info.get("password") or ""
    credentials.host, credentials.port = info.get("host", "localhost"), int(info.get("port", 5432))
    return credentials


def run_dlt(url: str, sim_url: str, ids: list[int], *, workers: int = 8,
            bodies: Mapping[int, bytes] | None = None, latency_ms: float = LATENCY_MS,
            ready: Callable[[], None] | None = None, parallelized: bool = True) -> tuple[float, int]:
    """Ingest ``ids`` with dlt into the database at ``url``; returns (seconds, matches loaded by the
    timed run: all but the first ``WARMUP``). ``bodies``: serve recorded answers instead of asking ``sim_url``;
    ``parallelized=False``: dlt's default, the dependent resource's calls one after another;
    ``ready``: called between the warm-up and the clock's start (pipelines side by side wait there)."""
    os.environ["EXTRACT__WORKERS"] = str(workers)  # dlt's thread pool for parallelized resources
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    os.environ["DLT_TELEMETRY"] = "false"
    os.environ["RUNTIME__DLTHUB_TELEMETRY"] = "false"
    import dlt
    from dlt.sources.rest_api import rest_api_source

    def source(match_ids: list[int]):
        @dlt.resource(name="match_ids", selected=False)
        def ids_resource():
            yield [{"match_id": i} for i in match_ids]

        client: dict[str, Any] = {"base_url": sim_url, "auth": {"type": "bearer", "token": KEY}}
        if bodies is not None:
            client["session"] = _replay_session(bodies, latency_ms)
        return rest_api_source({
            "client": client,
            "resources": [
                ids_resource,
                {
                    "name": "matches",
                    "parallelized": parallelized,
                    "processing_steps": [{"map": _project}],
                    "endpoint": {
                        "path": "api/matches/{match_id}",
                        "params": {"match_id": {"type": "resolve", "resource": "match_ids", "field": "match_id"}},
                        "paginator": "single_page",
                        "data_selector": "$",
                    },
                },
            ],
        })

    warmup, timed = ids[:WARMUP], ids[WARMUP:]
    with tempfile.TemporaryDirectory(prefix="dlt_bench_") as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name="bench_ingest_dlt", pipelines_dir=pipelines_dir,
            destination=dlt.destinations.postgres(credentials=_credentials(url)), dataset_name="dlt_ingest",
        )
        pipeline.run(source(warmup))
        if ready:
            ready()
        started = time.perf_counter()
        pipeline.run(source(timed))
        seconds = time.perf_counter() - started
        with pipeline.sql_client() as sql:
            loaded = sql.execute_sql("SELECT count(*) FROM matches")[0][0] - len(warmup)
            players = sql.execute_sql("SELECT count(*) FROM matches__players")[0][0] - 10 * len(warmup)
    if loaded != len(timed) or players != 10 * loaded:
        raise RuntimeError(f"dlt loaded {loaded} of {len(timed)} matches and {players} players")
    return seconds, loaded


def measure(server: str, sim_url: str, ids: list[int], *, workers: int = 8,
            bodies: Mapping[int, bytes] | None = None, latency_ms: float = LATENCY_MS,
            ready: Callable[[], None] | None = None, parallelized: bool = True) -> tuple[float, int]:
    """``run_dlt`` into a fresh scratch database (not migrated: dlt makes its own tables)."""
    with scratch_database(server, "ingest_dlt", migrate=False) as url:
        return run_dlt(url, sim_url, ids, workers=workers, bodies=bodies, latency_ms=latency_ms, ready=ready,
                       parallelized=parallelized)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--matches", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--server", default=None, help="PostgreSQL server for the scratch database")
    args = parser.parse_args()
    missing = available()
    if missing:
        print(f"dlt: skipped: {missing}")
        return
    from crawl_pipeline.simulator import SimulatorConfig
    from crawl_pipeline.simulator.testing import world_for

    world = world_for(SimulatorConfig(accounts=WORLD_ACCOUNTS))
    indexes = list(range(world.num_matches - 1, world.num_matches - 1 - args.matches, -1))
    ids = [int(m) for m in world.match_id(indexes)]
    with simulator_process(accounts=WORLD_ACCOUNTS, latency_ms=LATENCY_MS, rate_limits={"enabled": False}) as sim_url:
        seconds, loaded = measure(server_url(args.server), sim_url, ids, workers=args.workers)
    print(f"dlt {version()} rest_api -> postgres, {args.workers} workers: {loaded} matches in {seconds:.2f} s "
          f"= {loaded / seconds:.1f}/s")


if __name__ == "__main__":
    main()
