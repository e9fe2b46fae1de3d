import json, shutil, subprocess, sys, tempfile
from collections import Counter
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
from tests.test_export import problems
out = Path("/tmp/acc/export"); shutil.rmtree(out, ignore_errors=True); out.mkdir(parents=True)
runs = ["docs/results/2026-11-26-h200-adaptive-timing/final-code/run1", "docs/results/2026-11-26-h100-implementations/run"]
cmd = [sys.executable, "-m", "orchestrator", "export", *runs, "--format", "pytorch-v3", "-o", str(out / "v3.jsonl")]
p = subprocess.run(cmd, cwd=str(Path(__file__).resolve().parents[4]), capture_output=True, text=True)
print("$ sdpa-bench export " + " ".join(runs) + " --format pytorch-v3 -o v3.jsonl")
print(p.stdout.strip(), f"(exit {p.returncode})")
records = [json.loads(l) for l in (out / "v3.jsonl").read_text().splitlines()]
bad = [e for r in records for e in problems(r)]
print(f"\nchecked against tests/test_export.py's copy of the v3 field list: {len(records)} records, {len(bad)} problems")
print("records by GPU and metric:", dict(Counter((r["runners"][0]["type"], r["metric"]["name"]) for r in records)))
print("records by status:", dict(Counter(r["metric"]["extra_info"]["status"] for r in records)))
print("records with a 0 value:", sum(0.0 in r["metric"]["benchmark_values"] for r in records))
oom = [r for r in records if r["metric"]["extra_info"]["status"] != "ok"]
print(f"\nthe failed row (H100, {oom[0]['model']['name']} {oom[0]['benchmark']['extra_info']['point']}), its {len(oom)} records; the first:")
print(json.dumps(oom[0], indent=1))
ok = next(r for r in records if r["metric"]["name"] == "tflops" and r["model"]["name"] == "fa4" and r["runners"][0]["type"] == "NVIDIA H200")
print("\nan ok record (H200, fa4):")
print(json.dumps(ok, indent=1))
