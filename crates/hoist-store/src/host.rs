//! Virtual-hosted-style addressing: with a domain set (as MinIO's and Garage's root domain),
//! a request whose `Host` is `BUCKET.DOMAIN[:PORT]` addresses BUCKET, and every other host
//! (the domain itself, an IP address, any other name) is path-style, as without a domain.

use std::borrow::Cow;

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

/// The domain under which bucket names are host names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Domain(String);

/// A host name without its port (an IPv6 literal keeps its brackets).
fn without_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.find(']').map_or(host, |i| &host[..i + 2]);
    }
    host.split_once(':').map_or(host, |(name, _)| name)
}

impl Domain {
    /// The domain, in lower case, without a leading or trailing dot; `None` when empty.
    pub fn new(domain: &str) -> Option<Self> {
        let domain = domain.trim().trim_matches('.').to_ascii_lowercase();
        (!domain.is_empty()).then_some(Self(domain))
    }

    /// The bucket a `Host` header names, in lower case (host names are case-insensitive);
    /// `None` for a path-style request.
    pub fn bucket_of(&self, host: &str) -> Option<String> {
        let name = without_port(host.trim()).to_ascii_lowercase();
        let bucket = name.strip_suffix(&self.0)?.strip_suffix('.')?;
        (!bucket.is_empty()).then(|| bucket.to_owned())
    }

    /// The path-style host of the same endpoint as a virtual-hosted `host`: the bucket's
    /// label dropped, the port kept. `None` when `host` names no bucket.
    pub fn path_style_host(&self, host: &str) -> Option<String> {
        let bucket = self.bucket_of(host)?;
        Some(host.trim()[bucket.len() + 1..].to_owned())
    }
}

impl S3Host for Domain {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match self.bucket_of(host) {
            Some(bucket) => VirtualHost::new(self.0.as_str()).with_bucket(Cow::Owned(bucket)),
            None => VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_read_from_hosts_under_the_domain_only() {
        let domain = Domain::new("S3.Local.").unwrap();
        assert_eq!(domain.bucket_of("b1.s3.local:9000").as_deref(), Some("b1"));
        assert_eq!(
            domain.bucket_of("My-Bucket.S3.LOCAL").as_deref(),
            Some("my-bucket")
        );
        assert_eq!(domain.bucket_of("a.b.s3.local").as_deref(), Some("a.b"));
        for path_style in [
            "s3.local:9000",
            "s3.local",
            "127.0.0.1:9000",
            "[::1]:9000",
            "xs3.local",
            "b.other",
        ] {
            assert_eq!(domain.bucket_of(path_style), None, "{path_style}");
        }
        assert_eq!(
            domain.path_style_host("b1.s3.local:9000").as_deref(),
            Some("s3.local:9000")
        );
        assert_eq!(domain.path_style_host("127.0.0.1:9000"), None);
        assert_eq!(Domain::new(" "), None);
    }
}
