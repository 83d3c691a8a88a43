//! Core's checksum vocabulary in the shapes s3s's DTOs carry: the algorithm and type as s3s
//! strings, and the five `checksum_*` fields of an answer or a Complete request's part.

use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType};

/// The algorithm as s3s carries it.
pub(crate) fn dto_algorithm(algorithm: ChecksumAlgorithm) -> s3s::dto::ChecksumAlgorithm {
    s3s::dto::ChecksumAlgorithm::from(algorithm.as_str().to_owned())
}

/// The algorithm a request names in `x-amz-checksum-algorithm` (CreateMultipartUpload,
/// CopyObject), or S3's `400 InvalidRequest` for one it does not know.
pub(crate) fn requested(
    algorithm: Option<&s3s::dto::ChecksumAlgorithm>,
) -> s3s::S3Result<Option<ChecksumAlgorithm>> {
    algorithm
        .map(|a| {
            ChecksumAlgorithm::parse(a.as_str()).ok_or_else(|| {
                crate::errors::s3_error(
                    s3s::S3ErrorCode::InvalidRequest,
                    &format!("Checksum algorithm {} is not supported.", a.as_str()),
                    &vec![],
                )
            })
        })
        .transpose()
}

/// The type as s3s carries it.
pub(crate) fn dto_type(kind: ChecksumType) -> s3s::dto::ChecksumType {
    s3s::dto::ChecksumType::from(kind.as_str().to_owned())
}

/// Where `algorithm`'s value sits among the five fields, which s3s orders as
/// [`ChecksumAlgorithm::ALL`]: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.
fn index(algorithm: ChecksumAlgorithm) -> usize {
    ChecksumAlgorithm::ALL
        .iter()
        .position(|a| *a == algorithm)
        .unwrap_or(0)
}

/// The five checksum fields of an answer: the stored value in its algorithm's place.
pub(crate) fn fields(checksum: Option<&(ChecksumAlgorithm, String)>) -> [Option<String>; 5] {
    let mut fields: [Option<String>; 5] = Default::default();
    if let Some((algorithm, value)) = checksum {
        fields[index(*algorithm)] = Some(value.clone());
    }
    fields
}

/// The value a request names for `algorithm` among its five fields.
pub(crate) fn field_of(
    fields: [&Option<String>; 5],
    algorithm: ChecksumAlgorithm,
) -> Option<&String> {
    fields[index(algorithm)].as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_algorithm_has_its_own_field() {
        for (i, algorithm) in ChecksumAlgorithm::ALL.into_iter().enumerate() {
            let stored = (algorithm, "v".to_owned());
            let out = fields(Some(&stored));
            assert_eq!(out[i].as_deref(), Some("v"), "{algorithm}");
            assert_eq!(out.iter().flatten().count(), 1);
            let named = [&out[0], &out[1], &out[2], &out[3], &out[4]];
            assert_eq!(field_of(named, algorithm).map(String::as_str), Some("v"));
        }
        assert_eq!(fields(None), <[Option<String>; 5]>::default());
        assert_eq!(
            dto_algorithm(ChecksumAlgorithm::Crc64Nvme).as_str(),
            "CRC64NVME"
        );
        assert_eq!(dto_type(ChecksumType::FullObject).as_str(), "FULL_OBJECT");
    }

    #[test]
    fn a_named_algorithm_is_read_and_an_unknown_one_is_invalid_request() {
        let crc = s3s::dto::ChecksumAlgorithm::from("CRC32".to_owned());
        assert_eq!(
            requested(Some(&crc)).unwrap(),
            Some(ChecksumAlgorithm::Crc32)
        );
        assert_eq!(requested(None).unwrap(), None);
        let md5 = s3s::dto::ChecksumAlgorithm::from("MD5".to_owned());
        let err = requested(Some(&md5)).unwrap_err();
        assert_eq!(*err.code(), s3s::S3ErrorCode::InvalidRequest);
        assert!(err.message().unwrap_or("").contains("MD5"), "{err:?}");
    }
}
