//! Add your own backend route to netkit's HTTP server.
//!
//! Run: `cargo run --release --example http_route -- [PORT] [MODEL]`
//! then open `http://127.0.0.1:PORT/api/hello?name=you` (JSON greeting),
//! `http://127.0.0.1:PORT/api/count` (a counter shared by every connection),
//! or any file in the current directory, which is served as static content.
//! PORT defaults to 8080 and MODEL to epoll; Ctrl-C stops it gracefully.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use netkit::http::session::HttpService;
use netkit::http::{App, Response};
use netkit::server::{self, Config, Endpoint, Listener, Model, Shutdown};

fn main() -> std::process::ExitCode {
    netkit::lesson::main(run)
}

fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    const USAGE: &str = "usage: http_route [PORT] [MODEL]";
    let port: u16 = match args.next() {
        Some(p) => p
            .parse()
            .map_err(|_| netkit::lesson::usage(format!("bad port {p:?}; {USAGE}")))?,
        None => 8080,
    };
    let model: Model = match args.next() {
        Some(m) => m
            .parse()
            .map_err(|e| netkit::lesson::usage(format!("{e}; {USAGE}")))?,
        None => Model::Epoll,
    };

    let hits = Arc::new(AtomicU64::new(0));
    let app = App::new()
        // A route is a plain function from request to response.
        .get("/api/hello", |req| {
            let name = req.query_param("name").unwrap_or("world");
            Response::json(
                200,
                &serde_json::json!({ "greeting": format!("hello, {name}") }),
            )
        })
        // Routes may share state: this counter is common to every connection.
        .get("/api/count", move |_req| {
            let n = hits.fetch_add(1, Ordering::Relaxed) + 1;
            Response::text(200, format!("{n}\n"))
        })
        // Everything else: files from the current directory.
        .static_root(".", false, false)?;

    let config = Config {
        model,
        ..Config::default()
    };
    let listener = Listener::bind(
        &Endpoint::Tcp(([127, 0, 0, 1], port).into()),
        model == Model::Epoll,
    )?;
    eprintln!(
        "http_route: listening on {} (model {model})",
        listener.local_endpoint()?
    );
    server::serve(
        listener,
        &config,
        HttpService::new(app),
        Shutdown::on_signals()?,
    )?;
    Ok(())
}
