#!/bin/bash
# Pair 2 recipe search on the selection sets (waits for the pair 1 evaluation to finish first).
cd /work/main
while pgrep -f run5.sh > /dev/null; do sleep 10; done
. .venv/bin/activate
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 HF_HUB_OFFLINE=1
echo "start $(date -u +%H:%M:%S) load $(cat /proc/loadavg)" >> runs/pair2s/launch.log
python benchmarks/pair2_recipe_search.py --runs runs/pair2s \
  --reuse h200-b400-p300-s110=runs/pair2c/sft/model \
  --teacher-cache runs/pair2c/safety.jsonl.teacher.jsonl >> runs/pair2s/launch.log 2>&1
echo "end $(date -u +%H:%M:%S) rc=$? load $(cat /proc/loadavg)" >> runs/pair2s/launch.log
