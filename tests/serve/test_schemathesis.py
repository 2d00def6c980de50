"""Property-based requests generated from the OpenAPI schema (schemathesis): no 5xx, every 4xx has the error
body. Driven through hypothesis directly (bounded examples per operation), without the pytest plugin."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

EXAMPLES_PER_OPERATION = 25


def test_schemathesis_no_server_error_on_any_operation(client_for):
    client = client_for(max_upload_bytes=100_000)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    wanted = {"POST /v1/detect", "POST /v1/detect/annotated", "GET /v1/model"}
    assert {op.label for op in operations} >= wanted
    seen: dict[str, set[int]] = {}
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck)
            )
            def check(case) -> None:
                response = case.call()
                case.validate_response(response, checks=[not_a_server_error])
                seen.setdefault(case.operation.label, set()).add(response.status_code)
                if 400 <= response.status_code < 500:
                    body = response.json()
                    assert set(body) == {"error", "request_id"}, body
                    assert body["error"]["code"] and body["error"]["message"]

            try:
                check()
            except Unsatisfiable:
                # no parameters to break: GET routes have no negative cases
                assert mode == GenerationMode.NEGATIVE and operation.method.upper() == "GET", operation.label
    assert all(code < 500 for codes in seen.values() for code in codes), seen
    assert 422 in seen["POST /v1/detect"]  # negative cases really reached validation


def test_schemathesis_successful_answers_match_the_documented_schema(client_for, scripted_pair, samples):
    """Generated uploads are never images, so the 200 answers are checked here, on both kinds of card."""
    engine, classifier = scripted_pair()
    for client in (client_for(), client_for(engine=engine, classifier=classifier)):
        schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
        for data in ({}, {"threshold": "0.15"}):
            answer = client.post("/v1/detect", files={"file": samples.dicom()}, data=data)
            assert answer.status_code == 200 and answer.json()["detections"]
            schema["/v1/detect"]["POST"].validate_response(answer)
        schema["/v1/model"]["GET"].validate_response(client.get("/v1/model"))
