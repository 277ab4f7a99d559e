#!/bin/sh
# Remove what install.sh put into the XDG folders (it listed every file it wrote), the
# installed program folder (unless it was installed --in-place) and the default-application
# entry for DeepStudio projects.
set -eu

APP_ID=org.deepstudio.DeepStudio
MIME_TYPE=application/x-deepstudio-project
data=${XDG_DATA_HOME:-$HOME/.local/share}
config=${XDG_CONFIG_HOME:-$HOME/.config}
state="$data/deepstudio"
list="$state/installed-files.txt"

[ -f "$list" ] || { echo "uninstall.sh: DeepStudio is not installed for $USER ($list)"; exit 0; }
app=$(sed -n 's/^app //p' "$list")
sed -n 's/^file //p' "$list" | while read -r file; do rm -f "$file"; done
if [ -f "$config/mimeapps.list" ]; then
  sed -i "\|^$MIME_TYPE=$APP_ID.desktop;*\$|d" "$config/mimeapps.list"
fi
if command -v update-mime-database >/dev/null && [ -d "$data/mime/packages" ]; then
  update-mime-database "$data/mime"
fi
if command -v update-desktop-database >/dev/null && [ -d "$data/applications" ]; then
  update-desktop-database -q "$data/applications"
fi
if [ "$app" = "$state/app" ]; then rm -rf "$app"; fi
rm -f "$list"
if [ "${1:-}" != "--keep-state" ]; then rm -f "$state/uninstall.sh"; rmdir "$state" 2>/dev/null || true; fi
echo "DeepStudio uninstalled"
