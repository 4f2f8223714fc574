#!/bin/bash
# Pair 1 reproduction check: the documented recipe rerun from scratch (current main code, 1 thread),
# then the English headline evaluation (all 100 prompts per task).
cd /work/main/runs/pair1-repro
set -o pipefail
. /work/main/.venv/bin/activate
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
log() { echo "$(date -u +%H:%M:%S) $*" >> run.log; }
log "commit $(git -C /work/main rev-parse --short HEAD) load: $(cat /proc/loadavg)"
forgetlab finetune data instruct --out data/instruct.jsonl --n-instructions 800 --n-passages 200 \
  --corpus /usr/share/doc/python3.11/html/_sources --teacher none --max-words 40 --seed 0 > data.log 2>&1
log "data rc=$? sha256 $(sha256sum data/instruct.jsonl | cut -c1-16) original $(sha256sum ../pair1/data/instruct.jsonl | cut -c1-16)"
/usr/bin/time -v forgetlab finetune sft --model packaged:gemma-3-270m --data data/instruct.jsonl \
  --preset cpu-real --max-steps 120 --eval-suite icl-vs-if:15 --eval-languages en,fr --out sft 2>&1 | python -u ts.py > sft.log
log "sft rc=$? load: $(cat /proc/loadavg)"
/usr/bin/time -v forgetlab llm icl-vs-if --base packaged:gemma-3-270m --tuned hf:/work/main/runs/pair1-repro/sft/model \
  --languages en,fr --limit 100 --quiet --out icl 2>&1 | python -u ts.py > icl.log
log "icl rc=$? load: $(cat /proc/loadavg)"
log EXIT
