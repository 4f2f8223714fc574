#!/bin/bash
# Pair 1, final stage: every language and conjugate on all 100 prompts per task (current main code).
cd /work/main/runs/pair1
set -o pipefail
. /work/main/.venv/bin/activate
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
log() { echo "$(date -u +%H:%M:%S) $*" >> run.log; }
EVAL="forgetlab llm icl-vs-if --base packaged:gemma-3-270m --tuned hf:/work/main/runs/pair1/sft/model --quiet --out /work/main/runs/pair1/icl"
log "stage all100 (commit $(git -C /work/main rev-parse --short HEAD)): $EVAL --languages en,fr,es,nl,hu,ls,pl --transforms apertium:eng-spa,leetspeak,piglatin --limit 100 load: $(cat /proc/loadavg)"
/usr/bin/time -v $EVAL --languages en,fr,es,nl,hu,ls,pl --transforms apertium:eng-spa,leetspeak,piglatin --limit 100 2>&1 | python -u ts.py > icl-all100.log
rc=$?
log "stage all100 rc=$rc load: $(cat /proc/loadavg)"
[ $rc -eq 0 ] && cp icl/results.json results-all100.json && cp icl/report.md report-all100.md
log "EXIT"
