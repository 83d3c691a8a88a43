//! The doctor's errors: what stopped a check from running at all. What a check finds wrong
//! is a result, not an error.

/// Why the doctor or gc could not do its work.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DoctorError {
    /// The endpoint URL cannot be used.
    #[error(transparent)]
    Endpoint(#[from] hoist_core::presign::EndpointError),
    /// A call to the store failed: not reached, refused, or answered with something that is
    /// not S3's. The message names the operation and never carries a whole signature.
    #[error(transparent)]
    Store(#[from] hoist_s3::Error),
}
