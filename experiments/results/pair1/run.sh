#!/bin/bash
# Pair 1: wait for the CPU, fine-tune, evaluate. Every command is logged with UTC stamps.
cd /work/main/runs/pair1
set -o pipefail
. /work/main/.venv/bin/activate
export PYTHONPATH=/work/main/runs/pair1/code/src HF_HUB_OFFLINE=1
log() { echo "$(date -u +%H:%M:%S) $*" >> run.log; }
until { grep -q '^EXIT' /work/main/runs/pair2b/harmful-all.log 2>/dev/null && [ -f /work/main/runs/final11b/metrics.json ]; } || [ "$(date -u +%H%M)" -ge 0515 ]; do sleep 60; done
if grep -q '^EXIT' /work/main/runs/pair2b/harmful-all.log && [ -f /work/main/runs/final11b/metrics.json ]; then T=2; STEPS=""; else T=1; STEPS="--max-steps 120"; fi
export OMP_NUM_THREADS=$T MKL_NUM_THREADS=$T
log "start threads=$T steps='$STEPS' load: $(cat /proc/loadavg)"
CMD="forgetlab finetune sft --model packaged:gemma-3-270m --data /work/main/runs/pair1/data/instruct.jsonl --preset cpu-real $STEPS --eval-suite icl-vs-if:15 --eval-languages en,fr --out /work/main/runs/pair1/sft"
log "CMD $CMD"
/usr/bin/time -v $CMD 2>&1 | python -u ts.py > sft.log
log "sft done rc=$? load: $(cat /proc/loadavg)"
EVAL="forgetlab llm icl-vs-if --base packaged:gemma-3-270m --tuned hf:/work/main/runs/pair1/sft/model --quiet --out /work/main/runs/pair1/icl"
stage() {  # name, extra args; each stage grows the selection (finished samples are cached)
  local name=$1; shift
  local left=$(( $(date -u -d '06:12' +%s) - $(date -u +%s) ))
  if [ $left -lt 60 ]; then log "skip $name (no time)"; return 1; fi
  log "stage $name: $EVAL $* (timeout ${left}s) load: $(cat /proc/loadavg)"
  /usr/bin/time -v timeout -s INT $left $EVAL "$@" 2>&1 | python -u ts.py > icl-$name.log
  local rc=$?
  log "stage $name rc=$rc load: $(cat /proc/loadavg)"
  [ $rc -eq 0 ] && cp icl/results.json results-$name.json && cp icl/report.md report-$name.md
  return $rc
}
stage en --languages en --limit 100 && \
stage en-fr-ls --languages en,fr,ls --limit 100 && \
stage conjugates --languages en,fr,ls --transforms apertium:eng-spa,leetspeak,piglatin --limit 100 && \
stage all --languages en,fr,es,nl,hu,ls,pl --transforms apertium:eng-spa,leetspeak,piglatin --limit 100
log "EXIT"
