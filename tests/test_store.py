"""The object store: the same tests against the folder backend and against a real S3 API (moto's server)."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest

from activities.store import (
    DamagedObjectError,
    FolderStore,
    Kind,
    NotInStoreError,
    ObjectStore,
    StoreError,
    StoreUnavailableError,
    open_store,
    sha256_hex,
)
from activities.store.s3 import S3Store
from offerdesk.devserver import free_port
from tests.s3server import S3Server, s3_server

SAMPLES: dict[Kind, bytes] = {
    Kind.OFFER: b'{"schema_version":1,"partner":"EU"}',
    Kind.REPORT: b'{"findings":[]}',
    Kind.AUDIT: b'[{"actor":"staff@example.org","action":"approve"}]',
    Kind.LETTER: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\nletter\n%%EOF\n",
}


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with s3_server() as server:
        yield server


@pytest.fixture(scope="module")
def s3_client(s3: S3Server) -> Any:
    """One client for the module: building one costs a few hundred milliseconds, and clients are thread-safe."""
    return s3.client()


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "folder":
        return FolderStore(tmp_path / "store")
    server: S3Server = request.getfixturevalue("s3")
    client = request.getfixturevalue("s3_client")
    return S3Store(server.new_bucket(client), "desk", client=client)


@pytest.fixture
def folder(tmp_path: Path) -> FolderStore:
    return FolderStore(tmp_path / "store")


# What is really under the store's keys, read without going through the store.


def stored_names(store: ObjectStore, kind: Kind) -> list[str]:
    """Every file or key under the kind's folder or prefix, temporary files included."""
    if isinstance(store, FolderStore):
        base = store.root / kind.value
        return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()) if base.exists() else []
    assert isinstance(store, S3Store)
    pages = store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=f"desk/{kind.value}/")
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def read_raw(store: ObjectStore, kind: Kind, digest: str) -> bytes:
    if isinstance(store, FolderStore):
        return store.path(kind, digest).read_bytes()
    assert isinstance(store, S3Store)
    body = store.client.get_object(Bucket=store.bucket, Key=store.key(kind, digest))["Body"]
    with body:
        data: bytes = body.read()
    return data


def overwrite_raw(store: ObjectStore, kind: Kind, digest: str, data: bytes) -> None:
    if isinstance(store, FolderStore):
        store.path(kind, digest).write_bytes(data)
    else:
        assert isinstance(store, S3Store)
        store.client.put_object(Bucket=store.bucket, Key=store.key(kind, digest), Body=data)


def count_writes(store: ObjectStore, action: Callable[[], object]) -> int:
    """How many times `action` wrote the object: new inodes for the folder, PutObject calls for S3."""
    if isinstance(store, FolderStore):
        before = {p: p.stat().st_ino for p in store.root.rglob("*") if p.is_file()}
        action()
        after = {p: p.stat().st_ino for p in store.root.rglob("*") if p.is_file()}
        return sum(1 for p, ino in after.items() if before.get(p) != ino)
    assert isinstance(store, S3Store)
    calls: list[str] = []

    def record(**kwargs: Any) -> None:
        calls.append("PutObject")

    store.client.meta.events.register("before-call.s3.PutObject", record)
    try:
        action()
    finally:
        store.client.meta.events.unregister("before-call.s3.PutObject", record)
    return len(calls)


# Both backends.


CONTENT_KINDS = [k for k in Kind if k is not Kind.SIGNED]
"""Kinds stored under their content's SHA-256; SIGNED holds records under another object's digest."""


@pytest.mark.parametrize("kind", CONTENT_KINDS)
def test_every_kind_round_trips_under_its_sha256(store: ObjectStore, kind: Kind) -> None:
    data = SAMPLES[kind]
    digest = store.put(kind, data)
    assert digest == hashlib.sha256(data).hexdigest() == sha256_hex(data)
    assert store.get(kind, digest) == data
    assert read_raw(store, kind, digest) == data
    [name] = stored_names(store, kind)
    assert name.endswith(f"{digest[:2]}/{digest}{'.pdf' if kind is Kind.LETTER else '.json'}")
    for other in CONTENT_KINDS:
        if other is not kind:
            assert not store.exists(other, digest)


def test_putting_the_same_bytes_twice_is_one_object_and_cheap(store: ObjectStore) -> None:
    data = SAMPLES[Kind.OFFER]
    assert count_writes(store, lambda: store.put(Kind.OFFER, data)) == 1
    assert count_writes(store, lambda: store.put(Kind.OFFER, data)) == 0
    assert store.put(Kind.OFFER, data) == sha256_hex(data)
    assert len(stored_names(store, Kind.OFFER)) == 1
    if isinstance(store, FolderStore):
        assert list(store.root.rglob("*.part")) == []


def test_a_different_size_under_the_same_key_is_written_again(store: ObjectStore) -> None:
    data = SAMPLES[Kind.REPORT]
    digest = store.put(Kind.REPORT, data)
    overwrite_raw(store, Kind.REPORT, digest, data[:-1])
    assert count_writes(store, lambda: store.put(Kind.REPORT, data)) == 1
    assert store.get(Kind.REPORT, digest) == data


def test_an_unknown_object_is_not_in_the_store(store: ObjectStore) -> None:
    digest = sha256_hex(b"never stored")
    assert not store.exists(Kind.OFFER, digest)
    with pytest.raises(NotInStoreError, match=f"no offers object {digest}") as caught:
        store.get(Kind.OFFER, digest)
    assert store.location in str(caught.value)


@pytest.mark.parametrize(
    "bad_id",
    ["../../etc/passwd", "0" * 63, "0" * 65, "A" * 64, sha256_hex(b"x").upper(), "", f"{'0' * 62}/.", "é" * 64],
)
def test_a_malformed_id_is_refused_before_any_path_is_built(store: ObjectStore, bad_id: str) -> None:
    with pytest.raises(NotInStoreError, match="is not an object id"):
        store.get(Kind.LETTER, bad_id)
    with pytest.raises(NotInStoreError, match="is not an object id"):
        store.exists(Kind.LETTER, bad_id)


def test_damaged_bytes_are_reported(store: ObjectStore) -> None:
    digest = store.put(Kind.AUDIT, SAMPLES[Kind.AUDIT])
    overwrite_raw(store, Kind.AUDIT, digest, SAMPLES[Kind.AUDIT].replace(b"approve", b"decline"))
    with pytest.raises(DamagedObjectError, match=f"{digest} at .* is damaged"):
        store.get(Kind.AUDIT, digest)
    assert store.exists(Kind.AUDIT, digest)


def test_exists_after_put(store: ObjectStore) -> None:
    digest = sha256_hex(SAMPLES[Kind.LETTER])
    assert not store.exists(Kind.LETTER, digest)
    assert store.put(Kind.LETTER, SAMPLES[Kind.LETTER]) == digest
    assert store.exists(Kind.LETTER, digest)


def test_a_5_mb_object_round_trips(store: ObjectStore) -> None:
    data = os.urandom(5 * 1024 * 1024)
    digest = store.put(Kind.LETTER, data)
    assert store.get(Kind.LETTER, digest) == data


def test_concurrent_puts_of_the_same_bytes_make_one_object(store: ObjectStore) -> None:
    data = os.urandom(256 * 1024)
    start = threading.Barrier(8)

    def put() -> str:
        start.wait()
        return store.put(Kind.OFFER, data)

    with ThreadPoolExecutor(8) as pool:
        digests = list(pool.map(lambda _: put(), range(8)))
    assert set(digests) == {sha256_hex(data)}
    assert len(stored_names(store, Kind.OFFER)) == 1
    assert store.get(Kind.OFFER, digests[0]) == data


# The folder backend.


@pytest.mark.parametrize("umask", [0o022, 0o277], ids=["umask-022", "umask-277"])
def test_folders_and_files_are_private_whatever_the_umask(folder: FolderStore, umask: int) -> None:
    # 022 would leave 0755/0644 without an explicit mode; 277 strips the owner's own bits unless we chmod.
    previous = os.umask(umask)
    try:
        digest = folder.put(Kind.OFFER, SAMPLES[Kind.OFFER])
    finally:
        os.umask(previous)
    path = folder.path(Kind.OFFER, digest)
    for directory in (folder.root, folder.root / "offers", path.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_letters_in_the_legacy_folder_are_still_found(tmp_path: Path) -> None:
    legacy = tmp_path / "letters"
    data = SAMPLES[Kind.LETTER]
    digest = sha256_hex(data)
    (legacy / digest[:2]).mkdir(parents=True)
    (legacy / digest[:2] / f"{digest}.pdf").write_bytes(data)

    store = FolderStore(tmp_path / "store", legacy_letters=legacy)
    assert store.exists(Kind.LETTER, digest)
    assert store.get(Kind.LETTER, digest) == data
    assert not store.exists(Kind.OFFER, digest)
    with pytest.raises(NotInStoreError):
        store.get(Kind.OFFER, digest)
    assert not FolderStore(tmp_path / "store").exists(Kind.LETTER, digest)

    # The legacy folder is only read: a put goes under the store's root.
    store.put(Kind.LETTER, data)
    assert store.path(Kind.LETTER, digest).read_bytes() == data
    assert sorted(p.name for p in legacy.rglob("*")) == [digest[:2], f"{digest}.pdf"]

    damaged = sha256_hex(b"other letter")
    (legacy / damaged[:2]).mkdir()
    (legacy / damaged[:2] / f"{damaged}.pdf").write_bytes(b"not the other letter")
    with pytest.raises(DamagedObjectError, match=str(legacy)):
        store.get(Kind.LETTER, damaged)


def test_an_unwritable_store_is_unavailable_and_names_its_path(folder: FolderStore) -> None:
    folder.root.mkdir()
    (folder.root / "offers").write_bytes(b"a file where a folder should be")
    with pytest.raises(StoreUnavailableError, match="cannot write to the store at") as caught:
        folder.put(Kind.OFFER, SAMPLES[Kind.OFFER])
    assert str(folder.root) in str(caught.value)
    assert "OFFERDESK_STORE_URL" in str(caught.value)
    digest = sha256_hex(SAMPLES[Kind.OFFER])
    with pytest.raises(StoreUnavailableError, match=f"cannot read from the store at {folder.root}"):
        folder.get(Kind.OFFER, digest)
    with pytest.raises(StoreUnavailableError, match=f"cannot read from the store at {folder.root}"):
        folder.exists(Kind.OFFER, digest)
    # Other kinds are unaffected.
    assert folder.get(Kind.REPORT, folder.put(Kind.REPORT, SAMPLES[Kind.REPORT])) == SAMPLES[Kind.REPORT]


# The S3 backend.


def test_a_missing_bucket_is_unavailable_and_named(s3: S3Server, s3_client: Any) -> None:
    store = S3Store("no-such-bucket-offerdesk", "desk", client=s3_client)
    digest = sha256_hex(SAMPLES[Kind.OFFER])
    for attempt in (
        lambda: store.put(Kind.OFFER, SAMPLES[Kind.OFFER]),
        lambda: store.get(Kind.OFFER, digest),
        lambda: store.exists(Kind.OFFER, digest),
    ):
        with pytest.raises(StoreUnavailableError, match="no-such-bucket-offerdesk") as caught:
            attempt()
        assert "s3://no-such-bucket-offerdesk/desk" in str(caught.value)
        assert s3.endpoint in str(caught.value)
        assert "does not exist" in str(caught.value)


def test_keys_follow_the_layout_with_and_without_a_prefix(s3: S3Server, s3_client: Any) -> None:
    client = s3_client
    bucket = s3.new_bucket(client)
    data = SAMPLES[Kind.LETTER]
    digest = sha256_hex(data)
    S3Store(bucket, client=client).put(Kind.LETTER, data)
    S3Store(bucket, "/a/b/", client=client).put(Kind.LETTER, data)
    keys = sorted(obj["Key"] for obj in client.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == [f"a/b/letters/{digest[:2]}/{digest}.pdf", f"letters/{digest[:2]}/{digest}.pdf"]
    head = client.head_object(Bucket=bucket, Key=keys[1])
    assert head["ContentType"] == "application/pdf"


def test_open_store_s3_uses_the_standard_aws_variables(
    s3: S3Server, s3_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    raw = s3_client
    bucket = s3.new_bucket(raw)

    store = open_store(f"s3://{bucket}/pre/fix", tmp_path)
    assert isinstance(store, S3Store)
    assert store.location == f"s3://{bucket}/pre/fix"
    assert store.endpoint == s3.endpoint
    # botocore keeps retries={"max_attempts": 3} as 4 attempts in all: the first and three retries.
    assert store.client.meta.config.retries == {"total_max_attempts": 4, "mode": "standard"}
    assert store.client.meta.config.connect_timeout == 5

    data = SAMPLES[Kind.OFFER]
    digest = store.put(Kind.OFFER, data)
    response = raw.get_object(Bucket=bucket, Key=f"pre/fix/offers/{digest[:2]}/{digest}.json")
    assert response["Body"].read() == data
    assert response["ContentType"] == "application/json"


def test_an_endpoint_where_nothing_listens_is_unavailable_quickly() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=botocore.config.Config(
            retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=1
        ),
    )
    store = S3Store("offerdesk", client=client)
    digest = sha256_hex(b"x")
    started = time.monotonic()
    for attempt in (lambda: store.put(Kind.OFFER, b"x"), lambda: store.get(Kind.OFFER, digest)):
        with pytest.raises(StoreUnavailableError, match="s3://offerdesk") as caught:
            attempt()
        assert endpoint in str(caught.value)
    assert time.monotonic() - started < 10


# open_store


def test_no_url_means_a_folder_in_the_home(tmp_path: Path) -> None:
    for url in (None, ""):
        store = open_store(url, tmp_path)
        assert isinstance(store, FolderStore)
        assert store.root == tmp_path / "store"
        assert store.legacy_letters == tmp_path / "letters"
        assert store.location == str(tmp_path / "store")


def test_file_urls_and_paths_mean_a_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    cases = {
        f"file://{tmp_path}/a": tmp_path / "a",
        f"file://localhost{tmp_path}/b": tmp_path / "b",
        str(tmp_path / "c"): tmp_path / "c",
        "relative/d": tmp_path / "relative" / "d",
        "~/e": tmp_path / "home" / "e",
    }
    for url, root in cases.items():
        store = open_store(url, tmp_path / "unused")
        assert isinstance(store, FolderStore), url
        assert store.root == root.resolve(), url
        assert store.legacy_letters is None


def test_s3_urls_mean_a_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = open_store("s3://bucket", Path("/unused"))
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.location) == ("bucket", "", "s3://bucket")
    store = open_store("s3://bucket/some/prefix/", Path("/unused"))
    assert isinstance(store, S3Store)
    assert (store.bucket, store.prefix, store.location) == ("bucket", "some/prefix", "s3://bucket/some/prefix")


@pytest.mark.parametrize("url", ["ftp://x", "http://example.org/store", "s3://", "file://otherhost/x"])
def test_other_urls_are_refused_with_a_sentence(url: str) -> None:
    with pytest.raises(ValueError, match="OFFERDESK_STORE_URL must"):
        open_store(url, Path("/unused"))


def test_every_store_error_is_a_store_error() -> None:
    for error in (StoreUnavailableError, NotInStoreError, DamagedObjectError):
        assert issubclass(error, StoreError)
    assert not issubclass(NotInStoreError, StoreUnavailableError)
