#!/usr/bin/env bash
# The README's first command: install what the app needs and start it. On first start with an
# empty store the app loads the demo school by itself. Open http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
# WeasyPrint (the Overview's PDF report) loads pango at run time.
bash scripts/debian-packages.sh libpango-1.0-0 libpangoft2-1.0-0
bash scripts/setup-python.sh requirements.txt
.venv/bin/python -m engagement check  # a misspelt setting stops here, with the key and file named
exec .venv/bin/streamlit run app.py "$@"
