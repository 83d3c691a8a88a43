//! Bucket operations, bucket CORS and lifecycle configuration.

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use hoist_core::encoding::{hex, hex_decode};

use crate::config::owner;
use crate::cors::{self, CorsRule};
use crate::errors::{internal, no_such_bucket, s3_error};
use crate::fs::safe_bucket;
use crate::lifecycle::{self, LifecycleRule};
use crate::storage::{Storage, from_ms};
use crate::uploads;

/// The region a CreateBucket asks for must be the store's, as an S3 endpoint takes only its
/// own region: us-east-1 takes no constraint (and refuses its own name as one, as S3 does).
fn check_location(storage: &Storage, input: &CreateBucketInput) -> S3Result<()> {
    let asked = input
        .create_bucket_configuration
        .as_ref()
        .and_then(|c| c.location_constraint.as_ref())
        .map(|c| c.as_str().to_owned())
        .filter(|c| !c.is_empty());
    let region = storage.region.as_str();
    let illegal = |named: &str| {
        Err(s3_error(
            S3ErrorCode::IllegalLocationConstraintException,
            &format!(
                "The {named} location constraint is incompatible for the region specific endpoint this request was sent to."
            ),
            &vec![],
        ))
    };
    match asked.as_deref() {
        None if region == "us-east-1" => Ok(()),
        None => illegal("unspecified"),
        Some("us-east-1") if region == "us-east-1" => Err(s3_error(
            S3ErrorCode::InvalidLocationConstraint,
            "The specified location-constraint is not valid",
            &vec![("LocationConstraint", "us-east-1".into())],
        )),
        Some(asked) if asked == region => Ok(()),
        Some(asked) => illegal(asked),
    }
}

pub(crate) async fn create_bucket(
    storage: &Storage,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    check_location(storage, &req.input)?;
    let name = req.input.bucket;
    if !safe_bucket(&name) {
        return Err(s3_error(
            S3ErrorCode::InvalidBucketName,
            "The specified bucket is not valid.",
            &vec![("BucketName", name)],
        ));
    }
    // Creating a bucket one already owns succeeds in us-east-1 (S3's legacy answer) and is
    // BucketAlreadyOwnedByYou everywhere else.
    if !storage.create_bucket_async(&name).await.map_err(internal)? && storage.region != "us-east-1"
    {
        return Err(s3_error(
            S3ErrorCode::BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it.",
            &vec![("BucketName", name)],
        ));
    }
    Ok(S3Response::new(CreateBucketOutput {
        location: Some(format!("/{name}")),
    }))
}

pub(crate) fn head_bucket(
    storage: &Storage,
    req: &S3Request<HeadBucketInput>,
) -> S3Result<S3Response<HeadBucketOutput>> {
    storage
        .bucket_meta(&req.input.bucket)
        .ok_or_else(|| no_such_bucket(&req.input.bucket))?;
    Ok(S3Response::new(HeadBucketOutput {
        bucket_region: Some(storage.region.clone()),
        ..Default::default()
    }))
}

/// Most buckets one ListBuckets page may be asked for.
const MAX_BUCKETS: i32 = 10_000;

/// ListBuckets: every bucket, or a page of `max-buckets` after a continuation token (the
/// hex of the last name of the page before), under `prefix`.
pub(crate) fn list_buckets(
    storage: &Storage,
    input: ListBucketsInput,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let max = match input.max_buckets {
        None => None,
        Some(n) if (1..=MAX_BUCKETS).contains(&n) => Some(n as usize),
        Some(n) => {
            return Err(s3_error(
                S3ErrorCode::InvalidArgument,
                "Argument max-buckets must be an integer between 1 and 10000",
                &vec![
                    ("ArgumentName", "max-buckets".into()),
                    ("ArgumentValue", n.to_string()),
                ],
            ));
        }
    };
    let after = match &input.continuation_token {
        None => None,
        Some(token) => Some(
            hex_decode(token)
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    s3_error(
                        S3ErrorCode::InvalidArgument,
                        "The continuation token provided is incorrect",
                        &vec![("ArgumentName", "continuation-token".into())],
                    )
                })?,
        ),
    };
    let prefix = input.prefix.clone().unwrap_or_default();
    // Every bucket is in the store's region: a filter on another region lists none.
    let in_region = input
        .bucket_region
        .as_deref()
        .is_none_or(|r| r == storage.region);
    let state = storage.state();
    let mut names = state
        .buckets
        .values()
        .filter_map(|b| b.meta.as_ref())
        .filter(|m| in_region && m.name.starts_with(&prefix))
        .filter(|m| after.as_ref().is_none_or(|a| m.name > *a))
        .peekable();
    let mut buckets = Vec::new();
    while let Some(meta) = names.next_if(|_| max.is_none_or(|max| buckets.len() < max)) {
        buckets.push(Bucket {
            name: Some(meta.name.clone()),
            creation_date: Some(Timestamp::from(from_ms(meta.created_ms))),
            bucket_region: Some(storage.region.clone()),
        });
    }
    let more = names.peek().is_some();
    let next = more
        .then(|| buckets.last().and_then(|b| b.name.as_ref()))
        .flatten()
        .map(|name| hex(name.as_bytes()));
    Ok(S3Response::new(ListBucketsOutput {
        buckets: Some(buckets),
        owner: Some(owner()),
        continuation_token: next,
        prefix: input.prefix,
    }))
}

pub(crate) async fn delete_bucket(
    storage: &Storage,
    name: &str,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    let _buckets = storage.buckets_turn.lock().await;
    let _commit = storage.commit.every().await;
    let uploads: Vec<String> = {
        let state = storage.state();
        let bucket = state
            .buckets
            .get(name)
            .filter(|b| b.meta.is_some())
            .ok_or_else(|| no_such_bucket(name))?;
        if !bucket.objects.is_empty() {
            return Err(s3_error(
                S3ErrorCode::BucketNotEmpty,
                "The bucket you tried to delete is not empty",
                &vec![("BucketName", name.to_owned())],
            ));
        }
        state
            .uploads
            .values()
            .filter(|u| u.meta.bucket == name)
            .map(|u| u.meta.id.clone())
            .collect()
    };
    for id in uploads {
        let _ = uploads::remove_upload_locked(storage, &id).await;
    }
    // Renaming away first makes the removal atomic from the store's point of view.
    let trash = storage.layout.temp_file();
    let bucket_dir = storage.layout.bucket(name);
    tokio::fs::rename(&bucket_dir, &trash)
        .await
        .map_err(internal)?;
    storage.state().buckets.remove(name);
    let _ = crate::fs::sync_dir_async(storage.layout.buckets()).await;
    let _ = tokio::fs::remove_dir_all(&trash).await;
    Ok(S3Response::with_status(
        DeleteBucketOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

pub(crate) fn get_bucket_location(
    storage: &Storage,
    bucket: &str,
) -> S3Result<S3Response<GetBucketLocationOutput>> {
    storage
        .bucket_meta(bucket)
        .ok_or_else(|| no_such_bucket(bucket))?;
    // us-east-1 answers an empty LocationConstraint, as S3 does.
    let constraint = (storage.region != "us-east-1")
        .then(|| BucketLocationConstraint::from(storage.region.clone()));
    Ok(S3Response::new(GetBucketLocationOutput {
        location_constraint: constraint,
    }))
}

pub(crate) async fn put_bucket_cors(
    storage: &Storage,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let bucket = req.input.bucket;
    let rules: Vec<CorsRule> = req
        .input
        .cors_configuration
        .cors_rules
        .into_iter()
        .map(CorsRule::from_dto)
        .collect();
    cors::validate(&rules).map_err(|why| s3_error(S3ErrorCode::InvalidRequest, &why, &vec![]))?;
    storage
        .update_bucket(&bucket, |meta| meta.cors = Some(rules))
        .await
        .map_err(internal)?
        .ok_or_else(|| no_such_bucket(&bucket))?;
    Ok(S3Response::new(PutBucketCorsOutput {}))
}

pub(crate) fn get_bucket_cors(
    storage: &Storage,
    bucket: &str,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let meta = storage
        .bucket_meta(bucket)
        .ok_or_else(|| no_such_bucket(bucket))?;
    let Some(rules) = meta.cors else {
        return Err(s3_error(
            S3ErrorCode::NoSuchCORSConfiguration,
            "The CORS configuration does not exist",
            &vec![("BucketName", bucket.to_owned())],
        ));
    };
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(rules.iter().map(CorsRule::to_dto).collect()),
    }))
}

pub(crate) async fn delete_bucket_cors(
    storage: &Storage,
    bucket: &str,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    storage
        .update_bucket(bucket, |meta| meta.cors = None)
        .await
        .map_err(internal)?
        .ok_or_else(|| no_such_bucket(bucket))?;
    Ok(S3Response::with_status(
        DeleteBucketCorsOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}

pub(crate) async fn put_lifecycle(
    storage: &Storage,
    req: S3Request<PutBucketLifecycleConfigurationInput>,
) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
    let bucket = req.input.bucket;
    let rules = lifecycle::from_configuration(
        req.input
            .lifecycle_configuration
            .map(|c| c.rules)
            .unwrap_or_default(),
    )?;
    storage
        .update_bucket(&bucket, |meta| meta.lifecycle = Some(rules))
        .await
        .map_err(internal)?
        .ok_or_else(|| no_such_bucket(&bucket))?;
    Ok(S3Response::new(
        PutBucketLifecycleConfigurationOutput::default(),
    ))
}

pub(crate) fn get_lifecycle(
    storage: &Storage,
    bucket: &str,
) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
    let meta = storage
        .bucket_meta(bucket)
        .ok_or_else(|| no_such_bucket(bucket))?;
    let Some(rules) = meta.lifecycle else {
        return Err(s3_error(
            S3ErrorCode::NoSuchLifecycleConfiguration,
            "The lifecycle configuration does not exist",
            &vec![("BucketName", bucket.to_owned())],
        ));
    };
    Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
        rules: Some(rules.iter().map(LifecycleRule::to_dto).collect()),
        ..Default::default()
    }))
}

pub(crate) async fn delete_lifecycle(
    storage: &Storage,
    bucket: &str,
) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
    storage
        .update_bucket(bucket, |meta| meta.lifecycle = None)
        .await
        .map_err(internal)?
        .ok_or_else(|| no_such_bucket(bucket))?;
    Ok(S3Response::with_status(
        DeleteBucketLifecycleOutput {},
        http::StatusCode::NO_CONTENT,
    ))
}
