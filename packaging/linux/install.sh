#!/bin/sh
# Install the DeepStudio folder this script lies in for the current user, the freedesktop way:
#   - the program folder goes to ${XDG_DATA_HOME:-~/.local/share}/deepstudio/app
#     (--in-place: leave it where it is and point everything at it),
#   - `deepstudio` is linked into ~/.local/bin ($DEEPSTUDIO_BIN_DIR),
#   - the desktop entry, icons, AppStream metainfo and the project MIME type go into the XDG
#     data folders, and DeepStudio becomes the default for application/x-deepstudio-project.
# ./uninstall.sh (also copied into the installed folder) removes all of it again.
set -eu

APP_ID=org.deepstudio.DeepStudio
MIME_TYPE=application/x-deepstudio-project
here=$(cd "$(dirname "$0")" && pwd)
data=${XDG_DATA_HOME:-$HOME/.local/share}
bin=${DEEPSTUDIO_BIN_DIR:-$HOME/.local/bin}
state="$data/deepstudio"
list="$state/installed-files.txt"

in_place=no
for arg in "$@"; do
  case $arg in
    --in-place) in_place=yes ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

[ -x "$here/deepstudio" ] || { echo "install.sh: $here/deepstudio is missing" >&2; exit 2; }
if [ -f "$list" ] && [ "$here" != "$state/app" ]; then
  "$state/uninstall.sh" --keep-state >/dev/null 2>&1 || true   # replace an earlier install
fi
mkdir -p "$state"
if [ "$in_place" = yes ]; then
  app=$here
else
  app="$state/app"
  if [ "$here" != "$app" ]; then
    rm -rf "$app.new"
    cp -a "$here" "$app.new"
    rm -rf "$app"
    mv "$app.new" "$app"
  fi
fi
resources="$app/_internal/deepstudio/_resources"
cp "$here/uninstall.sh" "$state/uninstall.sh"
echo "app $app" > "$list"

put() {  # put SOURCE DEST: copy one file and remember it for uninstall.sh
  mkdir -p "$(dirname "$2")"
  cp "$1" "$2"
  echo "file $2" >> "$list"
}

mkdir -p "$bin"
ln -sf "$app/deepstudio" "$bin/deepstudio"
echo "file $bin/deepstudio" >> "$list"

# The entry's Exec names the installed launcher, quoted as the desktop-entry spec wants it
# (inside quotes: \\" \\` \\$ and \\\\ for a backslash; %% for a percent sign).
exec_path=$(printf '%s' "$app/deepstudio" \
  | sed -e 's/\\/\\\\\\\\/g' -e 's/["`$]/\\\\&/g' -e 's/%/%%/g')
mkdir -p "$data/applications"
{ grep -v -e '^Exec=' -e '^TryExec=' "$resources/linux/$APP_ID.desktop"
  printf 'Exec="%s" gui %%f\nTryExec=%s\n' "$exec_path" "$app/deepstudio"
} > "$data/applications/$APP_ID.desktop"
echo "file $data/applications/$APP_ID.desktop" >> "$list"
put "$resources/linux/$APP_ID.metainfo.xml" "$data/metainfo/$APP_ID.metainfo.xml"
put "$resources/linux/$APP_ID.mime.xml" "$data/mime/packages/$APP_ID.xml"
(cd "$resources/icons" && find hicolor -type f) | while read -r icon; do
  put "$resources/icons/$icon" "$data/icons/$icon"
done

refresh() {  # the caches desktops read; each tool is optional
  if command -v update-mime-database >/dev/null; then update-mime-database "$data/mime"; fi
  if command -v update-desktop-database >/dev/null; then
    update-desktop-database -q "$data/applications"
  fi
  if command -v gtk-update-icon-cache >/dev/null && [ -f "$data/icons/hicolor/index.theme" ]; then
    gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
  fi
  touch "$data/icons/hicolor" 2>/dev/null || true
}
refresh
if command -v xdg-mime >/dev/null; then
  xdg-mime default "$APP_ID.desktop" "$MIME_TYPE"
else
  echo "install.sh: xdg-mime not found; DeepStudio is offered for projects but not their default"
fi

echo "DeepStudio installed: $app"
echo "  command: $bin/deepstudio (uninstall: $state/uninstall.sh)"
case ":$PATH:" in *":$bin:"*) ;; *) echo "  note: $bin is not on your PATH" ;; esac
