"""`bonefrac dicom listen` (a DICOM node) and `bonefrac dicom process` (studies on a DICOMweb server)."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import typer
from rich.console import Console

from bonefrac.errors import ConfigError

dicom_app = typer.Typer(
    help="Work inside a hospital's imaging network: a DICOM node, or studies on a DICOMweb server.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(dicom_app, name="dicom")


console = Console()


def _needs_dicom_extra() -> None:
    try:
        import highdicom  # noqa: F401
        import pynetdicom  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"DICOM networking needs the dicom extra ({exc.name} is not installed); "
            "install it with pip install 'bonefrac[dicom]'"
        ) from exc


@dicom_app.command("listen")
def listen(
    weights: Path | None = typer.Option(
        None,
        "--model",
        "--weights",
        help="ONNX model, model_card.json beside it (default: $BONEFRAC_MODEL_PATH, else the shipped model).",
    ),
    work_dir: Path = typer.Option(
        Path("bonefrac-dicom"),
        "--work-dir",
        help="Journal and spool of accepted images (kept across restarts).",
    ),
    ae_title: str = typer.Option("BONEFRAC", "--ae-title", help="This node's AE title."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(11112, "--port", min=1, max=65535, help="DICOM port to listen on."),
    allow: list[str] = typer.Option(
        [], "--allow", help="Calling AE title allowed to send (repeat the option for several)."
    ),
    allow_any_caller: bool = typer.Option(False, "--allow-any-caller", help="Accept any calling AE title."),
    send_to: str | None = typer.Option(
        None,
        "--send-to",
        help="Where results are C-STOREd, AE@host:port (default: written under --work-dir).",
    ),
    capacity: int = typer.Option(64, "--capacity", min=1, help="Images waiting at most; more are refused."),
    capture: bool = typer.Option(True, "--capture/--no-capture", help="Also send the annotated capture."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="onnxruntime intra-op threads."),
) -> None:
    """Receive radiographs (C-STORE: DX, CR, secondary captures), analyse each, and send the structured
    report and annotated capture to --send-to. Stops on Ctrl-C or SIGTERM, keeping waiting images for the
    next start."""
    _needs_dicom_extra()
    from bonefrac.infer.analysis import FractureAnalyser
    from bonefrac.pacs.node import DicomNode, NodeSettings, allowed_titles
    from bonefrac.pacs.sender import Destination
    from bonefrac.paths import choose_model

    logging.getLogger("pynetdicom").setLevel(logging.WARNING)  # several lines per association otherwise
    settings = NodeSettings(
        work_dir=work_dir,
        ae_title=ae_title,
        host=host,
        port=port,
        allowed_callers=allowed_titles(allow),
        allow_any_caller=allow_any_caller,
        destination=Destination.parse(send_to) if send_to else None,
        capacity=capacity,
        capture=capture,
    )
    analyser = FractureAnalyser.from_model(choose_model(weights).path, threads=threads)
    node = DicomNode(settings, analyser)
    try:
        node.start()
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror}); choose another with --port"
        ) from exc
    console.print(
        f"DICOM node {ae_title} on {host}:{node.port} with model {analyser.card.name} "
        f"{analyser.card.version}; "
        f"callers: {'any' if allow_any_caller else ', '.join(settings.allowed_callers)}; "
        f"results to {settings.destination or work_dir / 'results'}",
        highlight=False,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
        console.print("DICOM node stopped; waiting images stay in the journal for the next start")


@dicom_app.command("process")
def process(
    dicomweb: str = typer.Option(
        ..., "--dicomweb", help="DICOMweb root URL, e.g. http://pacs:8042/dicom-web"
    ),
    weights: Path | None = typer.Option(
        None,
        "--model",
        "--weights",
        help="ONNX model, model_card.json beside it (default: $BONEFRAC_MODEL_PATH, else the shipped model).",
    ),
    study: list[str] = typer.Option([], "--study", help="Study Instance UID to process (repeatable)."),
    since: str | None = typer.Option(
        None, "--since", help="Only studies from this date on (YYYYMMDD); default: every study found."
    ),
    watch: float | None = typer.Option(
        None, "--watch", min=1.0, help="Look for new studies every this many seconds until stopped."
    ),
    ledger: Path = typer.Option(
        Path("bonefrac-dicomweb.sqlite3"), "--ledger", help="Which studies were processed (once per study)."
    ),
    header: list[str] = typer.Option([], "--header", help="HTTP header 'Name: value' (repeatable)."),
    user: str | None = typer.Option(None, "--user", help="Basic-auth user name."),
    password: str | None = typer.Option(
        None, "--password", envvar="BONEFRAC_DICOMWEB_PASSWORD", help="Basic-auth password (or the env var)."
    ),
    capture: bool = typer.Option(True, "--capture/--no-capture", help="Also store the annotated capture."),
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="Process studies that failed before again."
    ),
    threads: int | None = typer.Option(None, "--threads", min=1, help="onnxruntime intra-op threads."),
) -> None:
    """Analyse the radiographs of studies on a DICOMweb server (QIDO-RS, WADO-RS) and store a structured
    report and an annotated capture into each study (STOW-RS). Exit code 1 when any study failed."""
    _needs_dicom_extra()
    import re

    from bonefrac.errors import BonefracError
    from bonefrac.infer.analysis import FractureAnalyser
    from bonefrac.pacs.dicomweb import Connection, DicomwebProcessor, parse_headers
    from bonefrac.pacs.ledger import StudyLedger
    from bonefrac.paths import choose_model

    if since is not None and not re.fullmatch(r"\d{8}", since):
        raise ConfigError(f"--since {since!r} is not a date as YYYYMMDD, e.g. 20261201")
    logging.getLogger("dicomweb_client").setLevel(logging.WARNING)  # one line per request otherwise
    connection = Connection(dicomweb, parse_headers(header), user, password)
    analyser = FractureAnalyser.from_model(choose_model(weights).path, threads=threads)
    processor = DicomwebProcessor(
        connection, analyser, StudyLedger(ledger), capture=capture, retry_failed=retry_failed
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    failed = 0
    try:
        while True:
            for study_uid in processor.find_studies(since, study):
                if stop.is_set():
                    break
                outcome = processor.process_study(study_uid)
                failed += bool(outcome.errors)
                console.print(
                    f"study {study_uid}: "
                    + (
                        f"skipped ({outcome.skipped})"
                        if outcome.skipped
                        else f"{outcome.images} radiograph(s), {outcome.results} result(s) stored"
                        + (
                            f", {len(outcome.errors)} not analysed: {'; '.join(outcome.errors)}"
                            if outcome.errors
                            else ""
                        )
                    ),
                    highlight=False,
                )
            if watch is None or stop.wait(watch):
                break
    except KeyboardInterrupt:
        pass
    finally:
        processor.ledger.close()
    if failed:
        raise BonefracError(f"{failed} stud(y/ies) had radiographs that could not be analysed (listed above)")
