#!/usr/bin/env bash
# Look at a page of the Prefect UI with headless Chromium (Debian: apt-get install -y chromium).
#
#   deployments/ui-screenshot.sh URL FILE.png [WIDTH,HEIGHT]   save a screenshot (default 1400,900)
#   deployments/ui-screenshot.sh --dump-dom URL                print the rendered DOM on stdout
#
# e.g. deployments/ui-screenshot.sh http://127.0.0.1:4200/v2/deployments docs/prefect-ui-deployments.png
# The UI is a single-page app: --virtual-time-budget lets it fetch from the API and render before the
# page is captured. Every call uses a new, empty profile (removed afterwards). The network flags
# keep Chromium from calling home, so it only talks to the URL it is given. CHROMIUM overrides the binary.
set -euo pipefail

usage() { echo "usage: $0 URL FILE.png [WIDTH,HEIGHT] | $0 --dump-dom URL" >&2; exit 2; }
[ $# -ge 2 ] || usage
CHROMIUM="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
[ -n "$CHROMIUM" ] || { echo "$0: chromium not found (Debian: apt-get install -y chromium)" >&2; exit 3; }

profile="$(mktemp -d "${TMPDIR:-/tmp}/ui-screenshot.XXXXXX")"
trap 'rm -rf "$profile"' EXIT
flags=(
  --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --hide-scrollbars --user-data-dir="$profile" --virtual-time-budget=15000
)

if [ "$1" = "--dump-dom" ]; then
  "$CHROMIUM" "${flags[@]}" --window-size=1400,900 --dump-dom "$2" 2>"$profile/stderr" || { cat "$profile/stderr" >&2; exit 1; }
else
  out="$(realpath -m "$2")"
  "$CHROMIUM" "${flags[@]}" --window-size="${3:-1400,900}" --screenshot="$out" "$1" >"$profile/stderr" 2>&1 \
    || { cat "$profile/stderr" >&2; exit 1; }
  [ -s "$out" ] || { cat "$profile/stderr" >&2; echo "$0: no screenshot written to $out" >&2; exit 1; }
fi
