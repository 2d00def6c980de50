"""Where bonefrac finds the model it uses by default and keeps the files it writes for itself.

Each place can be moved with an environment variable; nothing here creates a folder until asked to:

- the model `predict`, `serve` and `ui` use: `--model`, else `BONEFRAC_MODEL_PATH`, else the shipped model
  (`deploy/model/model.onnx` of a checkout);
- the data folder (the service's audit database): `BONEFRAC_DATA`, else `$XDG_DATA_HOME/bonefrac`, else
  `~/.local/share/bonefrac`.

Pure standard library: the serving install and `bonefrac --help` import it for free.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bonefrac.errors import ModelError

MODEL_PATH_ENV = "BONEFRAC_MODEL_PATH"
DATA_DIR_ENV = "BONEFRAC_DATA"
AUDIT_DB_NAME = "audit.db"

# src/bonefrac/paths.py -> the checkout's root; an installed wheel has no deploy/ beside it
CHECKOUT_ROOT = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = CHECKOUT_ROOT / "deploy" / "model" / "model.onnx"


@dataclass(frozen=True)
class ModelChoice:
    """The model a command uses and why: `source` is the option, the variable or "the shipped model"."""

    path: Path
    source: str

    def describe(self) -> str:
        """ "deploy/model/model.onnx (the shipped model; --model or BONEFRAC_MODEL_PATH to change)"."""
        return f"{self.path} ({self.source}; --model or {MODEL_PATH_ENV} to change)"


def shipped_model() -> Path | None:
    """The shipped default model when this install has it (a checkout or an editable install), else None."""
    return SHIPPED_MODEL if SHIPPED_MODEL.is_file() else None


def choose_model(given: Path | None, option: str = "--model") -> ModelChoice:
    """The model to use: the option's path, else $BONEFRAC_MODEL_PATH, else the shipped model.

    Raises ModelError naming what was looked for when the chosen file is not there."""
    if given is not None:
        choice = ModelChoice(Path(given), option)
    elif os.environ.get(MODEL_PATH_ENV):
        choice = ModelChoice(Path(os.environ[MODEL_PATH_ENV]), MODEL_PATH_ENV)
    elif shipped_model() is not None:
        choice = ModelChoice(SHIPPED_MODEL, "the shipped model")
    else:
        raise ModelError(
            f"no model given and none ships with this install (looked for {SHIPPED_MODEL}); give {option} "
            f"path/to/model.onnx or set {MODEL_PATH_ENV}"
        )
    if not choice.path.is_file():
        raise ModelError(
            f"model file not found: {choice.path} (from {choice.source}); expected an .onnx file from "
            "`bonefrac export` with its model_card.json beside it"
        )
    return choice


def default_model_path() -> Path:
    """$BONEFRAC_MODEL_PATH, else the shipped model's path (whether or not this install has the file)."""
    return Path(os.environ.get(MODEL_PATH_ENV) or SHIPPED_MODEL)


def data_dir() -> Path:
    """bonefrac's data folder: $BONEFRAC_DATA, else $XDG_DATA_HOME/bonefrac, else ~/.local/share/bonefrac."""
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "bonefrac"


def default_audit_db_url() -> str:
    """The service's audit database when BONEFRAC_AUDIT_DB_URL is unset: SQLite in the data folder."""
    return f"sqlite:///{data_dir() / AUDIT_DB_NAME}"


def sqlite_file(url: str) -> Path | None:
    """The file of a `sqlite:///path` URL (None for another database or an in-memory one)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        return None
    path = url[len(prefix) :].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


@contextmanager
def sqlite_folder(url: str) -> Iterator[None]:
    """Create the folder of a SQLite database file (the data folder by default) for the block that opens it;
    when the block fails, the folders it created are removed again if still empty (a refused start leaves
    nothing behind)."""
    path = sqlite_file(url)
    created: list[Path] = []
    if path is not None:
        folder = path.parent.absolute()
        while not folder.exists():
            created.append(folder)
            folder = folder.parent
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for folder in created:  # deepest first
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
