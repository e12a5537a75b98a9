from __future__ import annotations

from pathlib import Path

import pytest

from palimpsest.errors import NotStored, StorageError
from palimpsest.storage import BlobStore, LocalStore, open_store


@pytest.mark.s3
def test_put_get_range_list_delete(store: BlobStore) -> None:
    store.put("host/abc/1.warc.gz", b"0123456789")
    store.put("host/abc/2.warc.gz", b"x")
    store.put("other/z.warc.gz", b"y")
    assert store.get("host/abc/1.warc.gz") == b"0123456789"
    assert store.get("host/abc/1.warc.gz", start=3, length=4) == b"3456"
    assert sorted(store.keys("host/")) == ["host/abc/1.warc.gz", "host/abc/2.warc.gz"]
    store.delete("host/abc/1.warc.gz")
    store.delete("host/abc/1.warc.gz")  # deleting twice is fine
    with pytest.raises(NotStored):  # (a StorageError that says the object is not there)
        store.get("host/abc/1.warc.gz")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a"])
def test_unsafe_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(StorageError):
        LocalStore(tmp_path).put(key, b"x")


def test_failed_local_write_leaves_no_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    (tmp_path / "blocker").write_text("a file where a folder should be")
    with pytest.raises(StorageError):
        store.put("blocker/x.warc.gz", b"data")
    (tmp_path / "blocker").unlink()
    assert list(tmp_path.rglob("*")) == []


def test_storage_url_selects_the_store(tmp_path: Path) -> None:
    assert isinstance(open_store(str(tmp_path)), LocalStore)
    assert type(open_store("s3://bucket/prefix")).__name__ == "S3Store"
    with pytest.raises(StorageError, match="unsupported"):
        open_store("gs://bucket")
