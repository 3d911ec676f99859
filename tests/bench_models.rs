//! `netkit bench models` end to end: a tiny atlas (two models, two levels,
//! half a second per point) writes a Markdown report, a CSV and three SVG
//! charts with plausible contents; levels past the open-file limit are refused.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn netkit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_netkit"))
}

/// Runs `netkit bench models ARGS --out OUT` to the end.
fn bench_models(args: &[&str], out: &Path) -> std::process::Output {
    netkit()
        .args(["bench", "models"])
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .expect("run netkit bench models")
}

#[test]
fn tiny_http_atlas_writes_table_csv_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("atlas");
    let started = Instant::now();
    let out = bench_models(
        &[
            "--service",
            "http",
            "--models",
            "thread,epoll",
            "--clients",
            "1,4",
            "--duration",
            "0.5s",
        ],
        &out_dir,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {stderr}\n{stdout}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "too slow: {:?}",
        started.elapsed()
    );
    // The plan first, with an estimate, then progress lines (stderr is not
    // a terminal here), and the table on stdout.
    let plan = stderr
        .lines()
        .find(|l| l.contains("plan:"))
        .unwrap_or_else(|| panic!("no plan: {stderr}"));
    assert!(
        plan.contains(
            "2 models (thread, epoll) x 2 levels (1, 4 clients) = 4 points of 500ms each"
        ) && plan.contains("estimated "),
        "{plan}"
    );
    assert!(
        stderr.find("plan:") < stderr.find("[1/4]"),
        "the plan comes first: {stderr}"
    );
    assert!(stderr.contains("[4/4] epoll"), "{stderr}");
    assert!(
        stdout.contains("| model | workers | clients | req/s |"),
        "{stdout}"
    );

    // models.md: the command, both models at both levels.
    let md = std::fs::read_to_string(out_dir.join("models.md")).unwrap();
    assert!(md.contains("netkit bench models --service http"), "{md}");
    assert!(md.contains("![throughput](throughput.svg)"), "{md}");
    for row in [
        "| thread | - | 1 |",
        "| thread | - | 4 |",
        "| epoll | 2 | 4 |",
    ] {
        assert!(md.contains(row), "no row {row} in:\n{md}");
    }

    // models.csv: four points, each with requests answered and no errors.
    let csv = std::fs::read_to_string(out_dir.join("models.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 4, "{csv}");
    for r in &rows {
        assert_eq!(r.len(), header.len(), "{csv}");
        assert_eq!(r[col("service")], "http");
        let rps: f64 = r[col("req_per_s")].parse().unwrap();
        assert!(rps > 0.0, "no throughput in {r:?}");
        assert_eq!(r[col("errors")], "0", "errors in {r:?}");
        let p99: f64 = r[col("p99_ms")].parse().unwrap();
        assert!(p99 > 0.0 && p99 < 1000.0, "p99 {p99} in {r:?}");
        let peak: u64 = r[col("peak_rss_bytes")].parse().unwrap();
        assert!(peak > 1 << 20, "peak RSS {peak} in {r:?}");
        let answered: usize = r[col("idle_answered")].parse().unwrap();
        assert_eq!(answered.to_string(), r[col("clients")], "idle in {r:?}");
    }

    // Three charts, well-formed XML with an <svg> root, one legend entry per model.
    for name in [
        "throughput.svg",
        "latency-p99.svg",
        "memory-per-connection.svg",
    ] {
        let path = out_dir.join(name);
        let svg = std::fs::read_to_string(&path).unwrap();
        let root = check_xml(&svg).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(root, "svg", "{}", path.display());
        assert!(
            svg.contains("\nthread\n") && svg.contains("\nepoll\n"),
            "{name}"
        );
    }
    assert!(
        Path::new(&out_dir.join("throughput.svg"))
            .metadata()
            .unwrap()
            .len()
            > 2000
    );
}

/// `--rounds 3`: every point three times, each reported as its median
/// round with the range of all three; idle memory only in the first round.
#[test]
fn rounds_measure_every_point_again_and_report_the_median() {
    let dir = tempfile::tempdir().unwrap();
    let out = bench_models(
        &[
            "--service",
            "echo",
            "--models",
            "epoll,poll",
            "--clients",
            "2",
            "--duration",
            "0.3s",
            "--rounds",
            "3",
        ],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "failed: {stderr}\n{stdout}");
    assert!(
        stderr.contains("x 3 rounds = 6 points")
            && stderr.contains("idle memory in the first round"),
        "{stderr}"
    );
    // Rounds alternate the models: epoll, poll, epoll, poll, ...
    for (i, m) in ["epoll", "poll", "epoll", "poll", "epoll", "poll"]
        .iter()
        .enumerate()
    {
        assert!(stderr.contains(&format!("[{}/6] {m} ", i + 1)), "{stderr}");
    }
    // Only the first round measures idle memory.
    assert_eq!(stderr.matches(" KiB/conn").count(), 2, "{stderr}");

    let md = std::fs::read_to_string(dir.path().join("models.md")).unwrap();
    assert!(md.contains("measured 3 times"), "{md}");
    assert!(md.contains("| rounds req/s |"), "{md}");
    let csv = std::fs::read_to_string(dir.path().join("models.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "one row per point, not per round: {csv}");
    for r in &rows {
        let mut rounds: Vec<f64> = r[col("round_req_per_s")]
            .split(';')
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(rounds.len(), 3, "{r:?}");
        rounds.sort_by(f64::total_cmp);
        let rps: f64 = r[col("req_per_s")].parse().unwrap();
        assert_eq!(rps, rounds[1], "the median round: {r:?}");
        let answered: usize = r[col("idle_answered")].parse().unwrap();
        assert_eq!(answered, 2, "idle memory from the first round: {r:?}");
    }

    let zero = bench_models(&["--rounds", "0"], dir.path());
    assert!(!zero.status.success());
    assert!(
        String::from_utf8_lossy(&zero.stderr).contains("--rounds must be at least 1"),
        "{}",
        String::from_utf8_lossy(&zero.stderr)
    );
}

#[test]
fn levels_past_the_open_file_limit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = bench_models(
        &[
            "--models",
            "epoll",
            "--clients",
            "100000000",
            "--duration",
            "0.2s",
        ],
        dir.path(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("refused 100000000 clients"), "{stderr}");
    assert!(stderr.contains("open-file limit"), "{stderr}");
}

/// Checks that `text` is well-formed XML (balanced, properly quoted tags,
/// valid entities) and returns the root element's name.
fn check_xml(text: &str) -> Result<String, String> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut stack: Vec<String> = Vec::new();
    let mut root = None;
    let name_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b':' | b'.');
    while i < b.len() {
        if b[i] != b'<' {
            if b[i] == b'&' {
                let end = text[i..].find(';').ok_or("unterminated entity")? + i;
                let ent = &text[i + 1..end];
                let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                    || ent.strip_prefix('#').is_some_and(|n| {
                        n.parse::<u32>().is_ok()
                            || n.strip_prefix('x')
                                .is_some_and(|h| u32::from_str_radix(h, 16).is_ok())
                    });
                if !ok {
                    return Err(format!("bad entity &{ent};"));
                }
                i = end + 1;
                continue;
            }
            if !b[i].is_ascii_whitespace() && stack.is_empty() {
                return Err(format!("text outside the root at byte {i}"));
            }
            i += 1;
            continue;
        }
        let rest = &text[i..];
        if rest.starts_with("<?") {
            i += rest.find("?>").ok_or("unterminated <?")? + 2;
            continue;
        }
        if rest.starts_with("<!--") {
            i += rest.find("-->").ok_or("unterminated comment")? + 3;
            continue;
        }
        if let Some(close) = rest.strip_prefix("</") {
            let end = close.find('>').ok_or("unterminated end tag")?;
            let name = close[..end].trim();
            match stack.pop() {
                Some(open) if open == name => {}
                other => return Err(format!("</{name}> closes {other:?}")),
            }
            i += 2 + end + 1;
            continue;
        }
        // Start tag: name, attributes name="value", then > or />.
        let mut j = i + 1;
        while j < b.len() && name_char(b[j]) {
            j += 1;
        }
        let name = text[i + 1..j].to_string();
        if name.is_empty() {
            return Err(format!("empty tag name at byte {i}"));
        }
        loop {
            while j < b.len() && b[j].is_ascii_whitespace() {
                j += 1;
            }
            if j >= b.len() {
                return Err(format!("unterminated <{name}>"));
            }
            if b[j] == b'>' {
                if stack.is_empty() && root.is_some() {
                    return Err("second root element".into());
                }
                root.get_or_insert_with(|| name.clone());
                stack.push(name.clone());
                j += 1;
                break;
            }
            if text[j..].starts_with("/>") {
                if stack.is_empty() && root.is_some() {
                    return Err("second root element".into());
                }
                root.get_or_insert_with(|| name.clone());
                j += 2;
                break;
            }
            let a0 = j;
            while j < b.len() && name_char(b[j]) {
                j += 1;
            }
            if a0 == j || j >= b.len() || b[j] != b'=' {
                return Err(format!("bad attribute in <{name}> at byte {a0}"));
            }
            j += 1;
            let q = *b.get(j).ok_or("unterminated attribute")?;
            if q != b'"' && q != b'\'' {
                return Err(format!("unquoted attribute in <{name}>"));
            }
            let end = text[j + 1..]
                .find(q as char)
                .ok_or("unterminated attribute value")?;
            if text[j + 1..j + 1 + end].contains('<') {
                return Err(format!("'<' in an attribute of <{name}>"));
            }
            j += 1 + end + 1;
        }
        i = j;
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> is never closed"));
    }
    root.ok_or_else(|| "no element".to_string())
}

#[test]
fn xml_checker_catches_broken_documents() {
    assert_eq!(
        check_xml("<?xml version=\"1.0\"?><svg a=\"1\"><g><text>x &amp; y</text></g><rect/></svg>"),
        Ok("svg".into())
    );
    assert!(check_xml("<svg><g></svg>").is_err());
    assert!(check_xml("<svg a=1></svg>").is_err());
    assert!(check_xml("<svg>&nbsp;</svg>").is_err());
    assert!(check_xml("<svg></svg><svg></svg>").is_err());
}
