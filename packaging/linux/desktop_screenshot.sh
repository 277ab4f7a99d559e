#!/usr/bin/env bash
# The README's desktop-integration picture: the frozen build installed (install.sh) into a
# temporary home, a project made with it, and a real file manager (PCManFM) on a bare X server
# showing the project folder and the Properties of the project's manifest file, so that the
# picture shows what the desktop made of the installed MIME type, icon and default application.
#
#   bash packaging/linux/desktop_screenshot.sh [OUT.png [APP_FOLDER]]
#   (defaults: docs/desktop-integration.png, dist/DeepStudio)
# Needs: dist/DeepStudio, and Debian's xvfb, pcmanfm, xdotool, imagemagick.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(realpath -m "${1:-docs/desktop-integration.png}")
app=$(cd "${2:-dist/DeepStudio}" && pwd)
work=/tmp/deepstudio-screenshot  # a readable path in the file manager's location bar
rm -rf "$work"
mkdir -p "$work"
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
# Right-click the manifest: the sixth icon of the first row (folders sort first).
xdotool mousemove 677 100 click 1
sleep 1
xdotool click 3
sleep 1
xdotool mousemove 740 313 click 1   # Properties: file type, icon and "Open with"
sleep 2
dialog=$(xdotool search --sync --onlyvisible --name "Properties" | head -1)
xdotool windowmove "$dialog" 560 150
sleep 1
import -window root "$out"
echo "$out"

# Then what a person does next: double-click the manifest. The file manager runs the installed
# entry's Exec (deepstudio gui FILE), and the editor opens the project; its picture goes to
# OUT-opened.png.
xdotool mousemove 826 497 click 1   # Cancel
sleep 1
xdotool mousemove 677 100 click --repeat 2 --delay 120 1
editor=$(timeout 120 xdotool search --sync --onlyvisible --name " — DeepStudio$" | head -1)
xdotool windowsize "$editor" 1100 640 windowmove "$editor" 0 0
sleep 8
import -window root "${out%.png}-opened.png"
echo "${out%.png}-opened.png"
