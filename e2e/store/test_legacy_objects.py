"""GetObjectAttributes of objects written by earlier versions of the store, made here by writing
their metadata as those versions did and restarting the store on the same directory:

- a multipart object from before Complete linked the part files, whose bytes are one file and
  whose part sizes were never kept: ObjectParts gives the count only (no `Part` element, as
  S3 answers for an object whose parts it cannot list), never an empty list that contradicts it;
- a multipart object from before part records were kept (each part's file, but no number, ETag
  or checksum): its parts are listed numbered from 1 with their sizes and no checksums;
- an object that is not multipart has no ObjectParts at all, as the S3 reference says."""

import base64
import hashlib
import json
import os

from conftest import BUCKET

MIB = 1 << 20
PART = 5 * MIB


def object_meta_path(data_dir, key):
    return data_dir / "buckets" / BUCKET / "objects" / f"{hashlib.sha256(key.encode()).hexdigest()}.json"


def multipart(s3, key, chunks):
    upload = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ChecksumAlgorithm="SHA256")["UploadId"]
    parts = []
    for number, chunk in enumerate(chunks, 1):
        sha = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        etag = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload, PartNumber=number, Body=chunk,
                              ChecksumSHA256=sha)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag, "ChecksumSHA256": sha})
    s3.complete_multipart_upload(Bucket=BUCKET, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})


def rewrite(data_dir, key, change):
    path = object_meta_path(data_dir, key)
    meta = json.loads(path.read_text())
    change(meta, path.parent)
    path.write_text(json.dumps(meta))


def without_part_records(meta, _objects):
    for extent in meta["extents"]:
        for field in ("part_number", "etag", "checksum"):
            extent.pop(field, None)


def in_one_file(meta, objects):
    # As Complete did before it linked part files: the parts' bytes copied into one file.
    name = f".{os.urandom(8).hex()}.data"
    with open(objects / name, "wb") as out:
        for extent in meta["extents"]:
            out.write((objects / extent["data"]).read_bytes())
            (objects / extent["data"]).unlink()
    meta["data"] = name
    del meta["extents"]
    meta.pop("upload_id", None)


def test_object_attributes_of_objects_from_earlier_versions(start_store, tmp_path):
    data_dir = tmp_path / "data"
    store = start_store(data_dir=data_dir)
    s3 = store.client()
    chunks = [os.urandom(PART), os.urandom(PART), os.urandom(1000)]
    for key in ("records", "no-records", "one-file"):
        multipart(s3, key, chunks)
    s3.put_object(Bucket=BUCKET, Key="single", Body=b"single")
    store.stop()
    rewrite(data_dir, "no-records", without_part_records)
    rewrite(data_dir, "one-file", in_one_file)

    s3 = start_store(data_dir=data_dir).client()
    whole = b"".join(chunks)
    attributes = ["ETag", "ObjectParts", "ObjectSize"]
    for key in ("records", "no-records", "one-file"):
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == whole, key
        answer = s3.get_object_attributes(Bucket=BUCKET, Key=key, ObjectAttributes=attributes)
        assert answer["ObjectSize"] == len(whole) and answer["ETag"].endswith("-3"), answer
    # Kept part records: every part with its checksum.
    records = s3.get_object_attributes(Bucket=BUCKET, Key="records", ObjectAttributes=attributes)["ObjectParts"]
    assert [(p["PartNumber"], p["Size"], "ChecksumSHA256" in p) for p in records["Parts"]] == [
        (1, PART, True), (2, PART, True), (3, 1000, True)]
    # Part files without records: numbered from 1, sizes from the files, no checksums.
    files = s3.get_object_attributes(Bucket=BUCKET, Key="no-records", ObjectAttributes=attributes)["ObjectParts"]
    assert files["TotalPartsCount"] == 3
    assert [(p["PartNumber"], p["Size"], "ChecksumSHA256" in p) for p in files["Parts"]] == [
        (1, PART, False), (2, PART, False), (3, 1000, False)]
    # One file, part sizes unknown: the count only.
    one = s3.get_object_attributes(Bucket=BUCKET, Key="one-file", ObjectAttributes=attributes)["ObjectParts"]
    assert one == {"TotalPartsCount": 3}, one
    # Not multipart: no ObjectParts.
    single = s3.get_object_attributes(Bucket=BUCKET, Key="single", ObjectAttributes=attributes)
    assert "ObjectParts" not in single and single["ObjectSize"] == 6
