"""Make the stand-in model `make run` serves until a trained default ships: YOLO11n trained briefly on
synthetic radiographs, exported to ONNX with a model card that says `stand_in: true`.

Needs the `train` extra (torch, ultralytics). Usage: python scripts/make_standin_model.py --out DIR
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import tempfile
from pathlib import Path

from bonefrac.data.synth import write_synthetic_dataset
from bonefrac.card.record import ModelCard, card_path_for, write_model_card
from bonefrac.hashing import file_sha256
from bonefrac.ultralytics_env import prepare_ultralytics

LIMITATIONS = [
    "STAND-IN: trained for a few epochs on synthetic images, never on radiographs; its boxes mean nothing.",
    "Exists only so that `make run` can show the service and the UI working end to end.",
]


def make_standin(out_dir: Path, imgsz: int, epochs: int, train_size: int) -> Path:
    """Train on synthetic data, export to out_dir/model.onnx (+ model_card.json); return the .onnx path."""
    import torch

    prepare_ultralytics()
    from ultralytics import YOLO

    with tempfile.TemporaryDirectory(prefix="bonefrac-standin-") as tmp:
        data_yaml = write_synthetic_dataset(Path(tmp) / "data", images=60, seed=0, size=train_size).yaml_path
        torch.manual_seed(0)
        model = YOLO("yolo11n.yaml")
        model.add_callback("on_train_start", lambda _trainer: torch.set_num_threads(os.cpu_count() or 1))
        model.train(
            data=str(data_yaml), epochs=epochs, imgsz=train_size, batch=8, device="cpu", workers=0,
            project=str(Path(tmp) / "runs"), name="standin", exist_ok=True, plots=False, val=False,
            amp=False, verbose=False, seed=0, deterministic=True,
        )  # fmt: skip
        weights = Path(tmp) / "runs" / "standin" / "weights" / "last.pt"
        card = ModelCard(
            name="bonefrac-standin",
            version=f"synthetic-{epochs}ep",
            class_names=["fractured"],
            input_size=imgsz,
            stand_in=True,
            data_credit="synthetic images from bonefrac.data.synth (no patient data)",
            limitations=LIMITATIONS,
        )
        # ultralytics' exporter directly: `bonefrac export`'s parity check is meant for real models; the
        # near-untrained stand-in has hundreds of tied low-confidence boxes that no parity check can pair up.
        exported = Path(YOLO(str(weights)).export(format="onnx", imgsz=imgsz, simplify=False, dynamic=False))
        out_dir.mkdir(parents=True, exist_ok=True)
        onnx_path = out_dir / "model.onnx"
        shutil.copyfile(exported, onnx_path)
    card = card.model_copy(update={"weights_sha256": file_sha256(onnx_path)})
    write_model_card(card, card_path_for(onnx_path))
    return onnx_path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for model.onnx and model_card.json")
    parser.add_argument("--imgsz", type=int, default=640, help="ONNX input size (default 640)")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (default 2)")
    parser.add_argument("--train-size", type=int, default=128, help="synthetic image size (default 128)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = make_standin(args.out, args.imgsz, args.epochs, args.train_size)
    logging.getLogger("bonefrac.standin").info("stand-in model written to %s", path)


if __name__ == "__main__":
    main()
