use std::time::Duration;

use super::sign::normalize_value;
use super::*;

fn aws_doc_signer() -> Presigner {
    let creds = Credentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    let endpoint = Endpoint::parse("https://examplebucket.s3.amazonaws.com", "us-east-1")
        .unwrap()
        .virtual_host();
    Presigner::new(creds, endpoint)
}

fn c_auth_signer(token: Option<&str>) -> Presigner {
    let mut creds = Credentials::new("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
    if let Some(t) = token {
        creds = creds.with_session_token(t);
    }
    let endpoint = Endpoint::parse("https://example.amazonaws.com", "us-east-1")
        .unwrap()
        .with_service("service");
    Presigner::new(creds, endpoint)
}

fn c_auth_time() -> Timestamp {
    Timestamp::parse_amz_date("20150830T123600Z").unwrap()
}

#[test]
fn aws_documentation_vector() {
    let now = Timestamp::parse_amz_date("20130524T000000Z").unwrap();
    let req = PresignRequest::get_object("examplebucket", "test.txt")
        .expires_in(Duration::from_secs(86400));
    let url = aws_doc_signer().presign(&req, now).unwrap();
    assert_eq!(
        url.url,
        "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256\
         &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
         &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
         &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
    assert_eq!(url.expires_at, now.plus(Duration::from_secs(86400)));
    assert!(url.headers.is_empty());
}

#[test]
fn aws_c_auth_query_order_key_case() {
    let req = PresignRequest::new(Method::Get, "", "")
        .query_param("Param2", "value2")
        .query_param("Param1", "value1")
        .payload_hash(EMPTY_SHA256);
    let url = c_auth_signer(None).presign(&req, c_auth_time()).unwrap();
    assert_eq!(
        url.signature(),
        "86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5"
    );
    assert!(url.url.starts_with(
        "https://example.amazonaws.com/?Param1=value1&Param2=value2&X-Amz-Algorithm="
    ));
}

#[test]
fn aws_c_auth_session_token() {
    let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
    // The token is part of the signed query; only `host` is a signed header.
    let req = PresignRequest::new(Method::Get, "", "").payload_hash(EMPTY_SHA256);
    let url = c_auth_signer(Some(token))
        .presign(&req, c_auth_time())
        .unwrap();
    assert_eq!(
        url.signature(),
        "7ff2b50b376cb4d151970630573d6291dc128cc5c2a12ffb237f73cc53f67b6c"
    );
    assert!(url.url.contains(&format!(
        "&X-Amz-Security-Token={token}&X-Amz-SignedHeaders=host&"
    )));
    assert!(url.headers.is_empty());
}

#[test]
fn aws_c_auth_space_unnormalized() {
    let req = PresignRequest::new(Method::Get, "", "example space/").payload_hash(EMPTY_SHA256);
    let url = c_auth_signer(None).presign(&req, c_auth_time()).unwrap();
    assert_eq!(
        url.signature(),
        "7a1f416954786484c9824d93c1f26ef64acb9b1b6c9154d08c9f07d0e394abf6"
    );
    assert!(
        url.url
            .starts_with("https://example.amazonaws.com/example%20space/?")
    );
}

#[test]
fn aws_c_auth_utf8() {
    let req = PresignRequest::new(Method::Get, "", "ሴ").payload_hash(EMPTY_SHA256);
    let url = c_auth_signer(None).presign(&req, c_auth_time()).unwrap();
    assert_eq!(
        url.signature(),
        "10eae3f14a260bd3911cc6d008d3c576d143b05b62f09782a7a4b37f52178e44"
    );
}

#[test]
fn path_style_upload_part_with_pinned_length() {
    let creds = Credentials::new("AK", "SK").with_session_token("tok/en+");
    let endpoint = Endpoint::parse("http://127.0.0.1:9000/", "garage").unwrap();
    let signer = Presigner::new(creds, endpoint);
    let req = PresignRequest::upload_part("media", "a b/../c", "up+id", 3).content_length(5 << 20);
    let url = signer
        .presign(&req, Timestamp::from_unix(1_700_000_000))
        .unwrap();
    let (base, query) = url.url.split_once('?').unwrap();
    assert_eq!(base, "http://127.0.0.1:9000/media/a%20b/../c");
    let names: Vec<&str> = query
        .split('&')
        .map(|kv| kv.split_once('=').unwrap().0)
        .collect();
    assert_eq!(
        names,
        [
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-Security-Token",
            "X-Amz-SignedHeaders",
            "partNumber",
            "uploadId",
            "X-Amz-Signature"
        ]
    );
    assert!(query.contains("X-Amz-Security-Token=tok%2Fen%2B&"));
    assert!(query.contains("X-Amz-SignedHeaders=content-length%3Bhost&"));
    assert!(query.contains("uploadId=up%2Bid&"));
    assert_eq!(
        url.headers,
        vec![("content-length".to_owned(), "5242880".to_owned())]
    );
}

#[test]
fn virtual_host_prefixes_bucket_unless_present() {
    let e = Endpoint::parse("https://s3.eu-west-1.amazonaws.com:443", "eu-west-1")
        .unwrap()
        .virtual_host();
    assert_eq!(e.host_for("media"), "media.s3.eu-west-1.amazonaws.com");
    let e = Endpoint::parse("https://media.s3.amazonaws.com", "us-east-1")
        .unwrap()
        .virtual_host();
    assert_eq!(e.host_for("media"), "media.s3.amazonaws.com");
    assert_eq!(e.host_for("med"), "med.media.s3.amazonaws.com");
    for bad in [
        "s3.amazonaws.com",
        "https://",
        "https://h/path",
        "ftp://h",
        "https://u@h",
    ] {
        assert!(Endpoint::parse(bad, "r").is_err(), "{bad}");
    }
}

#[test]
fn refuses_what_cannot_be_signed() {
    let s = aws_doc_signer();
    let now = Timestamp::from_unix(1_700_000_000);
    let req = PresignRequest::get_object("b", "k").expires_in(Duration::from_secs(604_801));
    assert_eq!(
        s.presign(&req, now).unwrap_err(),
        PresignError::ExpiresOutOfRange { secs: 604_801 }
    );
    let req = PresignRequest::get_object("b", "k").expires_in(Duration::from_millis(999));
    assert!(matches!(
        s.presign(&req, now),
        Err(PresignError::ExpiresOutOfRange { secs: 0 })
    ));
    let req = PresignRequest::get_object("b", "k").header("host", "x");
    assert!(matches!(
        s.presign(&req, now),
        Err(PresignError::InvalidHeader { .. })
    ));
    let req = PresignRequest::get_object("b", "k")
        .header("x-a", "1")
        .header("X-A", "2");
    assert!(matches!(
        s.presign(&req, now),
        Err(PresignError::InvalidHeader { .. })
    ));
    let req = PresignRequest::get_object("b", "k").header("x-a", "1\r\nx-b: 2");
    assert!(matches!(
        s.presign(&req, now),
        Err(PresignError::InvalidHeader { .. })
    ));

    let creds = Credentials::new("AK", "SK").with_expiry(now.plus(Duration::from_secs(600)));
    let temp = Presigner::new(creds, Endpoint::aws("us-east-1"));
    let req = PresignRequest::get_object("b", "k").expires_in(Duration::from_secs(601));
    assert!(matches!(
        temp.presign(&req, now),
        Err(PresignError::OutlivesCredentials { .. })
    ));
    let req = PresignRequest::get_object("b", "k").expires_in(Duration::from_secs(600));
    assert!(temp.presign(&req, now).is_ok());
    let later = now.plus(Duration::from_secs(600));
    assert!(matches!(
        temp.presign(&req, later),
        Err(PresignError::CredentialsExpired { .. })
    ));
}

#[test]
fn signing_key_cache_follows_the_date() {
    let s = aws_doc_signer();
    let req = PresignRequest::get_object("examplebucket", "test.txt")
        .expires_in(Duration::from_secs(86400));
    let day1 = Timestamp::parse_amz_date("20130524T000000Z").unwrap();
    let day2 = Timestamp::parse_amz_date("20130525T000000Z").unwrap();
    let a = s.presign(&req, day1).unwrap();
    let b = s.presign(&req, day2).unwrap();
    let c = s.presign(&req, day1).unwrap();
    assert_ne!(a.signature(), b.signature());
    assert_eq!(a, c);
    // A fresh signer (cold cache) agrees with the warm one.
    assert_eq!(aws_doc_signer().presign(&req, day2).unwrap(), b);
}

#[test]
fn header_values_are_normalized_and_methods_parse() {
    assert_eq!(normalize_value("  a   b\tc  "), "a b\tc");
    assert!(matches!(normalize_value("plain"), Cow::Borrowed("plain")));
    assert_eq!("put".parse::<Method>().unwrap(), Method::Put);
    assert!(matches!(
        "FETCH".parse::<Method>(),
        Err(PresignError::UnknownMethod(_))
    ));
}

#[test]
fn caller_query_sorts_around_the_signing_block() {
    let s = aws_doc_signer();
    let req = PresignRequest::get_object("examplebucket", "k")
        .query_param("versionId", "v")
        .query_param("A", "1")
        .query_param("é", "2")
        .query_param("a b", "3")
        .query_param("A", "0");
    let url = s
        .presign(&req, Timestamp::from_unix(1_700_000_000))
        .unwrap();
    let names: Vec<&str> = url
        .url
        .split_once('?')
        .unwrap()
        .1
        .split('&')
        .map(|kv| kv.split_once('=').unwrap().0)
        .collect();
    assert_eq!(
        names,
        [
            "%C3%A9",
            "A",
            "A",
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "a%20b",
            "versionId",
            "X-Amz-Signature"
        ]
    );
    assert!(url.url.contains("A=0&A=1&"));
    let req = PresignRequest::get_object("b", "k").query_param("x-amz-date", "1");
    assert!(matches!(
        s.presign(&req, Timestamp::from_unix(0)),
        Err(PresignError::ReservedQueryParam(_))
    ));
}

#[test]
fn signature_from_a_string_to_sign_matches_the_aws_vector() {
    // The canonical request of the AWS documentation's presigned GET.
    let canonical = "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256\
        &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
        &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n\
        host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD";
    let sts = string_to_sign(
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
        canonical,
    );
    assert_eq!(
        sts,
        "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
         3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04"
    );
    let key = signing_key(
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "20130524",
        "us-east-1",
        "s3",
    );
    assert_eq!(
        signature(&key, &sts),
        "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    );
}

/// Every way a request of a batch can differ from the first: a `PartsSigner` gives what
/// `presign` gives for each, in order.
#[test]
fn parts_signed_together_are_the_urls_signed_one_by_one() {
    let token = "IQoJb3JpZ2luX2VjE/+token=with&odd%chars";
    let path = Endpoint::parse("http://127.0.0.1:9000", "eu-west-3").unwrap();
    let virtual_host = Endpoint::parse("https://s3.example.com", "us-east-1")
        .unwrap()
        .virtual_host();
    let creds = || Credentials::new("AKID/EXAMPLE", "secret+key/");
    let signers = [
        Presigner::new(creds(), path.clone()),
        Presigner::new(creds().with_session_token(token), path),
        Presigner::new(creds().with_session_token(token), virtual_host),
    ];
    let key = "photos/2026 été/a+b&c=d?.jpg";
    let id = "2~abc/DEF+ghi=";
    let part = |n: u32| PresignRequest::upload_part("my-bucket", key, id, n);
    let sized = |n: u32, len: u64| part(n).content_length(len);
    let reqs = vec![
        sized(1, 8 << 20).header("x-amz-checksum-crc32", "AAAAAA=="),
        sized(2, 8 << 20).header("x-amz-checksum-crc32", "BBBBBB=="),
        sized(10_000, 17).header("x-amz-checksum-crc32", " CC  CC== "),
        // A different set of headers, upload, key, bucket, lifetime or method: signed alone.
        sized(3, 5),
        part(4).header("x-amz-checksum-crc32", "DD=="),
        PresignRequest::upload_part("my-bucket", key, "other", 5)
            .content_length(1)
            .header("x-amz-checksum-crc32", "EE=="),
        PresignRequest::upload_part("my-bucket", "other key", id, 6)
            .content_length(1)
            .header("x-amz-checksum-crc32", "FF=="),
        PresignRequest::upload_part("other-bucket", key, id, 7)
            .content_length(1)
            .header("x-amz-checksum-crc32", "GG=="),
        sized(8, 1)
            .header("x-amz-checksum-crc32", "HH==")
            .expires_in(Duration::from_secs(60)),
        PresignRequest::get_object("my-bucket", key),
        // A number that is not digits, or a second one: signed alone, as presign signs it.
        PresignRequest::upload_part("my-bucket", key, id, 9)
            .content_length(1)
            .header("x-amz-checksum-crc32", "II==")
            .query_param("partNumber", "9"),
        // An extra parameter that sorts before the number.
        sized(11, 1)
            .header("x-amz-checksum-crc32", "JJ==")
            .query_param("a", "b"),
        // And back to the first shape.
        sized(12, 8 << 20).header("x-amz-checksum-crc32", "KK=="),
    ];
    let mut not_digits = part(13).content_length(1);
    not_digits.query[0].1 = "1 3".into();
    let mut reqs = reqs;
    reqs.push(not_digits.header("x-amz-checksum-crc32", "LL=="));
    let now = Timestamp::from_unix(1_764_950_000);
    for signer in &signers {
        let one_by_one: Vec<_> = reqs
            .iter()
            .map(|r| signer.presign(r, now).unwrap())
            .collect();
        assert_eq!(together(signer, &reqs, now).unwrap(), one_by_one);
        // Every request as the batch's first.
        for first in 0..reqs.len() {
            let mut rotated = reqs.clone();
            rotated.rotate_left(first);
            let mut expected = one_by_one.clone();
            expected.rotate_left(first);
            assert_eq!(together(signer, &rotated, now).unwrap(), expected);
        }
    }
    // A part that cannot be signed fails the batch with presign's error.
    let bad = vec![sized(1, 1), sized(2, 1).header("content-length", "2")];
    assert_eq!(
        together(&signers[1], &bad, now).unwrap_err(),
        signers[1].presign(&bad[1], now).unwrap_err()
    );
}

fn together(
    signer: &Presigner,
    reqs: &[PresignRequest<'_>],
    now: Timestamp,
) -> Result<Vec<PresignedUrl>, PresignError> {
    let mut parts = signer.parts_signer(now, reqs.len());
    reqs.iter().map(|r| parts.presign(r)).collect()
}

#[test]
fn a_parts_signer_for_one_part_keeps_nothing_and_signs_past_its_count() {
    let endpoint = Endpoint::parse("http://127.0.0.1:9000", "us-east-1").unwrap();
    let signer = Presigner::new(Credentials::new("AKID", "secret"), endpoint);
    let now = Timestamp::from_unix(1_764_950_000);
    let part = |n| PresignRequest::upload_part("bucket", "key", "upload", n).content_length(5);
    let kept = |parts: &PartsSigner<'_>| format!("{parts:?}").contains("first_part_kept: true");

    let mut one = signer.parts_signer(now, 1);
    assert_eq!(
        one.presign(&part(1)).unwrap(),
        signer.presign(&part(1), now).unwrap()
    );
    assert!(!kept(&one), "{one:?}");
    // A request past the count is signed all the same.
    assert_eq!(
        one.presign(&part(2)).unwrap(),
        signer.presign(&part(2), now).unwrap()
    );

    let mut two = signer.parts_signer(now, 2);
    assert_eq!(
        two.presign(&part(1)).unwrap(),
        signer.presign(&part(1), now).unwrap()
    );
    assert!(kept(&two), "{two:?}");
    assert_eq!(
        two.presign(&part(2)).unwrap(),
        signer.presign(&part(2), now).unwrap()
    );
}
