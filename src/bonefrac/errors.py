"""Typed errors raised by the library. Only cli.py turns them into exit codes and messages."""

from __future__ import annotations


class BonefracError(Exception):
    """Base of every error the library raises on purpose; `exit_code` is what the CLI exits with."""

    exit_code: int = 1


class ConfigError(BonefracError):
    """A configuration file or option is invalid (unknown key, wrong type, out of range)."""

    exit_code = 2


class DatasetError(BonefracError):
    """A data set cannot be read at all: missing data.yaml, missing split folder, no images."""

    exit_code = 2


class ImageError(BonefracError):
    """An image file cannot be used: empty, unknown format, corrupt, too large, DICOM without pixels."""

    exit_code = 2


class ModelError(BonefracError):
    """Model weights are missing, of the wrong kind, or do not match what the caller expects."""

    exit_code = 2


class TrainingError(BonefracError):
    """Training could not start or finish."""


class ExportError(BonefracError):
    """Export failed, or the exported model disagrees with the original (parity check)."""


class EvaluationError(BonefracError):
    """Evaluation inputs are inconsistent (a split that does not exist, predictions for unknown images)."""

    exit_code = 2


class PacsError(BonefracError):
    """A DICOM peer or DICOMweb server refused a request or could not be reached."""
