#!/usr/bin/env bash
# Continue the default model's run on a lent GPU for a fixed wall time, then export the release
# (issue 14). Prepared and smoke-tested on the CPU; on the device tool:
#
#   here:   python scripts/pack_device_data.py            # .device-data/, under the 64 MiB carry cap
#   device: run(command="bash scripts/device_train.sh", carry=[".device-data"], timeout_s=600)
#
# It continues checkpoints/edges2shoes (train --init-from: same model, same data mix, the step
# count goes on) with a batch of 64 and the learning rate scaled by sqrt(64/8), stops cleanly after
# MINUTES (SIGINT: the loop finishes its step and writes a checkpoint), and exports the release
# with its continuation to $OUT/edges2shoes, ready to copy over checkpoints/edges2shoes.
# Settings through the environment: MINUTES (7), BATCH (64), ITERS (see below), LIMIT (none),
# DEVICE (cuda), DATA (.device-data), OUT (/tmp/device-out), PYTHON (python3).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/device-out}
MINUTES=${MINUTES:-7}
BATCH=${BATCH:-64}
DEVICE=${DEVICE:-cuda}
D=${DATA:-.device-data}
[ -d "$D/shoe_photos" ] || { echo "no $D: run python scripts/pack_device_data.py first and carry $D"; exit 1; }
PY=${PYTHON:-python3}
LR=$($PY -c "print(2e-4 * ($BATCH / 8) ** 0.5)")
# the run's planned length, or, where the run has finished its schedule, 20,000 steps more (the
# learning rate restarts and stays constant until decay_from of them)
ITERS=${ITERS:-$($PY -c "import json; c = json.load(open('checkpoints/edges2shoes/continue.json')); print(max(c['train']['iters'], c['step'] + 20000))")}
set +e
timeout -s INT "$((MINUTES * 60))" env PYTHONUNBUFFERED=1 $PY -m i2i train --init-from checkpoints/edges2shoes \
    --out "$OUT/run" --data "$D/edges2shoes@1,$D/shoe_photos@2,$D/human_sketch_shoes@1" \
    --device "$DEVICE" --batch-size "$BATCH" --lr "$LR" --iters "$ITERS" ${LIMIT:+--limit $LIMIT} \
    --checkpoint-every 500 --sample-every 1000 --log-every 100
rc=$?
set -e
[ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $rc -eq 130 ] || { echo "training failed ($rc)"; exit $rc; }
$PY -m i2i export "$OUT/run" "$OUT/edges2shoes" --half --continuation
cp "$OUT/run/log.jsonl" "$OUT/edges2shoes/device_log.jsonl"
rm -rf "$OUT/run"  # the full training state stays behind (too large to bring back)
tail -n 2 "$OUT/edges2shoes/device_log.jsonl"
