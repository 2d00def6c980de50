"""GET /v1/model: the served model's card, classifier and operating points."""

from __future__ import annotations

from fastapi import APIRouter

from bonefrac.infer.result_schema import model_info, operating_points_info
from bonefrac.serve.deps import ClientKey, ServiceDep
from bonefrac.serve.routes.common import ERRORS
from bonefrac.serve.schemas import ModelCardResponse

router = APIRouter(prefix="/v1", tags=["model"])


@router.get("/model", response_model=ModelCardResponse, responses=ERRORS)
async def model_card(service: ServiceDep, _key: ClientKey) -> ModelCardResponse:
    """The served model's card (classes, input size, operating points, metrics, stand-in flag), its
    classifier and the two operating points the answers use."""
    analyser = service.analyser
    return ModelCardResponse(
        sha256=analyser.detector.sha256,
        card=analyser.card.model_dump(mode="json"),
        classifier=model_info(analyser).classifier,
        operating_points=operating_points_info(analyser),
    )
