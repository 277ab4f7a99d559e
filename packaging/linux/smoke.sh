#!/usr/bin/env bash
# Smoke test of the frozen build in dist/DeepStudio/ (not of the source tree): every command
# runs the built launcher with a clean environment (no virtualenv, no PYTHONPATH, a temporary
# HOME), then the desktop metadata is validated and the user install is checked end to end.
#
#   bash packaging/linux/smoke.sh [APP_FOLDER]     (default: dist/DeepStudio)
set -euo pipefail
cd "$(dirname "$0")/../.."
app=$(cd "${1:-dist/DeepStudio}" && pwd)
exe="$app/deepstudio"
resources="$app/_internal/deepstudio/_resources/linux"
APP_ID=org.deepstudio.DeepStudio
MIME_TYPE=application/x-deepstudio-project

work=$(mktemp -d)
xvfb_pid=
trap '[ -z "$xvfb_pid" ] || kill "$xvfb_pid"; rm -rf "$work"' EXIT
mkdir -p "$work/home"
steps=0
step() { steps=$((steps + 1)); echo "== smoke: $*"; }
fail() { echo "smoke.sh: FAILED: $*" >&2; exit 1; }
# The frozen build must work on its own: no venv, no PYTHONPATH, nothing from this checkout.
qpa=offscreen
display=
frozen() {
  env -i HOME="$work/home" PATH=/usr/bin:/bin LANG=C.UTF-8 XDG_DATA_DIRS=/usr/local/share:/usr/share \
    XDG_DATA_HOME="$work/home/.local/share" XDG_CONFIG_HOME="$work/home/.config" \
    QT_QPA_PLATFORM="$qpa" ${display:+DISPLAY=$display} "$@"
}

step "deepstudio --help"
frozen "$exe" --help > "$work/help.txt"
grep -q "demo" "$work/help.txt" || fail "--help lists no commands"

step "deepstudio --version"
frozen "$exe" --version | tee "$work/version.txt"
grep -q "^DeepStudio .* (installed build)$" "$work/version.txt" || fail "--version: not frozen"
grep -q "^device: " "$work/version.txt" || fail "--version names no device"

step "deepstudio demo (tracking, effect, render with disclosure)"
(cd "$work" && frozen "$exe" demo --quiet "Demo.dstudio")
render="$work/Demo.dstudio/renders/demo_debug.mp4"
[ -s "$render" ] || fail "demo wrote no render"
manifest="$work/Demo.dstudio/Demo.dstudio-project"
[ -s "$manifest" ] || fail "the project has no manifest file"

step "deepstudio verify on the demo render"
frozen "$exe" verify "$render" | tee "$work/verify.txt"
grep -q "credentials:  valid" "$work/verify.txt" || fail "verify: credentials not valid"
grep -q "watermark:    found.*matches the credentials" "$work/verify.txt" \
  || fail "verify: watermark not found"

step "deepstudio gui --screenshot, opening the project through its manifest"
shot="$work/window.png"
if command -v Xvfb >/dev/null; then  # a real X server: the bundled xcb plugin must load
  Xvfb -displayfd 3 -screen 0 1366x768x24 -nolisten tcp 3> "$work/display" 2>/dev/null &
  xvfb_pid=$!
  for _ in $(seq 50); do [ -s "$work/display" ] && break; sleep 0.1; done
  display=":$(cat "$work/display")"
  qpa=xcb
fi
echo "(QT_QPA_PLATFORM=$qpa)"
frozen "$exe" gui "$manifest" --screenshot "$shot"
qpa=offscreen
[ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "no PNG"
[ "$(stat -c %s "$shot")" -gt 20000 ] || fail "the screenshot is nearly empty"
if [ -n "${SMOKE_KEEP:-}" ]; then cp "$shot" "$SMOKE_KEEP"; fi

step "desktop-file-validate and appstreamcli validate"
desktop-file-validate "$resources/$APP_ID.desktop"
appstreamcli validate --no-net "$resources/$APP_ID.metainfo.xml"

step "install.sh into the user's XDG folders"
frozen sh "$app/install.sh" | tee "$work/install.txt"
data="$work/home/.local/share"
desktop-file-validate "$data/applications/$APP_ID.desktop"
[ -s "$data/icons/hicolor/48x48/apps/$APP_ID.png" ] || fail "no 48 px icon installed"
[ -s "$data/icons/hicolor/scalable/apps/$APP_ID.svg" ] || fail "no scalable icon installed"
default=$(frozen xdg-mime query default "$MIME_TYPE")
echo "xdg-mime query default $MIME_TYPE: $default"
[ "$default" = "$APP_ID.desktop" ] || fail "DeepStudio is not the default for projects"
# File managers (GNOME Files, PCManFM, Thunar, Caja) type files with GIO, which reads the
# shared-mime-info database install.sh updated; xdg-mime asks GIO on a GNOME desktop (on an
# unknown one it falls back to `file`, which knows only the JSON inside).
filetype=$(frozen env XDG_CURRENT_DESKTOP=GNOME xdg-mime query filetype "$manifest")
echo "xdg-mime query filetype $(basename "$manifest"): $filetype"
[ "$filetype" = "$MIME_TYPE" ] || fail "the manifest is not recognised as $MIME_TYPE"
frozen "$work/home/.local/bin/deepstudio" --version > /dev/null || fail "installed command"

step "uninstall.sh"
frozen sh "$data/deepstudio/uninstall.sh"
[ ! -e "$data/applications/$APP_ID.desktop" ] || fail "desktop entry left behind"
[ ! -e "$data/deepstudio/app" ] || fail "program folder left behind"
[ -z "$(find "$data/icons" -name "$APP_ID.*" 2>/dev/null)" ] || fail "icons left behind"
[ -z "$(frozen xdg-mime query default "$MIME_TYPE")" ] || fail "default left behind"

echo "smoke.sh: all checks passed ($app)"
echo "smoke: $steps passed, 0 failed"
