#!/usr/bin/env bash
# The README's first command: install what the app needs and start it. On first start with an
# empty store the app loads the demo school by itself. Open http://localhost:8501
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-python.sh requirements.txt
exec .venv/bin/streamlit run app.py "$@"
