//! What to sign: [`PresignRequest`] and one constructor per S3 action hoist uses.

use std::borrow::Cow;
use std::time::Duration;

use super::Method;

/// The payload hash presigned S3 URLs use: the body is not part of the signature.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The SHA-256 of an empty body, for signers that hash the (empty) payload.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// A request's lifetime when none is set (the part-URL TTL of [`crate::ttl::TtlPolicy`]).
pub const DEFAULT_EXPIRES: Duration = Duration::from_secs(3600);

/// One request to presign: method, bucket and key, query parameters, extra signed headers,
/// payload hash and lifetime. Strings are borrowed when they can be, so signing a part URL
/// copies nothing it does not have to.
///
/// An empty `bucket` addresses the endpoint itself (the key becomes the whole path); an empty
/// `key` addresses the bucket.
///
/// ```
/// use std::time::Duration;
/// use hoist_core::presign::PresignRequest;
/// let req = PresignRequest::upload_part("media", "videos/big.mp4", "upload-1", 7)
///     .content_length(8 << 20)
///     .expires_in(Duration::from_secs(900));
/// assert_eq!(req.query[0], ("partNumber".into(), "7".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PresignRequest<'a> {
    /// The HTTP method.
    pub method: Method,
    /// The bucket, or empty for the endpoint's root.
    pub bucket: Cow<'a, str>,
    /// The object key (raw, not encoded), or empty for a bucket-level call.
    pub key: Cow<'a, str>,
    /// Query parameters (raw, not encoded). A parameter without a value has an empty value.
    pub query: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Extra headers to sign besides `host`; names lower-case. The sender must send them exactly.
    pub headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The payload hash to sign: [`UNSIGNED_PAYLOAD`] by default, or a hex SHA-256.
    pub payload_hash: Cow<'a, str>,
    /// How long the URL stays valid: 1 s to 7 days.
    pub expires: Duration,
}

/// The decimal numbers 1 to 10,000 (S3's part numbers) written one after the other.
static PART_NUMBERS: &str = {
    const LEN: usize = 9 + 90 * 2 + 900 * 3 + 9000 * 4 + 5;
    static BYTES: [u8; LEN] = {
        let mut t = [0u8; LEN];
        let (mut n, mut at) = (1u32, 0);
        while n <= 10_000 {
            let digits = part_digits(n);
            let mut i = digits;
            let mut v = n;
            while i > 0 {
                i -= 1;
                t[at + i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
            at += digits;
            n += 1;
        }
        t
    };
    match std::str::from_utf8(&BYTES) {
        Ok(s) => s,
        Err(_) => panic!("ASCII digits"),
    }
};

const fn part_digits(n: u32) -> usize {
    match n {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        _ => 5,
    }
}

/// A part number as text, borrowed from [`PART_NUMBERS`] for S3's 1 to 10,000.
fn part_number_text(n: u32) -> Cow<'static, str> {
    let start = match n {
        1..=9 => n - 1,
        10..=99 => 9 + 2 * (n - 10),
        100..=999 => 189 + 3 * (n - 100),
        1000..=9999 => 2889 + 4 * (n - 1000),
        10_000 => 38_889,
        _ => return Cow::Owned(n.to_string()),
    } as usize;
    Cow::Borrowed(&PART_NUMBERS[start..start + part_digits(n)])
}

/// Query of a ListMultipartUploads call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUploadsParams {
    /// Only uploads whose key starts with this.
    pub prefix: Option<String>,
    /// Continue after this key (pagination: the previous page's `NextKeyMarker`).
    pub key_marker: Option<String>,
    /// With `key_marker`, continue after this upload id (`NextUploadIdMarker`).
    pub upload_id_marker: Option<String>,
    /// Page size, at most 1,000.
    pub max_uploads: Option<u32>,
    /// Group keys by this delimiter.
    pub delimiter: Option<String>,
}

/// Query of a ListObjectsV2 call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListObjectsParams {
    /// Only keys that start with this.
    pub prefix: Option<String>,
    /// The previous page's `NextContinuationToken`.
    pub continuation_token: Option<String>,
    /// Start after this key.
    pub start_after: Option<String>,
    /// Page size, at most 1,000.
    pub max_keys: Option<u32>,
    /// Group keys by this delimiter.
    pub delimiter: Option<String>,
}

impl<'a> PresignRequest<'a> {
    /// A request with no query, no extra headers, an unsigned payload and the default lifetime.
    pub fn new(
        method: Method,
        bucket: impl Into<Cow<'a, str>>,
        key: impl Into<Cow<'a, str>>,
    ) -> Self {
        PresignRequest {
            method,
            bucket: bucket.into(),
            key: key.into(),
            query: Vec::new(),
            headers: Vec::new(),
            payload_hash: Cow::Borrowed(UNSIGNED_PAYLOAD),
            expires: DEFAULT_EXPIRES,
        }
    }

    /// PutObject: a single PUT of the whole object.
    pub fn put_object(bucket: impl Into<Cow<'a, str>>, key: impl Into<Cow<'a, str>>) -> Self {
        Self::new(Method::Put, bucket, key)
    }

    /// UploadPart: `PUT ?partNumber=n&uploadId=id`.
    pub fn upload_part(
        bucket: impl Into<Cow<'a, str>>,
        key: impl Into<Cow<'a, str>>,
        upload_id: impl Into<Cow<'a, str>>,
        part_number: u32,
    ) -> Self {
        let mut r = Self::new(Method::Put, bucket, key);
        r.query.reserve_exact(2);
        r.query
            .push((Cow::Borrowed("partNumber"), part_number_text(part_number)));
        r.query.push((Cow::Borrowed("uploadId"), upload_id.into()));
        r
    }

    /// GetObject.
    pub fn get_object(bucket: impl Into<Cow<'a, str>>, key: impl Into<Cow<'a, str>>) -> Self {
        Self::new(Method::Get, bucket, key)
    }

    /// HeadObject.
    pub fn head_object(bucket: impl Into<Cow<'a, str>>, key: impl Into<Cow<'a, str>>) -> Self {
        Self::new(Method::Head, bucket, key)
    }

    /// GetObjectAttributes: `GET ?attributes`, the attributes named in a signed header
    /// (see [`crate::s3::OBJECT_ATTRIBUTES`]).
    pub fn get_object_attributes(
        bucket: impl Into<Cow<'a, str>>,
        key: impl Into<Cow<'a, str>>,
        attributes: impl Into<Cow<'a, str>>,
    ) -> Self {
        Self::new(Method::Get, bucket, key)
            .query_param("attributes", "")
            .header("x-amz-object-attributes", attributes)
    }

    /// CreateMultipartUpload: `POST ?uploads`.
    pub fn create_multipart_upload(
        bucket: impl Into<Cow<'a, str>>,
        key: impl Into<Cow<'a, str>>,
    ) -> Self {
        Self::new(Method::Post, bucket, key).query_param("uploads", "")
    }

    /// CompleteMultipartUpload: `POST ?uploadId=id` with the part list as the body.
    pub fn complete_multipart_upload(
        bucket: impl Into<Cow<'a, str>>,
        key: impl Into<Cow<'a, str>>,
        upload_id: impl Into<Cow<'a, str>>,
    ) -> Self {
        Self::new(Method::Post, bucket, key).query_param("uploadId", upload_id)
    }

    /// AbortMultipartUpload: `DELETE ?uploadId=id`.
    pub fn abort_multipart_upload(
        bucket: impl Into<Cow<'a, str>>,
        key: impl Into<Cow<'a, str>>,
        upload_id: impl Into<Cow<'a, str>>,
    ) -> Self {
        Self::new(Method::Delete, bucket, key).query_param("uploadId", upload_id)
    }

    /// ListParts: `GET ?uploadId=id[&part-number-marker=m][&max-parts=n]`.
    pub fn list_parts(
        bucket: impl Into<Cow<'a, str>>,
        key: impl Into<Cow<'a, str>>,
        upload_id: impl Into<Cow<'a, str>>,
        part_number_marker: Option<u32>,
        max_parts: Option<u32>,
    ) -> Self {
        let mut r = Self::new(Method::Get, bucket, key).query_param("uploadId", upload_id);
        if let Some(m) = part_number_marker {
            r = r.query_param("part-number-marker", m.to_string());
        }
        if let Some(n) = max_parts {
            r = r.query_param("max-parts", n.to_string());
        }
        r
    }

    /// ListMultipartUploads: `GET ?uploads` with pagination and filters.
    pub fn list_multipart_uploads(
        bucket: impl Into<Cow<'a, str>>,
        params: &ListUploadsParams,
    ) -> Self {
        let mut r = Self::new(Method::Get, bucket, "").query_param("uploads", "");
        r.push_opt("prefix", params.prefix.as_deref());
        r.push_opt("key-marker", params.key_marker.as_deref());
        r.push_opt("upload-id-marker", params.upload_id_marker.as_deref());
        r.push_opt("delimiter", params.delimiter.as_deref());
        if let Some(n) = params.max_uploads {
            r = r.query_param("max-uploads", n.to_string());
        }
        r
    }

    /// GetBucketCors: `GET ?cors`.
    pub fn get_bucket_cors(bucket: impl Into<Cow<'a, str>>) -> Self {
        Self::new(Method::Get, bucket, "").query_param("cors", "")
    }

    /// PutBucketCors: `PUT ?cors` with the configuration as the body (and Content-MD5).
    pub fn put_bucket_cors(bucket: impl Into<Cow<'a, str>>) -> Self {
        Self::new(Method::Put, bucket, "").query_param("cors", "")
    }

    /// GetBucketLifecycleConfiguration: `GET ?lifecycle`.
    pub fn get_bucket_lifecycle(bucket: impl Into<Cow<'a, str>>) -> Self {
        Self::new(Method::Get, bucket, "").query_param("lifecycle", "")
    }

    /// PutBucketLifecycleConfiguration: `PUT ?lifecycle` with the rules as the body (and Content-MD5).
    pub fn put_bucket_lifecycle(bucket: impl Into<Cow<'a, str>>) -> Self {
        Self::new(Method::Put, bucket, "").query_param("lifecycle", "")
    }

    /// ListObjectsV2: `GET ?list-type=2` with pagination and filters.
    pub fn list_objects_v2(bucket: impl Into<Cow<'a, str>>, params: &ListObjectsParams) -> Self {
        let mut r = Self::new(Method::Get, bucket, "").query_param("list-type", "2");
        r.push_opt("prefix", params.prefix.as_deref());
        r.push_opt("continuation-token", params.continuation_token.as_deref());
        r.push_opt("start-after", params.start_after.as_deref());
        r.push_opt("delimiter", params.delimiter.as_deref());
        if let Some(n) = params.max_keys {
            r = r.query_param("max-keys", n.to_string());
        }
        r
    }

    /// HeadBucket.
    pub fn head_bucket(bucket: impl Into<Cow<'a, str>>) -> Self {
        Self::new(Method::Head, bucket, "")
    }

    /// Adds a query parameter (raw; it is encoded when signed).
    pub fn query_param(
        mut self,
        name: impl Into<Cow<'a, str>>,
        value: impl Into<Cow<'a, str>>,
    ) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds a header to sign. The name is lower-cased; the sender must send the same value.
    pub fn header(mut self, name: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        let name = name.into();
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            name
        };
        self.headers.push((name, value.into()));
        self
    }

    /// Pins `content-length`: the store refuses a body of any other size.
    pub fn content_length(self, bytes: u64) -> Self {
        self.header("content-length", bytes.to_string())
    }

    /// Pins `content-type`.
    pub fn content_type(self, content_type: impl Into<Cow<'a, str>>) -> Self {
        self.header("content-type", content_type)
    }

    /// Pins a flexible checksum: `x-amz-checksum-<algorithm>` (crc32, crc32c, crc64nvme, sha1,
    /// sha256) with its base64 value.
    pub fn checksum(self, algorithm: &str, base64_value: impl Into<Cow<'a, str>>) -> Self {
        self.header(
            format!("x-amz-checksum-{}", algorithm.to_ascii_lowercase()),
            base64_value,
        )
    }

    /// Sets the payload hash to sign (hex SHA-256, or [`UNSIGNED_PAYLOAD`]).
    pub fn payload_hash(mut self, hash: impl Into<Cow<'a, str>>) -> Self {
        self.payload_hash = hash.into();
        self
    }

    /// Sets the URL's lifetime (1 s to 7 days; sub-second parts are dropped).
    pub fn expires_in(mut self, ttl: Duration) -> Self {
        self.expires = ttl;
        self
    }

    fn push_opt(&mut self, name: &'static str, value: Option<&str>) {
        if let Some(v) = value {
            self.query
                .push((Cow::Borrowed(name), Cow::Owned(v.to_owned())));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn part_numbers_read_as_written() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            999,
            1000,
            5005,
            9999,
            10_000,
            10_001,
            u32::MAX,
        ] {
            assert_eq!(super::part_number_text(n), n.to_string());
        }
        for n in 1..=10_000 {
            assert_eq!(super::part_number_text(n), n.to_string());
        }
    }
}
