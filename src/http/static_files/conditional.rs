//! Validators and conditional requests for static files: the `ETag` and
//! `Last-Modified` of a file, the preconditions of RFC 9110 section 13
//! (If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since) and
//! whether `If-Range` lets a range request through. Pure: header values in,
//! decisions out.

use std::time::{Duration, UNIX_EPOCH};

/// A file's validators, as sent in `ETag` and `Last-Modified`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Validators {
    /// The strong entity tag, quotes included.
    pub(super) etag: String,
    /// The modification time as an HTTP date (whole seconds).
    pub(super) last_modified: String,
    /// The modification time in whole seconds since the Unix epoch.
    mtime_secs: u64,
}

/// What the preconditions say about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Precondition {
    /// 412: If-Match or If-Unmodified-Since failed.
    Failed,
    /// 304: If-None-Match or If-Modified-Since says the client's copy is current.
    NotModified,
    /// Serve the file (or a range of it).
    Proceed,
}

impl Validators {
    /// The validators of a file modified at `mtime` (since the epoch) with
    /// `size` bytes, served with content coding `encoding` if any.
    pub(super) fn new(mtime: Duration, size: u64, encoding: Option<&str>) -> Validators {
        // Nanoseconds too, so two changes within a second give different tags.
        let etag = format!(
            "\"{:x}.{:x}-{:x}{}\"",
            mtime.as_secs(),
            mtime.subsec_nanos(),
            size,
            encoding.map(|e| format!("-{e}")).unwrap_or_default()
        );
        let last_modified =
            httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(mtime.as_secs()));
        Validators {
            etag,
            last_modified,
            mtime_secs: mtime.as_secs(),
        }
    }

    /// Evaluates the request's precondition headers, in the order of RFC 9110
    /// section 13.2.2.
    pub(super) fn precondition(
        &self,
        if_match: Option<&str>,
        if_unmodified_since: Option<&str>,
        if_none_match: Option<&str>,
        if_modified_since: Option<&str>,
    ) -> Precondition {
        // First the ones that fail with 412: If-Match (strong comparison),
        // else If-Unmodified-Since.
        let unmodified_since = |v: &str| {
            httpdate::parse_http_date(v)
                .ok()
                .and_then(|d| d.duration_since(UNIX_EPOCH).ok())
                .map(|d| self.mtime_secs <= d.as_secs())
        };
        let precondition_failed = match if_match {
            Some(im) => !etag_list_matches_strongly(im, &self.etag),
            // An unparsable date is ignored (section 13.1.4).
            None => if_unmodified_since
                .and_then(unmodified_since)
                .is_some_and(|ok| !ok),
        };
        if precondition_failed {
            return Precondition::Failed;
        }
        // Then the cache validators: If-None-Match wins over If-Modified-Since.
        if let Some(inm) = if_none_match {
            if etag_list_matches(inm, &self.etag) {
                return Precondition::NotModified;
            }
        } else if let Some(ims) = if_modified_since.and_then(|v| httpdate::parse_http_date(v).ok())
            && self.mtime_secs
                <= ims
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0)
        {
            return Precondition::NotModified;
        }
        Precondition::Proceed
    }

    /// True if a `Range` header may be honoured given `If-Range` at `now`
    /// (seconds since the epoch): absent, our exact (strong) ETag, or our
    /// Last-Modified date when that is a strong validator, i.e. at least a
    /// second before now (RFC 9110 13.1.5, 8.8.2.2): a file changed within
    /// the current second could change again under the same date.
    pub(super) fn if_range_allows(&self, if_range: Option<&str>, now: u64) -> bool {
        match if_range {
            None => true,
            Some(v) if v.starts_with('"') || v.starts_with("W/") => v == self.etag,
            Some(v) => v == self.last_modified && self.mtime_secs < now,
        }
    }
}

/// If-Match's strong comparison: `*`, or an equal tag that is not weak.
fn etag_list_matches_strongly(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || (!t.starts_with("W/") && t == etag))
}

/// Weak comparison of `If-None-Match` against our ETag (`*` matches anything).
fn etag_list_matches(list: &str, etag: &str) -> bool {
    let ours = etag.trim_start_matches("W/");
    list.split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.trim_start_matches("W/") == ours)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags() {
        assert!(etag_list_matches("\"a\", W/\"b\"", "\"b\""));
        assert!(etag_list_matches("*", "\"b\""));
        assert!(!etag_list_matches("\"c\"", "\"b\""));
    }

    #[test]
    fn strong_etags() {
        assert!(etag_list_matches_strongly("\"a\", \"b\"", "\"b\""));
        assert!(etag_list_matches_strongly("*", "\"b\""));
        assert!(!etag_list_matches_strongly("W/\"b\"", "\"b\""));
        assert!(!etag_list_matches_strongly("\"c\"", "\"b\""));
    }

    /// Modified at 1994-11-06 08:49:37 UTC (784111777), half a second in.
    fn validators() -> Validators {
        Validators::new(Duration::new(784_111_777, 500_000_000), 0x10, None)
    }

    #[test]
    fn validator_values() {
        let v = validators();
        assert_eq!(v.etag, "\"2ebc98a1.1dcd6500-10\"");
        assert_eq!(v.last_modified, "Sun, 06 Nov 1994 08:49:37 GMT");
        let gz = Validators::new(Duration::new(784_111_777, 500_000_000), 0x10, Some("gzip"));
        assert_eq!(gz.etag, "\"2ebc98a1.1dcd6500-10-gzip\"");
    }

    #[test]
    fn preconditions() {
        let v = validators();
        let etag = v.etag.clone();
        let same = "Sun, 06 Nov 1994 08:49:37 GMT";
        let before = "Sun, 06 Nov 1994 08:49:36 GMT";
        let after = "Sun, 06 Nov 1994 08:49:38 GMT";
        use Precondition::*;
        assert_eq!(v.precondition(None, None, None, None), Proceed);
        // If-Match: strong comparison, and it wins over If-Unmodified-Since.
        assert_eq!(
            v.precondition(Some(&etag), Some(before), None, None),
            Proceed
        );
        assert_eq!(v.precondition(Some("\"x\""), None, None, None), Failed);
        assert_eq!(
            v.precondition(Some(&format!("W/{etag}")), None, None, None),
            Failed
        );
        // If-Unmodified-Since; an unparsable date is ignored.
        assert_eq!(v.precondition(None, Some(same), None, None), Proceed);
        assert_eq!(v.precondition(None, Some(before), None, None), Failed);
        assert_eq!(v.precondition(None, Some("yesterday"), None, None), Proceed);
        // If-None-Match wins over If-Modified-Since.
        assert_eq!(v.precondition(None, None, Some(&etag), None), NotModified);
        assert_eq!(
            v.precondition(None, None, Some("\"x\""), Some(after)),
            Proceed
        );
        assert_eq!(v.precondition(None, None, None, Some(same)), NotModified);
        assert_eq!(v.precondition(None, None, None, Some(before)), Proceed);
        assert_eq!(v.precondition(None, None, None, Some("garbage")), Proceed);
        // 412 comes before 304.
        assert_eq!(
            v.precondition(Some("\"x\""), None, Some(&etag), None),
            Failed
        );
    }

    #[test]
    fn if_range() {
        let v = validators();
        let later = v.mtime_secs + 10;
        assert!(v.if_range_allows(None, later));
        assert!(v.if_range_allows(Some(&v.etag.clone()), later));
        assert!(!v.if_range_allows(Some(&format!("W/{}", v.etag)), later));
        assert!(!v.if_range_allows(Some("\"other\""), later));
        assert!(v.if_range_allows(Some("Sun, 06 Nov 1994 08:49:37 GMT"), later));
        assert!(!v.if_range_allows(Some("Sun, 06 Nov 1994 08:49:38 GMT"), later));
        // Modified within the current second: the date is weak, the range is ignored.
        assert!(!v.if_range_allows(Some("Sun, 06 Nov 1994 08:49:37 GMT"), v.mtime_secs));
    }
}
