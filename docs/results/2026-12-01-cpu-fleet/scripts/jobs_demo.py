"""The acceptance transcript of submit --no-wait / job logs --follow / stop / fetch / resume / bad input."""
import os, re, socket, subprocess, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[4]))
from tests.heads import start_head

WT = str(Path(__file__).resolve().parents[4])
CONFIG = f"{WT}/docs/results/2026-12-01-cpu-fleet/fleet320.yaml"
OUT = Path("/tmp/acc/jobs"); OUT.mkdir(parents=True, exist_ok=True)
log = open(sys.argv[1], "w")

def say(text=""):
    print(text, file=log, flush=True)

def sh(args, env, show=True, keep=lambda s: True):
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=WT, env=env, capture_output=True, text=True, timeout=600)
    took = time.monotonic() - t0
    say(f"$ sdpa-bench {' '.join(args)}")
    if show:
        for line in p.stdout.splitlines():
            if keep(line): say(line)
        for line in p.stderr.splitlines():
            if "INFO" not in line: say(f"[stderr] {line}")
    say(f"(exit {p.returncode}, {took:.1f} s)\n")
    return p

gen = start_head("disabled")
address, env = next(gen)
env = {**env, "PYTHONPATH": WT}
say(f"# a local head: ray start --head --block --num-cpus=2 --include-dashboard=true --dashboard-port=... -> {address}\n")
try:
    p = sh(["submit", "--address", address, "-c", CONFIG, "--no-wait", "--progress-every", "2"], env)
    jid = p.stdout.strip()
    assert p.returncode == 0, "submit failed"
    say(f"$ sdpa-bench job logs {jid} --address {address} --follow    # each line prefixed with the seconds since it was started")
    t0 = time.monotonic()
    f = subprocess.Popen([sys.executable, "-m", "orchestrator", "job", "logs", jid, "--address", address, "--follow"], cwd=WT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in f.stdout:
        say(f"{time.monotonic() - t0:6.1f} s | {line.rstrip()}")
    say(f"(exit {f.wait()})\n")
    sh(["job", "status", jid, "--address", address], env)
    sh(["job", "fetch", jid, "--address", address, "-o", str(OUT / "finished")], env)

    p = sh(["submit", "--address", address, "-c", CONFIG, "--no-wait", "--progress-every", "2"], env)
    jid = p.stdout.strip()
    assert p.returncode == 0, "submit failed"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        s = subprocess.run([sys.executable, "-m", "orchestrator", "job", "status", jid, "--address", address], cwd=WT, env=env, capture_output=True, text=True)
        m = re.search(r"(\d+)/320 done", s.stdout)
        if m and int(m.group(1)) >= 60:
            break
        time.sleep(1)
    sh(["job", "status", jid, "--address", address], env)
    sh(["job", "stop", jid, "--address", address], env)
    sh(["job", "logs", jid, "--address", address], env, keep=lambda l: "done (" in l or "interrupted" in l or "report written" in l or "packed" in l)
    sh(["job", "fetch", jid, "--address", address, "-o", str(OUT / "stopped")], env)
    report = (OUT / "stopped" / "report.md").read_text()
    say("report.md of the fetched run: " + next(l for l in report.splitlines() if l.startswith("Jobs by status")))
    say(f"results.jsonl: {len((OUT / 'stopped' / 'results.jsonl').read_text().splitlines())} rows\n")
    sh(["run", "--resume", str(OUT / "stopped")], env, keep=lambda l: "jobs on" in l or "done (100%)" in l or "report written" in l)
    report = (OUT / "stopped" / "report.md").read_text()
    say("report.md after the resume: " + next(l for l in report.splitlines() if l.startswith("Jobs by status")) + "\n")

    sh(["job", "status", "raysubmit_no_such_job", "--address", address], env)
    sh(["job", "fetch", "sdpa-bench-20261201-000000-abcdef", "--address", address, "-o", str(OUT / "x")], env)
    sh(["job", "status", "x", "--address", "http://127.0.0.1:1"], env)
    server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen(8)
    say(f"# port {server.getsockname()[1]}: a socket that accepts and never answers")
    sh(["job", "logs", "x", "--address", f"http://127.0.0.1:{server.getsockname()[1]}"], env)
    sh(["submit", "--address", f"http://127.0.0.1:{server.getsockname()[1]}", "-c", CONFIG, "--no-wait"], env)
    server.close()
finally:
    try:
        next(gen)
    except StopIteration:
        pass
