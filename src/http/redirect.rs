//! The plain-HTTP port of an HTTPS server (`netkit http --tls-... --redirect-http
//! PORT`): every request is answered with a redirect to the same path on
//! HTTPS. It runs in a child process of its own (forked before the main
//! server starts, so it works beside every model, fork and prefork
//! included), which dies with the server.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use super::app::App;
use super::request::Request;
use super::response::Response;
use super::session::HttpService;
use crate::server::{self, Config, Listener, Model, Shutdown};
use crate::sys::process::{ForkResult, child_exit, die_with_parent, fork};

/// Where a request for `target` with `host` (its Host header, if any) goes
/// on an HTTPS server at `https_port`; `fallback` names the server when the
/// request has no Host.
pub fn location(host: Option<&str>, target: &str, https_port: u16, fallback: &str) -> String {
    let host = host.filter(|h| !h.is_empty()).unwrap_or(fallback);
    // The name without the plain port: `[::1]:8080` -> `[::1]`, `a:80` -> `a`.
    let name = match host.rfind(']') {
        Some(end) => &host[..=end],
        None => host.split(':').next().unwrap_or(host),
    };
    let port = if https_port == 443 {
        String::new()
    } else {
        format!(":{https_port}")
    };
    let path = if target.starts_with('/') { target } else { "/" };
    format!("https://{name}{port}{path}")
}

/// The redirecting service.
pub fn service(https_port: u16, fallback: String) -> HttpService {
    let fallback = Arc::new(fallback);
    let answer = move |req: &Request| {
        let target = match &req.query {
            Some(q) => format!("{}?{q}", req.path),
            None => req.path.clone(),
        };
        let to = location(req.header("host"), &target, https_port, &fallback);
        Response::error(301, "this site is served over HTTPS").header("Location", to)
    };
    let answer = Arc::new(answer);
    let mut app = App::new();
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let a = Arc::clone(&answer);
        app = app.route(method, "/*", move |r| a(r));
    }
    let mut svc = HttpService::new(app);
    svc.header_timeout = Duration::from_secs(10);
    svc
}

/// Serves `listener` with the redirecting service in a child process;
/// returns the child's pid. The child stops on SIGTERM and when the
/// server (this process) dies.
pub fn spawn(
    listener: Listener,
    https_port: u16,
    fallback: String,
    not_ours: std::os::fd::RawFd,
) -> Result<nix::unistd::Pid> {
    let parent = nix::unistd::getpid();
    match fork().context("starting the HTTP redirect")? {
        ForkResult::Child => {
            die_with_parent(parent);
            // The HTTPS listener is the server's, not this child's.
            let _ = nix::unistd::close(not_ours);
            let config = Config {
                model: Model::Epoll,
                workers: Some(1),
                idle_timeout: Some(Duration::from_secs(60)),
                ..Config::default()
            };
            let code = match Shutdown::on_signals() {
                Ok(stop) => {
                    match server::serve(listener, &config, service(https_port, fallback), stop) {
                        Ok(()) => 0,
                        Err(e) => {
                            tracing::warn!("netkit http: redirect port: {e}");
                            1
                        }
                    }
                }
                Err(_) => 1,
            };
            child_exit(code)
        }
        ForkResult::Parent { child } => Ok(child),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_keep_the_name_and_path_and_drop_the_plain_port() {
        assert_eq!(
            location(Some("example.org"), "/a?b=1", 443, "x"),
            "https://example.org/a?b=1"
        );
        assert_eq!(
            location(Some("example.org:8080"), "/", 8443, "x"),
            "https://example.org:8443/"
        );
        assert_eq!(
            location(Some("[::1]:8080"), "/p", 8443, "x"),
            "https://[::1]:8443/p"
        );
        assert_eq!(
            location(None, "/p", 8443, "127.0.0.1"),
            "https://127.0.0.1:8443/p"
        );
        assert_eq!(location(Some(""), "*", 443, "h"), "https://h/");
    }
}
