//! The words of the catalogue: for every [`CauseId`], a title, what it means, the fix, and what
//! the browser uploader tells the person uploading. The coordinator serves them (so the browser
//! module carries ids only, never these texts), and [`classify`](super::classify) takes its
//! fixes from here.

use serde::Serialize;

use super::CauseId;

/// What the catalogue says of one cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct Entry {
    /// A few words naming the cause.
    pub title: &'static str,
    /// What happened, and how the store says it.
    pub explanation: &'static str,
    /// What to change, for whoever runs the setup.
    pub fix: &'static str,
    /// What a browser uploader tells the person uploading. `{origin}` stands for the page's
    /// origin and is filled in by the uploader.
    pub browser: &'static str,
}

impl CauseId {
    /// The catalogue's entry for this cause.
    ///
    /// ```
    /// use hoist_core::cause::CauseId;
    /// assert_eq!(CauseId::UrlExpired.entry().title, "Presigned URL expired");
    /// ```
    pub const fn entry(self) -> &'static Entry {
        match self {
            CauseId::UrlExpired => &URL_EXPIRED,
            CauseId::EntityTooLarge => &ENTITY_TOO_LARGE,
            CauseId::ClockSkew => &CLOCK_SKEW,
            CauseId::CorsPreflight => &CORS_PREFLIGHT,
            CauseId::CorsEtagHidden => &CORS_ETAG_HIDDEN,
            CauseId::Sigv2 => &SIGV2,
            CauseId::CredentialsExpired => &CREDENTIALS_EXPIRED,
            CauseId::SignatureMismatch => &SIGNATURE_MISMATCH,
            CauseId::PartTooSmall => &PART_TOO_SMALL,
            CauseId::InvalidPart => &INVALID_PART,
            CauseId::NoSuchUpload => &NO_SUCH_UPLOAD,
            CauseId::AlreadyExists => &ALREADY_EXISTS,
            CauseId::Unknown => &UNKNOWN,
        }
    }
}

/// Every cause with its entry, in catalogue order.
pub fn catalogue() -> impl Iterator<Item = (CauseId, &'static Entry)> {
    CauseId::ALL.into_iter().map(|c| (c, c.entry()))
}

const URL_EXPIRED: Entry = Entry {
    title: "Presigned URL expired",
    explanation: "The presigned URL reached the store after X-Amz-Date plus X-Amz-Expires, and the store refused it (403 AccessDenied \"Request has expired\"; some stores answer 400 \"Date is too old\").",
    fix: "sign URLs just before use and re-sign on expiry (hoist re-signs parts by itself); \
          for a single PUT, give the URL at least the transfer time at the slowest expected bandwidth × 1.5",
    browser: "The upload URL expired before the request reached the store; a fresh one is signed and the request is sent again.",
};

const ENTITY_TOO_LARGE: Entry = Entry {
    title: "Too large for a single PUT",
    explanation: "One PUT carried more bytes than the store takes in a single request (5 GiB on S3), and the store refused it (400 EntityTooLarge).",
    fix: "upload objects above the single-PUT limit (5 GiB on S3) with multipart; hoist plans this from the size",
    browser: "The store refused the file as too large for a single upload: the upload service's single-upload threshold is above what this store accepts.",
};

const CLOCK_SKEW: Entry = Entry {
    title: "Signer's clock off from the store's",
    explanation: "The clock that signed the request and the store's clock disagree: URLs arrive not yet valid or already expired, or the request time is too far from the store's (403 RequestTimeTooSkewed).",
    fix: "sync the signer's clock (NTP), or let hoist measure the offset from the store's Date header and sign with corrected time",
    browser: "The clocks of the upload service and the store disagree, or requests wait too long before reaching the store. Fix the clock of the upload service's machine (hoist doctor measures the offset).",
};

const CORS_PREFLIGHT: Entry = Entry {
    title: "CORS preflight refused",
    explanation: "The browser's CORS preflight (OPTIONS) matched no CORS rule of the bucket for the page's origin, method and headers, so the browser never sent the request; the page sees only a failed connection.",
    fix: "add a bucket CORS rule allowing the page's origin, methods PUT/POST/GET and the requested headers (hoist doctor --fix does it)",
    browser: "If the store is up, its CORS rules most likely do not allow PUT from {origin}; hoist doctor --origin {origin} checks them and --fix sets them.",
};

const CORS_ETAG_HIDDEN: Entry = Entry {
    title: "ETag hidden from the browser",
    explanation: "The bucket's CORS rule does not list ETag in ExposeHeaders, so a browser cannot read the ETag of a part it uploaded, and a CompleteMultipartUpload naming the parts carries empty ETags.",
    fix: "add ETag to the bucket CORS rule's ExposeHeaders (hoist doctor --fix does it)",
    browser: "The store's CORS rules do not expose the ETag header, so the browser cannot read the parts' ETags. The upload still completes (the upload service reads them from the store), but add \"ETag\" to ExposeHeaders (hoist doctor --fix does it).",
};

const SIGV2: Entry = Entry {
    title: "Signature Version 2 refused",
    explanation: "The request is signed with Signature Version 2 where only Signature Version 4 (AWS4-HMAC-SHA256) is accepted (400 InvalidRequest).",
    fix: "sign with Signature Version 4 (AWS4-HMAC-SHA256): set signature_version='s3v4' in boto3 or use hoist presign",
    browser: "The store only accepts Signature Version 4, and the upload URL was signed with an older scheme.",
};

const CREDENTIALS_EXPIRED: Entry = Entry {
    title: "Signing credentials expired",
    explanation: "The temporary credentials that signed the request had expired when it reached the store; every URL they signed dies with them, whatever its X-Amz-Expires (400 ExpiredToken).",
    fix: "refresh the credentials and re-sign; cap URL TTLs at the credentials' expiry (hoist does)",
    browser: "The credentials that signed the upload URL expired. The upload service must use credentials that outlive its URLs (hoist doctor checks this).",
};

const SIGNATURE_MISMATCH: Entry = Entry {
    title: "Signature does not match",
    explanation: "The store computed another signature than the request carries: a wrong secret key, region or endpoint host, or a signed header sent differently from how it was signed (403 SignatureDoesNotMatch).",
    fix: "check the secret key, the region and the endpoint host the URL was signed for",
    browser: "The upload URL's signature does not match: the upload service signs with the wrong key or region, or a proxy changed the request on its way to the store.",
};

const PART_TOO_SMALL: Entry = Entry {
    title: "Part below 5 MiB",
    explanation: "A part other than the last is smaller than the store's minimum (5 MiB on S3), so CompleteMultipartUpload is refused (400 EntityTooSmall).",
    fix: "make every part but the last at least 5 MiB (5242880 bytes); hoist's planner never goes below",
    browser: "The store refused to assemble the file because a part other than the last was below its minimum size.",
};

const INVALID_PART: Entry = Entry {
    title: "Part missing or with another ETag",
    explanation: "CompleteMultipartUpload named a part the store does not hold, or holds with another ETag, or listed the parts out of order (400 InvalidPart or InvalidPartOrder).",
    fix: "complete with the ETags the store returned, in part-number order; ListParts shows what is stored",
    browser: "The store refused to assemble the file: a part it was asked to use is not stored as described.",
};

const NO_SUCH_UPLOAD: Entry = Entry {
    title: "Upload no longer exists",
    explanation: "The multipart upload id is unknown to the store: never created, or already aborted (a cancel, hoist gc, a lifecycle rule) or completed (404 NoSuchUpload).",
    fix: "start a new upload; if it was aborted, check `hoist gc` and lifecycle rules against the upload's age",
    browser: "The store no longer knows this upload (it was aborted, completed or cleaned up). Start the upload again.",
};

const ALREADY_EXISTS: Entry = Entry {
    title: "Object already exists",
    explanation: "The upload was made not to replace an object (no-clobber: If-None-Match: * on its PUT or CompleteMultipartUpload), and an object exists at its key, written before it or while it went on; the store kept that object (412 PreconditionFailed, or 409 ConditionalRequestConflict).",
    fix: "upload under another key, or delete the object first if replacing it is intended; without no-clobber (`--no-clobber`, `if_none_match`, a grant's `no_clobber` claim) an upload replaces it",
    browser: "A file with this name is already stored, and this upload may not replace it. Rename the file, or ask for the stored one to be removed first.",
};

const UNKNOWN: Entry = Entry {
    title: "No known cause",
    explanation: "The error matches none of the catalogue's causes; its code and message are the evidence.",
    fix: "no known cause; see the error code and message",
    browser: "The store refused the upload for a reason hoist does not recognise; its answer is in the error's detail.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cause_has_every_text() {
        assert_eq!(catalogue().count(), CauseId::ALL.len());
        for (id, e) in catalogue() {
            for (field, text) in [
                ("title", e.title),
                ("explanation", e.explanation),
                ("fix", e.fix),
                ("browser", e.browser),
            ] {
                assert!(!text.trim().is_empty(), "{id}: empty {field}");
                assert_eq!(text, text.trim(), "{id}: {field} has outer spaces");
                assert!(!text.contains("  "), "{id}: {field} has a double space");
            }
            assert!(
                e.title.len() <= 40 && !e.title.ends_with('.'),
                "{id}: {}",
                e.title
            );
            // Only `{origin}` is filled in by the uploader.
            let rest = e.browser.replace("{origin}", "");
            assert!(!rest.contains(['{', '}']), "{id}: {}", e.browser);
        }
    }

    #[test]
    fn serializes_by_field_name() {
        let json = serde_json::to_value(CauseId::Sigv2.entry()).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["browser", "explanation", "fix", "title"]);
    }
}
