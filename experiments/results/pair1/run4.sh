#!/bin/bash
# Pair 1, extra stage while time was left: the four remaining languages on 50 prompts per task.
cd /work/main/runs/pair1
set -o pipefail
. /work/main/.venv/bin/activate
export PYTHONPATH=/work/main/runs/pair1/code/src HF_HUB_OFFLINE=1 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
log() { echo "$(date -u +%H:%M:%S) $*" >> run.log; }
left=$(( $(date -u -d '06:14' +%s) - $(date -u +%s) ))
EVAL="forgetlab llm icl-vs-if --base packaged:gemma-3-270m --tuned hf:/work/main/runs/pair1/sft/model --quiet --out /work/main/runs/pair1/icl"
log "stage all50: $EVAL --languages es,nl,hu,pl --limit 50 (timeout ${left}s, threads 2) load: $(cat /proc/loadavg)"
/usr/bin/time -v timeout -s INT $left $EVAL --languages es,nl,hu,pl --limit 50 2>&1 | python -u ts.py > icl-all50.log
rc=$?
log "stage all50 rc=$rc load: $(cat /proc/loadavg)"
[ $rc -eq 0 ] && cp icl/results.json results-all50.json && cp icl/report.md report-all50.md
log "EXIT"
