//! A minimal tokio echo server, the peer `netkit bench echo --target` is compared with.
//!
//! Multi-thread runtime (one worker per core), a task per connection, a 64 KiB
//! buffer, `read` then `write_all`. Usage: `peer_tokio_echo [PORT]` (default 0:
//! any free port); it prints `listening on tcp://127.0.0.1:PORT` on stderr.
//!
//! ```text
//! cargo run --release --example peer_tokio_echo -- 0
//! netkit bench echo --target 127.0.0.1:PORT --clients 50
//! ```

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn main() -> std::process::ExitCode {
    netkit::lesson::main(|| {
        let port: u16 = match std::env::args().nth(1) {
            Some(p) => p.parse().map_err(|_| {
                netkit::lesson::usage(format!("bad port {p:?} (usage: peer_tokio_echo [PORT])"))
            })?,
            None => 0,
        };
        Ok(serve(port)?)
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn serve(port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("tokio echo: listening on tcp://{}", listener.local_addr()?);
    loop {
        let (mut sock, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Out of descriptors and the like: report, back off, keep serving.
                eprintln!("tokio echo: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = sock.set_nodelay(true);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if sock.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
    }
}
