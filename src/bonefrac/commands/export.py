"""`bonefrac export`: weights to ONNX, the parity check against ultralytics, the model card."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

console = Console()


def export(
    weights: Path = typer.Option(..., "--weights", help="YOLO .pt checkpoint (e.g. runs/.../best.pt)."),
    imgsz: int = typer.Option(640, "--imgsz", help="Square input size of the ONNX model (multiple of 32)."),
    out: Path = typer.Option(
        Path("artifacts/model"), "--out", help="Folder for model.onnx + model_card.json."
    ),
    int8: bool = typer.Option(
        False,
        "--int8",
        help="Also write model.int8.onnx (static QDQ, the modules most sensitive on the parity images kept "
        "in float) and measure it; calibrated on 64 train images when --parity-data is a data.yaml, else on "
        "the parity images. `bonefrac quantize` then decides on a test split whether it keeps its accuracy.",
    ),
    parity_data: Path | None = typer.Option(
        None,
        "--parity-data",
        help="data.yaml or folder of images for the parity check (default: 8 synthetic images).",
    ),
    parity_split: str = typer.Option("val", "--parity-split", help="Split of --parity-data's data.yaml."),
    parity_count: int = typer.Option(8, "--parity-count", min=1, help="Images used for the parity check."),
) -> None:
    """Export weights to ONNX, check the engine finds the same boxes as ultralytics, write the model card."""
    from bonefrac.export.onnx import export_onnx

    result = export_onnx(
        weights,
        out,
        imgsz=imgsz,
        int8=int8,
        parity_images=parity_data,
        parity_split=parity_split,
        parity_count=parity_count,
    )
    parity = result.parity.summary()
    console.print(f"wrote {result.onnx_path} and {result.card_path}")
    console.print(
        f"parity with ultralytics .pt: passed. Inputs within {parity['max_input_diff']:.4f}, raw scores "
        f"within {parity['max_score_diff']:.1e}, raw boxes within {parity['max_box_diff_px']:.4f} px; "
        f"{parity['matched_boxes']} boxes matched over {parity['images']} image runs (OpenCV and numpy "
        f"letterbox; min IoU {parity['min_matched_iou']}, max confidence delta {parity['max_conf_delta']})"
    )
    if parity.get("box_check_excused_images"):
        console.print(
            f"[yellow]note:[/] box differences excused on {int(parity['box_check_excused_images'])} "
            "images: the model's scores are near-constant (barely trained), so NMS ties are float noise"
        )
    if result.int8_path is not None and result.card.quantization:
        q = result.card.quantization
        low = q["agreement"][-1]
        console.print(
            f"wrote {result.int8_path}: {q['speedup']}x session speed vs fp32 at {q['threads']} threads; "
            f"box agreement with fp32 {low['box_agreement']} at conf {low['conf']} "
            f"(mean confidence change {low['mean_conf_delta']})"
        )


def quantize(
    model: Path = typer.Option(
        Path("deploy/model/model.onnx"),
        "--model",
        help="An exported detector with model_card.json beside it.",
    ),
    data: Path = typer.Option(
        ..., "--data", help="data.yaml: train calibrates, val probes, --split decides."
    ),
    split: str = typer.Option("test", "--split", help="Split on which int8 must keep fp32's accuracy."),
    calibration_count: int = typer.Option(
        300, "--calibration-count", min=1, help="Train images to calibrate on."
    ),
    max_drop: float = typer.Option(
        0.01, "--max-drop", min=0.0, help="Largest drop of box mAP50 and of image AUROC int8 may have."
    ),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="Bootstrap resamples for the intervals."),
    eval_out: Path | None = typer.Option(
        None, "--eval-out", help="Keep both evaluations (eval.json, report.html) in OUT/fp32 and OUT/int8."
    ),
) -> None:
    """Write model.int8.onnx beside an exported detector, with its most sensitive modules in float, and keep
    it only when its box mAP50 and image AUROC stay within --max-drop of fp32's (the card records why)."""
    from bonefrac.export.int8_release import release_int8

    release = release_int8(
        model,
        data,
        calibration_count=calibration_count,
        split=split,
        max_drop=max_drop,
        bootstrap=bootstrap,
        eval_dir=eval_out,
    )
    q = release.quantization
    kept_float = ", ".join(release.mixed.float_modules) or "none"
    console.print(
        f"modules kept in float: {kept_float}; {q['speedup']}x session speed at {q['threads']} threads"
    )
    if release.kept:
        console.print(f"wrote {release.int8_path}: keeps its accuracy ({release.decision})")
    else:
        console.print(f"[yellow]not kept:[/] {release.decision}; model.int8.onnx removed")


def register(app: typer.Typer) -> None:
    """Add `export` and `quantize` to the root app."""
    app.command("export")(export)
    app.command("quantize")(quantize)
