//! The server for one point: what a connection sends it, its command line,
//! the document root of HTTP runs, and starting and stopping it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};

use super::ServiceKind;
use crate::bench::idle;
use crate::bench::proc::{ServerProcess, model_args};
use crate::server::Model;

/// How long a server may take to report its port.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Grace period between SIGTERM and SIGKILL when stopping a server.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// The file the HTTP runs GET.
pub(super) const HTTP_FILE: &str = "small.txt";

/// What one connection sends, and what answers it.
#[derive(Debug, Clone)]
pub(super) struct Exchange {
    /// The service the server runs.
    service: ServiceKind,
    /// The bytes of one request.
    pub(super) request: Vec<u8>,
    /// Answer length for echo (known up front); HTTP learns it from a probe.
    echo_len: Option<usize>,
}

impl Exchange {
    /// The exchange of `service`: `size` bytes echoed back, or a GET of the small file.
    pub(super) fn new(service: ServiceKind, size: usize) -> Self {
        match service {
            ServiceKind::Echo => Exchange {
                service: ServiceKind::Echo,
                request: vec![b'x'; size],
                echo_len: Some(size),
            },
            ServiceKind::Http => Exchange {
                service: ServiceKind::Http,
                request: format!(
                    "GET /{HTTP_FILE} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: netkit-bench\r\n\r\n"
                )
                .into_bytes(),
                echo_len: None,
            },
        }
    }
}

/// The small file served in HTTP runs.
pub(super) const SMALL_FILE: &[u8] =
    b"netkit model atlas: a small static file, the kind a real server answers most often.\n";

/// A temporary document root with the small file, removed on drop.
pub(super) struct TempRoot {
    /// The directory.
    pub(super) path: PathBuf,
}

impl TempRoot {
    /// Creates the directory and writes the small file into it.
    pub(super) fn new() -> Result<Self> {
        let path = std::env::temp_dir().join(format!("netkit-bench-models-{}", std::process::id()));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        std::fs::write(path.join(HTTP_FILE), SMALL_FILE)
            .with_context(|| format!("writing the file to serve in {}", path.display()))?;
        Ok(TempRoot { path })
    }
}

impl Drop for TempRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The command line of the server for one point.
fn server_args(
    service: ServiceKind,
    root: Option<&Path>,
    model: Model,
    workers: Option<usize>,
    clients: usize,
) -> Vec<String> {
    let mut a: Vec<String> = match service {
        ServiceKind::Echo => vec!["echo".into(), "serve".into()],
        ServiceKind::Http => vec![
            "http".into(),
            root.map(|p| p.display().to_string()).unwrap_or_default(),
            "--quiet".into(),
        ],
    };
    a.extend(model_args(model, workers, clients));
    a
}

/// A started server and what it answers.
pub(super) struct Started {
    server: ServerProcess,
    /// Where it listens.
    pub(super) addr: SocketAddr,
    /// Its process id, the root of its process tree.
    pub(super) pid: i32,
    /// The length of its answer to one request.
    pub(super) response_len: usize,
}

/// One model at one level: everything a phase needs to start its server.
pub(super) struct Target<'a> {
    /// This executable, which runs the servers.
    pub(super) exe: &'a Path,
    /// The document root of HTTP runs.
    pub(super) root: Option<&'a Path>,
    /// What each connection sends and expects back.
    pub(super) ex: &'a Exchange,
    /// The model measured.
    pub(super) model: Model,
    /// The number of connections.
    pub(super) n: usize,
    /// `--workers`, if given.
    pub(super) workers: Option<usize>,
}

impl Target<'_> {
    /// Starts a fresh server for this point and makes one request to it.
    pub(super) fn start_server(&self) -> Result<Started> {
        let (ex, model) = (self.ex, self.model);
        let args = server_args(ex.service, self.root, model, self.workers, self.n);
        let server = ServerProcess::spawn(self.exe, &args, START_TIMEOUT)?;
        let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
        let pid = server.pid().context("the server has no pid")?;
        // One request: warms the server up and tells how long an answer is.
        let response_len = idle::probe(addr, &ex.request, ex.echo_len, Duration::from_secs(5))
            .with_context(|| format!("first request to the {model} server"))?;
        Ok(Started {
            server,
            addr,
            pid,
            response_len,
        })
    }
}

/// Stops a server, noting anything but a clean exit.
pub(super) fn stop_server(mut s: Started, what: &str, notes: &mut Vec<String>) {
    if let Some(status) = s.server.exited() {
        notes.push(format!(
            "the server exited during the {what} phase ({status}); its stderr: {}",
            s.server.stderr_tail().replace('\n', " ")
        ));
    }
    let how = s.server.stop(STOP_GRACE);
    if !how.starts_with("stopped cleanly") && !how.starts_with("had already exited") {
        notes.push(format!("{what} server {how}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_command_lines() {
        let a = server_args(
            ServiceKind::Http,
            Some(Path::new("/r")),
            Model::Epoll,
            None,
            20,
        );
        assert_eq!(&a[..3], ["http", "/r", "--quiet"]);
        assert!(a.windows(2).any(|w| w == ["--model", "epoll"]));
        assert!(a.windows(2).any(|w| w == ["--max-connections", "10000"]));
        let e = server_args(ServiceKind::Echo, None, Model::Fork, Some(3), 15_000);
        assert_eq!(&e[..2], ["echo", "serve"]);
        assert!(e.windows(2).any(|w| w == ["--max-children", "30064"]));
        assert!(e.windows(2).any(|w| w == ["--workers", "3"]));
    }
}
