//! `netkit service NAME|PORT [--udp]`: the services database, like
//! `getservbyname` / `getservbyport`.
//!
//! Well-known port numbers live in `/etc/services` (one line per service and
//! protocol: `name port/proto aliases... # comment`). The C library's
//! `getservbyname("http", "tcp")` reads that file; this reads it the same way,
//! so a missing file can be reported as such instead of as "not found". Run:
//!
//! ```text
//! $ netkit service http
//! http 80/tcp (aliases: www)
//! $ netkit service 53 --udp
//! domain 53/udp
//! ```
//!
//! On a machine without the file (minimal containers) the command says so and
//! names the package that provides it (`netbase` on Debian and Ubuntu).

use std::io;
use std::path::{Path, PathBuf};

/// Where the C library looks.
pub const SERVICES_PATH: &str = "/etc/services";

/// One `name port/proto` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The official name (first column).
    pub name: String,
    /// The port number.
    pub port: u16,
    /// `tcp`, `udp`, `sctp`, ...
    pub proto: String,
    /// Other names for the same service.
    pub aliases: Vec<String>,
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.name, self.port, self.proto)?;
        if !self.aliases.is_empty() {
            write!(f, " (aliases: {})", self.aliases.join(", "))?;
        }
        Ok(())
    }
}

/// What to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// A service name or alias (`getservbyname`).
    Name(String),
    /// A port number (`getservbyport`).
    Port(u16),
}

impl Query {
    /// A number is a port, anything else a name.
    pub fn parse(s: &str) -> Result<Query, ServiceError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ServiceError::BadQuery("empty service name".into()));
        }
        if s.chars().all(|c| c.is_ascii_digit()) {
            return s.parse::<u16>().map(Query::Port).map_err(|_| {
                ServiceError::BadQuery(format!("port {s} is out of range (0 to 65535)"))
            });
        }
        Ok(Query::Name(s.to_string()))
    }
}

/// Why a look-up failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The query is neither a name nor a port number.
    #[error("{0}")]
    BadQuery(String),
    /// The database file does not exist.
    #[error(
        "{} does not exist: this machine has no services database, so no service name can be \
         looked up (on Debian/Ubuntu it comes with the `netbase` package: apt-get install netbase)",
        .0.display()
    )]
    Missing(PathBuf),
    /// The file exists but could not be read.
    #[error("cannot read {}: {cause}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        cause: io::Error,
    },
    /// No entry matches.
    #[error("no {what} for {proto} in {}", path.display())]
    NotFound {
        /// `service 'x'` or `service on port 9`.
        what: String,
        /// The protocol asked for.
        proto: String,
        /// The file searched.
        path: PathBuf,
    },
}

/// Parses the text of a services file; malformed lines are skipped, as the C library does.
pub fn parse(text: &str) -> Vec<Service> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or("");
            let mut cols = line.split_whitespace();
            let name = cols.next()?;
            let (port, proto) = cols.next()?.split_once('/')?;
            Some(Service {
                name: name.to_string(),
                port: port.parse().ok()?,
                proto: proto.to_ascii_lowercase(),
                aliases: cols.map(str::to_string).collect(),
            })
        })
        .collect()
}

/// Finds the first entry matching `query` for `proto`, like the C functions
/// (names and aliases match case-sensitively, as in glibc).
pub fn find<'a>(services: &'a [Service], query: &Query, proto: &str) -> Option<&'a Service> {
    services.iter().find(|s| {
        s.proto == proto
            && match query {
                Query::Port(p) => s.port == *p,
                Query::Name(n) => s.name == *n || s.aliases.iter().any(|a| a == n),
            }
    })
}

/// Reads `path` and looks `query` up for `proto`.
pub fn lookup(path: &Path, query: &Query, proto: &str) -> Result<Service, ServiceError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            ServiceError::Missing(path.to_path_buf())
        } else {
            ServiceError::Read {
                path: path.to_path_buf(),
                cause: e,
            }
        }
    })?;
    let services = parse(&text);
    find(&services, query, proto)
        .cloned()
        .ok_or_else(|| ServiceError::NotFound {
            what: match query {
                Query::Name(n) => format!("service '{n}'"),
                Query::Port(p) => format!("service on port {p}"),
            },
            proto: proto.to_string(),
            path: path.to_path_buf(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# Network services, Internet style
tcpmux\t\t1/tcp\t\t\t\t# TCP port service multiplexer
ftp\t\t21/tcp
domain\t\t53/tcp\t\t\t\t# Domain Name Server
domain\t\t53/udp
http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP
broken line
bad\t\tx/tcp
";

    #[test]
    fn parses_and_finds_like_getservbyname() {
        let s = parse(SAMPLE);
        assert_eq!(s.len(), 5);
        let http = find(&s, &Query::Name("www".into()), "tcp").unwrap();
        assert_eq!(http.name, "http");
        assert_eq!(http.port, 80);
        assert_eq!(http.to_string(), "http 80/tcp (aliases: www)");
        assert_eq!(find(&s, &Query::Port(53), "udp").unwrap().proto, "udp");
        assert!(find(&s, &Query::Name("http".into()), "udp").is_none());
        assert!(find(&s, &Query::Port(21), "tcp").is_some());
    }

    #[test]
    fn query_parses_numbers_as_ports() {
        assert_eq!(Query::parse("80").unwrap(), Query::Port(80));
        assert_eq!(Query::parse("http").unwrap(), Query::Name("http".into()));
        let e = Query::parse("99999").unwrap_err().to_string();
        assert!(e.contains("out of range"), "{e}");
        assert!(Query::parse(" ").is_err());
    }

    #[test]
    fn missing_file_is_explained() {
        let e = lookup(Path::new("/nonexistent/services"), &Query::Port(80), "tcp").unwrap_err();
        assert!(matches!(e, ServiceError::Missing(_)));
        assert!(e.to_string().contains("netbase"));
    }
}
