//! `netkit http [ROOT]`: serve a directory and the built-in backend routes.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use clap::Args;

use super::app::App;
use super::response::Response;
use super::session::{HttpService, Stats};
use super::share::ShareOptions;
use crate::cli::startup::{Serves, Startup};
use crate::cli::tls::TlsArgs;
use crate::cli::{ServerArgs, parse_duration};
use crate::server::{Config, Endpoint};
use crate::tls::TlsService;

/// Options of `netkit http`.
#[derive(Debug, Args)]
#[command(mut_arg("model", |a| a.default_value("epoll")), mut_arg("port", |a| a.default_value("8000")))]
pub struct HttpArgs {
    /// Directory to serve (default: the current directory)
    pub root: Option<PathBuf>,
    /// Serve symlinks that point outside the root
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Serve and list hidden (dot) files
    #[arg(long)]
    pub hidden: bool,
    /// No access log (the global `-q` also turns it off)
    #[arg(long)]
    pub no_access_log: bool,
    /// Largest request body accepted (e.g. 1M, 64K, 2GiB)
    #[arg(long, value_parser = crate::human::parse_size, default_value = "1M")]
    pub max_body: u64,
    /// Reuse a file's lookup (open file, metadata) this long: a change on
    /// disk is served within it; 0 looks up on every request
    #[arg(long, value_parser = parse_duration, default_value = "1s")]
    pub file_cache: Duration,
    /// Time a started request has to arrive completely (answered with 408 after)
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub header_timeout: Duration,
    /// With TLS: tell browsers to use HTTPS only (Strict-Transport-Security, one year)
    #[arg(long)]
    pub hsts: bool,
    /// With TLS: also listen for plain HTTP on this port and redirect every
    /// request to HTTPS (301)
    #[arg(long, value_name = "PORT")]
    pub redirect_http: Option<u16>,
    /// TLS (HTTPS).
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Model, address and limits.
    #[command(flatten)]
    pub server: ServerArgs,
    /// Sharing both ways (uploads, folders, deletions, archives); last,
    /// because its help heading carries on to what follows it.
    #[command(flatten)]
    pub share: ShareArgs,
}

/// Options that let clients change the served folder, or take it whole;
/// each is off unless given (see docs/sharing.md).
#[derive(Debug, Args)]
#[command(next_help_heading = "Sharing")]
pub struct ShareArgs {
    /// Accept uploads: PUT /path (curl -T) and the listing's upload form
    #[arg(long)]
    pub upload: bool,
    /// Let uploads replace existing files (atomically)
    #[arg(long, requires = "upload")]
    pub overwrite: bool,
    /// Largest file one upload may store (e.g. 500M, 1GiB)
    #[arg(long, value_parser = crate::human::parse_size, default_value = "16GiB", value_name = "SIZE")]
    pub max_upload: u64,
    /// Answer an upload before it is on disk (no fsync): faster, but a crash
    /// may lose files already confirmed
    #[arg(long)]
    pub no_sync: bool,
    /// Allow new folders (MKCOL and the listing's form)
    #[arg(long)]
    pub mkdir: bool,
    /// Allow deleting files and empty folders (DELETE and the listing's buttons)
    #[arg(long)]
    pub delete: bool,
    /// Serve folders as archives: ?download=tar, tar.gz or zip
    #[arg(long)]
    pub archives: bool,
    /// Most archive downloads streaming at once (per process)
    #[arg(long, default_value_t = 4, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_archives: u32,
}

impl ShareArgs {
    /// The share options these flags give.
    pub fn options(&self) -> ShareOptions {
        ShareOptions {
            upload: self.upload,
            overwrite: self.overwrite,
            max_upload: self.max_upload,
            sync: !self.no_sync,
            mkdir: self.mkdir,
            delete: self.delete,
        }
    }
}

/// Runs `netkit http`.
pub fn run(args: HttpArgs) -> Result<()> {
    let mut config = args.server.config();
    if config.idle_timeout.is_none() {
        // Keep-alive connections that stay silent are closed after a minute.
        config.idle_timeout = Some(Duration::from_secs(60));
    }
    if args.hsts && !args.tls.enabled() {
        anyhow::bail!("--hsts needs TLS (--tls-cert/--tls-key or --tls-self-signed)");
    }
    if args.redirect_http.is_some() && !args.tls.enabled() {
        anyhow::bail!("--redirect-http needs TLS (--tls-cert/--tls-key or --tls-self-signed)");
    }
    let mut start = Startup::new("netkit http", config, Serves::Sessions)?;
    let tls = args.tls.load(&args.server.bind, &[b"http/1.1"])?;
    let config = start.config();
    let root = match &args.root {
        Some(r) => r.clone(),
        None => std::env::current_dir().context("current directory")?,
    };
    let stats = Arc::new(Stats::default());
    let mut app = builtin_routes(App::new(), Arc::clone(&stats), config)
        .static_root(&root, args.follow_symlinks, args.hidden)
        .with_context(|| format!("cannot serve {}: not a readable directory", root.display()))?
        .file_cache(args.file_cache)
        .share(args.share.options());
    if args.share.archives {
        app = app.archives(args.share.max_archives as usize);
    }
    app.max_body = args.max_body;
    app.hsts = args.hsts;
    app.access_log =
        !args.no_access_log && tracing::enabled!(target: "netkit::access", tracing::Level::INFO);
    let mut service = HttpService::new(app);
    service.stats = stats;
    service.header_timeout = args.header_timeout;

    let listener = start.listen(&args.server.bind, args.server.port)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let url = match listener.local_endpoint()? {
        Endpoint::Tcp(a) if a.ip().is_unspecified() => {
            format!("{scheme}://localhost:{}/", a.port())
        }
        Endpoint::Tcp(a) => format!("{scheme}://{a}/"),
        Endpoint::Unix(p) => format!("unix:{}", p.display()),
    };
    start.say(format_args!("serving {} at {url}", root.display()));
    let shared = args.share.options();
    if shared.any() || args.share.archives {
        let mut what = Vec::new();
        if shared.upload {
            what.push(if shared.overwrite {
                "uploads (overwriting)".to_string()
            } else {
                "uploads".to_string()
            });
        }
        if shared.mkdir {
            what.push("new folders".into());
        }
        if shared.delete {
            what.push("deletions".into());
        }
        if args.share.archives {
            what.push("archives".into());
        }
        start.say(format_args!("sharing: {}", what.join(", ")));
    }
    if let (Some(port), Endpoint::Tcp(tls_addr)) = (args.redirect_http, listener.local_endpoint()?)
    {
        let plain = start.bind_tcp(&args.server.bind, port)?;
        let plain_addr = plain.local_endpoint()?;
        let fallback = match tls_addr.ip() {
            ip if ip.is_unspecified() => "localhost".to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
            ip => ip.to_string(),
        };
        use std::os::fd::AsRawFd;
        let child = super::redirect::spawn(plain, tls_addr.port(), fallback, listener.as_raw_fd())?;
        start.say(format_args!("redirecting {plain_addr} to HTTPS"));
        start = start.on_stop(move || {
            use nix::sys::signal::{Signal, kill};
            let _ = kill(child, Signal::SIGTERM);
            let _ = nix::sys::wait::waitpid(child, None);
        });
    }
    match tls {
        None => start.serve(listener, service),
        Some(tls) => {
            start.say(format_args!(
                "TLS: {}, SHA-256 {}",
                tls.what, tls.identity.fingerprint
            ));
            // The header timeout bounds the handshake too (a slowloris on TLS).
            let handshake = service.header_timeout;
            let service = TlsService::new(service, tls.config)
                .reloading(tls.resolver)
                .handshake_timeout(handshake)
                .plain_reply(plain_http_reply());
            start.serve(listener, service)
        }
    }
}

/// What a client that speaks plain HTTP to the HTTPS port is told (in plain
/// text, then the connection closes), as nginx does.
fn plain_http_reply() -> Vec<u8> {
    let mut out = crate::server::Output::new();
    Response::error(
        400,
        "The plain HTTP request was sent to HTTPS port: use https:// to reach this server.",
    )
    .encode(false, false, &mut out);
    out.take_bytes()
}

/// The backend routes the binary ships: `GET /api/time`, `GET /api/stats`
/// and `POST /api/echo` (answers with the request body).
pub fn builtin_routes(app: App, stats: Arc<Stats>, config: &Config) -> App {
    let started = Instant::now();
    let (model, workers) = (config.model.name(), config.workers());
    app.get("/api/time", |_req| {
        let now = SystemTime::now();
        let unix = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Response::json(
            200,
            &serde_json::json!({ "unix": unix, "http_date": httpdate::fmt_http_date(now) }),
        )
        .header("Cache-Control", "no-store")
    })
    .post("/api/echo", |req| {
        let ct = req
            .header("content-type")
            .unwrap_or("application/octet-stream")
            .to_string();
        Response::bytes(200, ct, req.body.clone())
    })
    .get("/api/stats", move |_req| {
        Response::json(
            200,
            &serde_json::json!({
                "model": model,
                "workers": workers,
                "pid": std::process::id(),
                "uptime_secs": started.elapsed().as_secs_f64(),
                "requests": stats.requests.load(Ordering::Relaxed),
                "connections": stats.connections.load(Ordering::Relaxed),
                "rss_bytes": rss_bytes(),
            }),
        )
        .header("Cache-Control", "no-store")
    })
}

/// This process's resident set size, from /proc.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}
