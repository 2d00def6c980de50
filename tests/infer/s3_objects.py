"""Helpers for tests against a real S3-compatible server (moto, started by conftest's `s3_endpoint`)."""

from __future__ import annotations

import pytest


def s3_variables(endpoint: str) -> dict[str, str]:
    """The AWS variables a user sets for an S3-compatible endpoint (moto takes any key unless told not to)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bonefrac-test",
        "AWS_SECRET_ACCESS_KEY": "bonefrac-test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def point_at(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> dict[str, str]:
    """Set the AWS variables for `endpoint` (and unset those that would override them); returns those set."""
    variables = s3_variables(endpoint)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return variables


def put_objects(endpoint: str, bucket: str, objects: dict[str, bytes]) -> None:
    """Create `bucket` on the server and store each key's bytes (through boto3, which moto brings)."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials(endpoint))
    client.create_bucket(Bucket=bucket)
    for key, data in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=data)


def _boto_credentials(endpoint: str) -> dict[str, str]:
    variables = s3_variables(endpoint)
    return {
        "aws_access_key_id": variables["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": variables["AWS_SECRET_ACCESS_KEY"],
        "region_name": variables["AWS_DEFAULT_REGION"],
    }
