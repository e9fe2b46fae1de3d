"""Three runs of configs/smoke.yaml, dated three days apart in their manifests, a planted 20% slowdown
on the last, one report with --baseline-run the first."""
import json, shutil, subprocess, sys
from pathlib import Path
WT = str(Path(__file__).resolve().parents[4])
root = Path("/tmp/acc/trend"); shutil.rmtree(root, ignore_errors=True); root.mkdir(parents=True)
def cli(*args):
    print("$ sdpa-bench " + " ".join(args), flush=True)
    p = subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=WT, capture_output=True, text=True)
    print("\n".join(l for l in p.stdout.splitlines() if "done (100%)" in l or "written" in l or "jobs on" in l))
    print(f"(exit {p.returncode})\n", flush=True)
    assert p.returncode == 0, p.stderr[-2000:]
runs = []
for i, date in enumerate(["2026-11-28", "2026-11-29", "2026-11-30"]):
    run = root / f"smoke-{date}"
    cli("run", "-c", "configs/smoke.yaml", "-o", str(run))
    m = json.loads((run / "manifest.json").read_text())
    m["sessions"][0]["started_at"] = f"{date}T03:00:00+00:00"
    (run / "manifest.json").write_text(json.dumps(m, indent=2))
    print(f"# {run.name}/manifest.json: sessions[0].started_at set to {date}T03:00:00+00:00\n")
    runs.append(run)
first = [json.loads(l) for l in (runs[0] / "results.jsonl").read_text().splitlines()]
steady = min((r for r in first if r["status"] == "ok"), key=lambda r: r["iqr_ms"] / r["median_ms"])
rows = [json.loads(l) for l in (runs[2] / "results.jsonl").read_text().splitlines()]
for r in rows:
    if r["job_id"] == steady["job_id"]:
        print(f"# planted: {runs[2].name}'s {r['implementation']} {r['sweep']}: {r['point']} -> 1.2 x {runs[0].name}'s "
              f"{steady['median_ms']:.4g} ms (its IQR {100 * steady['iqr_ms'] / steady['median_ms']:.1f}% of the median); "
              f"it had measured {r['median_ms']:.4g} ms\n")
        r.update(median_ms=1.2 * steady["median_ms"], iqr_ms=1.2 * steady["iqr_ms"], tflops=steady["tflops"] / 1.2)
(runs[2] / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
cli("report", *map(str, runs), "-o", str(root / "report"), "--baseline-run", str(runs[0]))
