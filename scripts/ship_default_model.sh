#!/usr/bin/env bash
# Turn a finished detector run (and a classifier run) into the shipped default model in deploy/model/:
#   export the detector (fp32 + int8, parity on FracAtlas test images) and the classifier (parity) ->
#   evaluate on de-duplicated val (chooses the fusion weight and both operating points, and the single
#   threshold) -> evaluate on test at those points (fp32 and int8, with body-region breakdown) ->
#   model_card.json + MODEL_CARD.md -> the int8 copy again, calibrated on 300 train images with the modules
#   most sensitive to rounding in float, kept only when its test mAP50 and AUROC stay within 0.01 of fp32's
#   (`bonefrac quantize`, which updates both card files). It copies no data-set image into deploy/ (the demo radiographs are
#   prepared at run time into the ignored .data/demo by `bonefrac data demo`). It trains nothing. Usage:
#   scripts/ship_default_model.sh runs/pretrained/coco_480_bg20-s0 [VERSION] [CLASSIFIER_RUN]
# Without CLASSIFIER_RUN the detector ships alone and its highest box confidence scores the image.
# Knobs: BONEFRAC (command, default .venv/bin/bonefrac), FRACATLAS (../shared/data/fracatlas),
#        PYTHON (reads the card's threshold, default python3),
#        RULE (operating-point rule on val, default max-f1), WORK (.data/ship: evaluations, kept out of git),
#        OUT (deploy/model).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN=${1:?usage: scripts/ship_default_model.sh RUN_DIR [VERSION] [CLASSIFIER_RUN]}
VERSION=${2:-$(date -u +%Y.%m.%d)}
CLASSIFIER_RUN=${3:-}
NAME=${NAME:-bonefrac-fracatlas}
BONEFRAC=${BONEFRAC:-.venv/bin/bonefrac}
PYTHON=${PYTHON:-python3}
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
rm -f "$OUT"/model.onnx "$OUT"/model.int8.onnx "$OUT"/model_card.json "$OUT"/MODEL_CARD.md \
      "$OUT"/classifier.onnx "$OUT"/classifier_card.json

say "export $WEIGHTS at $IMGSZ px (fp32 + int8)"
$BONEFRAC export --weights "$WEIGHTS" --imgsz "$IMGSZ" --out "$OUT" --int8 \
    --parity-data "$FRACATLAS/data.yaml" --parity-split test --parity-count 16

TIERS=()
CLASSIFIER_CARD_ARGS=()
if [[ -n "$CLASSIFIER_RUN" ]]; then
    test -f "$CLASSIFIER_RUN/weights/best.pt" || { say "no $CLASSIFIER_RUN/weights/best.pt"; exit 2; }
    say "export the classifier $CLASSIFIER_RUN"
    $BONEFRAC classify export "$CLASSIFIER_RUN/weights/best.pt" --out "$OUT" \
        --parity-data "$FRACATLAS/data.yaml" --parity-split test --parity-count 16
    TIERS=(--classifier "$OUT/classifier.onnx")
    CLASSIFIER_CARD_ARGS=(--classifier-run "$CLASSIFIER_RUN")
fi

if [[ ! -f "$WORK/val-dedup/data.yaml" ]]; then
    say "val without the copies of train images"
    $BONEFRAC data subset "$FRACATLAS/data.yaml" --out "$WORK/val-dedup" --drop-train-duplicates --workers 2
fi

say "operating points on de-duplicated val (two tiers; single threshold by $RULE)"
$BONEFRAC evaluate --weights "$OUT/model.onnx" --data "$WORK/val-dedup/data.yaml" --split val \
    --rule "$RULE" --two-tier --write-card "${TIERS[@]}" --out "$WORK/eval-val"

REGIONS=(--metadata "$FRACATLAS/original_metadata/dataset.csv"
         --metadata-column "region=hand,leg,hip,shoulder,mixed" --metadata-key image_id)
say "test split at the card's operating point (fp32, then int8)"
$BONEFRAC evaluate --weights "$OUT/model.onnx" --data "$FRACATLAS/data.yaml" --split test --rule card \
    "${REGIONS[@]}" --out "$WORK/eval-test"
$BONEFRAC evaluate --weights "$OUT/model.int8.onnx" --data "$FRACATLAS/data.yaml" --split test --rule card \
    --no-card "${REGIONS[@]}" --out "$WORK/eval-test-int8"

# the .pt has no card beside it: its bonefrac figures are taken at the shipped card's threshold (chosen on
# val), so that nothing in this evaluation is fitted to the test split
THRESHOLD=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["operating_point"]["threshold"])' \
    "$OUT/model_card.json")
say "the source .pt on test at the card's threshold $THRESHOLD, for ultralytics' own figures (like the anchor's)"
$BONEFRAC evaluate --weights "$WEIGHTS" --data "$FRACATLAS/data.yaml" --split test --rule fixed \
    --threshold "$THRESHOLD" --bootstrap 0 --out "$WORK/eval-test-pt"

say "model card"
$BONEFRAC model-card "$OUT" --test-eval "$WORK/eval-test/eval.json" --val-eval "$WORK/eval-val/eval.json" \
    --int8-test-eval "$WORK/eval-test-int8/eval.json" --pt-test-eval "$WORK/eval-test-pt/eval.json" --run "$RUN" \
    "${CLASSIFIER_CARD_ARGS[@]}" --name "$NAME" --version "$VERSION" --references
say "int8: calibrated on 300 train images, sensitive modules in float, kept only if it keeps its accuracy"
$BONEFRAC quantize --model "$OUT/model.onnx" --data "$FRACATLAS/data.yaml" --split test \
    --eval-out "$WORK/eval-test-int8-release"
ls -la "$OUT"
say "done: reports in $WORK/eval-*/report.html"
