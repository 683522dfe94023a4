"""The deployment examples load: the celery Definitions, the worker config and the Helm values;
each deployment's executor: in the run worker's process locally and on Kubernetes, Celery there."""

import yaml

from crawl_pipeline.db.stack import PROJECT_ROOT

DEPLOY = PROJECT_ROOT / "deploy"


def test_local_definitions_run_every_job_in_the_run_worker_process():
    from crawl_pipeline.definitions import defs

    jobs = {job.name: job.executor_def.name for job in defs.resolve_all_job_defs()}
    assert {"crawl_batch_job", "tracked_accounts_job"} <= set(jobs)
    assert set(jobs.values()) == {"in_process"}, jobs  # no subprocess (project imports) per step


def test_celery_definitions_put_every_job_on_the_celery_executor(monkeypatch):
    """Batch jobs too: the run worker starts on the daemon's machine, the steps spread over the workers."""
    monkeypatch.setenv("DAGSTER_CELERY_BROKER_URL", "pyamqp://guest:guest@127.0.0.1:5672//")
    monkeypatch.setenv("DAGSTER_CELERY_BACKEND_URL", "rpc://")
    from crawl_pipeline.ops.celery_definitions import defs

    jobs = {job.name: job.executor_def.name for job in defs.resolve_all_job_defs()}
    assert "crawl_batch_job" in jobs
    assert set(jobs.values()) == {"crawl_celery_executor"}, jobs
    workspace = yaml.safe_load((DEPLOY / "workspace-celery.yaml").read_text())
    assert workspace["load_from"][0]["python_module"]["module_name"] == "crawl_pipeline.ops.celery_definitions"


def test_worker_config_validates_against_the_celery_executor_schema(monkeypatch):
    from dagster_celery.cli import get_validated_config

    monkeypatch.setenv("DAGSTER_CELERY_BROKER_URL", "pyamqp://guest:guest@127.0.0.1:5672//")
    monkeypatch.setenv("DAGSTER_CELERY_BACKEND_URL", "rpc://")
    config = get_validated_config(str(DEPLOY / "celery.yaml"))
    assert config["broker"].startswith("pyamqp://") and config["backend"] == "rpc://"


def test_helm_values_use_the_k8s_run_launcher_with_secrets():
    values = yaml.safe_load((DEPLOY / "helm-values.yaml").read_text())
    launcher = values["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    secrets = {s["name"] for s in launcher["config"]["k8sRunLauncher"]["envSecrets"]}
    assert {"crawl-database", "crawl-provider-keys"} <= secrets
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "crawl_pipeline.definitions"]
    assert values["dagsterDaemon"]["runMonitoring"]["enabled"] is True
