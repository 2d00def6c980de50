"""`bonefrac dicom listen` (a DICOM node) and `bonefrac dicom process` (studies on a DICOMweb server)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer
from rich.console import Console

from bonefrac.errors import ConfigError

app = typer.Typer(
    help="Work inside a hospital's imaging network: a DICOM node, or studies on a DICOMweb server.",
    no_args_is_help=True,
)
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


@app.command("listen")
def listen(
    weights: Path = typer.Option(..., "--weights", help="ONNX model (model_card.json beside it is used)."),
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
    analyser = FractureAnalyser.from_model(weights, threads=threads)
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
