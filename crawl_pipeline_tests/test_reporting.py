"""The status report as printed: the job ledger shows each run's requests, records and failures."""

from rich.console import Console

from crawl_pipeline.db import job_runs
from crawl_pipeline.db.status import crawl_status
from crawl_pipeline.reporting import print_status


def test_status_prints_the_job_ledger(db):
    with db.transaction() as conn:
        job_runs.start_run(conn, "0123456789abcdef", "tracked_accounts_job")
        job_runs.finish_run(conn, "0123456789abcdef", status="rate_limited", api_requests=1234, records_written=56,
                            failures={"RateLimited": 3}, rate_limited="opendota daily budget")
    console = Console(record=True, width=200)
    print_status(crawl_status(db), "test database", console)
    text = console.export_text()
    assert "Job runs" in text and "tracked_accounts_job" in text and "01234567" in text
    assert "1,234" in text and "RateLimited 3" in text and "rate_limited" in text
