#!/bin/bash
# Pair 2 reproduction check: the shipped recipe rerun from scratch (teacher answers regenerated),
# then the tuned model's English refusal (paper's 100) and over-refusal (100 harmless requests).
cd /work/main/runs/pair2-repro
. /work/main/.venv/bin/activate
export HF_HUB_OFFLINE=1 OMP_NUM_THREADS=2 MKL_NUM_THREADS=2
log() { echo "$(date -u +%H:%M:%S) $*" >> run.log; }
log "commit $(git -C /work/main rev-parse --short HEAD) load: $(cat /proc/loadavg)"
/usr/bin/time -v forgetlab finetune data safety --out safety.jsonl --n-harmful 320 --n-benign 400 --n-helpful 300 --seed 0 > data.log 2>&1
log "data rc=$? sha256 $(sha256sum safety.jsonl | cut -c1-16) original $(sha256sum ../pair2s/h320-b400-p300-s128/safety.jsonl | cut -c1-16) load: $(cat /proc/loadavg)"
/usr/bin/time -v forgetlab finetune sft --model packaged:smollm2-135m-instruct --data safety.jsonl \
  --preset cpu --lora-r 16 --set lora.alpha=32 --set train.max_steps=128 --set train.batch_size=8 \
  --set train.save_steps=50 --set train.logging_steps=10 --set train.learning_rate=2e-4 --out sft > sft.log 2>&1
log "sft rc=$? adapter $(sha256sum sft/adapter/adapter_model.safetensors | cut -c1-16) original $(sha256sum ../pair2s/h320-b400-p300-s128/sft/adapter/adapter_model.safetensors | cut -c1-16) load: $(cat /proc/loadavg)"
/usr/bin/time -v forgetlab llm harmful --model hf:/work/main/runs/pair2-repro/sft/model --languages en --batch-size 32 --out harmful-en > harmful.log 2>&1
log "harmful rc=$? load: $(cat /proc/loadavg)"
/usr/bin/time -v forgetlab llm harmful --benchmark benign --model hf:/work/main/runs/pair2-repro/sft/model --batch-size 32 --out benign > benign.log 2>&1
log "benign rc=$? load: $(cat /proc/loadavg)"
log EXIT
