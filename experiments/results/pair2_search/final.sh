#!/bin/bash
# Pair 2 final evaluation of the chosen recipe on the reported sets (paper's 100 prompts x 10
# conditions, and the 100 harmless requests), untuned generations reused from runs/pair2b.
# Usage: final.sh MODEL_DIR OUT
M=$1; OUT=$2
cd /work/main
. .venv/bin/activate
export OMP_NUM_THREADS=${T:-2} MKL_NUM_THREADS=${T:-2} HF_HUB_OFFLINE=1
mkdir -p $OUT
log() { echo "$(date -u +%H:%M:%S) $*" >> $OUT/final.log; }
seed_cache() {  # dir, source generations: claim the run directory, then add the untuned rows
  local dir=$1 src=$2; shift 2
  timeout -s INT 25 forgetlab llm harmful "$@" --out $dir > /dev/null 2>&1
  python - "$src" "$dir/generations.jsonl" <<'PY'
import json, sys
src, dst = sys.argv[1], sys.argv[2]
rows = [l for l in open(src) if json.loads(l).get("role") == "model"]
with open(dst, "a") as fh:
    fh.writelines(rows)
print(len(rows), "untuned rows reused")
PY
}
log "start model=$M load: $(cat /proc/loadavg)"
H="--model packaged:smollm2-135m-instruct --compare hf:$M --transforms leetspeak,piglatin,rot13,base64,apertium:eng-spa --batch-size 32"
B="--benchmark benign --model packaged:smollm2-135m-instruct --compare hf:$M --batch-size 32"
[ -f $OUT/benign/results.json ] || { [ -d $OUT/benign ] || seed_cache $OUT/benign runs/pair2b/benign/generations.jsonl $B >> $OUT/final.log; }
/usr/bin/time -v forgetlab llm harmful $B --out $OUT/benign > $OUT/benign.log 2>&1
log "benign rc=$? load: $(cat /proc/loadavg)"
[ -f $OUT/harmful/results.json ] || { [ -d $OUT/harmful ] || seed_cache $OUT/harmful runs/pair2b/harmful-final/generations.jsonl $H >> $OUT/final.log; }
/usr/bin/time -v forgetlab llm harmful $H --out $OUT/harmful > $OUT/harmful.log 2>&1
log "harmful rc=$? load: $(cat /proc/loadavg)"
log EXIT
