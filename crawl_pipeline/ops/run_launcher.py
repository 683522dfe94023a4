"""Dagster's DefaultRunLauncher, plus a worker health check so run monitoring fails dead runs.

DefaultRunLauncher (runs in a subprocess of a local code server) does not support
``check_run_worker_health``, so the daemon's run monitoring never fails a STARTED run whose
worker died (a SIGKILL, ``crawl-pipeline dev`` stopped mid-run): it would stay STARTED for ever.
This launcher tags each run it launches on a code server of this machine with the host, and
answers the health check from the worker's pid (see :mod:`crawl_pipeline.ops.orphans`). With
``run_monitoring.max_resume_run_attempts: 0`` the daemon marks such a run failed at its next poll.

dagster.yaml selects it (``run_launcher: module: crawl_pipeline.ops.run_launcher``).
"""

from __future__ import annotations

from dagster._core.launcher import CheckRunHealthResult, LaunchRunContext, WorkerStatus
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher

from crawl_pipeline.ops.orphans import WORKER_HOST_TAG, orphan_reason, this_host

_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


class LocalRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose runs on this machine's code servers can be health-checked."""

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        if self._code_server_is_local(context):
            self._instance.add_run_tags(run.run_id, {WORKER_HOST_TAG: this_host()})
        super().launch_run(context)

    @staticmethod
    def _code_server_is_local(context: LaunchRunContext) -> bool:
        try:
            origin = context.dagster_run.remote_job_origin
            location = context.workspace.get_code_location(origin.repository_origin.code_location_origin.location_name)
            client = location.client  # GrpcServerCodeLocation
        except Exception:
            return False
        return bool(getattr(client, "socket", None)) or getattr(client, "host", None) in _LOCAL_HOSTS

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run) -> CheckRunHealthResult:
        if run.tags.get(WORKER_HOST_TAG) != this_host():
            return CheckRunHealthResult(WorkerStatus.RUNNING, "worker not on this host: not checked")
        record = self._instance.get_run_record_by_id(run.run_id)
        reason = orphan_reason(self._instance, record) if record is not None else None
        if reason is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "worker process alive (or not started yet)")
        return CheckRunHealthResult(WorkerStatus.FAILED, reason)
