#!/usr/bin/env bash
# The Python user's route, checked from scratch: build the sdist and the wheel with
# `python -m build`, then in a fresh virtualenv install DeepStudio from the sdist (which
# builds its own wheel, so a file missing from the sdist shows) and from the wheel, and run
# `deepstudio demo` from a temporary folder after each, away from this checkout.
#
#   bash packaging/python/check_dists.sh        (writes dist/python/*.whl and *.tar.gz)
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD
out=dist/python
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

python3 -m venv "$work/build-env"
"$work/build-env/bin/pip" install -q build
rm -rf "$out"
"$work/build-env/bin/python" -m build --outdir "$out" .
sdist=$(ls "$repo/$out"/deepstudio-*.tar.gz)
wheel=$(ls "$repo/$out"/deepstudio-*.whl)
unzip -l "$wheel" | grep -q "deepstudio/_resources/linux/org.deepstudio.DeepStudio.desktop" \
  || { echo "check_dists.sh: the wheel has no resources" >&2; exit 1; }

python3 -m venv "$work/venv"
pip="$work/venv/bin/pip"
"$pip" install -q torch==2.13.0          # the CPU build first, as the README says
demo() {
  mkdir "$work/$1"
  (cd "$work/$1" && env -u PYTHONPATH "$work/venv/bin/deepstudio" demo --quiet Demo.dstudio)
  [ -s "$work/$1/Demo.dstudio/renders/demo_debug.mp4" ]
  echo "check_dists.sh: deepstudio demo from the $1 works"
}
"$pip" install -q "$sdist"
demo sdist
"$pip" install -q --force-reinstall --no-deps "$wheel"
demo wheel
echo "check_dists.sh: $(basename "$sdist") and $(basename "$wheel") install and run"
