#!/usr/bin/env bash
# The GPU run of issue 22: run once on the lent GPU machine, from the repository root, inside
# ~8 minutes. Installs nothing from the network: it uses the machine's own python3 (PyTorch
# with CUDA is preinstalled there) and, when a session carried them, the wheels and the
# prepared clip of tests/gpu/carry.sh under .gpu-carry/.
#
#   1. device and versions (nvidia-smi, torch, CUDA, cuDNN)           -> $OUT/env.txt
#   2. pytest: tests/models/test_gpu.py (-m gpu) and the CPU-side device tests
#                                                                      -> $OUT/pytest.txt
#   3. with the carried libraries: deepstudio bench --gpu (training it/s end to end and step
#      only, parity, 1080p swap and lip-sync renders with per-stage times)
#      without them: python -m deepstudio.models.gpu_check (everything but the renders)
#                                                                      -> $OUT/bench.txt, .json
# Every step has its own time limit, so one that hangs cannot eat the others' time.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
SITE=/tmp/deepstudio-gpu-site
wheels=$(ls .gpu-carry/*/*.whl 2>/dev/null || true)
if [ -n "$wheels" ]; then
  # shellcheck disable=SC2086
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" $wheels && export PYTHONPATH=$PWD:$SITE
fi

{ nvidia-smi || true
  "$PY" -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'cudnn', torch.backends.cudnn.version(), 'available', torch.cuda.is_available(),
'numpy', numpy.__version__)"
} 2>&1 | tee "$OUT/env.txt"

echo "== pytest (gpu)"
timeout 150 "$PY" -m pytest -q -p no:cacheprovider -m "not slow" \
  tests/models/test_gpu.py tests/models/test_device.py 2>&1 | tee "$OUT/pytest.txt"

echo "== bench"
if "$PY" -c "import av, c2pa, imageio_ffmpeg, platformdirs" 2>/dev/null \
    && [ -f .gpu-carry/media/clip/prepared.json ]; then
  timeout 300 "$PY" -m deepstudio bench --gpu --clip-dir .gpu-carry/media/clip \
    --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.txt"
else
  echo "render libraries or the prepared clip not carried: model figures only (see tests/gpu/carry.sh)"
  timeout 270 "$PY" -m deepstudio.models.gpu_check --json "$OUT/bench.json" 2>&1 \
    | tee "$OUT/bench.txt"
fi
