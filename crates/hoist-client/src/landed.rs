//! A no-clobber write refused on a retry. The store answers `If-None-Match: *` with 412 when
//! an object is at the key, and the object may be this upload's own: an earlier attempt of
//! the same request may have landed and only its answer been lost. Whether it did is judged
//! here, by comparing the object at the key with what was sent. An object equal to it in
//! every respect both sides can tell is this upload's; any difference, or nothing that can
//! be compared, leaves it another writer's.

use hoist_core::checksum::etag;

use crate::checksum::checksums_agree;
use crate::transport::ObjectInfo;

/// What an upload sent, as far as the stored object can be compared with it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sent {
    pub size: u64,
    /// The object's checksum in the upload's algorithm (base64; COMPOSITE ends in `-N`).
    pub checksum: Option<String>,
    /// The ETag S3 gives what was sent: the body's MD5 for a single PUT, the MD5 of the
    /// parts' MD5s with `-N` for a multipart upload. `None` when it cannot be known (a
    /// part's ETag that is not an MD5).
    pub etag: Option<String>,
}

impl Sent {
    /// A single PUT of `body`.
    pub fn single(body: &[u8], checksum: Option<String>) -> Self {
        Sent {
            size: body.len() as u64,
            checksum,
            etag: Some(etag::of_md5(&etag::md5(body))),
        }
    }

    /// A multipart upload of `size` bytes completed with parts whose ETags are `part_etags`,
    /// in order.
    pub fn multipart<'a>(
        size: u64,
        checksum: Option<String>,
        part_etags: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let md5s: Option<Vec<[u8; 16]>> = part_etags.into_iter().map(etag::md5_of).collect();
        Sent {
            size,
            checksum,
            etag: md5s.map(|m| etag::multipart(&m)),
        }
    }
}

/// Whether `stored`, the object at the key, is what was sent; `Err` says why it is not, or
/// why that cannot be shown.
pub(crate) fn is_ours(stored: &ObjectInfo, sent: &Sent) -> Result<(), String> {
    if let Some(size) = stored.size.filter(|s| *s != sent.size) {
        return Err(format!("it holds {size} bytes, {} were sent", sent.size));
    }
    let mut shown = false;
    if let (Some(got), Some(want)) = (&stored.checksum, &sent.checksum) {
        if !checksums_agree(want, got) {
            return Err(format!("its checksum is {got}, the data's {want}"));
        }
        shown = true;
    }
    // An ETag that is not the MD5 S3 would give (a store that encrypts, or forms it in its own
    // way) tells nothing; only an equal one shows the same bytes.
    if let Some(want) = &sent.etag
        && !stored.etag.is_empty()
    {
        if etag::same(want, &stored.etag) {
            shown = true;
        } else if !shown && stored.checksum.is_none() {
            return Err(format!("its ETag is {}, the data's {want}", stored.etag));
        }
    }
    if shown {
        Ok(())
    } else {
        Err("neither its checksum nor its ETag can be compared with the data's".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(etag: &str, size: u64, checksum: Option<&str>) -> ObjectInfo {
        ObjectInfo {
            etag: etag.into(),
            size: Some(size),
            checksum: checksum.map(str::to_owned),
            hook_pending: None,
        }
    }

    #[test]
    fn a_single_put_is_known_by_its_md5_or_its_checksum() {
        let sent = Sent::single(b"hello", Some("AAAAAAAAAAA=".into()));
        let md5 = "\"5d41402abc4b2a76b9719d911017c592\"";
        assert_eq!(is_ours(&stored(md5, 5, None), &sent), Ok(()));
        assert_eq!(
            is_ours(&stored("\"x\"", 5, Some("AAAAAAAAAAA=")), &sent),
            Ok(())
        );
        // Another writer's object: other bytes, or the same size with another checksum.
        assert!(is_ours(&stored(md5, 6, None), &sent).is_err());
        assert!(is_ours(&stored(md5, 5, Some("AQAAAAAAAAA=")), &sent).is_err());
        let other = "\"7d793037a0760186574b0282f2f435e7\"";
        assert!(is_ours(&stored(other, 5, None), &sent).is_err());
        // Nothing to compare: not shown to be this upload's.
        let unknown = Sent::single(b"hello", None);
        assert!(is_ours(&stored("", 5, None), &unknown).is_err());
    }

    #[test]
    fn a_multipart_object_is_known_by_the_etag_its_parts_make() {
        let parts = [
            "\"5d41402abc4b2a76b9719d911017c592\"",
            "7d793037a0760186574b0282f2f435e7",
        ];
        let sent = Sent::multipart(10, None, parts);
        let md5s: Vec<[u8; 16]> = parts.iter().map(|p| etag::md5_of(p).unwrap()).collect();
        let made = etag::multipart(&md5s);
        assert_eq!(is_ours(&stored(&made, 10, None), &sent), Ok(()));
        assert!(is_ours(&stored(&made, 11, None), &sent).is_err());
        let one_part = etag::multipart(&md5s[..1]);
        assert!(is_ours(&stored(&one_part, 10, None), &sent).is_err());
        // Parts whose ETags are not MD5s leave the checksum as the only witness.
        let opaque = Sent::multipart(10, Some("c3VtLTI=".into()), ["opaque"]);
        assert_eq!(
            is_ours(&stored("\"z-2\"", 10, Some("c3VtLTI=")), &opaque),
            Ok(())
        );
        assert!(is_ours(&stored("\"z-2\"", 10, None), &opaque).is_err());
    }
}
