#!/usr/bin/env bash
# `make run`: a serving-only environment, the shipped default model (deploy/model/model.onnx, trained on
# FracAtlas; see deploy/model/MODEL_CARD.md), then the service and the UI side by side. Ctrl-C stops both.
#
# The UI offers demo radiographs prepared into .data/demo (ignored) at each start: FracAtlas test images picked
# by rule when FracAtlas is there (BONEFRAC_FRACATLAS, else ../shared/data/fracatlas), else synthetic images.
#
# The models run on OpenVINO in bfloat16 where the CPU computes in it natively (BONEFRAC_ENGINE=openvino-bf16):
# the fastest engine that keeps the model's accuracy (bench/RESULTS.md); float32 on other CPUs.
#
# Environment knobs: BONEFRAC_ENGINE (onnxruntime, openvino or openvino-bf16), BONEFRAC_MODEL_PATH (serve this
# model instead), BONEFRAC_PORT (8000),
# BONEFRAC_UI_PORT (8501), BONEFRAC_SERVE_VENV (.venv-serve), BONEFRAC_TRAIN_PYTHON (a Python with the train
# extra to make the stand-in when a checkout has no deploy/model/model.onnx; default: the test environment .venv),
# BONEFRAC_FRACATLAS (where FracAtlas is, for the demo radiographs). A taken port stops the start at once, with
# who holds it (another bonefrac service or UI, or another program) and the variable that chooses another.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SERVE_VENV=${BONEFRAC_SERVE_VENV:-.venv-serve}
HOST=127.0.0.1
API_PORT=${BONEFRAC_PORT:-8000}
UI_PORT=${BONEFRAC_UI_PORT:-8501}
STANDIN_DIR=.data/standin-model
DEMO_DIR=.data/demo
DEFAULT_MODEL=deploy/model/model.onnx
export BONEFRAC_AUDIT_DB_URL=${BONEFRAC_AUDIT_DB_URL:-sqlite:///.data/audit.db}
export BONEFRAC_CACHE=${BONEFRAC_CACHE:-$PWD/.cache/bonefrac}
export BONEFRAC_ENGINE=${BONEFRAC_ENGINE:-openvino-bf16}
SERVE_EXTRAS=serve,openvino
mkdir -p .data

say() { printf '\033[1m[make run]\033[0m %s\n' "$*"; }

# 1. the serving environment: bonefrac[serve,openvino] (no torch)
if [[ ! -f "$SERVE_VENV/.installed" || pyproject.toml -nt "$SERVE_VENV/.installed" \
      || "$(cat "$SERVE_VENV/.installed")" != "$SERVE_EXTRAS" ]]; then
    say "setting up $SERVE_VENV with the serving dependencies (pip install -e .[$SERVE_EXTRAS]) ..."
    test -x "$SERVE_VENV/bin/python" || "$PYTHON" -m venv "$SERVE_VENV"
    "$SERVE_VENV/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip
    "$SERVE_VENV/bin/python" -m pip install --disable-pip-version-check -q -e ".[$SERVE_EXTRAS]"
    echo "$SERVE_EXTRAS" > "$SERVE_VENV/.installed"
fi
BONEFRAC="$SERVE_VENV/bin/bonefrac"

# 2. both ports free before anything starts; when one is taken, say at once by whom and how to choose another
"$SERVE_VENV/bin/python" - "$HOST" "$API_PORT" "$UI_PORT" <<'PY' || exit 1
import sys
from bonefrac.errors import BonefracError
from bonefrac.ports import ensure_port_free
host, api_port, ui_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
try:
    ensure_port_free(host, api_port, change="BONEFRAC_PORT={port} make run")
    ensure_port_free(host, ui_port, change="BONEFRAC_UI_PORT={port} make run")
except BonefracError as exc:
    sys.exit(f"[make run] {exc}")
PY

# 3. the model: BONEFRAC_MODEL_PATH, else the shipped default, else (a checkout without it) a stand-in
MODEL=${BONEFRAC_MODEL_PATH:-}
if [[ -z "$MODEL" && -f "$DEFAULT_MODEL" ]]; then
    MODEL=$DEFAULT_MODEL
fi
if [[ -z "$MODEL" ]]; then
    MODEL="$STANDIN_DIR/model.onnx"
    if [[ ! -f "$MODEL" || ! -f "$STANDIN_DIR/model_card.json" ]]; then
        TRAIN_PY=${BONEFRAC_TRAIN_PYTHON:-.venv/bin/python}
        if [[ ! -x "$TRAIN_PY" ]]; then
            say "$DEFAULT_MODEL is missing; making the test environment .venv to train a stand-in ..."
            make venv
            TRAIN_PY=.venv/bin/python
        fi
        say "training a STAND-IN model on synthetic images (one time, a few minutes on CPU) ..."
        PYTHONPATH=src "$TRAIN_PY" scripts/make_standin_model.py --out "$STANDIN_DIR"
    fi
fi
if [[ ! -f "$MODEL" ]]; then
    say "model not found: $MODEL (set BONEFRAC_MODEL_PATH to an .onnx file)"
    exit 2
fi
if grep -q '"stand_in": true' "$(dirname "$MODEL")/model_card.json" 2>/dev/null; then
    echo
    echo "  ****************************************************************************************"
    echo "  *  STAND-IN MODEL: trained on synthetic images, not on radiographs. Its boxes are       *"
    echo "  *  meaningless; it only shows the service and the UI working. Research use only, not a *"
    echo "  *  medical device. Serve a real model with BONEFRAC_MODEL_PATH=path/to/model.onnx.     *"
    echo "  ****************************************************************************************"
    echo
else
    "$SERVE_VENV/bin/python" - "$MODEL" <<'PY'
import sys
from pathlib import Path
from bonefrac.hashing import file_sha256
from bonefrac.infer.tiers import describe_points, points_for
from bonefrac.card.classifier import classifier_card_path, read_classifier_card
from bonefrac.card.record import card_path_for, read_model_card
model = Path(sys.argv[1])
card_file = card_path_for(model)
card = read_model_card(card_file) if card_file.is_file() else None
print(f"\n  model:      {model} ({card.name} {card.version})" if card else f"\n  model:      {model} (no model card)")
print(f"  sha256:     {file_sha256(model)}")
if card and card.classifier:
    ref = card.classifier
    path = model.parent / ref.file
    name = read_classifier_card(classifier_card_path(path)).name if classifier_card_path(path).is_file() else ref.file
    print(f"  classifier: {path} ({name} {ref.version})")
    print(f"  sha256:     {file_sha256(path) if path.is_file() else 'MISSING: the service will not get ready'}")
elif card:
    print("  classifier: none (the detector alone)")
if card:
    print("  operating points:")
    for line in describe_points(points_for(card), card.operating_points is not None):
        print(f"    {line}")
if (model.parent / "MODEL_CARD.md").is_file():
    print(f"  read {model.parent / 'MODEL_CARD.md'}: what it was trained on, how well it does, its limits")
print("  Research and demonstration only: not a medical device.\n")
PY
fi

# 4. demo radiographs for the UI, prepared into the ignored .data/demo (never copied into tracked folders)
DEMO_ARGS=()
if "$BONEFRAC" data demo --out "$DEMO_DIR"; then
    DEMO_ARGS=(--demo-dir "$DEMO_DIR")
else
    say "no demo radiographs this time (the message above says why)"
fi

# 5. service and UI, stopped together
SERVE_PID=""
UI_PID=""
stop() {
    trap - INT TERM
    say "stopping ..."
    [[ -n "$UI_PID" ]] && kill -TERM "$UI_PID" 2>/dev/null || true
    [[ -n "$SERVE_PID" ]] && kill -TERM "$SERVE_PID" 2>/dev/null || true
    [[ -n "$UI_PID" ]] && wait "$UI_PID" 2>/dev/null || true
    [[ -n "$SERVE_PID" ]] && wait "$SERVE_PID" 2>/dev/null || true
    say "stopped"
}
trap 'stop; exit 0' INT TERM

"$BONEFRAC" serve --model "$MODEL" --host "$HOST" --port "$API_PORT" &
SERVE_PID=$!
API_URL="http://$HOST:$API_PORT"
"$SERVE_VENV/bin/python" - "$API_URL" "$SERVE_PID" <<'PY' || { stop; exit 1; }
import os, sys, time, httpx
url, pid = sys.argv[1] + "/readyz", int(sys.argv[2])

def running() -> bool:  # this service, not another one on the same port: its process must be alive
    if os.path.isdir("/proc/self"):  # Linux: an exited process not yet reaped is a zombie ("Z")
        try:
            with open(f"/proc/{pid}/stat") as handle:
                return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True

for _ in range(600):
    if not running():
        sys.exit("[make run] the service did not start (its message is above)")
    try:
        if httpx.get(url, timeout=1).status_code == 200:
            sys.exit(0)
    except httpx.TransportError:
        pass
    time.sleep(0.1)
sys.exit(f"[make run] the service at {url} did not get ready within 60 s")
PY

if "$BONEFRAC" ui --help >/dev/null 2>&1; then
    "$BONEFRAC" ui --api-url "$API_URL" --port "$UI_PORT" "${DEMO_ARGS[@]}" &
    UI_PID=$!
    UI_LINE="UI:       http://$HOST:$UI_PORT"
else
    UI_LINE="UI:       not in this checkout (bonefrac ui is missing); the service runs alone"
fi
echo
say "service:  $API_URL   (API docs $API_URL/docs, model card $API_URL/v1/model)"
say "$UI_LINE"
say "press Ctrl-C to stop both"
echo
# whichever stops first, stop the other
while kill -0 "$SERVE_PID" 2>/dev/null && { [[ -z "$UI_PID" ]] || kill -0 "$UI_PID" 2>/dev/null; }; do
    sleep 1
done
stop
