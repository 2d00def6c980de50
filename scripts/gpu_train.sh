#!/usr/bin/env bash
# One prepared command for a lent GPU machine: train the GPU recipe (configs/train/gpu_640.yaml: YOLOv5n-u from
# the COCO start, 640 px, one GPU, a 9-minute wall-clock budget of which 6.6 minutes train), evaluate best.pt
# on val and test with `bonefrac evaluate`, and leave the results as flat files in OUT_DIR:
#   best.pt results.csv metrics.json config.yaml environment.json eval_val.json eval_test.json train.log
#
#   scripts/gpu_train.sh OUT_DIR              # on the GPU machine (DEVELOPERS.md, "GPU machines")
#   scripts/gpu_train.sh --dry-run OUT_DIR    # the same path on CPU: synthetic data, 1 epoch, 64 px
#                                             # (or GPU_TRAIN_DRY_RUN=1)
# Inputs (ignored folders that travel with the checkout), checked before anything trains:
#   .data/fracatlas/data.yaml                        tar xf ../shared/data/fracatlas-640-gray.tar -C .data
#   .data/pretrained/coco_yolov5nu_backbone_neck.pt  its sha256 must be the known start's
# Knobs: PYTHON (default .venv/bin/python if present, else python3; the checkout's src/ comes first on
# PYTHONPATH), GPU_TRAIN_CONFIG, GPU_TRAIN_DATA, GPU_TRAIN_WEIGHTS, GPU_TRAIN_RUNS (default runs),
# GPU_TRAIN_BOOTSTRAP (evaluation resamples, default 1000; 50 in a dry run), GPU_TRAIN_WHEELS (default .whl: wheels installed
# into a temporary folder when the python lacks ultralytics or pydantic; nothing is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DRY_RUN=${GPU_TRAIN_DRY_RUN:-0}
OUT_DIR=
for arg in "$@"; do
    case "$arg" in
        --dry-run) DRY_RUN=1 ;;
        -h | --help) sed -n '2,17p' "$0"; exit 0 ;;
        -*) echo "gpu_train: unknown option $arg (see --help)" >&2; exit 2 ;;
        *) [[ -z "$OUT_DIR" ]] || { echo "gpu_train: one OUT_DIR only" >&2; exit 2; }; OUT_DIR=$arg ;;
    esac
done
[[ -n "$OUT_DIR" ]] || { echo "usage: scripts/gpu_train.sh [--dry-run] OUT_DIR" >&2; exit 2; }
[[ "$DRY_RUN" == 1 || "$DRY_RUN" == true ]] && DRY_RUN=1 || DRY_RUN=0
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
CONFIG=${GPU_TRAIN_CONFIG:-configs/train/gpu_640.yaml}
DATA=${GPU_TRAIN_DATA:-.data/fracatlas/data.yaml}
WEIGHTS=${GPU_TRAIN_WEIGHTS:-.data/pretrained/coco_yolov5nu_backbone_neck.pt}
RUNS=${GPU_TRAIN_RUNS:-runs}
BOOTSTRAP=${GPU_TRAIN_BOOTSTRAP:-$( ((DRY_RUN)) && echo 50 || echo 1000)}
WHEELS=${GPU_TRAIN_WHEELS:-.whl}
export PYTHONPATH="$ROOT/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

say() { printf '[gpu_train %4ss] %s\n' "$SECONDS" "$*"; }
fail() { printf '[gpu_train] ERROR: %s\n' "$*" >&2; exit 2; }

prepare_python() {
    local need="import bonefrac, pydantic, typer, rich, yaml, torch, torchvision, cv2, ultralytics"
    command -v "$PYTHON" >/dev/null || fail "no python at $PYTHON (set PYTHON=...)"
    "$PYTHON" -c "$need" 2>/dev/null && return
    if compgen -G "$WHEELS/*.whl" >/dev/null; then
        local site="${TMPDIR:-/tmp}/bonefrac-site"
        say "installing the carried wheels in $WHEELS into $site (no index, no downloads)"
        "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$site" "$WHEELS"/*.whl || fail "pip could not install the wheels in $WHEELS"
        export PYTHONPATH="$PYTHONPATH:$site"
        "$PYTHON" -c "$need" 2>/dev/null && return
    fi
    fail "$PYTHON cannot import what training needs ($("$PYTHON" -c "$need" 2>&1 | tail -1)); use a python
        with bonefrac[train] installed (PYTHON=...), or carry the missing wheels in $WHEELS (DEVELOPERS.md)"
}

# Checks the inputs before anything trains: GPU, data, the starting weights' sha256 against the known start.
preflight() {
    DRY_RUN=$DRY_RUN DATA=$DATA WEIGHTS=$WEIGHTS "$PYTHON" - <<'EOF'
import os
import sys
from pathlib import Path

dry = os.environ["DRY_RUN"] == "1"
problems = []
import torch

if not dry and not torch.cuda.is_available():
    problems.append("torch sees no CUDA GPU (torch %s); this recipe trains on device 0" % torch.__version__)
elif torch.cuda.is_available():
    print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}")
if not dry:
    from bonefrac.data.yolo_format import load_dataset

    data = Path(os.environ["DATA"])
    try:
        spec = load_dataset(data)
        counts = {split: len(spec.images(split)) for split in ("train", "val", "test")}
        print(f"data: {data}, images {counts}")
        if not all(counts.values()):
            problems.append(f"{data} lacks a split: images per split {counts}")
    except Exception as exc:
        problems.append(f"no usable data at {data} ({exc}); untar ../shared/data/fracatlas-640-gray.tar into .data/")
weights = Path(os.environ["WEIGHTS"])
if weights.is_file():
    from bonefrac.hashing import file_sha256
    from bonefrac.train.starts import load_known_starts

    digest = file_sha256(weights)
    expected = [s for s in load_known_starts().values() if s.name == "coco_yolov5nu_backbone_neck.pt"]
    if not expected or digest != expected[0].sha256:
        want = expected[0].sha256 if expected else "(no entry in known_starts.yaml)"
        problems.append(f"{weights} has sha256 {digest}, expected the known start's {want}")
    else:
        print(f"start: {weights} (sha256 {digest[:12]}..., {expected[0].name})")
elif not dry:
    problems.append(f"starting weights not found at {weights}; copy ../shared/pretrained/{weights.name} there")
for problem in problems:
    print(f"[gpu_train] ERROR: {problem}", file=sys.stderr)
sys.exit(2 if problems else 0)
EOF
}

main() {
    say "checkout $ROOT, python $PYTHON, config $CONFIG, out $OUT_DIR$( ((DRY_RUN)) && echo ' (dry run on CPU)')"
    prepare_python
    preflight || fail "inputs not ready (above); nothing was trained"

    local overrides=("runs_dir=$RUNS" "data=$DATA" "model=$WEIGHTS")
    if ((DRY_RUN)); then
        overrides=("runs_dir=$RUNS" data=null "synthetic={images: 16, size: 64}" imgsz=64 epochs=1
                   budget_hours=null batch=8 workers=0 cache=false device=cpu amp=false background_ratio=0.5
                   augment.close_mosaic=0)
        if [[ -f "$WEIGHTS" ]]; then
            overrides+=("model=$WEIGHTS")
        else
            say "dry run: no $WEIGHTS; yolov5n.yaml (random init, the start's architecture) stands in"
            overrides+=(model=yolov5n.yaml)
        fi
    fi
    local sets=() item
    for item in "${overrides[@]}"; do sets+=(--set "$item"); done

    say "train"
    "$PYTHON" -m bonefrac train "$CONFIG" "${sets[@]}" --overwrite
    local run eval_data
    run=$("$PYTHON" -c 'import sys
from bonefrac.train.config import load_train_config
print(load_train_config(sys.argv[1], sys.argv[2:]).run_dir.resolve())' "$CONFIG" "${overrides[@]}")
    [[ -f "$run/metrics.json" ]] || fail "training wrote no $run/metrics.json"
    # the training results come back even if the evaluations below run past the device's command limit
    cp "$run/weights/best.pt" "$run/results.csv" "$run/metrics.json" "$run/config.yaml" \
        "$run/environment.json" "$OUT_DIR/"
    # the data trained on: val without the train copies, test as it is (dataset.json records its data.yaml)
    eval_data=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["trained"]["yaml"])' \
        "$run/dataset.json")

    say "evaluate best.pt on val (operating point: image sensitivity 0.9)"
    "$PYTHON" -m bonefrac evaluate --weights "$run/weights/best.pt" --data "$eval_data" --split val \
        --out "$run/eval-val" --bootstrap "$BOOTSTRAP" --rule target-sensitivity --no-card
    local threshold
    threshold=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["operating_point"]["threshold"])' \
        "$run/eval-val/eval.json")
    say "evaluate best.pt on test at val's threshold $threshold"
    "$PYTHON" -m bonefrac evaluate --weights "$run/weights/best.pt" --data "$eval_data" --split test \
        --out "$run/eval-test" --bootstrap "$BOOTSTRAP" --rule fixed --threshold "$threshold" --no-card

    cp "$run/eval-val/eval.json" "$OUT_DIR/eval_val.json"
    cp "$run/eval-test/eval.json" "$OUT_DIR/eval_test.json"
    local big
    big=$(find "$OUT_DIR" -maxdepth 1 -type f -size +16M -printf '%f ')
    [[ -z "$big" ]] || say "WARNING: over 16 MB, will not come back from the device: $big"
    say "done: $(ls "$OUT_DIR" | tr '\n' ' ')"
}

set -o pipefail
main 2>&1 | tee "$OUT_DIR/train.log"
