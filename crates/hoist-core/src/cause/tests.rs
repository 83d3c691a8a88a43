use super::*;

fn err(status: u16, body: &str) -> S3Error {
    S3Error::parse(status, body.as_bytes()).unwrap()
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

const URL: &str = "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20250101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20250101T120000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=content-length%3Bhost&X-Amz-Signature=ab";

#[test]
fn ids_are_stable_and_serialize_as_strings() {
    for c in CauseId::ALL {
        assert_eq!(c.as_str().parse::<CauseId>().unwrap(), c);
    }
    assert_eq!(CauseId::Sigv2.as_str(), "sigv2");
    assert!("nope".parse::<CauseId>().is_err());
    let d = Diagnosis {
        cause: CauseId::CorsEtagHidden,
        evidence: "e".into(),
        fix: "f".into(),
    };
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(
        json,
        r#"{"cause":"cors-etag-hidden","evidence":"e","fix":"f"}"#
    );
    for c in CauseId::ALL {
        assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
        assert_eq!(
            serde_json::from_str::<CauseId>(&format!("\"{c}\"")).unwrap(),
            c
        );
    }
}

#[test]
fn from_presigned_url() {
    let ctx = RequestContext::from_presigned_url(URL).unwrap();
    assert_eq!(ctx.amz_date, Some(t("2025-01-01T12:00:00Z")));
    assert_eq!(ctx.expires, Some(300));
    assert_eq!(
        ctx.credential.as_deref(),
        Some("AK/20250101/us-east-1/s3/aws4_request")
    );
    assert_eq!(ctx.signed_headers, ["content-length", "host"]);
    assert_eq!(ctx.url_expires_at(), Some(t("2025-01-01T12:05:00Z")));
    assert!(!ctx.sigv2);
    let v2 = RequestContext::from_presigned_url(
        "https://b.s3.amazonaws.com/k?AWSAccessKeyId=AK&Expires=1700000000&Signature=abc%3D",
    )
    .unwrap();
    assert!(v2.sigv2);
    assert!(RequestContext::from_presigned_url("https://b/k").is_err());
    assert!(RequestContext::from_presigned_url("https://b/k?a=b").is_err());
    assert!(
        RequestContext::from_presigned_url("https://b/k?X-Amz-Algorithm=x&X-Amz-Date=2025")
            .is_err()
    );
}

#[test]
fn expired_url_with_evidence() {
    let e = err(
        403,
        "<Error><Code>AccessDenied</Code><Message>Request has expired</Message><X-Amz-Expires>300</X-Amz-Expires><Expires>2025-01-01T12:05:00Z</Expires><ServerTime>2025-01-01T12:13:20Z</ServerTime></Error>",
    );
    let ctx = RequestContext::from_presigned_url(URL).unwrap();
    let d = classify(&e, &ctx);
    assert_eq!(d.cause, CauseId::UrlExpired);
    // Without a send time, the server's time is the time of use.
    assert_eq!(
        d.evidence,
        "signed at 12:00:00Z for 300 s; used at 12:13:20Z, 500 s after expiry"
    );
    // Without the URL, the body's extras still name it.
    let d = classify(&e, &RequestContext::default());
    assert_eq!(d.cause, CauseId::UrlExpired);
    assert!(
        d.evidence.contains("2025-01-01T12:05:00Z"),
        "{}",
        d.evidence
    );
}

#[test]
fn garage_date_too_old_is_url_expired() {
    let e = err(
        400,
        "<Error><Code>InvalidRequest</Code><Message>Bad request: Date is too old</Message></Error>",
    );
    let ctx = RequestContext::from_presigned_url(URL)
        .unwrap()
        .sent_at(t("2025-01-01T12:10:00Z"));
    let d = classify(&e, &ctx);
    assert_eq!(d.cause, CauseId::UrlExpired);
    assert_eq!(
        d.evidence,
        "signed at 12:00:00Z for 300 s; used at 12:10:00Z, 300 s after expiry"
    );
}

#[test]
fn expired_by_server_clock_only_is_skew() {
    let e = err(
        403,
        "<Error><Code>AccessDenied</Code><Message>Request has expired</Message><ServerTime>2025-01-01T12:20:00Z</ServerTime></Error>",
    );
    let ctx = RequestContext::from_presigned_url(URL)
        .unwrap()
        .sent_at(t("2025-01-01T12:01:00Z"));
    let d = classify(&e, &ctx);
    assert_eq!(d.cause, CauseId::ClockSkew);
    assert!(d.evidence.contains("1140 s later"), "{}", d.evidence);
}

#[test]
fn expired_before_expiry_by_the_senders_clock_is_skew() {
    let e = err(
        403,
        "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
    );
    let ctx = RequestContext::from_presigned_url(URL)
        .unwrap()
        .sent_at(t("2025-01-01T12:04:00Z"));
    let d = classify(&e, &ctx);
    assert_eq!(d.cause, CauseId::ClockSkew);
    assert!(
        d.evidence
            .starts_with("signed at 12:00:00Z for 300 s; sent at 12:04:00Z, 60 s before expiry"),
        "{}",
        d.evidence
    );
}

#[test]
fn clock_skew_both_ways() {
    let e = err(
        403,
        "<Error><Code>AccessDenied</Code><Message>Request is not yet valid</Message><X-Amz-Date>20250101T120000Z</X-Amz-Date><Expires>2025-01-01T12:05:00Z</Expires><ServerTime>2025-01-01T11:50:00Z</ServerTime></Error>",
    );
    let d = classify(&e, &RequestContext::default());
    assert_eq!(d.cause, CauseId::ClockSkew);
    assert_eq!(
        d.evidence,
        "signed at 12:00:00Z but the server's time was 11:50:00Z: the signer's clock is 600 s ahead"
    );
    let e = err(
        403,
        "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and the current time is too large.</Message><RequestTime>20250101T120000Z</RequestTime><ServerTime>2025-01-01T12:20:00Z</ServerTime><MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds></Error>",
    );
    let d = classify(&e, &RequestContext::default());
    assert_eq!(d.cause, CauseId::ClockSkew);
    assert_eq!(
        d.evidence,
        "request time 12:00:00Z, server time 12:20:00Z: 1200 s apart, more than the 900 s allowed"
    );
}

#[test]
fn catalogue_cases() {
    let cases = [
        (
            400,
            "<Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed size</Message><ProposedSize>6000000000</ProposedSize><MaxSizeAllowed>5368709120</MaxSizeAllowed></Error>",
            CauseId::EntityTooLarge,
            "a single PUT of 6000000000 bytes; at most 5368709120 bytes are allowed",
        ),
        (
            400,
            "<Error><Code>EntityTooSmall</Code><Message>m</Message><ProposedSize>1024</ProposedSize><MinSizeAllowed>5242880</MinSizeAllowed><PartNumber>1</PartNumber><ETag>x</ETag></Error>",
            CauseId::PartTooSmall,
            "part 1, not the last, has 1024 bytes; at least 5242880 are required",
        ),
        (
            400,
            "<Error><Code>InvalidPart</Code><Message>m</Message><UploadId>u</UploadId><PartNumber>2</PartNumber><ETag>\"abc\"</ETag></Error>",
            CauseId::InvalidPart,
            "part 2 with ETag \"abc\" is not stored (missing, or stored with another ETag)",
        ),
        (
            400,
            "<Error><Code>InvalidPart</Code><Message>m</Message><UploadId>u</UploadId><PartNumber>3</PartNumber><ETag></ETag></Error>",
            CauseId::CorsEtagHidden,
            "CompleteMultipartUpload named part 3 with an empty ETag: the browser could not read it",
        ),
        (
            400,
            "<Error><Code>InvalidPartOrder</Code><Message>m</Message></Error>",
            CauseId::InvalidPart,
            "CompleteMultipartUpload listed the parts out of ascending part-number order",
        ),
        (
            404,
            "<Error><Code>NoSuchUpload</Code><Message>m</Message><UploadId>u-9</UploadId></Error>",
            CauseId::NoSuchUpload,
            "upload u-9 does not exist: never created, or already aborted or completed",
        ),
        (
            400,
            "<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>",
            CauseId::CredentialsExpired,
            "400 ExpiredToken \"The provided token has expired.\": the temporary credentials that signed it have expired",
        ),
        (
            400,
            "<Error><Code>InvalidRequest</Code><Message>The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.</Message></Error>",
            CauseId::Sigv2,
            "",
        ),
        (
            403,
            "<Error><Code>AccessForbidden</Code><Message>CORSResponse: This CORS request is not allowed.</Message><Method>PUT</Method><ResourceType>OBJECT</ResourceType></Error>",
            CauseId::CorsPreflight,
            "403 AccessForbidden: the CORS preflight matched no rule for method PUT on the OBJECT",
        ),
        (
            403,
            "<Error><Code>SignatureDoesNotMatch</Code><Message>m</Message><CanonicalRequest>PUT\n/k</CanonicalRequest></Error>",
            CauseId::SignatureMismatch,
            "the server computed another signature; the server's canonical request: \"PUT\\n/k\"",
        ),
        (
            500,
            "<Error><Code>InternalError</Code><Message>oops</Message></Error>",
            CauseId::Unknown,
            "500 InternalError: oops",
        ),
    ];
    for (status, body, cause, evidence) in cases {
        let d = classify(&err(status, body), &RequestContext::default());
        assert_eq!(d.cause, cause, "{body}");
        if !evidence.is_empty() {
            assert_eq!(d.evidence, evidence);
        }
        assert!(!d.fix.is_empty());
    }
}

#[test]
fn context_decides_bodyless_and_credential_cases() {
    // A HEAD answer has no body: the URL's own dates show it was dead.
    let e = S3Error::from_response(403, b"");
    let ctx = RequestContext::from_presigned_url(URL)
        .unwrap()
        .sent_at(t("2025-01-01T12:06:00Z"));
    assert_eq!(classify(&e, &ctx).cause, CauseId::UrlExpired);
    let ctx = RequestContext::from_presigned_url(URL)
        .unwrap()
        .sent_at(t("2025-01-01T12:01:00Z"));
    assert_eq!(classify(&e, &ctx).cause, CauseId::Unknown);
    // "Request has expired" before X-Amz-Expires, after the credentials died.
    let e = err(
        403,
        "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
    );
    let ctx = RequestContext::from_presigned_url(URL)
        .unwrap()
        .sent_at(t("2025-01-01T12:02:00Z"))
        .credentials_expire_at(t("2025-01-01T12:01:00Z"));
    let d = classify(&e, &ctx);
    assert_eq!(d.cause, CauseId::CredentialsExpired);
    assert_eq!(
        d.evidence,
        "the signing credentials expired at 12:01:00Z; the request was sent at 12:02:00Z, 60 s later"
    );
    let v2 =
        RequestContext::from_presigned_url("https://b/k?AWSAccessKeyId=AK&Expires=1&Signature=s")
            .unwrap();
    assert_eq!(
        classify(&S3Error::from_response(400, b""), &v2).cause,
        CauseId::Sigv2
    );
    assert_eq!(etag_hidden(&[]).cause, CauseId::CorsEtagHidden);
}

#[test]
fn a_refused_conditional_write_is_already_exists() {
    let ctx = RequestContext::default();
    let e = err(
        412,
        "<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message><Condition>If-None-Match</Condition></Error>",
    );
    let d = classify(&e, &ctx);
    assert_eq!(d.cause, CauseId::AlreadyExists);
    assert!(d.evidence.contains("(If-None-Match)"), "{}", d.evidence);
    let e = err(
        409,
        "<Error><Code>ConditionalRequestConflict</Code><Message>x</Message></Error>",
    );
    assert_eq!(classify(&e, &ctx).cause, CauseId::AlreadyExists);
    assert_eq!(CauseId::AlreadyExists.as_str(), "already-exists");
}
