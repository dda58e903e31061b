#!/usr/bin/env bash
# Every benchmark (text, rerank, store, memory, msearch index, speech and video), markdown tables on stdout (see docs/benchmarks.md).
# Usage: bench/run_all.sh [--quick] [--passages N]
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python -m bench "$@"
