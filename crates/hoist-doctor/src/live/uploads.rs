//! Incomplete multipart uploads: the doctor counts the stale ones, `hoist gc` aborts them.

use std::time::Duration;

use hoist_core::presign::ListUploadsParams;
use hoist_core::s3::{
    self, ListMultipartUploadsResult, ListPartsResult, ResponseError, UploadInfo,
};
use hoist_core::time::Timestamp;

use super::client::{Answer, S3Client};
use crate::error::DoctorError;

/// An incomplete upload, with what its parts weigh.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleUpload {
    /// The object key.
    pub key: String,
    /// The upload id.
    pub upload_id: String,
    /// When it was started.
    pub initiated: Timestamp,
    /// How many parts are stored.
    pub parts: u64,
    /// The bytes those parts hold.
    pub bytes: u64,
}

/// The incomplete uploads started more than `older_than` before the endpoint's current time
/// (its `Date` header, so this host's clock does not matter), with their parts' sizes.
/// Uploads without an `Initiated` time are left alone: their age cannot be told.
pub async fn stale_uploads(
    client: &S3Client,
    older_than: Duration,
) -> Result<Vec<StaleUpload>, DoctorError> {
    let (uploads, now) = list_all_uploads(client).await?;
    let cutoff = now - older_than;
    let mut stale = Vec::new();
    for u in uploads {
        // `Date` has whole seconds, so uploads started within the current second would look
        // younger than zero; an age of zero means every upload there is.
        let old_enough = |t: &Timestamp| older_than.is_zero() || *t <= cutoff;
        let Some(initiated) = u.initiated.filter(old_enough) else {
            continue;
        };
        let (parts, bytes) = part_sizes(client, &u.key, &u.upload_id).await?;
        stale.push(StaleUpload {
            key: u.key,
            upload_id: u.upload_id,
            initiated,
            parts,
            bytes,
        });
    }
    Ok(stale)
}

/// Every incomplete upload in the bucket (all pages), and the endpoint's time.
pub async fn list_all_uploads(
    client: &S3Client,
) -> Result<(Vec<UploadInfo>, Timestamp), DoctorError> {
    let mut params = ListUploadsParams::default();
    let mut uploads = Vec::new();
    let mut now = None;
    loop {
        let req =
            s3::list_multipart_uploads(client.signer(), client.bucket(), &params, client.now())?;
        let answer = client.send(req).await?;
        now = now.or_else(|| {
            answer
                .header("date")
                .and_then(|d| Timestamp::parse_http_date(d).ok())
        });
        let page = ListMultipartUploadsResult::from_response(answer.status, answer.body.as_bytes())
            .map_err(|e| s3_failure("ListMultipartUploads", &answer, e))?;
        let next = (
            page.next_key_marker.clone(),
            page.next_upload_id_marker.clone(),
        );
        uploads.extend(page.uploads);
        match next {
            (Some(key), upload_id) if page.is_truncated => {
                params.key_marker = Some(key);
                params.upload_id_marker = upload_id;
            }
            _ => break,
        }
    }
    Ok((uploads, now.unwrap_or_else(|| client.now())))
}

/// How many parts an upload holds and their total size (all pages of ListParts).
pub async fn part_sizes(
    client: &S3Client,
    key: &str,
    upload_id: &str,
) -> Result<(u64, u64), DoctorError> {
    let (mut count, mut bytes, mut marker) = (0u64, 0u64, None);
    loop {
        let req = s3::list_parts(
            client.signer(),
            client.bucket(),
            key,
            upload_id,
            marker,
            None,
            client.now(),
        )?;
        let answer = client.send(req).await?;
        let page = ListPartsResult::from_response(answer.status, answer.body.as_bytes())
            .map_err(|e| s3_failure("ListParts", &answer, e))?;
        count += page.parts.len() as u64;
        bytes += page.parts.iter().map(|p| p.size).sum::<u64>();
        match page.next_part_number_marker {
            Some(next) if page.is_truncated => marker = Some(next),
            _ => return Ok((count, bytes)),
        }
    }
}

/// Aborts one upload. An upload already gone (404 NoSuchUpload) counts as aborted: another
/// gc or the lifecycle rule got there first.
pub async fn abort(client: &S3Client, key: &str, upload_id: &str) -> Result<(), DoctorError> {
    let req = s3::abort_multipart_upload(
        client.signer(),
        client.bucket(),
        key,
        upload_id,
        client.now(),
    )?;
    let answer = client.send(req).await?;
    if answer.ok() || answer.status == 404 {
        return Ok(());
    }
    let err = s3::check_status(answer.status, answer.body.as_bytes()).expect_err("not a success");
    Err(s3_failure("AbortMultipartUpload", &answer, err))
}

/// A failed control call as a [`DoctorError`].
pub(crate) fn s3_failure(action: &'static str, answer: &Answer, err: ResponseError) -> DoctorError {
    match err.s3_error() {
        Some(e) => DoctorError::S3 {
            action,
            status: answer.status,
            code: e.code.as_str().to_owned(),
            message: e.message.clone(),
        },
        None => DoctorError::BadAnswer {
            action,
            detail: err.to_string(),
        },
    }
}
