"""GET /docs: Swagger UI with its assets served by the service itself (from the swagger-ui-bundle package),
so the docs work offline and on networks that block public CDNs."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

ASSETS_PATH = "/docs/assets"
router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API docs",
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
    )


def assets_folder() -> str:
    """The folder of Swagger UI's files inside the installed swagger-ui-bundle package."""
    from swagger_ui_bundle import swagger_ui_path

    return str(swagger_ui_path)
