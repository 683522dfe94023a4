"""Every asset, check, job, sensor and schedule defined in a ``defs/`` module reaches the merged
Definitions: each subject's ``definitions.py`` is its one list, and nothing left out of it vanishes."""

import importlib
import pkgutil
from pathlib import Path

import dagster as dg

import crawl_pipeline.defs
from crawl_pipeline.definitions import SUBJECTS, build_definitions
from crawl_pipeline.settings import Settings

DEFS = Path(crawl_pipeline.defs.__file__).parent
JOB_TYPES = (dg.JobDefinition, type(dg.define_asset_job("_probe")))  # define_asset_job: the public way to its class


def _defined_objects() -> list[tuple[str, object]]:
    found = []
    for info in pkgutil.walk_packages([str(DEFS)], prefix="crawl_pipeline.defs."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            for item in value if type(value) in (list, tuple) else [value]:  # lists like freshness_checks
                found.append((f"{info.name}.{name}", item))
    return found


def test_every_subject_has_its_definitions_module():
    subjects = {p.parent.name for p in DEFS.glob("*/__init__.py")}
    assert subjects == {"reference", "crawl", "analytics", "smurf", "identity", "feed"}
    assert {s.__name__.split(".")[-2] for s in SUBJECTS} == subjects
    for subject in SUBJECTS:
        assert subject.__name__.endswith(".definitions") and isinstance(subject.defs, dg.Definitions)


def test_everything_defined_under_defs_reaches_the_merged_definitions():
    defs = build_definitions(Settings.from_env({}))
    graph = defs.resolve_asset_graph()
    asset_keys, check_keys = set(graph.get_all_asset_keys()), set(graph.asset_check_keys)
    jobs = {job.name for job in defs.jobs or []}
    sensors = {sensor.name for sensor in defs.sensors or []}
    schedules = {schedule.name for schedule in defs.schedules or []}
    missing = []
    counted = {"assets": 0, "checks": 0, "jobs": 0, "sensors": 0, "schedules": 0}
    for where, item in _defined_objects():
        if isinstance(item, dg.AssetChecksDefinition):
            counted["checks"] += 1
            missing += [f"{where}: check {k}" for k in item.check_keys if k not in check_keys]
        elif isinstance(item, dg.AssetsDefinition):
            counted["assets"] += 1
            missing += [f"{where}: asset {k}" for k in item.keys if k not in asset_keys]
            missing += [f"{where}: check {k}" for k in item.check_keys if k not in check_keys]
        elif isinstance(item, JOB_TYPES):
            counted["jobs"] += 1
            missing += [f"{where}: job {item.name}"] if item.name not in jobs else []
        elif isinstance(item, dg.SensorDefinition):
            counted["sensors"] += 1
            missing += [f"{where}: sensor {item.name}"] if item.name not in sensors else []
        elif isinstance(item, dg.ScheduleDefinition):
            counted["schedules"] += 1
            missing += [f"{where}: schedule {item.name}"] if item.name not in schedules else []
    assert not missing, "defined under defs/ but not in any subject's definitions.py:\n" + "\n".join(missing)
    assert all(counted.values()), counted  # the walk found objects of every kind


def test_the_run_tags_named_in_defs_common_are_the_ones_dagster_reads():
    from crawl_pipeline.defs.common import PARTITION_RANGE_END_TAG, PARTITION_RANGE_START_TAG, PARTITION_TAG

    request = dg.RunRequest(tags={PARTITION_RANGE_START_TAG: "d00-000000", PARTITION_RANGE_END_TAG: "d01-000003"})
    assert request.partition_key_range == dg.PartitionKeyRange("d00-000000", "d01-000003")

    @dg.asset(partitions_def=dg.StaticPartitionsDefinition(["a", "b"]))
    def partitioned() -> None:
        return None

    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([partitioned], partition_key="b", instance=instance)
        assert instance.get_run_by_id(result.run_id).tags[PARTITION_TAG] == "b"
