//! Access-log lines: Common Log Format (the default), Combined (plus
//! referer and user agent, as nginx and Apache write them) and JSON (one
//! object per line). The bytes are those of the body actually written, so
//! a download cut short is logged as what left, not as the whole file.

use std::net::SocketAddr;

/// How access-log lines look (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `host - user [time] "request" status bytes`.
    #[default]
    Common,
    /// Common, then `"referer" "user-agent"`.
    Combined,
    /// One JSON object per line.
    Json,
}

/// One request, as the log tells it.
#[derive(Debug, Default)]
pub struct Entry {
    /// The request line (`GET / HTTP/1.1`), `None` for a request that never parsed.
    pub request: Option<String>,
    /// The authenticated user.
    pub user: Option<std::sync::Arc<str>>,
    /// `Referer`.
    pub referer: Option<String>,
    /// `User-Agent`.
    pub agent: Option<String>,
    /// Microseconds from the request's first byte to its answer queued.
    pub micros: u64,
}

impl LogFormat {
    /// True if lines need the referer and user agent.
    pub fn wants_headers(self) -> bool {
        self != LogFormat::Common
    }

    /// The line for `e`, answered `status` with `bytes` of body sent, at
    /// `unix` seconds, to `peer`.
    pub fn line(
        self,
        e: &Entry,
        peer: Option<SocketAddr>,
        status: u16,
        bytes: u64,
        unix: i64,
    ) -> String {
        let host = peer.map(|p| p.ip().to_string());
        let host = host.as_deref().unwrap_or("-");
        match self {
            LogFormat::Common | LogFormat::Combined => {
                use std::fmt::Write;
                let mut line = String::with_capacity(160);
                let _ = write!(line, "{host} - ");
                match e.user.as_deref() {
                    Some(u) => push_clf_field(&mut line, u),
                    None => line.push('-'),
                }
                line.push_str(" [");
                with_clf(unix, |t| line.push_str(t));
                line.push_str("] ");
                match &e.request {
                    Some(r) => push_quoted(&mut line, r),
                    None => line.push('-'),
                }
                let _ = write!(line, " {status} ");
                if bytes == 0 {
                    line.push('-');
                } else {
                    let _ = write!(line, "{bytes}");
                }
                if self == LogFormat::Combined {
                    for v in [&e.referer, &e.agent] {
                        line.push(' ');
                        match v {
                            Some(v) => push_quoted(&mut line, v),
                            None => line.push_str("\"-\""),
                        }
                    }
                }
                line
            }
            LogFormat::Json => {
                // Written by hand (strings escaped by serde_json), without
                // building a JSON value per request.
                let s = |v: Option<&str>| match v {
                    Some(v) => serde_json::to_string(v).unwrap_or_else(|_| "null".into()),
                    None => "null".to_string(),
                };
                let time = httpdate::fmt_http_date(
                    std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix.max(0) as u64),
                );
                format!(
                    "{{\"time\":\"{time}\",\"remote\":\"{host}\",\"user\":{},\"request\":{},\"status\":{status},\"bytes\":{bytes},\"referer\":{},\"user_agent\":{},\"duration_ms\":{}}}",
                    s(e.user.as_deref()),
                    s(e.request.as_deref()),
                    s(e.referer.as_deref()),
                    s(e.agent.as_deref()),
                    e.micros as f64 / 1000.0
                )
            }
        }
    }
}

/// Appends a user name as one CLF field (no spaces or quotes to break the columns).
fn push_clf_field(line: &mut String, v: &str) {
    line.extend(v.chars().map(|c| {
        if c.is_ascii_graphic() && c != '"' {
            c
        } else {
            '_'
        }
    }));
}

/// Appends `v` in double quotes, escaped (`\"`, `\n`, `\u{..}`) only where
/// it needs it.
fn push_quoted(line: &mut String, v: &str) {
    line.push('"');
    if v.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        line.push_str(v);
    } else {
        line.extend(v.escape_debug());
    }
    line.push('"');
}

/// Calls `f` with the CLF time of `unix`, formatted once per second per thread.
fn with_clf(unix: i64, f: impl FnOnce(&str)) {
    thread_local! {
        static CACHE: std::cell::RefCell<(i64, String)> = const { std::cell::RefCell::new((i64::MIN, String::new())) };
    }
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != unix {
            *c = (unix, crate::human::clf(unix));
        }
        f(&c.1)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_formats() {
        let e = Entry {
            request: Some("GET /a \"b\" HTTP/1.1".into()),
            user: Some("ann lee".into()),
            referer: Some("http://x/".into()),
            agent: None,
            micros: 1500,
        };
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let c = LogFormat::Common.line(&e, Some(peer), 200, 12, 0);
        assert_eq!(
            c,
            "127.0.0.1 - ann_lee [01/Jan/1970:00:00:00 +0000] \"GET /a \\\"b\\\" HTTP/1.1\" 200 12"
        );
        let c = LogFormat::Combined.line(&e, Some(peer), 404, 0, 0);
        assert!(c.ends_with("404 - \"http://x/\" \"-\""), "{c}");
        let j: serde_json::Value =
            serde_json::from_str(&LogFormat::Json.line(&e, None, 200, 12, 0)).unwrap();
        assert_eq!(j["status"], 200);
        assert_eq!(j["bytes"], 12);
        assert_eq!(j["remote"], "-");
        assert_eq!(j["user"], "ann lee");
        assert_eq!(j["duration_ms"], 1.5);
        assert!(j["user_agent"].is_null());
    }
}
