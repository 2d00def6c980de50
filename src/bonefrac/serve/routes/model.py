"""GET /v1/model: the served model's card, classifier and operating points; GET /v1/model/card: its readable
card (MODEL_CARD.md)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from bonefrac.infer.result_schema import model_info, operating_points_info
from bonefrac.serve.deps import ClientKey, ServiceDep
from bonefrac.serve.routes.common import ERRORS
from bonefrac.serve.schemas import ErrorBody, ModelCardResponse

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


@router.get(
    "/model/card",
    response_class=Response,
    responses={
        200: {"content": {"text/markdown": {}}, "description": "MODEL_CARD.md"},
        404: {"model": ErrorBody, "description": "No MODEL_CARD.md beside the served model"},
        **ERRORS,
    },
)
async def model_card_markdown(service: ServiceDep, _key: ClientKey) -> Response:
    """The served model's readable card (MODEL_CARD.md beside the weights), as Markdown."""
    return Response(service.model_card_markdown(), media_type="text/markdown; charset=utf-8")
