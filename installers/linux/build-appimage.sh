#!/usr/bin/env bash
# Wrap dist/Hearth (from `make dist`) into an AppDir and, when appimagetool is on PATH, into Hearth-x86_64.AppImage.
#   bash installers/linux/build-appimage.sh          -> build/Hearth.AppDir, dist/Hearth-<arch>.AppImage
# appimagetool: https://github.com/AppImage/appimagetool/releases (a single executable; put it on PATH).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
[ -x dist/Hearth/hearth-gui ] || { echo "dist/Hearth not found: run 'make dist' first" >&2; exit 1; }
APPDIR=build/Hearth.AppDir
rm -rf "$APPDIR"
mkdir -p "$APPDIR/usr/lib" "$APPDIR/usr/bin" "$APPDIR/usr/share/applications" "$APPDIR/usr/share/icons/hicolor/256x256/apps"
cp -a dist/Hearth "$APPDIR/usr/lib/Hearth"
ln -s ../lib/Hearth/hearth "$APPDIR/usr/bin/hearth"
ln -s ../lib/Hearth/hearth-gui "$APPDIR/usr/bin/hearth-gui"
install -m 755 installers/linux/AppRun "$APPDIR/AppRun"
install -m 644 installers/linux/hearth.desktop "$APPDIR/hearth.desktop"
install -m 644 installers/linux/hearth.desktop "$APPDIR/usr/share/applications/hearth.desktop"
install -m 644 resources/icons/hearth.png "$APPDIR/hearth.png"
install -m 644 resources/icons/hearth.png "$APPDIR/usr/share/icons/hicolor/256x256/apps/hearth.png"
ln -s hearth.png "$APPDIR/.DirIcon"
echo "AppDir ready: $APPDIR (run it with $APPDIR/AppRun)"
if command -v appimagetool >/dev/null; then
  ARCH="$(uname -m)" appimagetool --no-appstream "$APPDIR" "dist/Hearth-$(uname -m).AppImage"
  echo "AppImage: dist/Hearth-$(uname -m).AppImage"
else
  echo "appimagetool not on PATH: stopping at the AppDir (see installers/linux/README.md)"
fi
