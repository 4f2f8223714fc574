#!/bin/bash
# Pair 1, last evaluation stages: the full 7-language stage at 100 prompts would not fit
# before the deadline, so the four remaining languages are measured on the first 25
# prompts per task (all conditions re-reported at that limit from the cache).
cd /work/main/runs/pair1
set -o pipefail
. /work/main/.venv/bin/activate
export PYTHONPATH=/work/main/runs/pair1/code/src HF_HUB_OFFLINE=1 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
log() { echo "$(date -u +%H:%M:%S) $*" >> run.log; }
while kill -0 15935 2>/dev/null; do sleep 5; done
cp icl/results.json results-en-fr-ls.json; cp icl/report.md report-en-fr-ls.md
log "stage en-fr-ls ended (run2.sh stopped; later stages in run3.sh) load: $(cat /proc/loadavg)"
EVAL="forgetlab llm icl-vs-if --base packaged:gemma-3-270m --tuned hf:/work/main/runs/pair1/sft/model --quiet --out /work/main/runs/pair1/icl"
stage() {
  local name=$1; shift
  local left=$(( $(date -u -d '06:13' +%s) - $(date -u +%s) ))
  if [ $left -lt 60 ]; then log "skip $name (no time)"; return 1; fi
  log "stage $name: $EVAL $* (timeout ${left}s, threads 2) load: $(cat /proc/loadavg)"
  /usr/bin/time -v timeout -s INT $left $EVAL "$@" 2>&1 | python -u ts.py > icl-$name.log
  local rc=$?
  log "stage $name rc=$rc load: $(cat /proc/loadavg)"
  [ $rc -eq 0 ] && cp icl/results.json results-$name.json && cp icl/report.md report-$name.md
  return $rc
}
stage conjugates --languages en,fr,ls --transforms apertium:eng-spa,leetspeak,piglatin --limit 100 && \
stage all25 --languages en,fr,es,nl,hu,ls,pl --transforms apertium:eng-spa,leetspeak,piglatin --limit 25
log "EXIT"
