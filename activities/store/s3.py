"""The scale-out backend: an S3-compatible bucket that every worker and portal can reach."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.config
from botocore.exceptions import BotoCoreError, ClientError

from activities.store.base import (
    Kind,
    NotInStoreError,
    ObjectStore,
    StoreUnavailableError,
    check_digest,
    check_intact,
    sha256_hex,
)

_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_ALREADY_THERE = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict", "409"})
_CONFIG = botocore.config.Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60)


class S3Store(ObjectStore):
    """Objects live at s3://{bucket}/{prefix}/{kind}/{digest[:2]}/{digest}{ext}.

    The endpoint and credentials come from the standard AWS variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...),
    which boto3 reads itself. The client is thread-safe, so one store serves every activity thread.
    """

    def __init__(self, bucket: str, prefix: str = "", client: Any | None = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        # A session of our own: boto3's default session is not safe to create clients from concurrently.
        self.client: Any = client if client is not None else boto3.session.Session().client("s3", config=_CONFIG)
        self.location = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"

    @property
    def endpoint(self) -> str:
        """The URL the client talks to, for messages (AWS's own unless AWS_ENDPOINT_URL says otherwise)."""
        return str(self.client.meta.endpoint_url)

    def key(self, kind: Kind, digest: str) -> str:
        """The object's key in the bucket."""
        check_digest(digest, self.location)
        name = f"{kind.value}/{digest[:2]}/{digest}{kind.extension}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def put(self, kind: Kind, data: bytes) -> str:
        digest = sha256_hex(data)
        key = self.key(kind, digest)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
            if head.get("ContentLength") == len(data):
                return digest
        except ClientError:
            pass  # not there, or HEAD not allowed without s3:ListBucket: put_object gives the authoritative answer
        except BotoCoreError as exc:
            raise self._unavailable("write to", exc) from exc
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=kind.content_type)
        except (ClientError, BotoCoreError) as exc:
            raise self._unavailable("write to", exc) from exc
        return digest

    def get(self, kind: Kind, digest: str) -> bytes:
        data = self.get_record(kind, digest)
        if data is None:
            raise NotInStoreError(f"there is no {kind.value} object {digest} in the store at {self.location}")
        return check_intact(data, digest, f"s3://{self.bucket}/{self.key(kind, digest)}")

    def exists(self, kind: Kind, digest: str) -> bool:
        key = self.key(kind, digest)
        # A one-byte GET rather than HEAD: a HEAD answers a bare 404 for a missing bucket too, and a missing bucket
        # must read as "store unavailable", not as "not stored yet".
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key, Range="bytes=0-0")
            response["Body"].close()
        except ClientError as exc:
            code = _error_code(exc)
            if code in _NOT_FOUND:
                return False
            if code == "InvalidRange":  # an empty object: it exists, it just has no first byte
                return True
            raise self._unavailable("read from", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("read from", exc) from exc
        return True

    def put_record(self, kind: Kind, key: str, data: bytes) -> bytes:
        name = self.key(kind, key)
        try:
            # If-None-Match: only if no object is there yet; the bucket says 412 (or 409 to a racing write) otherwise.
            self.client.put_object(
                Bucket=self.bucket, Key=name, Body=data, ContentType=kind.content_type, IfNoneMatch="*"
            )
            return data
        except ClientError as exc:
            if _error_code(exc) not in _ALREADY_THERE:
                raise self._unavailable("write to", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("write to", exc) from exc
        found = self.get_record(kind, key)
        return data if found is None else found

    def get_record(self, kind: Kind, key: str) -> bytes | None:
        name = self.key(kind, key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=name)
            with response["Body"] as body:
                data: bytes = body.read()
        except ClientError as exc:
            if _error_code(exc) in _NOT_FOUND:
                return None
            raise self._unavailable("read from", exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("read from", exc) from exc
        return data

    def _unavailable(self, verb: str, exc: Exception) -> StoreUnavailableError:
        code = _error_code(exc) if isinstance(exc, ClientError) else ""
        if code == "NoSuchBucket":
            advice = f"the bucket {self.bucket!r} does not exist there; create it or fix OFFERDESK_STORE_URL"
        elif code in {"AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
            advice = f"access to the bucket {self.bucket!r} was refused; check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"
            advice += " and the bucket's policy"
        else:
            advice = "check AWS_ENDPOINT_URL, the credentials and that the service is up"
        return StoreUnavailableError(
            f"cannot {verb} the store at {self.location} (endpoint {self.endpoint}): {exc}; {advice}"
        )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
