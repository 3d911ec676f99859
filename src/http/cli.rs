//! `netkit http [ROOT]`: serve a directory and the built-in backend routes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use clap::Args;

use super::app::{App, Builtins};
use super::auth::Auth;
use super::compress::Compression;
use super::log::LogFormat;
use super::metrics::Metrics;
use super::policy::Policy;
use super::response::Response;
use super::session::HttpService;
use super::share::ShareOptions;
use crate::cli::startup::{Serves, Startup};
use crate::cli::tls::TlsArgs;
use crate::cli::{ServerArgs, parse_duration};
use crate::server::{Config, Endpoint};
use crate::tls::TlsService;

/// Options of `netkit http`.
#[derive(Debug, Args)]
#[command(
    mut_arg("model", |a| a.default_value("epoll")),
    mut_arg("port", |a| a.default_value("8000")),
    after_help = "Examples:
  netkit http                                   serve . on http://127.0.0.1:8000/
  netkit http ~/public --bind :: --port 8080    on every address, IPv6 and IPv4
  netkit http . --upload --mkdir --archives     share a folder both ways
  netkit http site --tls-self-signed --auth me:secret
  netkit http --config netkit.toml              every option from a file (docs/config.md)"
)]
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
    /// Access-log line format
    #[arg(long, value_enum, default_value = "common")]
    pub log_format: LogFormat,
    /// Compression, auth, headers, endpoints.
    #[command(flatten)]
    pub production: ProductionArgs,
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

/// What production servers configure: compression, who may enter, the
/// header fields of responses, and netkit's own endpoints.
#[derive(Debug, Args)]
#[command(next_help_heading = "Responses and access")]
pub struct ProductionArgs {
    /// Do not compress responses on the fly (precompressed .br/.gz files
    /// are still served to clients that accept them)
    #[arg(long)]
    pub no_compress: bool,
    /// Let USER in with PASSWORD, or with a password HASH (argon2, bcrypt or
    /// SHA-512 crypt); repeatable. Every route asks for it (Basic auth)
    #[arg(long, value_name = "USER:PASSWORD|USER:HASH")]
    pub auth: Vec<String>,
    /// Users from an htpasswd-style file (`user:hash` per line; argon2,
    /// bcrypt `htpasswd -B`, or SHA-512 crypt `mkpasswd -m sha-512`)
    #[arg(long, value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// The realm browsers show when they ask for a password
    #[arg(long, default_value = "netkit", value_name = "TEXT")]
    pub realm: String,
    /// Allow cross-origin requests from ORIGIN (or `*`), with preflight; repeatable
    #[arg(long, value_name = "ORIGIN")]
    pub cors: Vec<String>,
    /// Add 'Name: value' to every response; repeatable
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Cache-Control for paths matching a glob: 'PATTERN=VALUE', e.g.
    /// '*.html=no-cache' or 'assets/**=public, max-age=31536000, immutable';
    /// repeatable, first match wins
    #[arg(long, value_name = "PATTERN=VALUE")]
    pub cache_control: Vec<String>,
    /// Send nosniff, frame, referrer and content-security policies (and
    /// HSTS with TLS)
    #[arg(long)]
    pub security_headers: bool,
    /// The Content-Security-Policy of --security-headers (default: same
    /// origin, plus the listing's own inline style and script)
    #[arg(long, value_name = "POLICY", requires = "security_headers")]
    pub csp: Option<String>,
    /// Single-page app: paths that are not found get the root's index.html
    #[arg(long)]
    pub spa: bool,
    /// Answer STATUS with the content of FILE, e.g. 404=404.html; repeatable
    #[arg(long, value_name = "STATUS=FILE")]
    pub error_page: Vec<String>,
    /// No health endpoint (GET /.netkit/health)
    #[arg(long)]
    pub no_health: bool,
    /// Prometheus metrics at GET /.netkit/metrics (behind --auth when given)
    #[arg(long)]
    pub metrics: bool,
}

impl ProductionArgs {
    /// The users, if auth is on.
    pub fn auth(&self) -> Result<Option<Auth>> {
        if self.auth.is_empty() && self.auth_file.is_none() {
            return Ok(None);
        }
        let mut auth = Auth::new(&self.realm);
        for spec in &self.auth {
            auth.add(spec)?;
        }
        if let Some(f) = &self.auth_file {
            auth.add_file(f)?;
        }
        if auth.is_empty() {
            anyhow::bail!("--auth-file: no users in the file");
        }
        Ok(Some(auth))
    }

    /// The response policy these options give.
    pub fn policy(&self, tls: bool) -> Result<Policy> {
        let mut p = Policy::default();
        for o in &self.cors {
            p.cors(o)?;
        }
        for h in &self.headers {
            p.header(h)?;
        }
        for r in &self.cache_control {
            p.cache_rule(r)?;
        }
        if self.security_headers {
            p.security_headers(self.csp.as_deref(), tls);
        }
        for e in &self.error_page {
            p.error_page(e)?;
        }
        Ok(p)
    }
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
    let metrics = Arc::new(Metrics::new(config.model.name()));
    let prod = &args.production;
    let mut app = builtin_routes(App::new(), Arc::clone(&metrics), config)
        .static_root(&root, args.follow_symlinks, args.hidden)
        .with_context(|| format!("cannot serve {}: not a readable directory", root.display()))?
        .file_cache(args.file_cache)
        .compression((!prod.no_compress).then(Compression::default))
        .share(args.share.options());
    app.auth = prod.auth()?.map(Arc::new);
    app.policy = prod.policy(tls.is_some())?;
    app.spa = prod.spa;
    app.log_format = args.log_format;
    app.builtins = Builtins {
        health: !prod.no_health,
        metrics: prod.metrics.then(|| Arc::clone(&metrics)),
    };
    if prod.spa && !root.join("index.html").is_file() {
        anyhow::bail!("--spa needs an index.html in {}", root.display());
    }
    if args.share.archives {
        app = app.archives(args.share.max_archives as usize);
    }
    app.max_body = args.max_body;
    // --security-headers sends HSTS itself under TLS.
    app.hsts = args.hsts && !(prod.security_headers && tls.is_some());
    app.access_log =
        !args.no_access_log && tracing::enabled!(target: "netkit::access", tracing::Level::INFO);
    let users = app.auth.as_ref().map(|a| a.len());
    let mut service = HttpService::new(app);
    service.metrics = metrics;
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
    let mut features = Vec::new();
    if !prod.no_compress {
        features.push("compression (br, zstd, gzip)".to_string());
    }
    if let Some(n) = users {
        features.push(format!("auth ({n} user{})", if n == 1 { "" } else { "s" }));
    }
    if !prod.cors.is_empty() {
        features.push(format!("CORS ({})", prod.cors.join(", ")));
    }
    if prod.spa {
        features.push("single-page app".into());
    }
    let reserved = match (!prod.no_health, prod.metrics) {
        (true, true) => Some("/.netkit/health, /.netkit/metrics"),
        (true, false) => Some("/.netkit/health"),
        (false, true) => Some("/.netkit/metrics"),
        (false, false) => None,
    };
    if let Some(r) = reserved {
        features.push(r.to_string());
    }
    if !features.is_empty() {
        start.say(format_args!("with {}", features.join(", ")));
    }
    if args.hidden && root.join(".netkit").exists() {
        start.say(format_args!(
            "note: {}/.netkit exists and --hidden serves it: its files take the place of netkit's endpoints of the same name",
            root.display()
        ));
    }
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
    let open = Arc::clone(&service.metrics);
    start = start.in_flight(move || open.totals().open);
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

/// The backend routes the binary ships, the course's example of backend
/// data next to files: `GET /api/time`, `GET /api/stats` and `POST
/// /api/echo` (answers with the request body). Each gives way to a real
/// file at its path.
pub fn builtin_routes(app: App, metrics: Arc<Metrics>, config: &Config) -> App {
    let (model, workers) = (config.model.name(), config.workers());
    app.example_get("/api/time", |_req| {
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
    .example_post("/api/echo", |req| {
        let ct = req
            .header("content-type")
            .unwrap_or("application/octet-stream")
            .to_string();
        Response::bytes(200, ct, req.body.clone())
    })
    .example_get("/api/stats", move |_req| {
        // Totals of every worker and process (fork and prefork included).
        let t = metrics.totals();
        Response::json(
            200,
            &serde_json::json!({
                "model": model,
                "workers": workers,
                "uptime_secs": metrics.uptime(),
                "requests": t.requests,
                "connections": t.connections,
                "open_connections": t.open,
                "bytes_sent": t.bytes,
            }),
        )
        .header("Cache-Control", "no-store")
    })
}
