"""Images in an S3-compatible object store (AWS S3, MinIO, Ceph): list a prefix, read one object's bytes.

    store = ObjectStore.from_environment()       # AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION
    uris = list_images("s3://archive/wrist/", store)
    data = read_object(store.filesystem(), uris[0])

Through pyarrow's filesystem layer (`pyarrow.fs.S3FileSystem`, what Ray Data reads with). Credentials come
from the AWS SDK's usual chain in the process that connects (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
AWS_SESSION_TOKEN, AWS_PROFILE and ~/.aws, an instance or pod role); they are never copied into records.
A prefix yields the objects below it whose suffix is an accepted image suffix (`batch.IMAGE_SUFFIXES`), hidden
keys left out, as a local folder is searched; a URI naming one object yields it whatever its name.
Listing problems (no such bucket, an endpoint that does not answer, refused credentials) are ConfigErrors in
one line naming the URI and what to check.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from bonefrac.errors import ConfigError
from bonefrac.infer.batch import IMAGE_SUFFIXES

S3_SCHEME = "s3://"
CONNECT_TIMEOUT_S = 10.0
MAX_ATTEMPTS = 3  # the AWS SDK's standard retry strategy, so a wrong endpoint fails within seconds
CREDENTIAL_HINT = "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's permissions"
# pyarrow's wording (the AWS SDK's error names) for each kind of listing problem
_UNREACHABLE = ("NETWORK_CONNECTION", "curlCode", "Could not connect", "Couldn't resolve", "Timeout")
_REFUSED = ("ACCESS_DENIED", "INVALID_ACCESS_KEY_ID", "SIGNATURE_DOES_NOT_MATCH", "InvalidAccessKeyId", "403")


def is_object_uri(source: str | os.PathLike[str]) -> bool:
    """True for an `s3://` URI."""
    return str(source).startswith(S3_SCHEME)


@dataclass(frozen=True)
class ObjectInput:
    """One object to predict on, and the stem its outputs get (unique within the batch)."""

    uri: str
    output_stem: str

    @property
    def source(self) -> str:
        """The name results carry: the object's URI."""
        return self.uri


@dataclass(frozen=True)
class ObjectStore:
    """Where the objects are served: the endpoint (None: AWS) and the region (None: the SDK's default)."""

    endpoint: str | None = None
    region: str | None = None

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> ObjectStore:
        """AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, AWS_REGION or AWS_DEFAULT_REGION (as the AWS CLI)."""
        env = os.environ if environ is None else environ
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None
        return cls(endpoint=endpoint, region=region)

    def describe(self) -> str:
        return self.endpoint or "AWS S3 (AWS_ENDPOINT_URL not set)"

    def filesystem(self) -> Any:
        """A pyarrow S3FileSystem for this store; credentials from this process's AWS SDK chain."""
        try:
            from pyarrow.fs import AwsStandardS3RetryStrategy, S3FileSystem
        except ImportError as exc:
            raise ConfigError(
                "s3:// sources need pyarrow with S3 support; install it with pip install 'bonefrac[ray]'"
            ) from exc
        options: dict[str, Any] = {}
        if self.endpoint:
            options["endpoint_override"] = self.endpoint
        if self.region:
            options["region"] = self.region
        return S3FileSystem(
            connect_timeout=CONNECT_TIMEOUT_S,
            retry_strategy=AwsStandardS3RetryStrategy(max_attempts=MAX_ATTEMPTS),
            **options,
        )


def object_path(uri: str) -> str:
    """`bucket/key` of an `s3://bucket/key` URI (no trailing slash); ConfigError without a bucket."""
    if not is_object_uri(uri):
        raise ConfigError(f"{uri}: not an object-store URI; expected s3://BUCKET/PREFIX")
    path = uri[len(S3_SCHEME) :].strip("/")
    if not path:
        raise ConfigError(f"{uri}: no bucket named; expected s3://BUCKET/PREFIX")
    return path


def _is_image_key(key: str, below: str) -> bool:
    relative = PurePosixPath(key).relative_to(below) if below else PurePosixPath(key)
    hidden = any(part.startswith(".") for part in relative.parts)
    return not hidden and PurePosixPath(key).suffix.lower() in IMAGE_SUFFIXES


def list_images(uri: str, store: ObjectStore) -> list[str]:
    """The image objects `uri` names, as sorted `s3://` URIs: the object itself, or the images below a prefix.

    Raises ConfigError (one line: the URI, what went wrong, what to check) when the store cannot be listed or
    nothing is there."""
    from pyarrow.fs import FileSelector, FileType

    path = object_path(uri)
    filesystem = store.filesystem()
    try:
        info = filesystem.get_file_info(path)
        if info.type == FileType.File:
            return [S3_SCHEME + path]
        if info.type == FileType.NotFound:
            bucket = path.split("/", 1)[0]
            if filesystem.get_file_info(bucket).type == FileType.NotFound:
                raise ConfigError(
                    f"{uri}: no bucket {bucket!r} at {store.describe()}; "
                    "check the bucket name and AWS_ENDPOINT_URL"
                )
            raise ConfigError(f"{uri}: no object or prefix of that name in bucket {bucket!r}")
        listed = filesystem.get_file_info(FileSelector(path, recursive=True))
    except OSError as exc:
        raise listing_error(uri, store, exc) from exc
    below = path.split("/", 1)[1] if "/" in path else ""
    keys = sorted(
        entry.path
        for entry in listed
        if entry.type == FileType.File and _is_image_key(entry.path.split("/", 1)[1], below)
    )
    if not keys:
        suffixes = " ".join(sorted(IMAGE_SUFFIXES))
        raise ConfigError(f"{uri}: no image objects below this prefix (suffixes taken: {suffixes})")
    return [S3_SCHEME + key for key in keys]


def listing_error(uri: str, store: ObjectStore, exc: OSError) -> ConfigError:
    """A one-line ConfigError for a failed listing: the URI, the store's answer, and what to check."""
    said = " ".join(str(exc).split())
    where = store.describe()
    if any(word in said for word in _UNREACHABLE):
        what = f"cannot reach the object store at {where}"
        check = "AWS_ENDPOINT_URL (scheme, host and port) and that the object store is running"
    elif "NO_SUCH_BUCKET" in said:
        what, check = f"no such bucket at {where}", "the bucket name and AWS_ENDPOINT_URL"
    elif any(word in said for word in _REFUSED):
        what, check = f"the object store at {where} refused the request", CREDENTIAL_HINT
    else:
        what, check = f"cannot list it at {where}", f"AWS_ENDPOINT_URL and {CREDENTIAL_HINT}"
    return ConfigError(f"{uri}: {what} ({said}); check {check}")


def read_object(filesystem: Any, uri: str) -> bytes:
    """The bytes of one object; raises OSError (FileNotFoundError for a missing key) as pyarrow does."""
    with filesystem.open_input_stream(object_path(uri)) as stream:
        data: bytes = stream.read()
    return data
