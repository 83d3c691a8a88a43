//! The JSON shapes of the `/v1` API (described for callers in `openapi.json`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use hoist_core::checksum::{ChecksumAlgorithm, ChecksumType};

/// `POST /v1/uploads`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUpload {
    #[serde(deserialize_with = "whole::u64")]
    pub size: u64,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default, deserialize_with = "objects::opt")]
    pub checksum: Option<Checksum>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// `*`: the upload must not replace an object at its key (S3's conditional write).
    #[serde(default)]
    pub if_none_match: Option<String>,
}

/// The checksum an upload is made with.
///
/// Single PUT: `value` (base64 of the whole object's checksum) is pinned into the URL; without
/// it, the algorithm is recorded and each signing request may pin the value. Multipart: the
/// store's upload is created with `algorithm` and `type`; each part's value is pinned when its
/// URL is signed and the whole object's is checked at completion, so `value` is refused.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    /// base64 of the whole object's checksum (single PUT only).
    #[serde(default)]
    pub value: Option<String>,
    /// How a multipart object's checksum derives from its parts'; S3's default for the
    /// algorithm when absent (FULL_OBJECT for CRC-64/NVME, COMPOSITE for the others).
    #[serde(default, rename = "type")]
    pub kind: Option<ChecksumType>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StrategyName {
    Single,
    Multipart,
}

/// One presigned part URL.
#[derive(Debug, Clone, Serialize)]
pub struct PartUrl {
    pub number: u32,
    pub url: String,
    pub method: &'static str,
    /// Headers the PUT must carry exactly; `content-length` is pinned to `length`.
    pub headers: BTreeMap<String, String>,
    pub expires_at: String,
    pub offset: u64,
    pub length: u64,
}

/// The answer to `POST /v1/uploads`.
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub strategy: StrategyName,
    pub size: u64,
    pub part_size: u64,
    pub part_count: u32,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<Vec<PartUrl>>,
    /// The checksum the upload was created with: every part URL of a multipart one must
    /// be signed with its part's checksum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<ChecksumType>,
}

/// `POST /v1/uploads/{id}/parts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartsRequest {
    #[serde(deserialize_with = "whole::vec_i64")]
    pub numbers: Vec<i64>,
    /// Part number (as a string, JSON keys are) → base64 of that part's checksum in the
    /// upload's algorithm; each is signed into its part's URL.
    #[serde(default)]
    pub checksums: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PartsResponse {
    pub parts: Vec<PartUrl>,
}

/// A part as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredPart {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    /// The part's checksum (base64) in the upload's algorithm, when the store reports one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// A stored part in the state answer, with the range the plan gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatePart {
    #[serde(flatten)]
    pub stored: StoredPart,
    /// Where the planned part starts in the object (absent for a number outside the plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The planned part's length; a part stored with another size is listed in `missing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UploadStateName {
    /// Nothing stored yet (single) or the multipart upload exists.
    Pending,
    /// Some parts are stored.
    Uploading,
    Completed,
}

/// The answer to `GET /v1/uploads/{id}`.
#[derive(Debug, Clone, Serialize)]
pub struct UploadState {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub strategy: StrategyName,
    pub size: u64,
    pub part_size: u64,
    pub part_count: u32,
    pub expires_at: String,
    pub state: UploadStateName,
    pub parts: Vec<StatePart>,
    pub missing: Vec<u32>,
    /// The checksum the upload was created with: every part URL of a multipart one must
    /// be signed with its part's checksum.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<ChecksumType>,
}

/// `POST /v1/uploads/{id}/complete`; the body is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    #[serde(default, deserialize_with = "objects::opt_vec")]
    pub parts: Option<Vec<CompletePart>>,
    /// base64 of the whole object's checksum as the uploader computed it; the store is asked
    /// to refuse the completion when its own differs.
    #[serde(default)]
    pub checksum: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletePart {
    #[serde(deserialize_with = "whole::i64")]
    pub number: i64,
    #[serde(default)]
    pub etag: Option<String>,
    /// base64 of the part's checksum; it must equal the one the store holds.
    #[serde(default)]
    pub checksum: Option<String>,
}

/// The answer to a completion: the object as the store describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Completed {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub size: u64,
    /// The store's checksum of the object in the upload's algorithm (base64; `-N` ends a
    /// COMPOSITE one), when the upload has one and the store reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<ChecksumType>,
    /// With hooks configured: `true` when `upload.completed` could not be delivered in time.
    /// The upload is complete all the same; Complete it again to deliver the event again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_pending: Option<bool>,
}

/// The most uploads one batch request names (`POST /v1/uploads/batch` and
/// `POST /v1/uploads/batch/complete`).
pub const MAX_BATCH_ITEMS: usize = 1000;

/// `POST /v1/uploads/batch`: many uploads created in one request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchCreate {
    /// The folder token of an earlier answer: `path`s continue into the same folder.
    #[serde(default)]
    pub folder: Option<String>,
    #[serde(deserialize_with = "objects::vec")]
    pub uploads: Vec<BatchUpload>,
}

/// One upload of a batch: the fields of [`CreateUpload`], and `path` and `unless_stored`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchUpload {
    #[serde(deserialize_with = "whole::u64")]
    pub size: u64,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default, deserialize_with = "objects::opt")]
    pub checksum: Option<Checksum>,
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub if_none_match: Option<String>,
    /// The file's path relative to the folder the caller uploads, `/`-separated; its key is
    /// `{caller's prefix}/{folder id}/{path}`.
    #[serde(default)]
    pub path: Option<String>,
    /// Nothing is created when an object of this size with this content is at the key.
    #[serde(default, deserialize_with = "objects::opt")]
    pub unless_stored: Option<UnlessStored>,
}

impl BatchUpload {
    /// The creation request this item makes, and its own fields.
    pub fn split(self) -> (CreateUpload, Option<String>, Option<UnlessStored>) {
        let create = CreateUpload {
            size: self.size,
            filename: self.filename,
            key: self.key,
            content_type: self.content_type,
            checksum: self.checksum,
            metadata: self.metadata,
            if_none_match: self.if_none_match,
        };
        (create, self.path, self.unless_stored)
    }
}

/// What the object at an item's key must be for the item to be skipped.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnlessStored {
    /// The whole file's MD5, 32 hex digits: a single-PUT object's ETag.
    #[serde(default)]
    pub md5: Option<String>,
    /// The whole file's checksum (FULL_OBJECT), as the store reports it.
    #[serde(default, deserialize_with = "objects::opt")]
    pub checksum: Option<StoredChecksum>,
}

/// A whole object's checksum: algorithm and base64 value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredChecksum {
    pub algorithm: ChecksumAlgorithm,
    pub value: String,
}

/// The answer to `POST /v1/uploads/batch`.
#[derive(Debug, Clone, Serialize)]
pub struct BatchCreated {
    /// The folder's token, when the folder was used: pass it back to continue into it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
    /// The folder's key prefix (ending in `/`), when the folder was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    pub uploads: Vec<BatchItem>,
}

/// An object that was already stored, so nothing was created for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub key: String,
    pub etag: String,
    pub size: u64,
}

/// One item's answer in a batch: its own status and exactly one of the others.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum BatchItem {
    Created {
        status: u16,
        upload: Box<Upload>,
    },
    Skipped {
        status: u16,
        skipped: Skipped,
    },
    Completed {
        status: u16,
        completed: Completed,
    },
    Failed {
        status: u16,
        error: crate::error::ApiError,
    },
}

/// `POST /v1/uploads/batch/complete`: many uploads completed (or single PUTs confirmed).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchComplete {
    #[serde(deserialize_with = "objects::vec")]
    pub uploads: Vec<BatchCompleteItem>,
}

/// One completion of a batch: the upload's id and the fields of [`CompleteRequest`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchCompleteItem {
    pub id: String,
    #[serde(default, deserialize_with = "objects::opt_vec")]
    pub parts: Option<Vec<CompletePart>>,
    #[serde(default)]
    pub checksum: Option<String>,
}

/// The answer to `POST /v1/uploads/batch/complete`.
#[derive(Debug, Clone, Serialize)]
pub struct BatchCompleted {
    pub uploads: Vec<BatchItem>,
}

/// Nested objects read as JSON objects only. serde's derived structs also read a JSON array
/// (their fields in order), which no schema of this API allows: `[null, null]` for an object
/// field is refused like every other wrong type, with its path.
pub(crate) mod objects {
    use serde::de::{Deserialize, Deserializer, Visitor};

    /// A deserializer that reads whatever is asked of it as a map.
    struct MapOnly<D>(D);

    impl<'de, D: Deserializer<'de>> Deserializer<'de> for MapOnly<D> {
        type Error = D::Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.deserialize_map(visitor)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map struct
            enum identifier ignored_any
        }
    }

    /// A `T` read from a JSON object only.
    struct Obj<T>(T);

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            T::deserialize(MapOnly(d)).map(Obj)
        }
    }

    pub(crate) fn opt<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        Ok(Option::<Obj<T>>::deserialize(d)?.map(|o| o.0))
    }

    pub(crate) fn vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        Ok(Vec::<Obj<T>>::deserialize(d)?
            .into_iter()
            .map(|o| o.0)
            .collect())
    }

    pub(crate) fn opt_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<Vec<T>>, D::Error> {
        Ok(Option::<Vec<Obj<T>>>::deserialize(d)?.map(|v| v.into_iter().map(|o| o.0).collect()))
    }

    #[cfg(test)]
    mod tests {
        use crate::api::{BatchCreate, CompleteRequest, CreateUpload};
        use crate::error::parse_json;

        #[test]
        fn an_array_is_no_object() {
            let field = |json: &str| {
                parse_json::<BatchCreate>(json.as_bytes())
                    .unwrap_err()
                    .field
            };
            assert_eq!(
                field(r#"{"uploads": [[1]]}"#).as_deref(),
                Some("uploads[0]")
            );
            assert_eq!(
                field(r#"{"uploads": [{"size": 1, "unless_stored": [null, null]}]}"#).as_deref(),
                Some("uploads[0].unless_stored")
            );
            assert_eq!(
                field(r#"{"uploads": [{"size": 1, "checksum": ["crc32"]}]}"#).as_deref(),
                Some("uploads[0].checksum")
            );
            assert_eq!(
                field(r#"{"uploads": [{"size": "1"}]}"#).as_deref(),
                Some("uploads[0].size")
            );
            let e = parse_json::<CreateUpload>(br#"{"size": 1, "checksum": ["crc32"]}"#);
            assert_eq!(e.unwrap_err().field.as_deref(), Some("checksum"));
            let e = parse_json::<CompleteRequest>(br#"{"parts": [[1]]}"#);
            assert_eq!(e.unwrap_err().field.as_deref(), Some("parts[0]"));
            // Objects and nulls read as before.
            parse_json::<BatchCreate>(
                br#"{"uploads": [{"size": 1, "checksum": null, "unless_stored": {"md5": null}}]}"#,
            )
            .unwrap();
        }
    }
}

/// Integer fields read as JSON Schema reads `"type": "integer"`: any number without a
/// fraction, so `5` and `5.0` are the same part number. A fraction, a value out of range or
/// a string is refused with the field's path, as every other type error.
pub(crate) mod whole {
    use serde::de::{Deserialize, Deserializer, Error, Unexpected, Visitor};

    /// A whole number, signed.
    struct Whole(i128);

    impl<'de> Deserialize<'de> for Whole {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Whole;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a whole number")
                }
                fn visit_u64<E: Error>(self, v: u64) -> Result<Whole, E> {
                    Ok(Whole(i128::from(v)))
                }
                fn visit_i64<E: Error>(self, v: i64) -> Result<Whole, E> {
                    Ok(Whole(i128::from(v)))
                }
                fn visit_f64<E: Error>(self, v: f64) -> Result<Whole, E> {
                    // Every finite float from 2^53 up is whole; beyond i128 it saturates,
                    // which is out of range for every field anyway.
                    if v.is_finite() && v.fract() == 0.0 {
                        #[allow(clippy::cast_possible_truncation)]
                        Ok(Whole(v as i128))
                    } else {
                        Err(E::invalid_value(Unexpected::Float(v), &self))
                    }
                }
            }
            d.deserialize_any(V)
        }
    }

    fn fit<T: TryFrom<i128>, E: Error>(n: i128, what: &str) -> Result<T, E> {
        T::try_from(n).map_err(|_| E::custom(format!("{n} is out of range for {what}")))
    }

    pub(crate) fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        fit(Whole::deserialize(d)?.0, "a size (0 or more)")
    }

    pub(crate) fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        fit(Whole::deserialize(d)?.0, "a 64-bit integer")
    }

    pub(crate) fn u32<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        fit(Whole::deserialize(d)?.0, "a part number")
    }

    pub(crate) fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        Option::<Whole>::deserialize(d)?
            .map(|w| fit(w.0, "a whole number (0 or more)"))
            .transpose()
    }

    /// A whole number of 0 or more where a larger one means as much as the field allows
    /// (a lifetime that is lowered to the server's policy anyway).
    pub(crate) fn opt_u64_saturating<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<u64>, D::Error> {
        Option::<Whole>::deserialize(d)?
            .map(|w| {
                if w.0 < 0 {
                    Err(D::Error::custom(format!("{} is below 0", w.0)))
                } else {
                    Ok(u64::try_from(w.0).unwrap_or(u64::MAX))
                }
            })
            .transpose()
    }

    pub(crate) fn vec_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
        Vec::<Whole>::deserialize(d)?
            .into_iter()
            .map(|w| fit(w.0, "a 64-bit integer"))
            .collect()
    }

    #[cfg(test)]
    mod tests {
        #[derive(Debug, serde::Deserialize)]
        struct T {
            #[serde(deserialize_with = "super::u64")]
            n: u64,
        }

        fn n(json: &str) -> Option<u64> {
            serde_json::from_str::<T>(json).ok().map(|t| t.n)
        }

        #[test]
        fn whole_floats_are_integers_and_fractions_are_not() {
            assert_eq!(n(r#"{"n": 603}"#), Some(603));
            assert_eq!(n(r#"{"n": 603.0}"#), Some(603));
            assert_eq!(n(r#"{"n": 6.03e2}"#), Some(603));
            assert_eq!(n(r#"{"n": 1.5}"#), None);
            assert_eq!(n(r#"{"n": -1}"#), None);
            assert_eq!(n(r#"{"n": 1e30}"#), None);
            assert_eq!(n(r#"{"n": "10"}"#), None);
            assert_eq!(n(r#"{"n": 18446744073709551615}"#), Some(u64::MAX));
            // A whole number written as a float is read exactly (serde_json's
            // float_roundtrip), not as its nearest neighbour with a fraction.
            assert_eq!(
                n(r#"{"n": 1907445324111423.0}"#),
                Some(1_907_445_324_111_423)
            );
        }
    }
}
