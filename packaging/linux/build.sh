#!/usr/bin/env bash
# Build DeepStudio's frozen one-folder edition into dist/DeepStudio/ (packaging/README.md).
#
#   bash packaging/linux/build.sh          the CPU edition (torch's CPU build)
#   bash packaging/linux/build.sh --gpu    the GPU edition, into dist/gpu/DeepStudio/: the same
#                                          spec with a CUDA build of torch (TORCH_INDEX_URL)
#
# It makes (or reuses) a build virtualenv ($DEEPSTUDIO_BUILD_VENV, default .venv, or .venv-gpu
# for --gpu), installs DeepStudio with its packaging tools there, and runs PyInstaller on
# packaging/deepstudio.spec. A build whose inputs (sources, resources, spec, installed
# packages) have not changed since the last one is skipped. With DEEPSTUDIO_BUILD_CACHE set to
# a folder, the build and PyInstaller's work files live there and dist/DeepStudio links to it,
# so that a fresh clone (CI) reuses an unchanged build.
set -euo pipefail
cd "$(dirname "$0")/../.."

edition=cpu
if [ "${1:-}" = "--gpu" ]; then edition=gpu; fi
if [ "$edition" = gpu ]; then
  venv=${DEEPSTUDIO_BUILD_VENV:-.venv-gpu}
  dist=dist/gpu
else
  venv=${DEEPSTUDIO_BUILD_VENV:-.venv}
  dist=dist
fi
work="build/pyinstaller-$edition"
if [ -n "${DEEPSTUDIO_BUILD_CACHE:-}" ]; then
  mkdir -p "$DEEPSTUDIO_BUILD_CACHE" "$dist"
  rm -rf "$dist/DeepStudio"
  ln -s "$DEEPSTUDIO_BUILD_CACHE/dist-$edition/DeepStudio" "$dist/DeepStudio"
  work="$DEEPSTUDIO_BUILD_CACHE/work-$edition"
  dist="$DEEPSTUDIO_BUILD_CACHE/dist-$edition"
fi
app="$dist/DeepStudio"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
. "$venv/bin/activate"
python -m pip install -q --upgrade pip
if [ "$edition" = gpu ]; then
  # PyTorch's CUDA wheels; the user's NVIDIA driver stays outside the build.
  python -m pip install -q torch==2.13.0 \
    --index-url "${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cu128}"
else
  # The registry's torch 2.13.0 is the CPU build (no nvidia-* libraries: ~2 GB smaller).
  python -m pip install -q torch==2.13.0
fi
python -m pip install -q -e ".[packaging]"

fingerprint=$( {
  echo "$edition"
  python -m pip freeze --exclude-editable
  git ls-files -co --exclude-standard -- deepstudio resources packaging pyproject.toml setup.py \
    | LC_ALL=C sort | xargs -d '\n' sha256sum
} | sha256sum | cut -d' ' -f1)
if [ -f "$app/.build-fingerprint" ] && [ "$(cat "$app/.build-fingerprint")" = "$fingerprint" ]
then
  echo "build.sh: $app is up to date (inputs unchanged); delete it to force a rebuild"
  exit 0
fi

start=$(date +%s)
nice -n 10 pyinstaller --noconfirm --log-level WARN --distpath "$dist" \
  --workpath "$work" packaging/deepstudio.spec
install -m 755 packaging/linux/install.sh packaging/linux/uninstall.sh "$app/"
echo "$fingerprint" > "$app/.build-fingerprint"
echo "build.sh: built $app in $(( $(date +%s) - start )) s, $(du -sh "$app" | cut -f1)"
