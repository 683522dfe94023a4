"""Smurf detection through the whole pipeline: crawl a small simulated world with the local
runner, run the smurf analyzer (Dagster runs: ranked history -> scores -> ban checks), and
compare ``smurf_scores`` with the simulator's ground truth (which the scorer never reads).

Baseline, measured in the same run on the same scored accounts: flag by win rate alone, with
its threshold chosen *with hindsight* for its best F1 (generous to it).

Printed: accounts crawled and scored, API requests of the analyzer, precision / recall / F1 of
the pipeline and of the baseline, and the F1 ratio.

Run: ``.venv/bin/python bench/bench_smurf_pipeline.py [--accounts 2000] [--max-depth 2] [--runs 2]``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import httpx
import numpy as np


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-depth", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--runs", type=int, default=2, help="analyzer runs (each reads up to --per-call ranked matches per account)")
    parser.add_argument("--per-call", type=int, default=20)
    parser.add_argument("--server", default=None, help="PostgreSQL server for the scratch databases")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import dagster as dg

    from crawl_pipeline.db import urls
    from crawl_pipeline.db.pool import Database
    from crawl_pipeline.db.smurf import SIGNIFICANT_SQL, confusion, measure_against_truth
    from crawl_pipeline.definitions import build_definitions
    from crawl_pipeline.defs.crawl.local_runner import QUIET_LOGGING, crawl_locally
    from crawl_pipeline.defs.crawl.resources import CrawlConfig
    from crawl_pipeline.defs.providers import ProvidersResource
    from crawl_pipeline.defs.resources import PostgresResource
    from crawl_pipeline.defs.smurf.assets import analyzer_run_request, smurf_analyzer_job
    from crawl_pipeline.settings import Settings

    server = common.server_url(args.server)
    crawl = CrawlConfig(max_depth=args.max_depth, batch_size=args.batch_size, batch_growth=1.0,
                        max_matches_per_account=10, page_size=10, max_workers=8, details_chunk_size=25,
                        partial_batch_after_seconds=0)
    print(f"machine: {common.machine_info(server)}")
    with common.simulator_process(accounts=args.accounts, seed=args.seed, rate_limits={"enabled": False}) as sim_url, \
            common.scratch_database(server, "smurf") as url, \
            common.scratch_database(server, "smurf_dagster", migrate=False) as dagster_url, \
            Database(url, max_size=8) as db, \
            dg.instance_for_test(overrides={"storage": {"postgres": {"postgres_url": urls.to_sqlalchemy(dagster_url)}}}) as instance:
        providers = ProvidersResource(
            opendota_api_url=sim_url, steam_api_url=sim_url, stratz_api_url=sim_url,
            opendota_api_key="00000000-0000-4000-8000-00000000da7a", steam_api_key="sim-steam-key",
            rate_limits={"opendota": {"per_second": 2000}},
        )
        defs = build_definitions(Settings.from_env({}), postgres=PostgresResource(database_url=url),
                                 providers=providers, crawl=crawl)  # the smurf subject is part of it
        t0 = time.perf_counter()
        runs = crawl_locally(defs, instance, db, crawl)
        crawl_s = time.perf_counter() - t0
        batched = db.fetch_value("SELECT count(*) FROM accounts WHERE batch_key IS NOT NULL")
        print(f"crawl: {batched} accounts batched, {db.fetch_value('SELECT count(*) FROM matches WHERE has_details')} "
              f"matches detailed, {sum(runs.runs.values())} runs, {crawl_s:.1f}s")

        job = defs.resolve_job_def(smurf_analyzer_job.name)
        api_requests = 0
        t0 = time.perf_counter()
        for _ in range(args.runs):
            result = job.execute_in_process(
                instance=instance, tags=analyzer_run_request(instance).tags,
                run_config={**QUIET_LOGGING, "ops": {"smurf_match_history": {"config": {
                    "matches_per_call": args.per_call, "max_accounts": 100_000}}}},
            )
            tags = instance.get_run_by_id(result.run_id).tags
            api_requests += sum(int(v) for k, v in tags.items() if k.startswith("smurf/api_requests"))
        analyze_s = time.perf_counter() - t0

        truth_rows = httpx.get(f"{sim_url}/_sim/truth", timeout=60).json()["accounts"]
        quality = measure_against_truth(db, truth_rows)
        truth = {int(r["account_id"]): bool(r["is_smurf"]) for r in truth_rows}
        rates = db.fetch_all(
            f"""SELECT s.account_id, avg(mp.win::int)::float AS win_rate FROM smurf_scores s
                JOIN match_players mp ON mp.account_id = s.account_id JOIN matches m USING (match_id)
                WHERE s.model_version = 'smurf-v1' AND {SIGNIFICANT_SQL} GROUP BY 1"""
        )
        best = {"f1": -1.0}
        values = np.array([r["win_rate"] for r in rates])
        for cut in np.unique(values):
            candidate = confusion([(r["account_id"], r["win_rate"] >= cut) for r in rates], truth)
            if candidate["f1"] > best["f1"]:
                best = {**candidate, "threshold": float(cut)}
        smurfs_in_world = sum(truth.values())
        print(f"analyzer: {args.runs} runs, {api_requests} API requests, {analyze_s:.1f}s; "
              f"{quality['scored']} accounts scored, {quality['flagged']} flagged, "
              f"{quality['true_smurfs_scored']} true smurfs among the scored ({smurfs_in_world} in the world)")
        print(f"smurf-v1 pipeline: precision {quality['precision']:.3f}, recall {quality['recall']:.3f}, F1 {quality['f1']:.3f}")
        print(f"win-rate-only baseline (hindsight threshold {best.get('threshold', float('nan')):.3f}): precision "
              f"{best.get('precision', 0):.3f}, recall {best.get('recall', 0):.3f}, F1 {best.get('f1', 0):.3f}")
        print(common.ratio_line("F1", quality["f1"], best.get("f1", 0.0)))
        print(common.target_line("precision >= 0.9 and recall >= 0.8",
                                 quality["precision"] >= 0.9 and quality["recall"] >= 0.8))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
