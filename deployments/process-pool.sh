#!/usr/bin/env bash
# Create the process work pool (once) and register every deployment of prefect.yaml on it.
# Run from a checkout (uses .venv/bin/prefect) or in the payrecon image (prefect on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${PREFECT_API_URL:?set PREFECT_API_URL to your Prefect server, e.g. http://127.0.0.1:4200/api}"
export PAYRECON_PROJECT_DIR="${PAYRECON_PROJECT_DIR:-$PWD}"
if [ -x .venv/bin/prefect ]; then PREFECT=.venv/bin/prefect; else PREFECT=prefect; fi
$PREFECT work-pool inspect payrecon-process >/dev/null 2>&1 || $PREFECT work-pool create payrecon-process --type process
# Crediting holds this limit with strict=True: a run fails loudly if it is missing.
$PREFECT gcl inspect payrecon-credit >/dev/null 2>&1 || $PREFECT gcl create payrecon-credit --limit 1
$PREFECT --no-prompt deploy --all
