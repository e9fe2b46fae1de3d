# the tutorial shape, every backend: sdpa-bench (adaptive, the new default) then do_bench(warmup=1000, rep=2000), same call
source scripts/device_env.sh > /dev/null
mkdir -p /tmp/tut
python3 -m orchestrator run -c docs/results/2026-11-26-h200-adaptive-timing/commands/tutorial.yaml -o /tmp/tut/run > /tmp/tut/run.log 2>&1; echo run rc $?
python3 benchmarks/do_bench_loop.py configs/default.yaml /tmp/tut/do_bench.json --warmup 1000 --rep 2000 --sweeps tutorial > /tmp/tut/loop.log 2>&1; echo loop rc $?
python3 benchmarks/against_do_bench.py /tmp/tut/run /tmp/tut/do_bench.json /tmp/tut/against.json | tee /tmp/tut/against.txt
gzip -f /tmp/tut/run/samples.jsonl; rm -rf /tmp/tut/run/results.parquet /tmp/tut/run/plots
tar czf $OUT/tut.tgz -C /tmp tut
