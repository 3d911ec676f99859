//! The interactive client: the course's text menu (list, get, put, quit) done right.
//!
//! Works in any terminal and with piped input (`printf '1\n4\n' | netkit files
//! connect HOST`): each choice may be a number or a word, with or without its
//! argument (`2 notes.txt`, `get notes.txt`, or `2` and then a prompt).
//! On a terminal the prompts are a line editor with history
//! ([`Terminal`](crate::tools::prompt::Terminal)), and a server that closes
//! the connection while the menu waits ends it at once (`netkit files: the
//! server closed the connection`, exit status 4). Refusals and local errors
//! are printed and the menu goes on; a lost connection ends it with an error.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::client::{self, Client, ClientError, Destination};
use super::progress::Meter;
use crate::human;
use crate::tools::prompt::Lines;

const MENU: &str = "  1) list   2) get NAME   3) put PATH   4) quit";

/// What the menu client does besides talking to the server.
#[derive(Debug, Clone)]
pub struct MenuOptions {
    /// Directory downloads are saved in.
    pub dir: PathBuf,
    /// Replace existing local files without asking.
    pub force: bool,
}

/// Runs the menu on `lines`/`output` until quit or end of input (on a
/// terminal also Ctrl-D or Ctrl-C at a prompt).
pub fn run(
    mut client: Client,
    opts: &MenuOptions,
    lines: &mut dyn Lines,
    output: &mut dyn Write,
) -> Result<(), ClientError> {
    let out_err = |e: std::io::Error| ClientError::Local(format!("writing to the terminal: {e}"));
    writeln!(output, "connected to {}", client.peer()).map_err(out_err)?;
    writeln!(output, "{MENU}").map_err(out_err)?;
    // End of input leaves politely, like quit.
    while let Some(line) = prompt(lines, output, "> ")? {
        let (choice, arg) = match line.split_once(char::is_whitespace) {
            Some((c, a)) => (c, a.trim()),
            None => (line.as_str(), ""),
        };
        let result = match choice.to_ascii_lowercase().as_str() {
            "" => Ok(()),
            "1" | "l" | "ls" | "list" => list(&mut client, output),
            "2" | "g" | "get" => get(&mut client, opts, arg, lines, output),
            "3" | "p" | "put" => put(&mut client, arg, lines, output),
            "4" | "q" | "quit" | "exit" => break,
            "?" | "h" | "help" => writeln!(output, "{MENU}").map_err(out_err),
            other => writeln!(output, "unknown choice '{other}'\n{MENU}").map_err(out_err),
        };
        match result {
            Ok(()) => {}
            Err(e @ ClientError::Network(_)) => return Err(e),
            Err(e) => writeln!(output, "error: {e}").map_err(out_err)?,
        }
    }
    client.quit()?;
    writeln!(output, "bye").map_err(out_err)
}

/// Prints `question` and reads one trimmed line; `None` at end of input.
fn prompt(
    lines: &mut dyn Lines,
    output: &mut dyn Write,
    question: &str,
) -> Result<Option<String>, ClientError> {
    let local = |e: std::io::Error| ClientError::Local(format!("terminal: {e}"));
    match lines.line(question, output).map_err(local)? {
        Some(line) => Ok(Some(line.trim().to_string())),
        None => {
            // The line editor moves to a new line itself.
            if !lines.is_terminal() {
                writeln!(output).map_err(local)?;
            }
            Ok(None)
        }
    }
}

fn list(client: &mut Client, output: &mut dyn Write) -> Result<(), ClientError> {
    let entries = client.list()?;
    let local = |e: std::io::Error| ClientError::Local(format!("terminal: {e}"));
    if entries.is_empty() {
        return writeln!(output, "(no files)").map_err(local);
    }
    let width = entries
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    writeln!(output, "{:<width$}  {:>10}  MODIFIED (UTC)", "NAME", "SIZE").map_err(local)?;
    for e in &entries {
        writeln!(
            output,
            "{:<width$}  {:>10}  {}",
            e.name,
            human::size(e.size),
            human::date(e.mtime)
        )
        .map_err(local)?;
    }
    writeln!(output, "{} file(s)", entries.len()).map_err(local)
}

fn get(
    client: &mut Client,
    opts: &MenuOptions,
    arg: &str,
    lines: &mut dyn Lines,
    output: &mut dyn Write,
) -> Result<(), ClientError> {
    let name = match arg {
        "" => match prompt(lines, output, "file to download: ")? {
            Some(n) if !n.is_empty() => n,
            _ => return Ok(()),
        },
        n => n.to_string(),
    };
    let local = |e: std::io::Error| ClientError::Local(format!("terminal: {e}"));
    // The server checks names too; this keeps a hostile listing from writing outside `dir`.
    if crate::disk::name::check(&name).is_err() {
        return Err(ClientError::Local(format!(
            "'{name}' is not a plain file name"
        )));
    }
    let dest = opts.dir.join(&name);
    let mut force = opts.force;
    if !force && dest.symlink_metadata().is_ok() {
        let q = format!("{} exists here; replace it? [y/N] ", dest.display());
        match prompt(lines, output, &q)? {
            Some(a) if a.eq_ignore_ascii_case("y") || a.eq_ignore_ascii_case("yes") => force = true,
            _ => return writeln!(output, "kept the local file").map_err(local),
        }
    }
    let meter = Meter::for_terminal(&name);
    let result = client::download(client, &name, Destination::Path(&dest), force, &meter);
    meter.finish();
    let n = result?;
    writeln!(output, "saved {} ({})", dest.display(), human::size(n)).map_err(local)
}

fn put(
    client: &mut Client,
    arg: &str,
    lines: &mut dyn Lines,
    output: &mut dyn Write,
) -> Result<(), ClientError> {
    let path = match arg {
        "" => match prompt(lines, output, "local file to upload: ")? {
            Some(p) if !p.is_empty() => p,
            _ => return Ok(()),
        },
        p => p.to_string(),
    };
    let path = Path::new(&path);
    let name = client::remote_name(path)?;
    let meter = Meter::for_terminal(&name);
    let result = client::upload(client, path, &name, &meter);
    meter.finish();
    let n = result?;
    writeln!(output, "uploaded {name} ({})", human::size(n))
        .map_err(|e| ClientError::Local(format!("terminal: {e}")))
}
