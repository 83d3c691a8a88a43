"""A large object that is not in the page cache is read past it (O_DIRECT) unless the store is
started with --buffered-reads; an object downloaded a second time goes through the cache, so one
read again and again ends up served from memory. Either way every byte comes back. What the page
cache holds is asked of the kernel itself: a read flagged RWF_NOWAIT answers only from the cache."""

import os

import pytest

from conftest import BUCKET

MIB = 2**20
SIZE = 12 * MIB + 5


def object_file(store, size):
    """The file under the store's data folder that holds the object's bytes."""
    found = [os.path.join(root, name)
             for root, _, names in os.walk(store.data_dir) for name in names
             if os.path.getsize(os.path.join(root, name)) == size]
    assert len(found) == 1, found
    return found[0]


def in_cache(path, offset):
    """Whether the kernel holds the page at `offset` in its page cache. Asked on a handle read at
    random, a miss reads in that one page and nothing around it: ask about each page once."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
        os.preadv(fd, [bytearray(1)], offset, os.RWF_NOWAIT)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def drop_from_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def pages_inside(first, count):
    """Pages well inside the MiB from `first` on, away from the edges of the store's reads (it
    reads 256 KiB, then 512 KiB at a time, and asks about each read's second page)."""
    return [(first + i) * MIB + 300 * 1024 for i in range(count)]


@pytest.mark.parametrize("args, direct", [((), True), (("--buffered-reads",), False)],
                         ids=["default", "buffered-reads"])
def test_a_cold_large_object_is_read_past_the_page_cache_unless_told_not_to(start_store, args, direct):
    if not hasattr(os, "RWF_NOWAIT"):
        pytest.skip("this Python cannot ask the kernel what it has cached")
    store = start_store(list(args))
    s3 = store.client(read_timeout=60)
    body = os.urandom(SIZE)
    s3.put_object(Bucket=BUCKET, Key="big", Body=body)
    path = object_file(store, SIZE)
    drop_from_cache(path)
    if in_cache(path, SIZE - 1):
        pytest.skip("this file system keeps its files in memory")

    assert s3.get_object(Bucket=BUCKET, Key="big")["Body"].read() == body
    cached = [in_cache(path, at) for at in pages_inside(1, 5)]
    if direct:
        # A probe that misses reads its page in; should that read finish before the probe looks
        # (the store's probe or this test's), that page looks cached. Rare: most are not.
        assert sum(cached) * 2 < len(cached), cached
    else:
        assert cached == [True] * 5

    # Read again: through the cache now, whichever way the first read went.
    assert s3.get_object(Bucket=BUCKET, Key="big")["Body"].read() == body
    assert [in_cache(path, at) for at in pages_inside(6, 5)] == [True] * 5

    # A range that starts and ends inside blocks comes back exact from a cold file as well.
    drop_from_cache(path)
    got = s3.get_object(Bucket=BUCKET, Key="big", Range=f"bytes={MIB + 7}-{9 * MIB + 4095}")["Body"].read()
    assert got == body[MIB + 7: 9 * MIB + 4096]
