"""Ingest throughput: match details stored per second, end to end, against the simulator.

The simulator runs in a subprocess of its own with server-side rate limits off and 5 ms of
mean latency. Every contender fetches OpenDota ``/api/matches/{id}`` for the same match ids
of the same world and stores the match and its ten players, each into a fresh scratch database:

  * pipeline   ``crawl_pipeline.crawl.phases.fetch_details``: the real client (shared
               PostgreSQL rate budget with a limit far above what is reached, retries,
               accounting; per minute, as OpenDota counts), ``fetch_concurrently`` (fetchers that go on while chunks are
               written, by two writer threads) and ``store_details`` commits (players by COPY,
               then one pipeline of the claim and what follows it; the crawl's defaults:
               8 workers, 25 matches per transaction)
  * baseline   the way the original scripts did it: one ``httpx`` request after another,
               row-by-row INSERTs (match, each player, each account), a commit every 25
  * dlt        a ``dlt.sources.rest_api`` pipeline loading the same matches into PostgreSQL
               (``bench_ingest_dlt.py``, timed after an untimed warm-up of its first 25; skipped, with a line saying so, when dlt is not installed:
               ``pip install -e '.[bench]'``): at dlt's default (the match calls one after
               another, on the baseline's ids) and ``parallelized`` on as many workers as ours

The pipeline and dlt also run as ``--runs`` (2) processes side by side, the ids dealt out between
them, released together once set up: how a deployment runs crawl steps at once (each run a process
of its own, the ``provider_api`` pool allowing 4; one per core here), sharing one database and, for
the pipeline, one PostgreSQL rate budget. One Python process is bound by its GIL; side by side shows
what the machine allows.

Each runs twice: against the live simulator, and on its recorded answers (served in-process
after the same latency, so the simulator's own CPU is out of the figure). Before them, bare httpx
on as many threads fetches the same ids and stores nothing: the fetch-only ceiling of any httpx
client at that concurrency (live, with the CPU the simulator and this client took). Printed:
matches/s of each, the share of that ceiling the pipeline reaches, the ratios (goals: >= 10x the baseline, >= 5x dlt), the share of the machine's CPU the
simulator took during the live pipeline run (psutil), the latency bound (Little's law: workers /
mean latency, what no client at that concurrency exceeds), and where the pipeline's time goes on
recorded answers: py-spy (``--gil``: samples of the thread holding the GIL) when installed,
else cProfile's top entries of the main thread. The rows the baseline stored are checked to
equal the pipeline's.

Run: ``.venv/bin/python bench/bench_ingest.py [--matches 3000] [--baseline-matches 300] [--no-profile]``.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import logging
import multiprocessing
import os
import pstats
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import bench_ingest_dlt
import httpx
import psutil
import psycopg
from common import UNLIMITED_OPENDOTA, ratio_line, scratch_database, server_url, simulator_process, target_line

from crawl_pipeline.crawl import phases
from crawl_pipeline.db.pool import Database
from crawl_pipeline.settings import Secret
from crawl_pipeline.simulator import SimulatorConfig
from crawl_pipeline.simulator.testing import world_for
from crawl_pipeline.sources.ratelimit import RateTier
from crawl_pipeline.sources.registry import ProviderConfig, SourcesConfig, open_sources

KEY = "00000000-0000-4000-8000-00000000da7a"
WORLD_ACCOUNTS = 20_000
LATENCY_MS = 5.0
PLAYERS_SQL = (
    "INSERT INTO match_players (match_id, player_slot, account_id, hero_id, is_radiant, win, kills, deaths, assists, "
    "gold_per_min, xp_per_min, last_hits, denies, net_worth, hero_damage, lane_role, rank_tier) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
)
SAME_ROWS = (
    "SELECT md5(string_agg(concat_ws(':', match_id, player_slot, account_id, hero_id, kills, deaths, assists, "
    "gold_per_min, win), ',' ORDER BY match_id, player_slot)) FROM match_players WHERE match_id = ANY(%s)"
)


class Replay(httpx.BaseTransport):
    """Recorded simulator answers served after the simulated latency (uniform 0.5-1.5 x mean)."""

    def __init__(self, bodies: dict[int, bytes], latency_ms: float) -> None:
        self.bodies, self.latency_s = bodies, latency_ms / 1000

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        time.sleep(self.latency_s * random.uniform(0.5, 1.5))
        body = self.bodies[int(request.url.path.rsplit("/", 1)[1])]
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})


def record(sim_url: str, ids: list[int]) -> dict[int, bytes]:
    """Every answer once, 32 requests at a time."""
    with httpx.Client(base_url=sim_url, headers={"Authorization": f"Bearer {KEY}"},
                      limits=httpx.Limits(max_connections=32)) as http, ThreadPoolExecutor(32) as pool:
        return dict(zip(ids, pool.map(lambda i: http.get(f"/api/matches/{i}").raise_for_status().content, ids),
                        strict=True))


def fetch_only(sim_url: str, ids: list[int], workers: int, transport: httpx.BaseTransport | None = None,
               ready: Callable[[], None] | None = None) -> float:
    """Bare httpx on ``workers`` threads, nothing parsed or stored: the most any httpx client with
    that many workers can fetch here (matches/s). Live, this client's own CPU sets it, not the simulator."""
    with httpx.Client(base_url=sim_url, headers={"Authorization": f"Bearer {KEY}"}, transport=transport,
                      limits=httpx.Limits(max_connections=workers)) as http, ThreadPoolExecutor(workers) as pool:
        if ready:
            ready()
        started = time.perf_counter()
        for _ in pool.map(lambda i: http.get(f"/api/matches/{i}").raise_for_status(), ids):
            pass
        return len(ids) / (time.perf_counter() - started)


def pipeline(url: str, sim_url: str, ids: list[int], *, workers: int, chunk: int,
             transport: httpx.BaseTransport | None = None, ready: Callable[[], None] | None = None) -> tuple[float, int]:
    """``fetch_details`` as a crawl run calls it; ``ready`` is called once its database pool and
    clients are open, before the clock starts (runs side by side wait there for each other)."""
    config = SourcesConfig(
        opendota=ProviderConfig(sim_url, (Secret(KEY),), RateTier.of("bench-unlimited", **UNLIMITED_OPENDOTA)),
        steam=ProviderConfig(sim_url),
        stratz=ProviderConfig(sim_url),
        max_concurrency=workers,
    )
    log = logging.getLogger("bench_ingest")
    with Database(url, max_size=4) as db, open_sources(config, db, transport=transport) as sources:
        if ready:
            ready()
        started = time.perf_counter()
        result = phases.fetch_details(
            db, sources.provider("opendota"), ids, discovery_depth=1, chunk_size=chunk, max_workers=workers,
            log=log, label="bench",
        )
        seconds = time.perf_counter() - started
    return seconds, result.counts["details_stored"]


def baseline(url: str, sim_url: str, ids: list[int], transport: httpx.BaseTransport | None = None) -> tuple[float, int]:
    stored = 0
    headers = {"Authorization": f"Bearer {KEY}"}
    with psycopg.connect(url) as conn, httpx.Client(base_url=sim_url, headers=headers, transport=transport) as http:
        started = time.perf_counter()
        for n, match_id in enumerate(ids, 1):
            m = http.get(f"/api/matches/{match_id}").raise_for_status().json()
            conn.execute(
                "INSERT INTO matches (match_id, match_seq_num, start_time, duration, lobby_type, game_mode, radiant_win, "
                "region, has_details, details_source, details_fetched_at) "
                "VALUES (%s, %s, to_timestamp(%s), %s, %s, %s, %s, %s, true, 'opendota', now()) ON CONFLICT DO NOTHING",
                (m["match_id"], m.get("match_seq_num"), m.get("start_time"), m.get("duration"), m.get("lobby_type"),
                 m.get("game_mode"), m.get("radiant_win"), m.get("region")),
            )
            for p in m["players"]:
                account = p.get("account_id")
                if account is not None and 0 < account < 4294967295:
                    conn.execute(
                        "INSERT INTO accounts (account_id, depth) VALUES (%s, 1) ON CONFLICT DO NOTHING", (account,)
                    )
                else:
                    account = None
                conn.execute(
                    PLAYERS_SQL,
                    (m["match_id"], p["player_slot"], account, p["hero_id"],
                     p.get("isRadiant", p["player_slot"] < 128), None if p.get("win") is None else bool(p["win"]),
                     p.get("kills"), p.get("deaths"), p.get("assists"), p.get("gold_per_min"), p.get("xp_per_min"),
                     p.get("last_hits"), p.get("denies"), p.get("net_worth"), p.get("hero_damage"), p.get("lane_role"),
                     p.get("rank_tier")),
                )
            stored += 1
            if n % 25 == 0:
                conn.commit()
        conn.commit()
        seconds = time.perf_counter() - started
    return seconds, stored


def side_by_side(kind: str, target: str, sim_url: str, ids: list[int], args,
                 bodies: dict[int, bytes] | None = None) -> tuple[float, int]:
    """``kind`` ("fetch", "pipeline" or "dlt") in ``args.runs`` processes of their own, as a deployment
    runs crawl steps side by side (each a run's process, the ``provider_api`` pool allowing 4): the
    ids dealt out in turn, each process set up, then all released together at a barrier. Returns
    (seconds of the slowest, items stored). ``target``: the shared database (pipeline), the server
    (dlt: a database per pipeline); ``bodies``: recorded answers instead of the live simulator."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each, as a run's process is
    barrier, results = context.Barrier(args.runs), context.Queue()
    shares = [ids[k :: args.runs] for k in range(args.runs)]
    processes = [
        context.Process(target=_side_by_side_run, daemon=True, args=(
            kind, target, sim_url, share, None if bodies is None else {i: bodies[i] for i in share},
            args.workers, args.chunk, barrier, results))
        for share in shares
    ]
    for process in processes:
        process.start()
    outcomes: list = []
    while len(outcomes) < len(processes):
        try:
            outcomes.append(results.get(timeout=1))
        except queue.Empty:
            if any(p.exitcode not in (None, 0) for p in processes):  # died without a word (killed)
                barrier.abort()
                break
    for process in processes:
        process.join(timeout=60)
    # the cause first: a run that failed breaks the barrier the others wait at
    errors = sorted((o for o in outcomes if isinstance(o, str)), key=lambda e: e.startswith("BrokenBarrierError"))
    if errors or len(outcomes) < len(processes):
        codes = [p.exitcode for p in processes]
        raise RuntimeError(f"{kind} side by side: {errors[0] if errors else 'a run died'} (exit codes {codes})")
    return max(seconds for seconds, _ in outcomes), sum(n for _, n in outcomes)


def _side_by_side_run(kind: str, target: str, sim_url: str, ids: list[int], bodies: dict[int, bytes] | None,
                      workers: int, chunk: int, barrier, results) -> None:
    transport = None if bodies is None else Replay(bodies, LATENCY_MS)
    try:
        if kind == "fetch":
            rate = fetch_only(sim_url, ids, workers, transport, ready=barrier.wait)
            results.put((len(ids) / rate, len(ids)))
        elif kind == "pipeline":
            results.put(pipeline(target, sim_url, ids, workers=workers, chunk=chunk, transport=transport,
                                 ready=barrier.wait))
        else:
            results.put(bench_ingest_dlt.measure(target, sim_url, ids, workers=workers, bodies=bodies,
                                                 latency_ms=LATENCY_MS, ready=barrier.wait))
    except BaseException as exc:
        barrier.abort()  # the others stop waiting
        results.put(f"{type(exc).__name__}: {exc}")
        raise


def contest(label: str, server: str, sim_url: str, ids: list[int], base_ids: list[int], args,
            bodies: dict[int, bytes] | None, *, simulator: psutil.Process | None = None) -> tuple[float, float, float]:
    """Baseline, the pipeline as one run and as ``args.runs`` runs side by side: (one run, side by side,
    baseline) in matches/s. ``bodies``: recorded answers instead of the live simulator."""
    transport = None if bodies is None else Replay(bodies, LATENCY_MS)
    with (scratch_database(server, "ingest_base") as base_url, scratch_database(server, "ingest_fast") as fast_url,
          scratch_database(server, "ingest_side") as side_url):
        base_s, base_n = baseline(base_url, sim_url, base_ids, transport)
        machine = psutil.cpu_times()
        sim_cpu = _cpu_seconds(simulator)
        own = psutil.Process().cpu_times()
        fast_s, fast_n = pipeline(fast_url, sim_url, ids, workers=args.workers, chunk=args.chunk, transport=transport)
        sim_cpu = _cpu_seconds(simulator) - sim_cpu
        own_cpu = sum(psutil.Process().cpu_times()[:2]) - sum(own[:2])
        busy = _busy(psutil.cpu_times()) - _busy(machine)
        side_s, side_n = side_by_side("pipeline", side_url, sim_url, ids, args, bodies)
        with psycopg.connect(base_url) as a, psycopg.connect(fast_url) as b, psycopg.connect(side_url) as c:
            expected = a.execute(SAME_ROWS, (base_ids,)).fetchone()
            same = expected == b.execute(SAME_ROWS, (base_ids,)).fetchone()
            side_same = expected == c.execute(SAME_ROWS, (base_ids,)).fetchone()
    base_rate, fast_rate, side_rate = base_n / base_s, fast_n / fast_s, side_n / side_s
    print(f"[{label}]")
    print(f"  baseline (sequential httpx, row-by-row, commit/25): {base_n:>6} matches in {base_s:7.2f} s = {base_rate:8.1f}/s")
    print(f"  pipeline (fetch_details, {args.workers} workers, {args.chunk}/commit, {phases.DETAIL_WRITERS} writers): "
          f"{fast_n:>6} matches in {fast_s:7.2f} s = {fast_rate:8.1f}/s")
    print(f"  pipeline, {args.runs} runs side by side ({args.runs} processes x {args.workers} workers, one database and "
          f"rate budget): {side_n:>6} matches in {side_s:7.2f} s = {side_rate:8.1f}/s")
    print(f"  rows of the {len(base_ids)} common matches identical in the baseline's and the pipeline's databases: "
          f"{same} (one run), {side_same} (side by side)")
    print("  " + ratio_line(f"ingest matches/s pipeline / baseline ({label})", fast_rate, base_rate, unit="/s"))
    print("  " + ratio_line(f"ingest matches/s pipeline, {args.runs} runs side by side / baseline ({label})", side_rate,
                            base_rate, unit="/s"))
    cores = psutil.cpu_count() or 1
    if simulator is not None:
        print(f"  CPU during the pipeline run ({cores} cores, {fast_s:.2f} s): simulator {sim_cpu:.2f} s = "
              f"{sim_cpu / (fast_s * cores):.0%} of the machine ({sim_cpu / busy:.0%} of all CPU used, "
              f"{sim_cpu / fast_n * 1e6:.0f} us per match); this process {own_cpu / (fast_s * cores):.0%}; "
              f"machine busy {busy / (fast_s * cores):.0%}")
    else:
        print(f"  CPU during the pipeline run ({cores} cores, {fast_s:.2f} s): this process {own_cpu / (fast_s * cores):.0%}"
              f" ({own_cpu / fast_n * 1e6:.0f} us per match); machine busy {busy / (fast_s * cores):.0%}")
    if not (same and side_same):
        raise SystemExit(f"bench_ingest: the rows stored differ from the baseline's ({label})")
    return fast_rate, side_rate, base_rate


def _cpu_seconds(process: psutil.Process | None) -> float:
    if process is None:
        return 0.0
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


def _busy(times) -> float:
    return sum(times) - times.idle - getattr(times, "iowait", 0.0)


def _simulator(url: str) -> psutil.Process | None:
    """The simulator subprocess ``simulator_process`` started (a child of this process)."""
    for child in psutil.Process().children(recursive=True):
        try:
            if any("start_simulator" in part for part in child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def dlt_contest(label: str, server: str, sim_url: str, ids: list[int], base_ids: list[int], args, fast_rate: float,
                side_rate: float, bodies: dict[int, bytes] | None = None) -> tuple[float, float, float] | None:
    """dlt at its defaults (on ``base_ids``), parallelized, and parallelized as ``args.runs`` pipelines side
    by side (a database each): their matches/s."""
    missing = bench_ingest_dlt.available()
    if missing:
        print(f"  dlt: skipped: {missing}")
        return None
    version = bench_ingest_dlt.version()
    plain = _rate(bench_ingest_dlt.measure(server, sim_url, base_ids, workers=args.workers, bodies=bodies,
                                           latency_ms=LATENCY_MS, parallelized=False))
    seconds, loaded = bench_ingest_dlt.measure(server, sim_url, ids, workers=args.workers, bodies=bodies,
                                               latency_ms=LATENCY_MS)
    rate = loaded / seconds
    side_seconds, side_loaded = side_by_side("dlt", server, sim_url, ids, args, bodies)
    side_dlt = side_loaded / side_seconds
    print(f"  dlt {version} at its defaults (rest_api -> postgres, one call after another): "
          f"{len(base_ids) - bench_ingest_dlt.WARMUP:>6} matches = {plain:8.1f}/s")
    print(f"  dlt {version} parallelized ({args.workers} workers): {loaded:>6} matches in {seconds:7.2f} s = "
          f"{rate:8.1f}/s; {args.runs} pipelines side by side: {side_loaded:>6} matches in {side_seconds:7.2f} s "
          f"= {side_dlt:8.1f}/s")
    print(f"  ingest pipeline / dlt at its defaults ({label}): {fast_rate:,.1f}/s vs {plain:,.1f}/s = "
          f"{fast_rate / plain:.2f}x")
    print(f"  ingest pipeline / dlt parallelized ({label}): {fast_rate:,.1f}/s vs {rate:,.1f}/s = {fast_rate / rate:.2f}x")
    print(f"  ingest pipeline / dlt parallelized, {args.runs} of each side by side ({label}): {side_rate:,.1f}/s vs "
          f"{side_dlt:,.1f}/s = {side_rate / side_dlt:.2f}x")
    return plain, rate, side_dlt


# ------------------------------------------------------------------ the profile
PROFILE_SKIP = re.compile(r"threading\.py|concurrent/futures|<module>|bench_ingest\.py|contextlib\.py|_bootstrap")
CATEGORIES = (  # where a sample's time goes, by the first matching frame from the leaf up
    ("psycopg / PostgreSQL round trips (store_details, the rate budget, accounting)", re.compile(r"psycopg")),
    # the one-pass parse calls pydantic's validator (Rust, no frame of its own) from its own frame
    ("pydantic validation of provider payloads", re.compile(r"pydantic|_well_typed_details")),
    ("JSON parsing", re.compile(r"json|parse_json")),
    ("httpx request and response handling", re.compile(r"httpx|httpcore|urllib")),
    ("fetch coordination (queue, locks, threads)", re.compile(r"queue\.py|threading\.py|concurrency\.py")),
    ("Python row and record building (crawl_pipeline)", re.compile(r"crawl_pipeline")),
)


def _frame_name(frame: str) -> str:
    return re.sub(r":\d+\)", ")", frame)


def print_profile(samples: list[tuple[list[str], int]], tool: str, top: int = 8) -> None:
    """The top self and inclusive entries of py-spy's raw samples, and a split by category."""
    total = sum(n for _, n in samples) or 1
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    category: collections.Counter = collections.Counter()
    for frames, n in samples:
        names = [_frame_name(f) for f in frames]
        for name in set(names):
            inclusive[name] += n
        own[names[-1]] += n
        for title, pattern in CATEGORIES:
            if any(pattern.search(name) for name in reversed(names[-6:])):
                category[title] += n
                break
        else:
            category["other"] += n
    print(f"profile of the pipeline on recorded answers ({tool}, {total} samples of the thread holding the GIL):")
    print("  by category (the first match among the six innermost frames):")
    for title, n in category.most_common():
        print(f"    {100 * n / total:5.1f}%  {title}")
    print(f"  top {top} inclusive:")
    for name, n in [(k, v) for k, v in inclusive.most_common() if not PROFILE_SKIP.search(k)][:top]:
        print(f"    {100 * n / total:5.1f}%  {name}")
    print(f"  top {top} self:")
    for name, n in own.most_common(top):
        print(f"    {100 * n / total:5.1f}%  {name}")


def _py_spy() -> str | None:
    found = shutil.which("py-spy")
    beside = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return found or (beside if os.path.exists(beside) else None)


def profile(server: str, ids: list[int], bodies: dict[int, bytes], args) -> None:
    """Run the recorded-answers pipeline once more under a profiler and print where the time goes."""
    spy = _py_spy()
    with scratch_database(server, "ingest_prof") as url:
        if spy is None:
            profiler = cProfile.Profile()
            profiler.enable()
            pipeline(url, "http://replay", ids, workers=args.workers, chunk=args.chunk, transport=Replay(bodies, LATENCY_MS))
            profiler.disable()
            print("profile of the pipeline on recorded answers (cProfile, main thread only: the writer; "
                  "pip install py-spy for every thread): top 8 cumulative")
            stats = pstats.Stats(profiler)
            stats.sort_stats("cumulative")
            width = max(len(f"{f[0]}:{f[1]}({f[2]})") for f in stats.stats) if stats.stats else 0
            rows = sorted(stats.stats.items(), key=lambda kv: kv[1][3], reverse=True)
            shown = 0
            for (path, line, name), (_, calls, _, cumulative, _) in rows:
                label = f"{os.path.basename(path)}:{line}({name})"
                if PROFILE_SKIP.search(label) or path == "~":
                    continue
                print(f"    {cumulative:7.2f} s  {calls:>8} calls  {label:<{min(width, 70)}}")
                shown += 1
                if shown == 8:
                    break
            return
        with tempfile.TemporaryDirectory(prefix="bench_ingest_prof_") as tmp:
            out = os.path.join(tmp, "profile.txt")
            spy_proc = subprocess.Popen(
                [spy, "record", "--pid", str(os.getpid()), "--gil", "--rate", "250", "--format", "raw",
                 "--output", out, "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)  # py-spy attaches
            pipeline(url, "http://replay", ids, workers=args.workers, chunk=args.chunk, transport=Replay(bodies, LATENCY_MS))
            spy_proc.send_signal(signal.SIGINT)
            try:
                spy_proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                spy_proc.kill()
            if not os.path.exists(out):
                print("profile: py-spy wrote nothing (attaching to a process may need ptrace rights)")
                return
            samples = []
            with open(out) as lines:
                for line in lines:
                    stack, _, count = line.rstrip().rpartition(" ")
                    frames = stack.split(";")
                    # the phase's thread, the fetchers and the writers (py-spy also samples its own start-up)
                    if any(("pipeline (" in f and "bench_ingest" in f) or "fetch_concurrently" in f
                           or "_write_outcomes" in f for f in frames):
                        samples.append((frames, int(count)))
            print_profile(samples, f"py-spy {_spy_version(spy)}")


def _spy_version(spy: str) -> str:
    try:
        return subprocess.run([spy, "--version"], capture_output=True, text=True, timeout=10).stdout.split()[-1]
    except Exception:
        return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--matches", type=int, default=3000, help="matches stored by the pipeline (and dlt)")
    parser.add_argument("--baseline-matches", type=int, default=300, help="matches stored by the baseline")
    parser.add_argument("--workers", type=int, default=8, help="fetchers per run (the crawl's default)")
    parser.add_argument("--runs", type=int, default=2, help="runs side by side, a process each (one per core here)")
    parser.add_argument("--chunk", type=int, default=25, help="matches per transaction (pipeline)")
    parser.add_argument("--server", default=None, help="PostgreSQL server for the scratch databases")
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled run")
    args = parser.parse_args()
    server = server_url(args.server)

    world = world_for(SimulatorConfig(accounts=WORLD_ACCOUNTS))
    # newest matches first, as a crawl meets them; the baseline's ids are a prefix of the pipeline's
    indexes = list(range(world.num_matches - 1, world.num_matches - 1 - args.matches, -1))
    ids = [int(m) for m in world.match_id(indexes)]
    base_ids = ids[: args.baseline_matches]
    # Little's law: with ``workers`` calls in flight, each taking the mean latency at least, no client
    # of any make completes more than this many a second
    latency_bound = args.workers / (LATENCY_MS / 1000)
    side_bound = args.runs * latency_bound
    print(f"simulator: {WORLD_ACCOUNTS:,} accounts, rate limits off, {LATENCY_MS:.0f} ms mean latency (own process)")
    with simulator_process(accounts=WORLD_ACCOUNTS, latency_ms=LATENCY_MS, rate_limits={"enabled": False}) as sim_url:
        bodies = record(sim_url, ids)  # the simulator's serving cache is warm now, as in the runs below
        simulator = _simulator(sim_url)
        sim_cpu, own_cpu = _cpu_seconds(simulator), _cpu_seconds(psutil.Process())
        live_ceiling = fetch_only(sim_url, ids, args.workers)
        per_second = live_ceiling / len(ids)  # CPU seconds over the wall time of that run
        sim_share = (_cpu_seconds(simulator) - sim_cpu) * per_second
        own_share = (_cpu_seconds(psutil.Process()) - own_cpu) * per_second
        replay_ceiling = fetch_only("http://replay", ids, args.workers, Replay(bodies, LATENCY_MS))
        live_side_ceiling = _rate(side_by_side("fetch", "", sim_url, ids, args))
        replay_side_ceiling = _rate(side_by_side("fetch", "", "http://replay", ids, args, bodies))
        print(f"fetch-only ceiling, bare httpx on {args.workers} threads (nothing parsed or stored): "
              f"live {live_ceiling:,.0f}/s (the simulator used {sim_share:.0%} of a core, this client "
              f"{own_share:.0%}), recorded answers {replay_ceiling:,.0f}/s; latency bound, any client: "
              f"{args.workers} requests in flight / {LATENCY_MS:.0f} ms mean latency = {latency_bound:,.0f}/s")
        print(f"fetch-only ceiling, {args.runs} processes side by side x {args.workers} threads: live "
              f"{live_side_ceiling:,.0f}/s, recorded answers {replay_side_ceiling:,.0f}/s; latency bound "
              f"{args.runs * args.workers} in flight = {side_bound:,.0f}/s")
        live, live_side, live_base = contest("live simulator", server, sim_url, ids, base_ids, args, None,
                                             simulator=simulator)
        print(f"  pipeline reaches {live / live_ceiling:.0%} of the live fetch-only ceiling ({live_side / live_side_ceiling:.0%}"
              f" side by side); 10x the baseline needs {10 * live_base:,.0f}/s")
        live_dlt = dlt_contest("live simulator", server, sim_url, ids, base_ids, args, live, live_side)
    label = f"recorded answers, {LATENCY_MS:.0f} ms latency"
    replayed, replayed_side, replayed_base = contest(label, server, "http://replay", ids, base_ids, args, bodies)
    print(f"  pipeline reaches {replayed / replay_ceiling:.0%} of the recorded fetch-only ceiling "
          f"({replayed_side / replay_side_ceiling:.0%} side by side); 10x the baseline needs {10 * replayed_base:,.0f}/s")
    replayed_dlt = dlt_contest(label, server, "http://replay", ids, base_ids, args, replayed, replayed_side,
                               bodies=bodies)
    if not args.no_profile:
        profile(server, ids, bodies, args)

    def verdict(description: str, rate: float, need: float, ceiling: float, runs: int = 1) -> None:
        line = target_line(description, rate >= need)
        in_flight = runs * args.workers
        bound = runs * latency_bound
        if rate < need and need > bound:
            line += (f" (needs {need:,.0f}/s, above the latency bound of {bound:,.0f}/s: {in_flight} "
                     f"requests in flight at {LATENCY_MS:.0f} ms mean latency allow no client more, at equal concurrency)")
        elif rate < need and need > ceiling:
            line += (f" (needs {need:,.0f}/s, above the fetch-only ceiling of {ceiling:,.0f}/s: no httpx client on "
                     f"{runs} x {args.workers} threads reaches it here, storing nothing)")
        print(line)

    side = f"{args.runs} runs side by side"
    verdict(">= 10x the baseline, recorded answers, one run", replayed, 10 * replayed_base, replay_ceiling)
    verdict(f">= 10x the baseline, recorded answers, {side}", replayed_side, 10 * replayed_base, replay_side_ceiling,
            args.runs)
    verdict(">= 10x the baseline, live simulator, one run", live, 10 * live_base, live_ceiling)
    verdict(f">= 10x the baseline, live simulator, {side}", live_side, 10 * live_base, live_side_ceiling, args.runs)
    if live_dlt is None or replayed_dlt is None:
        print("target (>= 5x dlt): not measured (dlt not installed)")
    else:
        for mode, ours, ours_side, dlt, ceiling, side_ceiling in (
            ("recorded answers", replayed, replayed_side, replayed_dlt, replay_ceiling, replay_side_ceiling),
            ("live simulator", live, live_side, live_dlt, live_ceiling, live_side_ceiling),
        ):
            plain, parallel, parallel_side = dlt
            verdict(f">= 5x dlt at its defaults, {mode}, one run", ours, 5 * plain, ceiling)
            verdict(f">= 5x dlt parallelized, {mode}, one of each", ours, 5 * parallel, ceiling)
            verdict(f">= 5x dlt parallelized, {mode}, {args.runs} of each side by side", ours_side,
                    5 * parallel_side, side_ceiling, args.runs)
    print(target_line(">= 500 matches/s end to end, recorded answers", replayed >= 500))
    print(target_line(">= 500 matches/s against the live simulator", live >= 500))


def _rate(outcome: tuple[float, int]) -> float:
    seconds, items = outcome
    return items / seconds


if __name__ == "__main__":
    main()
