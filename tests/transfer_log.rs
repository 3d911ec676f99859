//! One log line per transfer on the file server and the FTP server: who,
//! what, which file, the bytes that moved, the time and how it ended,
//! complete or not.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use util::{Running, Server, eventually};

fn frame(text: &str) -> Vec<u8> {
    let mut f = (text.len() as u32).to_be_bytes().to_vec();
    f.extend_from_slice(text.as_bytes());
    f
}

fn read_frame(s: &mut TcpStream) -> String {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).unwrap();
    let mut body = vec![0; u32::from_be_bytes(len) as usize];
    s.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

/// The log line that mentions `needle`, waited for.
fn line_with(server: &Server, needle: &str) -> String {
    assert!(
        eventually(Duration::from_secs(5), || server.log().contains(needle)),
        "no line with {needle:?}:\n{}",
        server.log()
    );
    server
        .log()
        .lines()
        .find(|l| l.contains(needle))
        .unwrap()
        .to_string()
}

#[test]
fn files_server_logs_each_download_and_upload_with_its_end() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.txt"), vec![b'x'; 100_000]).unwrap();
    for model in ["fork", "epoll", "thread"] {
        let server = Running(Server::start(&[
            "files",
            "serve",
            root.path().to_str().unwrap(),
            "--writable",
            "--port",
            "0",
            "--model",
            model,
        ]));
        let mut c = TcpStream::connect(server.tcp()).unwrap();
        let peer = c.local_addr().unwrap().to_string();
        c.write_all(&frame("G a.txt")).unwrap();
        assert_eq!(read_frame(&mut c), "OK 100000");
        let mut data = vec![0; 100_000];
        c.read_exact(&mut data).unwrap();
        let got = line_with(&server, "get \"a.txt\"");
        assert!(
            got.starts_with(&format!("{peer} - get \"a.txt\" 100000 bytes in "))
                && got.ends_with(": complete"),
            "{model}: {got}"
        );

        // An upload cut after 10 of 1000 bytes: logged as failed, with the bytes.
        c.write_all(&frame("P cut.bin 1000")).unwrap();
        assert_eq!(read_frame(&mut c), "OK");
        c.write_all(&[7; 10]).unwrap();
        drop(c);
        let cut = line_with(&server, "put \"cut.bin\"");
        assert!(
            cut.contains(" 10 bytes in ")
                && cut.contains("failed: ")
                && cut.contains("not stored (10 of 1000 bytes arrived)"),
            "{model}: {cut}"
        );
        assert!(!root.path().join("cut.bin").exists());

        // A whole upload.
        let mut c = TcpStream::connect(server.tcp()).unwrap();
        c.write_all(&frame("P whole.bin 5")).unwrap();
        assert_eq!(read_frame(&mut c), "OK");
        c.write_all(b"hello").unwrap();
        assert_eq!(read_frame(&mut c), "OK 5");
        let put = line_with(&server, "put \"whole.bin\"");
        assert!(
            put.contains(" 5 bytes in ") && put.ends_with(": complete"),
            "{model}: {put}"
        );
        std::fs::remove_file(root.path().join("whole.bin")).unwrap();
    }
}

#[test]
fn files_server_quiet_logs_no_transfers() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.txt"), "a").unwrap();
    let server = Running(Server::start(&[
        "files",
        "serve",
        root.path().to_str().unwrap(),
        "--port",
        "0",
        "--quiet",
    ]));
    let mut c = TcpStream::connect(server.tcp()).unwrap();
    c.write_all(&frame("G a.txt")).unwrap();
    assert_eq!(read_frame(&mut c), "OK 1");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!server.log().contains("get \"a.txt\""), "{}", server.log());
}

#[test]
fn ftp_server_logs_retr_and_stor_complete_and_cut() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.txt"), vec![b'y'; 50_000]).unwrap();
    let server = Running(Server::start(&[
        "ftp",
        "serve",
        root.path().to_str().unwrap(),
        "--writable",
        "--port",
        "0",
    ]));
    let port = server.tcp().port().to_string();
    // A download and an upload with ftplib, then an upload whose client
    // goes away in the middle.
    let script = r#"
import ftplib, io, socket, sys, time
port = int(sys.argv[1])
f = ftplib.FTP()
f.connect("127.0.0.1", port, timeout=10)
f.login()
got = io.BytesIO()
f.retrbinary("RETR a.txt", got.write)
assert len(got.getvalue()) == 50000
f.storbinary("STOR up.txt", io.BytesIO(b"z" * 1234))
g = ftplib.FTP()
g.connect("127.0.0.1", port, timeout=10)
g.login()
conn = g.transfercmd("STOR cut.txt")
conn.sendall(b"q" * 300)
# shutdown, not close: ftplib's file object keeps the socket open
g.sock.shutdown(socket.SHUT_RDWR)
time.sleep(0.2)
conn.close()
print("ok")
"#;
    let out = Command::new("python3")
        .args(["-c", script, &port])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let retr = line_with(&server, "RETR \"/a.txt\"");
    assert!(
        retr.starts_with("127.0.0.1 anonymous RETR \"/a.txt\" 50000 bytes in ")
            && retr.ends_with(": complete"),
        "{retr}"
    );
    let stor = line_with(&server, "STOR \"/up.txt\"");
    assert!(
        stor.contains(" 1234 bytes in ") && stor.ends_with(": complete"),
        "{stor}"
    );
    let cut = line_with(&server, "STOR \"/cut.txt\"");
    assert!(
        cut.contains(" 300 bytes in ") && cut.contains("failed: ") && cut.contains("discarded"),
        "{cut}"
    );
    assert!(!root.path().join("cut.txt").exists());
}
