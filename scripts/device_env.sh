# Source at the start of every command on a lent GPU machine. Ray is not on that machine: its wheels
# travel in .whl/ (git-ignored) and are installed into /tmp/site once per machine, or an earlier
# command installed them there with the optional packages (FlashAttention-4, FlashInfer); those and
# their nvidia_cutlass_dsl/dsl_packages, in /tmp/site, /tmp/fa4site or /tmp/flashinfer-site, go on the path.
# Records the machine's state in $OUT/env.txt; returns 3 on a thermally throttled card.
if [ -d .whl ] && [ ! -d /tmp/site/ray ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || return 1
fi
extra=""
for site in /tmp/site /tmp/fa4site /tmp/flashinfer-site; do
  [ -d "$site" ] && [ "$site" != /tmp/site ] && extra="$extra:$site"
  [ -d "$site/nvidia_cutlass_dsl/dsl_packages" ] && extra="$extra:$site/nvidia_cutlass_dsl/dsl_packages"
done
export PYTHONPATH=/tmp/site:$PWD$extra PYTHONUNBUFFERED=1 RAY_AUTH_MODE=disabled
{
  date -u +%FT%TZ
  nvidia-smi --query-gpu=name,uuid,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv
  nvidia-smi --query-compute-apps=pid,used_memory --format=csv
  python3 -c "import torch, ray, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'triton', triton.__version__, 'ray', ray.__version__)"
  python3 -c "from orchestrator.devices import packages; print('packages:', packages() or 'none')"
  python3 scripts/card_health.py
} > "$OUT/env.txt" 2>&1
status=$?
cat "$OUT/env.txt"
[ "$status" -eq 0 ] || { echo "device_env.sh: card is thermally throttled; not timing on it"; return 3; }
