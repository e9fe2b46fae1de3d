#!/usr/bin/env bash
# Every implementation side by side on a GPU, and fa4/flex against triton's do_bench of
# the same callables in the same call. Run on the lent GPU after `source scripts/device_env.sh`
# (FlashAttention-4 installed from carried wheels, or its rows are unsupported):
#
#   bash benchmarks/implementations_check.sh OUT_DIR [SWEEP_SECONDS]
#
# The sweep stops (SIGTERM: a report of what finished, exit 130) after SWEEP_SECONDS (default
# 420); run it again on the same machine to --resume it. Writes OUT_DIR/impl.tgz (the run
# directory), loop.json (do_bench's medians, 1 s warmup and 2 s of reps: the sustained protocol)
# and against.json (the pairs); prints the comparison last.
set -u
out=$1 limit=${2:-420} run=/tmp/runs/impl
mkdir -p /tmp/runs "$out"
if [ -d "$run" ]; then args=(--resume "$run"); else args=(-c configs/implementations.yaml -o "$run"); fi
timeout -s TERM "$limit" python3 -m orchestrator run "${args[@]}" > "$out/impl_run.log" 2>&1
echo "sdpa-bench run exit $?: $(tail -n 1 "$out/impl_run.log")"
tar czf "$out/impl.tgz" -C /tmp/runs impl
python3 benchmarks/do_bench_loop.py configs/implementations.yaml "$out/loop.json" --warmup 1000 --rep 2000 \
  --backends fa4,flex,cudnn --sweeps impl_s4096_d64,impl_s4096_d128,impl_s4096_d128_bwd 2>&1 | grep -v Warning | tail -n 2
python3 benchmarks/against_do_bench.py "$run" "$out/loop.json" "$out/against.json"
