"""Per-batch Dagster overhead against the work itself, at the default batch size and around it.

The work is a batch at the project's defaults: the default batch size (``CrawlConfig.batch_size``)
and the default history per account (``max_matches_per_account``, 100), both read from the code.
"100 matches each" is at most: the simulated world averages about 100 games an account, so a
200-account batch stores about 15,000 details. A stress bound runs the default batch size again
with a twentieth of that history (``--light``, 5 matches per account), where Dagster's fixed cost
per run weighs about twenty times more.

For each batch size N, N real accounts of the simulated world are seeded (depth 0, one
batch) into fresh scratch databases, then the batch is crawled (profiles, hero stats,
match stubs, match details) in two ways against the same simulator (own process, rate
limits off, 5 ms latency):

  * direct   the work functions called one after the other (``phases.fetch_profiles``,
             ``fetch_hero_stats``, ``fetch_match_stubs``, ``fetch_batch_details``), the batch
             cut with the same ``frontier.cut_batches``, sources opened per phase as the asset does
  * dagster  ``crawl_locally``: the discovery tick, then ``crawl_batch_job`` executed in
             process for each requested phase (two runs per batch: hero phase, match phase) on a
             real instance whose storage is PostgreSQL (dagster-postgres), with checks and metadata

Fairness: both modes do the same work on the same accounts against the same simulator, each on
a fresh crawl database with the same pool size (the number of details stored is compared). The
simulator keeps the answers it served (response and match caches), so an untimed direct pass over
the same accounts warms it first (before, the direct pass ran cold and the Dagster pass after it
warm, which hid about a second of overhead at 160 accounts); then the two modes alternate
``--repeat`` times and the fastest of each counts.

overhead = dagster - direct, estimated two ways: from the wall-clock times, and around the work
functions (each mode's time minus the time spent inside the four ``phases.fetch_*`` calls, timed
in both modes). The second is the same difference with the work taken out of both sides, so the
load other processes put on the machine (which moves the work by a second or more from pass to
pass) hardly moves it; it would miss Dagster slowing the work functions down, which only the
event-log lines they write could do (one per phase). The verdict uses it. Printed per N: both
times and both estimates; where the Dagster time went (outside the runs: discovery ticks and run
creation; run machinery: run start, resources, planning and run events; the crawl step; the
check step) and the event-log entries per run. Then the least-squares decomposition (fixed +
per account), the stress bound and the verdict at the default batch size with the default history:
measured when that size was run, else predicted from the decomposition.

Launched runs (``--launched N``, default 50 accounts): ``crawl_locally`` executes each run in
process whatever the job's executor, but a run the daemon launches is executed by its run worker on the
job's executor. So the batch of N accounts is crawled once more with every requested run executed that
way (``execute_job`` of a reconstructable job, storage connections not reused) on Dagster's default
multiprocess executor (a subprocess per step, importing the project) and on the in-process executor
the project's definitions name; the ratio is printed. The run worker's own start is the same for both.

Run: ``.venv/bin/python bench/bench_dagster_overhead.py [--sizes 50 200] [--repeat 2] [--matches 100] [--light 5] [--launched 50]``.
"""

from __future__ import annotations

import argparse
import logging
import math
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import numpy as np
from common import UNLIMITED_OPENDOTA, scratch_database, server_url, simulator_process, target_line

WORLD_ACCOUNTS = 20_000
LATENCY_MS = 5.0
RATE = {"opendota": UNLIMITED_OPENDOTA}
POOL_SIZE = 8  # PostgresResource.pool_max_size's default: the same connections for both modes


def crawl_config(seeds: list[int], matches: int):
    """The crawl settings of one batch of ``seeds`` (stored by ``seed`` first in both modes): the
    resource names only the first, as a deployment's short seed list does. With all N in it, Dagster
    validated an N-item config list several times per run, a cost no deployment pays."""
    from crawl_pipeline.defs.crawl.resources import CrawlConfig

    return CrawlConfig(
        seeds=seeds[:1], max_depth=0, batch_size=len(seeds), batch_growth=1.0, max_batch_size=len(seeds),
        max_matches_per_account=matches, page_size=matches, partial_batch_after_seconds=0,  # each source caps its page
    )


class WorkClock:
    """Seconds spent inside the four work functions (``phases.fetch_*``) while ``timing()`` is open,
    in either mode: the asset calls them through the module, as ``direct`` does."""

    NAMES = ("fetch_profiles", "fetch_hero_stats", "fetch_match_stubs", "fetch_batch_details")

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def timing(self):
        from crawl_pipeline.crawl import phases

        originals = {name: getattr(phases, name) for name in self.NAMES}

        def timed(function):
            def call(*args, **kwargs):
                started = time.perf_counter()
                try:
                    return function(*args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - started

            return call

        for name, function in originals.items():
            setattr(phases, name, timed(function))
        try:
            yield self
        finally:
            for name, function in originals.items():
                setattr(phases, name, function)


@dataclass
class Pass:
    seconds: float
    stored: int
    work: float  # inside the work functions


def seed(db, seeds: list[int]) -> None:
    from crawl_pipeline.db.accounts import add_seeds

    with db.transaction() as conn:
        add_seeds(conn, seeds)


def direct(url: str, sim_url: str, seeds: list[int], matches: int) -> Pass:
    from crawl_pipeline.crawl import phases
    from crawl_pipeline.db import frontier
    from crawl_pipeline.db.pool import Database
    from crawl_pipeline.domain.frontier import parse_batch_key
    from crawl_pipeline.settings import Secret
    from crawl_pipeline.sources.ratelimit import RateTier
    from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, open_sources

    crawl = crawl_config(seeds, matches)
    log = logging.getLogger("bench_dagster_overhead")
    config = SourcesConfig(
        opendota=ProviderConfig(sim_url, (Secret("00000000-0000-4000-8000-00000000da7a"),), RateTier.of("bench", **UNLIMITED_OPENDOTA)),
        steam=ProviderConfig(sim_url, (Secret("sim-steam-key"),)),
        stratz=ProviderConfig(sim_url, (Secret("eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ"),)),
        max_concurrency=crawl.max_workers,
    )
    with Database(url, max_size=POOL_SIZE) as db, WorkClock().timing() as clock:
        started = time.perf_counter()
        seed(db, seeds)
        with db.transaction() as conn:
            batches = frontier.cut_batches(conn, crawl.policy(), linger=timedelta(seconds=0))
        for batch in batches:
            depth, _ = parse_batch_key(batch.key)
            w = crawl.max_workers
            with open_sources(config, db) as sources:
                phases.fetch_profiles(db, sources.for_call("profiles"), batch.key, refresh=False, max_workers=w, log=log)
            with open_sources(config, db) as sources:
                phases.fetch_hero_stats(db, sources.for_call("hero_stats"), batch.key, refresh=False, max_workers=w, log=log)
            with open_sources(config, db) as sources:
                phases.fetch_match_stubs(
                    db, sources.for_call("match_history"), batch.key, refresh=False, max_matches=matches,
                    page_size=crawl.page_size, max_workers=w, log=log,
                )
            with open_sources(config, db) as sources:
                phases.fetch_batch_details(
                    db, sources.for_call("match_details"), batch.key, depth=depth,
                    chunk_size=crawl.details_chunk_size, max_workers=w, log=log,
                )
        seconds = time.perf_counter() - started
        stored = db.fetch_value("SELECT count(*) FROM matches WHERE has_details")
    return Pass(seconds, stored, clock.seconds)


@dataclass
class DagsterTimes(Pass):
    runs: int = 0
    in_runs: float = 0.0  # first to last event of each run, summed
    crawl_step: float = 0.0  # the crawl_batch step (the phases, their metadata, materializations)
    check_steps: float = 0.0
    events: list[int] = field(default_factory=list)  # event-log entries per run, in run order


def bench_definitions(url: str, sim_url: str, seeds: list[int], matches: int):
    from crawl_pipeline.definitions import build_definitions
    from crawl_pipeline.defs.providers import ProvidersResource
    from crawl_pipeline.defs.resources import PostgresResource
    from crawl_pipeline.settings import Settings

    providers = ProvidersResource(
        opendota_api_url=sim_url, steam_api_url=sim_url, stratz_api_url=sim_url, opendota_api_key="00000000-0000-4000-8000-00000000da7a",
        steam_api_key="sim-steam-key", stratz_tokens="eyJhbGciOiJIUzI1NiJ9.c2ltLXN0cmF0ei0x.c2ltdWxhdGVkMQ", rate_limits=RATE,
    )
    return build_definitions(
        Settings.from_env({}), postgres=PostgresResource(database_url=url, pool_max_size=POOL_SIZE), providers=providers,
        crawl=crawl_config(seeds, matches),
    )


@contextmanager
def bench_instance(dagster_url: str):
    import dagster as dg

    from crawl_pipeline.db import urls

    with tempfile.TemporaryDirectory(prefix="bench_dagster_home_") as home, dg.instance_for_test(
        overrides={"storage": {"postgres": {"postgres_url": urls.to_sqlalchemy(dagster_url)}}}, temp_dir=home
    ) as instance:
        yield instance


def dagster(url: str, dagster_url: str, sim_url: str, seeds: list[int], matches: int) -> DagsterTimes:
    import dagster as dg

    from crawl_pipeline.db.pool import Database
    from crawl_pipeline.defs.crawl.local_runner import crawl_locally

    crawl = crawl_config(seeds, matches)
    defs = bench_definitions(url, sim_url, seeds, matches)
    with bench_instance(dagster_url) as instance, Database(url, max_size=4) as db, WorkClock().timing() as clock:
        started = time.perf_counter()
        seed(db, seeds)
        runs = crawl_locally(defs, instance, db, crawl)
        seconds = time.perf_counter() - started
        stored = db.fetch_value("SELECT count(*) FROM matches WHERE has_details")
        times = DagsterTimes(seconds, stored, clock.seconds, runs=sum(runs.runs.values()))
        for run_id in runs.run_ids:
            records = instance.all_logs(run_id)
            times.events.append(len(records))
            times.in_runs += records[-1].timestamp - records[0].timestamp
            started_at: dict[str, float] = {}
            for record in records:
                event = record.dagster_event
                if event is None or event.step_key is None:
                    continue
                if event.event_type == dg.DagsterEventType.STEP_START:
                    started_at[event.step_key] = record.timestamp
                elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                    took = record.timestamp - started_at.pop(event.step_key, record.timestamp)
                    if event.step_key == "crawl_batch":
                        times.crawl_step += took
                    else:
                        times.check_steps += took
    assert not runs.failed_partitions, runs
    return times


def launched_job(url: str, sim_url: str, seeds: list[int], matches: int, executor: str):
    """``crawl_batch_job`` of the bench's definitions on ``executor``: what a run worker loads
    (step subprocesses of the multiprocess executor load it again, by this module's name)."""
    import dagster as dg
    from dagster_shared.record import copy

    from crawl_pipeline.defs.crawl.assets import crawl_batch_job

    executors = {"multiprocess": dg.multiprocess_executor, "in_process": dg.in_process_executor}
    defs = copy(bench_definitions(url, sim_url, list(seeds), matches), executor=executors[executor])
    return defs.resolve_job_def(crawl_batch_job.name)


def launched(url: str, dagster_url: str, sim_url: str, seeds: list[int], matches: int, executor: str) -> float:
    """Seconds to crawl the batch with each requested run executed as a launched run's worker
    executes it (``execute_job`` of a reconstructable job, on the job's executor, storage connections
    not reused), after the same discovery ticks as ``crawl_locally``; the worker's own start (the run
    launcher's subprocess) costs both executors alike and is left out."""
    import dagster as dg

    from crawl_pipeline.db.pool import Database
    from crawl_pipeline.defs.crawl.local_runner import QUIET_LOGGING
    from crawl_pipeline.defs.crawl.sensors import discovery_tick

    crawl = crawl_config(seeds, matches)
    job = dg.build_reconstructable_job(
        "bench_dagster_overhead", "launched_job", reconstructable_args=(url, sim_url, tuple(seeds), matches, executor),
        reconstructor_working_directory=str(Path(__file__).resolve().parent),
    )
    with bench_instance(dagster_url) as instance, Database(url, max_size=4) as db:
        started = time.perf_counter()
        seed(db, list(seeds))
        while requests := _requested_runs(instance, db, crawl, discovery_tick):
            for request in requests:
                result = dg.execute_job(
                    job, instance=instance, asset_selection=request.asset_selection, run_config=QUIET_LOGGING,
                    tags={**request.tags, "dagster/partition": request.partition_key}, raise_on_error=False,
                )
                assert result.success, f"launched run {result.run_id} of {request.partition_key} failed"
        return time.perf_counter() - started


def _requested_runs(instance, db, crawl, discovery_tick) -> list:
    tick = discovery_tick(instance, db, crawl)
    for request in tick.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return list(tick.run_requests)


def defaults() -> tuple[int, int]:
    """The depth-0 batch size and the history read per account a deployment gets without settings."""
    from crawl_pipeline.defs.crawl.resources import CrawlConfig
    from crawl_pipeline.settings import Settings

    config = CrawlConfig.from_settings(Settings.from_env({}))
    return config.batch_size, config.max_matches_per_account


@dataclass
class Row:
    size: int
    matches: int
    direct: Pass
    dagster: DagsterTimes
    around: float  # overhead around the work functions


def measure(sim_url, dagster_url, server, seeds: list[int], matches: int, repeat: int) -> Row:
    with scratch_database(server, "overhead_warm") as warm_url:
        direct(warm_url, sim_url, seeds, matches)  # the simulator's caches, for both modes alike
    directs: list[Pass] = []
    dagsters: list[DagsterTimes] = []
    for _ in range(max(1, repeat)):  # alternating: load hits both alike
        with scratch_database(server, "overhead_runs") as runs_url:
            dagsters.append(dagster(runs_url, dagster_url, sim_url, seeds, matches))
        with scratch_database(server, "overhead_direct") as direct_url:
            directs.append(direct(direct_url, sim_url, seeds, matches))
        assert directs[-1].stored == dagsters[-1].stored, (
            f"different work: direct stored {directs[-1].stored} details, dagster {dagsters[-1].stored}"
        )
    # the same difference with the work functions' own time taken out of both modes: what
    # remains is what each mode does around them, far less disturbed by other load
    around = min(x.seconds - x.work for x in dagsters) - min(x.seconds - x.work for x in directs)
    return Row(len(seeds), matches, min(directs, key=lambda p: p.seconds), min(dagsters, key=lambda p: p.seconds), around)


def report(row: Row) -> None:
    d, g, around = row.direct, row.dagster, row.around
    print(f"batch {row.size:>5} accounts, {row.matches:>3} matches each: direct {d.seconds:7.2f} s ({d.stored} details)  "
          f"dagster {g.seconds:7.2f} s ({g.stored} details, {g.runs} runs)  overhead {g.seconds - d.seconds:6.2f} s = "
          f"{(g.seconds - d.seconds) / d.seconds:6.1%} of the work  dagster / direct {g.seconds / d.seconds:.2f}x")
    print(f"    around the work functions: overhead {around:5.2f} s = {around / d.seconds:6.1%} of the work "
          f"(work functions: direct {d.work:.2f} s, dagster {g.work:.2f} s)")
    print(f"    dagster time: outside the runs {g.seconds - g.in_runs:5.2f} s (discovery ticks, run creation), "
          f"run machinery {g.in_runs - g.crawl_step - g.check_steps:5.2f} s, crawl step "
          f"{g.crawl_step:5.2f} s, check step {g.check_steps:5.2f} s; "
          f"event-log entries per run {' + '.join(map(str, g.events))}")


def main() -> None:
    default_n, default_matches = defaults()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[50, default_n],
        help=f"accounts per batch (default: 50 and {default_n}, the default batch size)",
    )
    parser.add_argument("--repeat", type=int, default=2, help="timed passes of each mode per size (the fastest counts)")
    parser.add_argument(
        "--matches", type=int, default=default_matches,
        help=f"history read per account (default {default_matches}, max_matches_per_account's default)",
    )
    parser.add_argument(
        "--light", type=int, default=5, metavar="M",
        help="also measure the default batch size with M matches per account, a stress bound: the least work "
             "per run Dagster's fixed cost is set against (0: skip; default 5)",
    )
    parser.add_argument(
        "--launched", type=int, default=50, metavar="N",
        help="also crawl the batch of N accounts (one of --sizes; 0: skip) as launched runs execute, on the "
             "multiprocess executor (Dagster's default) and the in-process one (the project's); default 50",
    )
    parser.add_argument("--server", default=None)
    args = parser.parse_args()
    server = server_url(args.server)

    from crawl_pipeline.simulator import SimulatorConfig
    from crawl_pipeline.simulator.testing import world_for

    world = world_for(SimulatorConfig(accounts=WORLD_ACCOUNTS))
    print(f"simulator: {WORLD_ACCOUNTS:,} accounts, rate limits off, {LATENCY_MS:.0f} ms latency; "
          f"{args.matches} matches per account (the default history); one batch per size, two runs (hero phase, "
          f"match phase); simulator warmed per size, fastest of {args.repeat} per mode")
    rows: list[Row] = []
    offset = 0
    seeds_of: dict[int, list[int]] = {}

    def accounts(size: int) -> list[int]:  # different accounts per measurement, the same for both modes
        nonlocal offset
        offset += size
        return [int(a) for a in world.account_ids(list(range(offset - size, offset)))]

    with simulator_process(accounts=WORLD_ACCOUNTS, latency_ms=LATENCY_MS, rate_limits={"enabled": False}) as sim_url, \
            scratch_database(server, "overhead_dagster", migrate=False) as dagster_url:
        measure(sim_url, dagster_url, server, accounts(3), 5, 1)  # warms imports, connections and caches up
        for size in args.sizes:
            seeds_of[size] = accounts(size)
            rows.append(measure(sim_url, dagster_url, server, seeds_of[size], args.matches, args.repeat))
            report(rows[-1])
        light = None
        if args.light:
            light = measure(sim_url, dagster_url, server, accounts(default_n), args.light, args.repeat)
            report(light)
        if args.launched in seeds_of:
            took = {}
            for executor in ("multiprocess", "in_process"):
                with scratch_database(server, "overhead_launched") as launched_url:
                    took[executor] = launched(launched_url, dagster_url, sim_url, seeds_of[args.launched], args.matches, executor)
            print(f"launched runs, batch {args.launched} accounts: multiprocess executor {took['multiprocess']:.2f} s, "
                  f"in-process executor (the project's) {took['in_process']:.2f} s: in-process / multiprocess "
                  f"{took['in_process'] / took['multiprocess']:.2f}x")
    sizes = np.array([r.size for r in rows], float)
    split = len(set(sizes)) > 1  # a fixed + per-account split needs two sizes at least
    if split:
        d_b, d_a = np.polyfit(sizes, [r.direct.seconds for r in rows], 1)
        g_b, g_a = np.polyfit(sizes, [r.dagster.seconds for r in rows], 1)
        o_b, o_a = np.polyfit(sizes, [r.around for r in rows], 1)
        print(f"least squares over the sizes: direct {d_a:.2f} s + {d_b * 1000:.1f} ms/account; "
              f"dagster {g_a:.2f} s + {g_b * 1000:.1f} ms/account")
        print(f"overhead per batch: {g_a - d_a:.2f} s fixed + {(g_b - d_b) * 1000:.1f} ms per account; around the work "
              f"functions {o_a:.2f} s fixed + {o_b * 1000:.1f} ms per account ({rows[0].dagster.runs} runs per batch)")
    else:
        print("one batch size: no split of the overhead into fixed and per-account parts")
    if light is not None:
        share = light.around / light.direct.seconds
        if share < 0.10:
            where = "already under 10 %"
        else:  # taking that overhead as fixed and the work as growing with the accounts
            where = f"under 10 % from about {math.ceil(10 * light.around / (light.direct.seconds / default_n)):,} accounts"
        print(f"stress bound, {default_n} accounts with {light.matches} of the {args.matches} matches each: "
              f"overhead {light.around:.2f} s = {share:.1%} of the work around the work functions; {where} at that history")
    measured = [r for r in rows if r.size == default_n]
    if measured:
        row = measured[0]
        wall, share = (row.dagster.seconds - row.direct.seconds) / row.direct.seconds, row.around / row.direct.seconds
        how = "measured"
    elif split:
        work = d_a + d_b * default_n
        wall, share = (g_a - d_a + (g_b - d_b) * default_n) / work, (o_a + o_b * default_n) / work
        how = "predicted by the least-squares lines"
    else:
        print(f"the default batch size ({default_n}) was not run and one size cannot predict it: no verdict")
        return
    print(f"overhead at the default batch size ({default_n} accounts, {args.matches} matches each, {how}): {share:.1%} of "
          f"the work around the work functions ({wall:.1%} from the wall-clock difference, which other load on the "
          f"machine moves)")
    history = f"the default history, {args.matches}" if args.matches == default_matches else f"{args.matches}"
    print(target_line(
        f"default batch size {default_n} with {history} matches per account, keeps overhead < 10 %", share < 0.10,
    ))


if __name__ == "__main__":
    main()
