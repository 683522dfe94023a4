"""The project's Definitions with every job's steps executed by Celery workers (dagster-celery)
instead of in each run's worker process.

Point a production workspace at this module instead of ``crawl_pipeline.definitions``
(``deploy/workspace-celery.yaml``) and run workers on as many machines as needed::

    dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml

Every process (webserver, daemon, run workers, Celery workers) shares one dagster-postgres
instance (DAGSTER_HOME with the project's dagster.yaml, DAGSTER_POSTGRES_URL) and the crawl
database (DATABASE_URL); the rate budget lives in PostgreSQL, so any number of workers stay
within the providers' limits. See docs/deployment.md.
"""

from __future__ import annotations

import dagster as dg
from dagster_celery import celery_executor
from dagster_shared.record import copy

from crawl_pipeline.definitions import defs as local_defs

# Broker and result backend come from the environment through Dagster's config system,
# the same way the workers' `-y deploy/celery.yaml` names them.
CELERY_EXECUTOR = celery_executor.configured(
    {
        "broker": {"env": "DAGSTER_CELERY_BROKER_URL"},
        "backend": {"env": "DAGSTER_CELERY_BACKEND_URL"},
    },
    name="crawl_celery_executor",
)


def with_celery(defs: dg.Definitions, executor: dg.ExecutorDefinition = CELERY_EXECUTOR) -> dg.Definitions:
    """``defs`` with ``executor`` as the default of every job that names none, in place of the
    in-process one of the local code location: the crawl batch jobs too, because the default run
    launcher starts every run worker on the daemon's machine, and only steps sent to Celery spread
    the crawl over the workers' machines (a worker runs each step in its own long-lived process)."""
    return copy(defs, executor=executor)


defs = with_celery(local_defs)
