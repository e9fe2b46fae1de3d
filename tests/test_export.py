"""`sdpa-bench export --format pytorch-v3`: every record fits PyTorch's benchmark database schema v3,
checked against a copy of its field list, and a failed row is a status, never a 0.

V3_FIELDS is written from the published schema, pytorch/test-infra
clickhouse_db_schema/benchmark.oss_ci_benchmark_v3/schema.sql (read at commit 61a77570f454, 2026-08-21):
the field names and their ClickHouse types as published, nothing of its code. `fits` reads those types.
"""
import json
import re
import shutil
from pathlib import Path

import pytest

from analysis.export import export
from base.errors import BadInput
from tests.conftest import ROOT, run_cli, synthetic_row, write_run

V3_FIELDS = {
    "timestamp": "UInt64",
    "schema_version": "String",
    "name": "String",
    "repo": "String",
    "head_branch": "String",
    "head_sha": "String",
    "workflow_id": "UInt64",
    "run_attempt": "UInt32",
    "job_id": "UInt64",
    "servicelab_experiment_id": "UInt64",
    "servicelab_trial_id": "UInt64",
    "_meta": "Tuple(bucket String, key String)",
    "runners": "Array(Tuple(name String, type String, cpu_info String, cpu_count UInt32, mem_info String, "
               "avail_mem_in_gb UInt32, gpu_info String, gpu_count UInt32, gpu_mem_info String, "
               "avail_gpu_mem_in_gb UInt32, extra_info Map(String, String)))",
    "benchmark": "Tuple(name String, mode String, dtype String, extra_info Map(String, String))",
    "model": "Tuple(name String, type String, backend String, origins Array(String), extra_info Map(String, String))",
    "inputs": "Map(String, Tuple(dtype String, extra_info Map(String, String)))",
    "dependencies": "Map(String, Tuple(repo String, branch String, sha String, version String, "
                    "extra_info Map(String, String)))",
    "metric": "Tuple(name String, benchmark_values Array(Float32), target_value Float32, "
              "extra_info Map(String, String))",
}
# what the uploader (and the wiki) require of a result record; the rest of the metadata is the uploader's
REQUIRED = {"benchmark": ["name"], "model": ["name"], "metric": ["name", "benchmark_values"]}
UINT_MAX = {"UInt32": 2**32 - 1, "UInt64": 2**64 - 1}
FLOAT32_MAX = 3.4028234663852886e38


def split_top(text: str) -> list[str]:
    """`a String, b Tuple(x String, y String)` -> its two parts: commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += {"(": 1, ")": -1}.get(c, 0)
        if c == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    return parts + [text[start:].strip()]


def fits(value, kind: str, where: str) -> list[str]:
    """What is wrong with `value` as a ClickHouse `kind`; every field of a Tuple optional."""
    outer, _, inner = kind.partition("(")
    inner = inner[:-1]
    if outer == "String":
        return [] if isinstance(value, str) else [f"{where}: {value!r} is not a String"]
    if outer in UINT_MAX:
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= UINT_MAX[outer]
        return [] if ok else [f"{where}: {value!r} is not a {outer}"]
    if outer == "Float32":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= FLOAT32_MAX
        return [] if ok and value == value else [f"{where}: {value!r} is not a finite Float32"]
    if outer == "Array":
        if not isinstance(value, list):
            return [f"{where}: not an Array"]
        return [e for i, v in enumerate(value) for e in fits(v, inner, f"{where}[{i}]")]
    if outer == "Map":
        key_kind, value_kind = split_top(inner)
        if not isinstance(value, dict):
            return [f"{where}: not a Map"]
        return [e for k, v in value.items() for e in fits(k, key_kind, f"{where} key") + fits(v, value_kind, f"{where}[{k}]")]
    assert outer == "Tuple", kind
    fields = dict(re.match(r"`?(\w+)`?\s+(.*)", part).groups() for part in split_top(inner))
    if not isinstance(value, dict):
        return [f"{where}: not a Tuple"]
    unknown = [f"{where}.{k}: no such field in the schema" for k in value if k not in fields]
    return unknown + [e for k, v in value.items() if k in fields for e in fits(v, fields[k], f"{where}.{k}")]


def problems(record: dict) -> list[str]:
    found = [f"{k}: no such field in the schema" for k in record if k not in V3_FIELDS]
    found += [e for k, v in record.items() if k in V3_FIELDS for e in fits(v, V3_FIELDS[k], k)]
    return found + [f"{part}.{k}: required" for part, keys in REQUIRED.items() for k in keys
                    if k not in record.get(part, {})]


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_schema_checker_catches_what_it_should():
    good = {"benchmark": {"name": "b"}, "model": {"name": "m"}, "metric": {"name": "x", "benchmark_values": [1.5]}}
    assert problems(good) == []
    bad = {**good, "metric": {"name": "x", "benchmark_values": ["1.5"], "extra_info": {"n": 3}},
           "runners": [{"gpu_count": -1, "colour": "red"}], "extra": 1}
    assert sorted(problems(bad)) == sorted([
        "extra: no such field in the schema", "metric.benchmark_values[0]: '1.5' is not a finite Float32",
        "metric.extra_info[n]: 3 is not a String", "runners[0].gpu_count: -1 is not a UInt32",
        "runners[0].colour: no such field in the schema"])


H200_RUN = ROOT / "docs/results/2026-11-26-h200-adaptive-timing/final-code/run1"
H100_RUN = ROOT / "docs/results/2026-11-26-h100-implementations/run"  # one oom row among 170


def copy_run(source: Path, tmp_path: Path) -> Path:
    """The run directory as it was measured, without the report beside it (the export reads only the run)."""
    target = tmp_path / source.parent.name
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("plots", "report*", "*.gz"))
    return target


def test_real_h100_and_h200_runs_export_to_records_that_fit_the_schema(tmp_path):
    out = tmp_path / "v3.jsonl"
    count = export([copy_run(H200_RUN, tmp_path), copy_run(H100_RUN, tmp_path)], out)
    records = read(out)
    assert count == len(records) > 0
    assert [p for r in records for p in problems(r)] == []
    tflops = [r for r in records if r["metric"]["name"] == "tflops" and r["model"]["name"] == "cudnn"
              and r["runners"][0]["type"] == "NVIDIA H200"]
    first = tflops[0]
    assert first["benchmark"]["name"].startswith("sdpa-bench ") and first["benchmark"]["mode"] in ("inference",
                                                                                                  "training")
    assert first["metric"]["benchmark_values"][0] > 100 and first["metric"]["extra_info"]["unit"] == "TFLOPS"
    assert first["runners"][0] == {**first["runners"][0], "name": "cuda", "gpu_info": "NVIDIA H200", "gpu_count": 1,
                                   "avail_gpu_mem_in_gb": 139}
    deps = first["dependencies"]
    assert deps["torch"] == {"version": "2.11.0+cu130", "repo": "pytorch/pytorch"}
    assert deps["cuda"]["version"] == "13.0" and deps["cudnn"]["version"] == "91900"
    assert deps["nvidia-driver"]["version"] == "580.159.04"
    assert first["inputs"]["query"]["extra_info"]["shape"].startswith("[")


def test_a_failed_row_is_a_status_with_no_value_never_a_zero(tmp_path):
    records = read(Path(export_to(tmp_path)))
    oom = [r for r in records if r["metric"]["extra_info"]["status"] == "oom"]
    assert {r["metric"]["name"] for r in oom} == {"median_ms", "tflops"}  # the real H100 oom row, both metrics kept
    assert all(r["metric"]["benchmark_values"] == [] for r in oom)
    assert "out of memory" in oom[0]["metric"]["extra_info"]["error"].lower()
    assert not any(0.0 in r["metric"]["benchmark_values"] for r in records)


def export_to(tmp_path) -> Path:
    out = tmp_path / "v3.jsonl"
    export([copy_run(H100_RUN, tmp_path)], out)
    return out


def test_packages_become_dependencies_and_a_check_keeps_its_verdict(tmp_path):
    from tests.conftest import device

    rows = [synthetic_row(job_id="c", job="causal_correctness", status="ok", passed=False, check="FAIL: max abs err",
                          err_ratio=3.5, max_abs_err=0.1)]
    run = write_run(tmp_path / "r", rows, [device(packages="flash-attn-4 4.0.0b36, flashinfer-python 0.5.1")])
    out = tmp_path / "v3.jsonl"
    export([run], out)
    [record] = read(out)
    assert problems(record) == []
    assert record["metric"]["benchmark_values"] == [3.5] and record["metric"]["extra_info"]["passed"] == "false"
    assert record["dependencies"]["flash-attn-4"] == {"version": "4.0.0b36", "repo": "Dao-AILab/flash-attention"}
    assert record["dependencies"]["flashinfer-python"]["version"] == "0.5.1"


def test_an_unknown_format_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="--format csv: choose one of pytorch-v3"):
        export([copy_run(H100_RUN, tmp_path)], tmp_path / "x", format="csv")


@pytest.mark.integration
def test_the_command_writes_the_file_and_says_how_many(tmp_path):
    out = tmp_path / "v3.jsonl"
    proc = run_cli("export", str(copy_run(H200_RUN, tmp_path)), "--format", "pytorch-v3", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"{len(read(out))} records" in proc.stdout
    bad = run_cli("export", str(tmp_path / "nowhere"), "-o", str(out))
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1
