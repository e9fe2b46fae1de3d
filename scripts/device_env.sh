# Source at the start of every command on the lent GPU machine: installs the carried Ray wheels
# (.whl/, built by ../shared/device/ray-wheels.sh), keeps FlashAttention-4 on the path where an
# earlier command of this machine installed it (/tmp/fa4site: ../shared/device/fa4-wheels.sh), and
# records the machine's state in $OUT/env.txt. Returns 3 on a thermally throttled card.
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl || return 1
fa4=""
[ -d /tmp/fa4site ] && fa4=/tmp/fa4site:/tmp/fa4site/nvidia_cutlass_dsl/dsl_packages
export PYTHONPATH=/tmp/site:$PWD${fa4:+:$fa4} PYTHONUNBUFFERED=1 RAY_AUTH_MODE=disabled
{
  date -u +%FT%TZ
  nvidia-smi --query-gpu=name,uuid,driver_version,memory.total,clocks.sm,clocks.max.sm,power.limit --format=csv
  nvidia-smi --query-compute-apps=pid,used_memory --format=csv
  python3 -c "import torch, ray, triton; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version(), 'triton', triton.__version__, 'ray', ray.__version__)"
  python3 -c "import importlib.metadata as m; print('flash-attn-4', m.version('flash-attn-4'), 'nvidia-cutlass-dsl', m.version('nvidia-cutlass-dsl'), 'quack-kernels', m.version('quack-kernels'))" 2>/dev/null || echo "flash-attn-4 not installed"
  python3 benchmarks/card_health.py
} > "$OUT/env.txt" 2>&1
status=$?
cat "$OUT/env.txt"
[ "$status" -eq 0 ] || { echo "device_env.sh: card is thermally throttled; not timing on it"; return 3; }
