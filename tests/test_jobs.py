"""The job registry: every entry imports and keeps the contract (a function, a Params dataclass, a
TypedDict of flat metrics, report hints that name real columns); one column name means one type
whichever job writes it; every shipped config's points have distinct labels within their sweep."""
import dataclasses
import typing

import pytest

from base.point import Params
from jobs import JOBS
from orchestrator.config import load_config
from orchestrator.launch import run_schema
from orchestrator.sweep import expand_config
from tests.conftest import ROOT


@pytest.mark.parametrize("name", JOBS)
def test_every_registry_entry_keeps_the_contract(name):
    job = JOBS[name]
    assert callable(job.function)
    assert dataclasses.is_dataclass(job.params) and issubclass(job.params, Params)
    assert typing.is_typeddict(job.metrics) and job.metric_types()  # resolves: every metric a flat type
    params, metrics = job.param_types(), job.metric_types()
    assert not set(params) & set(metrics)  # a column is a parameter or a metric, never both
    if job.report.kind == "speed":
        assert job.report.x in params and job.report.speed in metrics
        assert not job.report.by or job.report.by in params


def test_a_column_name_means_one_type_across_every_job():
    schema = run_schema(list(JOBS))  # raises where two jobs declare one name with two types
    assert set(schema["jobs"]) == set(JOBS)
    assert {"job_id", "status", "point", "family", "implementation", "duration_s"} <= set(schema["columns"])


@pytest.mark.parametrize("path", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_labels_name_every_point_of_a_sweep_once(path):
    specs = [j.spec for j in expand_config(load_config(path))]
    named = {(s.job, s.sweep, s.label(), s.params.implementation()) for s in specs}
    assert len(named) == len(specs)
