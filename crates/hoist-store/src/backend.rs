//! The `s3s::S3` implementation: it routes each operation to the module that does it, and
//! adds what a lifecycle rule announces: an object's `x-amz-expiration`, an upload's
//! `x-amz-abort-date` and `x-amz-abort-rule-id`.

use std::sync::Arc;
use std::time::Duration;

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use crate::storage::Storage;
use crate::{attributes, buckets, complete, copy, listing, multipart, objects, sweeper};

/// The store's S3 operations over its local-disk storage.
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    storage: Arc<Storage>,
    /// The length of a lifecycle day, for the `x-amz-expiration` of objects.
    lifecycle_day: Duration,
}

impl Backend {
    pub fn new(storage: Arc<Storage>, lifecycle_day: Duration) -> Self {
        Self {
            storage,
            lifecycle_day,
        }
    }

    /// `x-amz-expiration` for the object now at `key`, when a lifecycle rule will expire it.
    fn expiration(&self, bucket: &str, key: &str) -> Option<String> {
        sweeper::expiration_header(&self.storage, bucket, key, self.lifecycle_day)
    }
}

#[async_trait::async_trait]
impl S3 for Backend {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        buckets::create_bucket(&self.storage, req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        buckets::head_bucket(&self.storage, &req)
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        buckets::list_buckets(&self.storage, req.input)
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        buckets::delete_bucket(&self.storage, &req.input.bucket).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        buckets::get_bucket_location(&self.storage, &req.input.bucket)
    }

    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        buckets::put_bucket_cors(&self.storage, req).await
    }

    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        buckets::get_bucket_cors(&self.storage, &req.input.bucket)
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        buckets::delete_bucket_cors(&self.storage, &req.input.bucket).await
    }

    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        buckets::put_lifecycle(&self.storage, req).await
    }

    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        buckets::get_lifecycle(&self.storage, &req.input.bucket)
    }

    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        buckets::delete_lifecycle(&self.storage, &req.input.bucket).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let mut response = objects::put_object(&self.storage, req).await?;
        response.output.expiration = self.expiration(&bucket, &key);
        Ok(response)
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let mut response = objects::get_object(&self.storage, req).await?;
        response.output.expiration = self.expiration(&bucket, &key);
        Ok(response)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let mut response = objects::head_object(&self.storage, &req)?;
        response.output.expiration = self.expiration(&req.input.bucket, &req.input.key);
        Ok(response)
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        attributes::get_object_attributes(&self.storage, req)
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        objects::delete_one(&self.storage, &req.input).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let mut response = copy::copy_object(&self.storage, req).await?;
        response.output.expiration = self.expiration(&bucket, &key);
        Ok(response)
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        copy::upload_part_copy(&self.storage, req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        listing::list_objects_v2(&self.storage, req.input)
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        listing::list_objects(&self.storage, req.input)
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        objects::delete_objects(&self.storage, req.input).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let mut response = multipart::create(&self.storage, req).await?;
        let announced = response
            .output
            .upload_id
            .as_deref()
            .and_then(|id| sweeper::abort_date(&self.storage, id, self.lifecycle_day));
        if let Some((at, rule)) = announced {
            response.output.abort_date = Some(Timestamp::from(at));
            response.output.abort_rule_id = Some(rule);
        }
        Ok(response)
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        multipart::upload_part(&self.storage, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let mut response = complete::complete(&self.storage, req).await?;
        response.output.expiration = self.expiration(&bucket, &key);
        Ok(response)
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        multipart::abort(&self.storage, req.input).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        multipart::list_parts(&self.storage, req.input)
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        multipart::list_uploads(&self.storage, req.input)
    }
}
