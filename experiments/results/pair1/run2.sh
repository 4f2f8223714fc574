#!/bin/bash
# Pair 1, evaluation part: started once the CPU was free (the other long jobs had ended),
# so it runs with 2 threads; it waits for the fine-tune (started by run.sh) to finish.
cd /work/main/runs/pair1
set -o pipefail
. /work/main/.venv/bin/activate
export PYTHONPATH=/work/main/runs/pair1/code/src HF_HUB_OFFLINE=1 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
log() { echo "$(date -u +%H:%M:%S) $*" >> run.log; }
while kill -0 13274 2>/dev/null; do sleep 10; done
log "sft process ended; complete=$(python -c 'import json;print(json.load(open("sft/train_result.json")).get("complete"))' 2>&1) load: $(cat /proc/loadavg)"
EVAL="forgetlab llm icl-vs-if --base packaged:gemma-3-270m --tuned hf:/work/main/runs/pair1/sft/model --quiet --out /work/main/runs/pair1/icl"
stage() {  # name, extra args; each stage grows the selection (finished samples are cached)
  local name=$1; shift
  local left=$(( $(date -u -d '06:12' +%s) - $(date -u +%s) ))
  if [ $left -lt 60 ]; then log "skip $name (no time)"; return 1; fi
  log "stage $name: $EVAL $* (timeout ${left}s, threads 2) load: $(cat /proc/loadavg)"
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
