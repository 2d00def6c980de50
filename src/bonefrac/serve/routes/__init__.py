"""HTTP routes, one module-level router per resource; the work happens in Service, errors map in problems."""

from __future__ import annotations

from fastapi import APIRouter

from bonefrac.serve.routes import detect, docs, model, ops

ROUTERS: tuple[APIRouter, ...] = (detect.router, model.router, ops.router, docs.router)

__all__ = ["ROUTERS"]
