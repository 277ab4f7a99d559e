#!/usr/bin/env bash
# Prepare, on a machine with PyPI, what the GPU run (tests/gpu/run.sh) carries to the lent GPU
# machine, which reaches no network and has PyTorch (CUDA), numpy, OpenCV, SciPy,
# scikit-image, safetensors and pytest, but none of PyAV, ffmpeg, c2pa, cryptography,
# platformdirs, mediapipe or dlib (/work/.library/device/KINDS.md, "Python packages").
#
#   .gpu-carry/libs/   wheels for Python 3.12 x86-64: PyAV, c2pa, cryptography (+cffi,
#                      pycparser), platformdirs                                  (~57 MB)
#   .gpu-carry/media/  imageio-ffmpeg (an ffmpeg with libx264) and the 10 s 1080p render
#                      clip, generated and face-analysed here (mediapipe and dlib cannot be
#                      carried within the limit), so the GPU machine only renders it (~45 MB)
#
# Each folder stays under the device tool's 64 MiB per call; see docs/benchmarks.md ("GPU")
# for the two calls that carry them. Run from the repository root with the project's venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.gpu-carry/' .gitignore || { echo "expected /.gpu-carry/ in .gitignore" >&2; exit 1; }
rm -rf .gpu-carry
mkdir -p .gpu-carry/libs .gpu-carry/media
download() {  # wheels for the GPU image's CPython 3.12 on x86-64, without dependencies
  local dest=$1; shift
  python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any -d "$dest" "$@"
}
download .gpu-carry/libs av==18.1.0 c2pa-python==0.38.1 cryptography==51.0.1 cffi==2.1.1 \
  pycparser==3.12 platformdirs==4.14.9
# 0.6.0: the newest imageio-ffmpeg whose wheel (~30 MB) fits beside the clip; 0.8 is 68 MB.
download .gpu-carry/media imageio-ffmpeg==0.6.0
python -m deepstudio.cli.bench_gpu --prepare .gpu-carry/media/clip --seconds 10
du -sh .gpu-carry/*
