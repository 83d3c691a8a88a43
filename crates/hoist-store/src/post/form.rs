//! The part of a `multipart/form-data` POST that comes before the file: its fields, and where
//! the file's bytes begin. S3 ignores anything after the file, and reads no field past it.

use bytes::Bytes;
use http::StatusCode;

use crate::errors::ErrorAnswer;

/// The longest run of fields before the file that the store reads (S3 allows about 20 KB;
/// a session token and a long policy fit well under this).
pub(crate) const MAX_PREFIX: usize = 256 * 1024;

/// The fields before the file, and the file part's own details.
#[derive(Debug)]
pub(crate) struct Prefix {
    /// `(name, value)`, names as sent.
    pub fields: Vec<(String, String)>,
    /// The file part's `filename` (what `${filename}` in the key stands for).
    pub filename: String,
    /// Bytes of the body up to the first byte of the file.
    pub consumed: usize,
}

/// What reading the prefix found in `buf` so far.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// The file part begins at `prefix.consumed`.
    Ready(Prefix),
    /// More bytes are needed.
    Incomplete,
}

pub(crate) fn malformed() -> ErrorAnswer {
    ErrorAnswer::new(
        StatusCode::BAD_REQUEST,
        "MalformedPOSTRequest",
        "The body of your POST request is not well-formed multipart/form-data.",
    )
}

fn no_file() -> ErrorAnswer {
    ErrorAnswer::new(
        StatusCode::BAD_REQUEST,
        "InvalidArgument",
        "POST requires exactly one file upload per request.",
    )
    .extra("ArgumentName", "file")
    .extra("ArgumentValue", "0")
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// A `Content-Disposition` parameter (`name="x"`), quotes removed.
fn disposition_param(headers: &str, param: &str) -> Option<String> {
    let line = headers
        .split("\r\n")
        .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
    line.split(';').skip(1).find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(param)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Parses the fields in `buf` up to the file part, or says more bytes are needed.
pub(crate) fn parse_prefix(buf: &[u8], boundary: &str) -> Result<Parsed, ErrorAnswer> {
    let open = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    // A preamble before the first boundary is allowed and ignored.
    let Some(first) = find(buf, open.as_bytes(), 0) else {
        return Ok(Parsed::Incomplete);
    };
    let mut pos = first + open.len();
    let mut fields = Vec::new();
    loop {
        if buf.len() < pos + 2 {
            return Ok(Parsed::Incomplete);
        }
        match &buf[pos..pos + 2] {
            b"\r\n" => pos += 2,
            b"--" => return Err(no_file()),
            _ => return Err(malformed()),
        }
        let Some(headers_end) = find(buf, b"\r\n\r\n", pos) else {
            return Ok(Parsed::Incomplete);
        };
        let headers = std::str::from_utf8(&buf[pos..headers_end]).map_err(|_| malformed())?;
        let name = disposition_param(headers, "name").ok_or_else(malformed)?;
        let body_start = headers_end + 4;
        if name.eq_ignore_ascii_case("file") {
            return Ok(Parsed::Ready(Prefix {
                fields,
                filename: disposition_param(headers, "filename").unwrap_or_default(),
                consumed: body_start,
            }));
        }
        let Some(value_end) = find(buf, delimiter.as_bytes(), body_start) else {
            return Ok(Parsed::Incomplete);
        };
        let value =
            String::from_utf8(buf[body_start..value_end].to_vec()).map_err(|_| malformed())?;
        fields.push((name, value));
        pos = value_end + delimiter.len();
    }
}

/// The bytes that close a form whose file is its last part.
pub(crate) fn closing(boundary: &str) -> Bytes {
    Bytes::from(format!("\r\n--{boundary}--\r\n"))
}

/// The boundary of a `multipart/form-data` content type.
pub(crate) fn boundary_of(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';');
    if !parts
        .next()?
        .trim()
        .eq_ignore_ascii_case("multipart/form-data")
    {
        return None;
    }
    parts.find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.trim().eq_ignore_ascii_case("boundary") && !v.is_empty() && v.len() <= 70)
            .then(|| v.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = "preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\na/${filename}\r\n--XyZ\r\ncontent-disposition: form-data; name=\"Content-Type\"\r\n\r\ntext/plain\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"h.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n";

    #[test]
    fn fields_up_to_the_file() {
        let Parsed::Ready(p) = parse_prefix(FORM.as_bytes(), "XyZ").unwrap() else {
            panic!("complete form");
        };
        assert_eq!(
            p.fields,
            vec![
                ("key".to_owned(), "a/${filename}".to_owned()),
                ("Content-Type".to_owned(), "text/plain".to_owned())
            ]
        );
        assert_eq!(p.filename, "h.txt");
        assert!(FORM[p.consumed..].starts_with("hello\r\n--XyZ--"));
        assert_eq!(FORM.len() - p.consumed - closing("XyZ").len(), 5);
        // Every shorter prefix that stops before the file asks for more.
        for cut in 0..p.consumed {
            assert!(matches!(
                parse_prefix(&FORM.as_bytes()[..cut], "XyZ"),
                Ok(Parsed::Incomplete)
            ));
        }
    }

    #[test]
    fn a_form_without_a_file_or_with_garbage_is_refused() {
        let none = "--B\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n--B--\r\n";
        assert_eq!(
            parse_prefix(none.as_bytes(), "B").unwrap_err().code,
            "InvalidArgument"
        );
        let bad = "--B\r\nno disposition here\r\n\r\nk\r\n--B--\r\n";
        assert_eq!(
            parse_prefix(bad.as_bytes(), "B").unwrap_err().code,
            "MalformedPOSTRequest"
        );
        assert_eq!(
            parse_prefix(b"--Bxx", "B").unwrap_err().code,
            "MalformedPOSTRequest"
        );
    }

    #[test]
    fn boundaries() {
        assert_eq!(
            boundary_of("multipart/form-data; boundary=----WebKitFormBoundaryA1").as_deref(),
            Some("----WebKitFormBoundaryA1")
        );
        assert_eq!(
            boundary_of("Multipart/Form-Data; charset=utf-8; boundary=\"q\"").as_deref(),
            Some("q")
        );
        assert_eq!(boundary_of("multipart/mixed; boundary=q"), None);
        assert_eq!(boundary_of("multipart/form-data"), None);
    }
}
