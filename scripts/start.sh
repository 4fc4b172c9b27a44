#!/usr/bin/env bash
# The README's first command: install what the app needs and start it. On first start with an
# empty store the app loads the demo school by itself. Open http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
# WeasyPrint (the Overview's PDF report) loads pango at run time.
pango=""
for lib in libpango-1.0-0 libpangoft2-1.0-0; do
  dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q "ok installed" || pango="$pango $lib"
done
if [ -n "$pango" ]; then
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $pango
fi
bash scripts/setup-python.sh requirements.txt
exec .venv/bin/streamlit run app.py "$@"
