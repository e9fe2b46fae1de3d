# configs/default.yaml, the first run on this machine (flex and FA4 compile, then cached), SIGTERM at
# 360 s; then the independent burst loop (3 s idle, 10 event-timed calls, their median) at the
# tutorial shape and the FA-style forward points, and run1's burst_ms against it.
source scripts/device_env.sh > /dev/null || exit 3
export FLASH_ATTENTION_CUTE_DSL_CACHE_ENABLED=1
mkdir -p /tmp/b && cp "$OUT/env.txt" /tmp/b/
s=$(date +%s.%N)
timeout -s TERM 360 python3 -m orchestrator run -c configs/default.yaml -o /tmp/b/run1 > /tmp/b/run1.log 2>&1
echo "run1 rc $? wall_s $(python3 -c "print(round($(date +%s.%N) - $s, 1))")" | tee -a /tmp/b/walls.txt; tail -2 /tmp/b/run1.log
timeout 180 python3 benchmarks/do_bench_loop.py configs/default.yaml /tmp/b/burst_loop.json --burst \
  --sweeps tutorial,fa_style_s1024,fa_style_s4096 --match ' fwd( |$)' > /tmp/b/burst_loop.log 2>&1
echo "burst loop rc $?"; tail -1 /tmp/b/burst_loop.log
python3 benchmarks/against_do_bench.py /tmp/b/run1 /tmp/b/burst_loop.json /tmp/b/against_burst.json --burst \
  > /tmp/b/against_burst.txt 2>&1; tail -10 /tmp/b/against_burst.txt
gzip -kf /tmp/b/run1/samples.jsonl
tar czf "$OUT/run1.tgz" -C /tmp/b --exclude=run1/samples.jsonl --exclude=run1/results.parquet --exclude=run1/plots .
