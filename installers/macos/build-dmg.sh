#!/usr/bin/env bash
# Wrap the PyInstaller output into Hearth.app, sign it (when an identity is given) and build a .dmg.
#   bash installers/macos/build-dmg.sh                         -> dist/Hearth.dmg (unsigned)
#   SIGN_IDENTITY="Developer ID Application: Name (TEAMID)" bash installers/macos/build-dmg.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
[ "$(uname)" = Darwin ] || { echo "build-dmg.sh runs on macOS only" >&2; exit 1; }
APP=dist/Hearth.app
if [ ! -d "$APP" ]; then
  # build.spec makes Hearth.app with BUNDLE on macOS; fall back to wrapping the onedir by hand.
  [ -d dist/Hearth ] || { echo "run 'make dist' first" >&2; exit 1; }
  mkdir -p "$APP/Contents/MacOS" "$APP/Contents/Resources"
  cp -a dist/Hearth/. "$APP/Contents/MacOS/"
  cp resources/icons/hearth.icns "$APP/Contents/Resources/hearth.icns"
  cp installers/macos/Info.plist "$APP/Contents/Info.plist"
fi
if [ -n "${SIGN_IDENTITY:-}" ]; then
  codesign --deep --force --options runtime --timestamp \
    --entitlements installers/macos/entitlements.plist --sign "$SIGN_IDENTITY" "$APP"
  codesign --verify --deep --strict --verbose=2 "$APP"
fi
rm -f dist/Hearth.dmg
if command -v create-dmg >/dev/null; then
  create-dmg --volname Hearth --window-size 540 360 --icon-size 96 --icon Hearth.app 140 170 \
    --app-drop-link 400 170 dist/Hearth.dmg "$APP"
else
  hdiutil create -volname Hearth -srcfolder "$APP" -ov -format UDZO dist/Hearth.dmg
fi
[ -n "${SIGN_IDENTITY:-}" ] && codesign --sign "$SIGN_IDENTITY" --timestamp dist/Hearth.dmg
echo "dist/Hearth.dmg"
