//! A request body received: the digests the request declares (`Content-MD5`, a flexible
//! checksum in a header or an aws-chunked trailer), the body streamed to a temp file while it
//! is hashed, and the verdict. PutObject and UploadPart (and so POST Object) take bodies here.

use hoist_core::checksum::{Checksum, ChecksumAlgorithm};
use hoist_core::encoding::{base64, base64_decode};
use http::HeaderMap;
use s3s::dto::StreamingBlob;
use s3s::{S3ErrorCode, S3Result, TrailingHeaders};

use crate::errors::{bad_digest, s3_error};
use crate::fs::{Written, write_stream};
use crate::storage::Storage;

/// The flexible checksum a request asks for: the algorithm, and the value when it came in a
/// header (a trailer's value is read after the body).
#[derive(Debug, Default)]
pub(crate) struct Requested {
    pub algorithm: Option<ChecksumAlgorithm>,
    pub value: Option<String>,
    pub content_md5: Option<String>,
}

impl Requested {
    /// Reads `x-amz-checksum-*`, `x-amz-sdk-checksum-algorithm`, `x-amz-trailer` and
    /// `Content-MD5` from the request headers, and a checksum from the query (`query`, its
    /// decoded pairs), where a presigner that hoists `x-amz-*` headers into a URL (the AWS
    /// SDK for JavaScript v3) signs it: S3 holds the body to either form.
    pub fn from_request(
        headers: &HeaderMap,
        query: &[(String, String)],
        fallback: Option<ChecksumAlgorithm>,
    ) -> S3Result<Self> {
        let mut requested = Self::default();
        for algorithm in ChecksumAlgorithm::ALL {
            let value = headers
                .get(algorithm.header())
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .or_else(|| crate::query::value(query, algorithm.header()));
            if let Some(value) = value {
                requested.algorithm = Some(algorithm);
                requested.value = Some(value);
            }
        }
        if requested.algorithm.is_none() {
            let named = headers
                .get("x-amz-trailer")
                .and_then(|v| v.to_str().ok())
                .and_then(|t| t.trim().strip_prefix("x-amz-checksum-").map(str::to_owned))
                .or_else(|| {
                    headers
                        .get("x-amz-sdk-checksum-algorithm")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned)
                })
                .or_else(|| crate::query::value(query, "x-amz-sdk-checksum-algorithm"));
            if let Some(name) = named {
                let algorithm = ChecksumAlgorithm::parse(&name).ok_or_else(|| {
                    s3_error(
                        S3ErrorCode::InvalidRequest,
                        &format!("Checksum algorithm {name} is not supported."),
                        &vec![],
                    )
                })?;
                requested.algorithm = Some(algorithm);
            }
        }
        if requested.algorithm.is_none() {
            requested.algorithm = fallback;
        }
        if let Some(md5) = headers.get("content-md5") {
            // S3 tells a digest that cannot be an MD5 (not base64, not 16 bytes) from one
            // that does not match: InvalidDigest before the body, BadDigest after it.
            let md5 = md5
                .to_str()
                .ok()
                .map(str::trim)
                .filter(|text| base64_decode(text).is_some_and(|bytes| bytes.len() == 16));
            let Some(md5) = md5 else {
                return Err(s3_error(
                    S3ErrorCode::InvalidDigest,
                    "The Content-MD5 you specified was invalid.",
                    &vec![],
                ));
            };
            requested.content_md5 = Some(md5.to_owned());
        }
        Ok(requested)
    }
}

/// Streams a body to a temp file and checks it against every digest the client sent.
/// Answers the written file and the base64 flexible checksum.
pub(crate) async fn receive(
    storage: &Storage,
    body: Option<StreamingBlob>,
    requested: &Requested,
    trailers: Option<&TrailingHeaders>,
    limit: u64,
) -> S3Result<(Written, Option<String>)> {
    let body = body.unwrap_or_else(|| StreamingBlob::from(s3s::Body::empty()));
    let written = write_stream(
        &storage.layout,
        body,
        requested.algorithm,
        limit,
        storage.direct_writes,
    )
    .await?;
    let verdict = verify(&written, requested, trailers);
    if verdict.is_err() {
        let _ = tokio::fs::remove_file(&written.path).await;
    }
    verdict.map(|sum| (written, sum))
}

fn verify(
    written: &Written,
    requested: &Requested,
    trailers: Option<&TrailingHeaders>,
) -> S3Result<Option<String>> {
    if let Some(md5) = &requested.content_md5
        && base64_decode(md5.trim()).as_deref() != Some(&written.md5[..])
    {
        return Err(s3_error(
            S3ErrorCode::BadDigest,
            "The Content-MD5 you specified did not match what we received.",
            &vec![
                ("ExpectedDigest", md5.clone()),
                ("CalculatedDigest", base64(&written.md5)),
            ],
        ));
    }
    let (Some(algorithm), Some(computed)) = (requested.algorithm, written.checksum) else {
        return Ok(None);
    };
    let given = requested.value.clone().or_else(|| {
        trailers.and_then(|t| {
            t.read(|h| {
                h.get(algorithm.header())
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            })
        })?
    });
    if let Some(given) = given
        && Checksum::from_base64(algorithm, &given).ok() != Some(computed)
    {
        return Err(bad_digest(algorithm));
    }
    Ok(Some(computed.to_base64()))
}
