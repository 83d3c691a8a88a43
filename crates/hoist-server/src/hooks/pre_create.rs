//! The pre-create hook: the application is asked, before an upload is created, whether it may
//! be and how. The request is signed as events are; its answer is read here into a verdict.
//!
//! Request body: `{"type": "upload.pre_create", "timestamp", "data": PreCreate}`.
//! Answer: 2xx with an empty body or `{}` lets the upload go as asked; 2xx with any of `key`,
//! `content_type`, `metadata` (replaces the whole set) and `max_size` changes it; 2xx with
//! `{"allow": false, "reason"}` or any 4xx refuses it with the reason (`reason`, `message` or
//! `error` of a JSON body, else the text). Anything else (5xx, 3xx, a timeout, no connection, a
//! 2xx that is not such JSON) is no verdict at all.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::event::Caller;
use super::sign::HookSecret;

/// Longest body read from a hook's answer.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Longest refusal reason passed on to the uploader.
const MAX_REASON_CHARS: usize = 500;

/// The `data` of a pre-create request: the upload as it would be created.
#[derive(Debug, Clone, Serialize)]
pub struct PreCreate {
    /// The route asked: `/v1/uploads`, `/v1/uploads/batch` (once per item), `/s3/multipart`,
    /// `/s3/params` or `/s3/sign`.
    pub route: &'static str,
    pub bucket: String,
    /// The key the coordinator chose or the caller asked for.
    pub key: String,
    pub filename: Option<String>,
    /// Declared size; absent where the uploader does not say (Uppy's multipart uploads).
    pub size: Option<u64>,
    pub content_type: String,
    pub metadata: BTreeMap<String, String>,
    /// `single` or `multipart`, where already decided.
    pub strategy: Option<&'static str>,
    pub caller: Caller,
}

/// What a 2xx answer may say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    /// `false` refuses the upload.
    #[serde(default)]
    pub allow: Option<bool>,
    #[serde(default)]
    pub reason: Option<String>,
    /// A key instead of the one proposed (within the caller's grant).
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    /// The upload's whole user metadata instead of the one asked for.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Largest size the upload may have, bytes.
    #[serde(default)]
    pub max_size: Option<u64>,
}

/// The application's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go, with these changes (all `None` for none).
    Allow(Changes),
    /// No: the hook's HTTP status and its reason.
    Refuse { status: u16, reason: String },
    /// The hook said nothing usable: why.
    Silent(String),
}

/// The reason a refusal gives, from its body: printable and short.
fn reason_of(body: &[u8]) -> String {
    let from_json = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["reason", "message", "error"]
                .iter()
                .find_map(|k| v.get(k)?.as_str().map(str::to_string))
        });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REASON_CHARS)
        .collect();
    let clean = clean.trim();
    if clean.is_empty() {
        "the application refused this upload".to_string()
    } else {
        clean.to_string()
    }
}

/// Reads a hook's answer into a verdict.
pub fn verdict(status: u16, body: &[u8]) -> Verdict {
    if body.len() > MAX_ANSWER_BYTES {
        return Verdict::Silent(format!("its answer is over {MAX_ANSWER_BYTES} bytes"));
    }
    match status {
        200..=299 => {
            if body.iter().all(u8::is_ascii_whitespace) {
                return Verdict::Allow(Changes::default());
            }
            match serde_json::from_slice::<Changes>(body) {
                Ok(c) if c.allow == Some(false) => Verdict::Refuse {
                    status,
                    reason: reason_of(c.reason.as_deref().unwrap_or("").as_bytes()),
                },
                Ok(c) => Verdict::Allow(c),
                Err(e) => Verdict::Silent(format!("its answer is not a verdict: {e}")),
            }
        }
        400..=499 => Verdict::Refuse {
            status,
            reason: reason_of(body),
        },
        _ => Verdict::Silent(format!("it answered {status}")),
    }
}

/// Asks the hook at `url`: one signed POST within `timeout`, never retried (an uploader waits).
pub(super) async fn ask(
    client: &reqwest::Client,
    secret: &HookSecret,
    url: &str,
    id: &str,
    body: &[u8],
    timeout: Duration,
) -> Verdict {
    match super::deliver::send(client, secret, url, id, body, timeout).await {
        Ok((status, answer)) => verdict(status, &answer),
        Err(why) => Verdict::Silent(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_read_into_verdicts() {
        assert_eq!(verdict(200, b""), Verdict::Allow(Changes::default()));
        assert_eq!(verdict(204, b" \n"), Verdict::Allow(Changes::default()));
        assert_eq!(verdict(200, b"{}"), Verdict::Allow(Changes::default()));
        let Verdict::Allow(c) = verdict(200, br#"{"key":"a/b","max_size":5}"#) else {
            panic!()
        };
        assert_eq!((c.key.as_deref(), c.max_size), (Some("a/b"), Some(5)));
        assert_eq!(
            verdict(200, br#"{"allow":false,"reason":"no\nvideos"}"#),
            Verdict::Refuse {
                status: 200,
                reason: "no videos".into()
            }
        );
        assert_eq!(
            verdict(422, br#"{"message":"quota exceeded"}"#),
            Verdict::Refuse {
                status: 422,
                reason: "quota exceeded".into()
            }
        );
        assert_eq!(
            verdict(403, b"plain words"),
            Verdict::Refuse {
                status: 403,
                reason: "plain words".into()
            }
        );
        assert!(
            matches!(verdict(403, b""), Verdict::Refuse { reason, .. } if reason.contains("refused"))
        );
        assert!(matches!(verdict(500, b"{}"), Verdict::Silent(_)));
        assert!(matches!(verdict(302, b""), Verdict::Silent(_)));
        assert!(matches!(verdict(200, b"not json"), Verdict::Silent(_)));
        // A misspelt field is no verdict, not a silent "allow as asked".
        assert!(matches!(
            verdict(200, br#"{"contentType":"x/y"}"#),
            Verdict::Silent(_)
        ));
        let long = vec![b'x'; 2000];
        assert!(
            matches!(verdict(400, &long), Verdict::Refuse { reason, .. } if reason.len() == MAX_REASON_CHARS)
        );
    }
}
