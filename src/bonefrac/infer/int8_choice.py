"""Which detector file to load when int8 is preferred: the shipped int8 copy beside the model, or the model.

    path, why = detector_file(Path("deploy/model/model.onnx"), prefer_int8=True)

The int8 copy is used only when the card beside the model says it was shipped (`quantization.shipped`: it
kept its accuracy when `bonefrac quantize` measured it) and the file's sha256 is the one the card names;
otherwise the model itself is loaded and `why` says so. A folder holding only model.onnx (a mounted volume,
another model) therefore keeps working unchanged.
"""

from __future__ import annotations

from pathlib import Path

from bonefrac.card.record import INT8_FILENAME, card_path_for, read_model_card
from bonefrac.hashing import file_sha256


def detector_file(model_path: Path, prefer_int8: bool) -> tuple[Path, str]:
    """The file to load and a sentence on why it was chosen."""
    model_path = Path(model_path)
    if not prefer_int8:
        return model_path, "float32 model"
    card_path = card_path_for(model_path)
    if not card_path.is_file():
        return model_path, f"int8 preferred, but {model_path.name} has no card to name a shipped int8 copy"
    quantization = read_model_card(card_path).quantization or {}
    candidate = model_path.parent / str(quantization.get("file") or INT8_FILENAME)
    if quantization.get("shipped") is not True:
        return model_path, "int8 preferred, but the card ships no int8 copy (it did not keep its accuracy)"
    if not candidate.is_file():
        return model_path, f"int8 preferred, but {candidate.name} is missing beside {model_path.name}"
    if file_sha256(candidate) != quantization.get("sha256"):
        return model_path, f"int8 preferred, but {candidate.name} is not the file the card measured (sha256)"
    return candidate, f"int8 copy, shipped by the card ({quantization.get('decision', 'kept its accuracy')})"
