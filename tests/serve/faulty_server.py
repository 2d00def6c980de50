"""A real server process whose engine fails with an unexpected error on every analysis after the warm-up:
`python tests/serve/faulty_server.py --port N` (settings from BONEFRAC_* variables)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import ScriptedEngine  # noqa: E402

from bonefrac.records import Detections, Radiograph  # noqa: E402
from bonefrac.serve.app import create_app  # noqa: E402
from bonefrac.serve.json_logging import configure_service_logging  # noqa: E402
from bonefrac.serve.settings import load_settings  # noqa: E402


class FailingEngine(ScriptedEngine):
    def predict(self, image: Radiograph, conf: float | None = None, iou: float = 0.7) -> Detections:
        if self.calls >= 1:
            raise RuntimeError("an engine fault nobody planned for")
        return super().predict(image, conf, iou)


def main() -> None:
    port = int(sys.argv[sys.argv.index("--port") + 1])
    settings = load_settings()
    configure_service_logging(settings.log_json)
    app = create_app(settings, engine=FailingEngine())  # type: ignore[arg-type]
    try:
        from bonefrac.serve.server import run_server
    except ImportError:  # a service without its own server settings
        import uvicorn

        uvicorn.run(app, host="127.0.0.1", port=port, log_config=None)
        return
    run_server(app, settings, "127.0.0.1", port)


if __name__ == "__main__":
    main()
