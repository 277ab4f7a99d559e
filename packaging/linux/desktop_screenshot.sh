#!/usr/bin/env bash
# The README's desktop-integration picture: the frozen build installed (install.sh) into a
# temporary home, a project made with it, and a real file manager (PCManFM) on a bare X server
# showing the project folder, with the project's context menu open on its manifest file, so
# that the picture shows what the desktop made of the installed MIME type, icon and entry.
#
#   bash packaging/linux/desktop_screenshot.sh [OUT.png]    (default docs/desktop-integration.png)
# Needs: dist/DeepStudio, and Debian's xvfb, pcmanfm, xdotool, imagemagick.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(realpath -m "${1:-docs/desktop-integration.png}")
app=$(cd dist/DeepStudio && pwd)
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

export HOME="$work/home" XDG_DATA_HOME="$work/home/.local/share" \
  XDG_CONFIG_HOME="$work/home/.config" XDG_CACHE_HOME="$work/home/.cache" \
  PATH="$work/home/.local/bin:/usr/bin:/bin" QT_QPA_PLATFORM=offscreen
unset PYTHONPATH VIRTUAL_ENV
mkdir -p "$HOME/Films"
sh "$app/install.sh" > /dev/null
deepstudio new "$HOME/Films/Harbour Scene.dstudio" > /dev/null
project="$HOME/Films/Harbour Scene.dstudio"

Xvfb -displayfd 3 -screen 0 1100x640x24 -nolisten tcp 3> "$work/display" 2>/dev/null &
pids+=($!)
for _ in $(seq 50); do [ -s "$work/display" ] && break; sleep 0.1; done
export DISPLAY=":$(cat "$work/display")"
unset QT_QPA_PLATFORM
pcmanfm --no-desktop "$project" > /dev/null 2>&1 &
pids+=($!)
window=$(xdotool search --sync --onlyvisible --class pcmanfm | head -1)
xdotool windowsize "$window" 1100 640 windowmove "$window" 0 0
sleep 3
# Select the manifest by typing its name, then open its context menu (Menu key).
xdotool windowfocus --sync "$window" type --delay 60 "Harbour"
sleep 1
xdotool key --window "$window" Menu
sleep 2
import -window root "$out"
echo "$out"
