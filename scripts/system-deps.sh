#!/usr/bin/env bash
# Installs the few Debian packages the Python stack needs (Pango for WeasyPrint, poppler-utils
# for the PDF checks; libicu-dev and pkg-config to build PyICU; chromium and chromium-driver for the browser test when CI=true or
# MERIDIAN_BROWSER_TESTS=1), when they are missing and we are root. Safe to run again.
set -u
need=()
ldconfig -p 2>/dev/null | grep -q libpango-1.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
# PyICU (screening transliteration) builds from source against ICU: headers and pkg-config.
[ -f /usr/include/unicode/utrans.h ] || need+=(libicu-dev)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
# The portal's browser test drives Debian's Chromium; install it only where it is wanted (CI, or
# MERIDIAN_BROWSER_TESTS=1), because it is large. Without it the browser test skips.
if [ "${CI:-}" = "true" ] || [ "${MERIDIAN_BROWSER_TESTS:-}" = "1" ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
  [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${need[*]}"
  (apt-get install -y -qq "${need[@]}" >/dev/null 2>&1) || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${need[@]}" >/dev/null 2>&1) \
    || echo "warning: could not install ${need[*]}; PDF tests will be skipped"
else
  echo "note: missing ${need[*]} (install them for PDF rendering)"
fi
exit 0
