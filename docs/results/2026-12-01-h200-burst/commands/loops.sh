# Independent loops over the points of run2 (default_runs.sh), same machine: a burst loop (3 s idle,
# then 10 event-timed calls, median) at the tutorial shape and the FA-style forward points, and
# do_bench(warmup=1000, rep=2000) at the tutorial shape and the s4096 forward points; then each
# against run2's burst_ms and median_ms.
source scripts/device_env.sh > /dev/null || exit 3
old=docs/results/2026-12-01-h200-burst/commands/default-2026-11-26.yaml
timeout "${1:-130}" python3 benchmarks/do_bench_loop.py $old /tmp/b/burst_loop.json --burst \
  --sweeps tutorial,fa_style_s1024,fa_style_s4096 --match ' fwd( |$)' > /tmp/b/burst_loop.log 2>&1; echo "burst rc $?"
timeout "${2:-90}" python3 benchmarks/do_bench_loop.py $old /tmp/b/do_bench.json --warmup 1000 --rep 2000 \
  --sweeps tutorial,fa_style_s4096 --match ' fwd( |$)' > /tmp/b/do_bench.log 2>&1; echo "do_bench rc $?"
python3 benchmarks/against_do_bench.py /tmp/b/run2 /tmp/b/burst_loop.json /tmp/b/against_burst.json --burst \
  > /tmp/b/against_burst.txt 2>&1; tail -9 /tmp/b/against_burst.txt
python3 benchmarks/against_do_bench.py /tmp/b/run2 /tmp/b/do_bench.json /tmp/b/against_do_bench.json \
  > /tmp/b/against_do_bench.txt 2>&1; tail -9 /tmp/b/against_do_bench.txt
tar czf "$OUT/loops.tgz" -C /tmp/b burst_loop.json burst_loop.log do_bench.json do_bench.log against_burst.json \
  against_burst.txt against_do_bench.json against_do_bench.txt
