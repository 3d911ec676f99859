//! The course map (`docs/course.md`) names only what exists and is tested:
//! every lesson it names is an example that a test here runs, every example is
//! on the map, and every `netkit` command it shows parses (its options exist).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn course_map() -> String {
    std::fs::read_to_string(root().join("docs/course.md")).expect("docs/course.md")
}

/// The backticked spans of `text`.
fn code_spans(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// Example names: the files in `examples/`.
fn examples() -> BTreeSet<String> {
    std::fs::read_dir(root().join("examples"))
        .expect("examples/")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".rs").map(str::to_string)
        })
        .collect()
}

/// The test sources of this directory, concatenated.
fn lesson_tests() -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(root().join("tests/examples")).expect("tests/examples") {
        let path = entry.expect("entry").path();
        if path.file_name().is_some_and(|n| n != "course_map.rs") {
            all.push_str(&std::fs::read_to_string(&path).expect("test source"));
        }
    }
    all
}

#[test]
fn every_lesson_on_the_map_exists_and_is_run_by_a_test() {
    let map = course_map();
    let examples = examples();
    let tests = lesson_tests();
    let named: BTreeSet<String> = code_spans(&map)
        .into_iter()
        .filter(|s| !s.contains(' ') && examples.contains(*s))
        .map(str::to_string)
        .collect();
    for span in code_spans(&map) {
        if let Some(rest) = span.split("--example ").nth(1) {
            let name = rest.split_whitespace().next().unwrap_or("");
            assert!(
                name == "NAME" || examples.contains(name),
                "the map runs `{span}` but there is no examples/{name}.rs"
            );
        }
    }
    // Every example is a lesson but the benchmarks' tokio peer.
    let not_lessons = ["peer_tokio_echo"];
    for name in &examples {
        if not_lessons.contains(&name.as_str()) {
            continue;
        }
        assert!(
            named.contains(name),
            "examples/{name}.rs is not on the course map"
        );
        if name == "http_route" {
            continue; // tested in tests/http_server.rs
        }
        assert!(
            tests.contains(&format!("\"{name}\"")),
            "no test in tests/examples/ runs the lesson {name}"
        );
    }
}

#[test]
fn every_netkit_command_on_the_map_parses() {
    let map = course_map();
    let mut checked = 0;
    for span in code_spans(&map) {
        let Some(args) = span.strip_prefix("netkit ") else {
            continue;
        };
        if args.contains("$(") || args.contains('|') || args.contains("NAME") {
            continue;
        }
        // With --help at the end, clap still rejects an unknown subcommand or
        // option (or a bad value) that comes before it.
        let out = Command::new(env!("CARGO_BIN_EXE_netkit"))
            .args(args.split_whitespace())
            .arg("--help")
            .output()
            .expect("run netkit");
        assert!(
            out.status.success(),
            "`{span}` from docs/course.md does not parse:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} commands found on the map");
}
