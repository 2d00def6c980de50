#!/usr/bin/env bash
# Turn a finished training run into the shipped default model in deploy/model/ (issue 8):
#   export (fp32 + int8, parity on FracAtlas test images) -> evaluate on de-duplicated val (chooses the
#   operating point) -> evaluate on test at that point (fp32 and int8, with body-region breakdown) ->
#   demo images -> model_card.json + MODEL_CARD.md.
# It trains nothing. Usage:
#   scripts/ship_default_model.sh runs/default_model_cpu/cpu_bg10_320-s0 [VERSION]
# Knobs: BONEFRAC (command, default .venv/bin/bonefrac), FRACATLAS (../shared/data/fracatlas),
#        RULE (operating-point rule on val, default max-f1), WORK (.data/ship: evaluations, kept out of git),
#        OUT (deploy/model).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${1:?usage: scripts/ship_default_model.sh RUN_DIR [VERSION]}
VERSION=${2:-$(date -u +%Y.%m.%d)}
BONEFRAC=${BONEFRAC:-.venv/bin/bonefrac}
FRACATLAS=${FRACATLAS:-../shared/data/fracatlas}
RULE=${RULE:-max-f1}
WORK=${WORK:-.data/ship}
OUT=${OUT:-deploy/model}
WEIGHTS="$RUN/weights/best.pt"
IMGSZ=$(sed -n 's/^imgsz: *//p' "$RUN/config.yaml")

say() { printf '\033[1m[ship]\033[0m %s\n' "$*"; }
test -f "$WEIGHTS" || { say "no $WEIGHTS: train first"; exit 2; }
test -f "$FRACATLAS/data.yaml" || { say "FracAtlas not found at $FRACATLAS"; exit 2; }
mkdir -p "$WORK"
rm -f "$OUT"/model.onnx "$OUT"/model.int8.onnx "$OUT"/model_card.json "$OUT"/MODEL_CARD.md

say "export $WEIGHTS at $IMGSZ px (fp32 + int8)"
$BONEFRAC export --weights "$WEIGHTS" --imgsz "$IMGSZ" --out "$OUT" --int8 \
    --parity-data "$FRACATLAS/data.yaml" --parity-split test --parity-count 16

if [[ ! -f "$WORK/val-dedup/data.yaml" ]]; then
    say "val without the copies of train images"
    $BONEFRAC data subset "$FRACATLAS/data.yaml" --out "$WORK/val-dedup" --drop-train-duplicates --workers 2
fi

say "operating point on de-duplicated val ($RULE)"
$BONEFRAC evaluate --weights "$OUT/model.onnx" --data "$WORK/val-dedup/data.yaml" --split val \
    --rule "$RULE" --out "$WORK/eval-val"

REGIONS=(--metadata "$FRACATLAS/original_metadata/dataset.csv"
         --metadata-column "region=hand,leg,hip,shoulder,mixed" --metadata-key image_id)
say "test split at the card's operating point (fp32, then int8)"
$BONEFRAC evaluate --weights "$OUT/model.onnx" --data "$FRACATLAS/data.yaml" --split test --rule card \
    "${REGIONS[@]}" --out "$WORK/eval-test"
$BONEFRAC evaluate --weights "$OUT/model.int8.onnx" --data "$FRACATLAS/data.yaml" --split test --rule card \
    --no-card "${REGIONS[@]}" --out "$WORK/eval-test-int8"

say "the source .pt on test, for ultralytics' own figures (like the anchor's)"
$BONEFRAC evaluate --weights "$WEIGHTS" --data "$FRACATLAS/data.yaml" --split test --rule max-f1 --no-card \
    --bootstrap 0 --out "$WORK/eval-test-pt"

say "demo images"
python3 scripts/pick_demo_images.py "$FRACATLAS" "$OUT/demo"

say "model card"
$BONEFRAC model-card "$OUT" --test-eval "$WORK/eval-test/eval.json" --val-eval "$WORK/eval-val/eval.json" \
    --int8-test-eval "$WORK/eval-test-int8/eval.json" --pt-test-eval "$WORK/eval-test-pt/eval.json" --run "$RUN" \
    --name bonefrac-fracatlas-yolo11n --version "$VERSION" --references
ls -la "$OUT"
say "done: reports in $WORK/eval-*/report.html"
