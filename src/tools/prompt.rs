//! How the interactive clients (`netkit echo client`, `netkit files connect`)
//! read what the user types, one line at a time ([`Lines`]).
//!
//! - [`Terminal`]: stdin is a terminal. A line editor (rustyline, Emacs keys):
//!   the arrows move in the line and Up/Down walk the lines typed before
//!   (kept in memory, never written to disk), Ctrl-A/Ctrl-E/Ctrl-U/Ctrl-W
//!   edit, Ctrl-R searches back. Ctrl-D on an empty line and Ctrl-C end the
//!   input like the end of a file. With [`Terminal::end_when_closed`] the
//!   client also ends as soon as its server closes the connection while the
//!   prompt waits: one line says so, the terminal is put back, and the
//!   process exits with the client's code for a lost connection.
//! - [`Piped`]: anything else (a pipe, a file, a script). The prompt is
//!   written to the output and lines are read as they come, exactly as a
//!   plain `read_line` loop would.

use std::io::{self, BufRead, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rustyline::error::ReadlineError;
use rustyline::{Config, DefaultEditor};

use crate::sys;

/// What the line that ends a client says, after `<who>: `.
pub const SERVER_CLOSED: &str = "the server closed the connection";

/// A source of typed lines.
pub trait Lines {
    /// Shows `prompt` and reads one line, without its line ending. `None`
    /// at the end of input (and on a terminal on Ctrl-D or Ctrl-C).
    /// `output` is where the client writes; a terminal shows its prompt
    /// itself.
    fn line(&mut self, prompt: &str, output: &mut dyn Write) -> io::Result<Option<String>>;

    /// True for the line editor, which moves to a new line itself when the
    /// input ends.
    fn is_terminal(&self) -> bool {
        false
    }
}

/// Plain lines from a reader, the prompt written to the client's output.
pub struct Piped<'a> {
    input: &'a mut dyn BufRead,
}

impl<'a> Piped<'a> {
    /// Lines from `input`.
    pub fn new(input: &'a mut dyn BufRead) -> Piped<'a> {
        Piped { input }
    }
}

impl Lines for Piped<'_> {
    fn line(&mut self, prompt: &str, output: &mut dyn Write) -> io::Result<Option<String>> {
        write!(output, "{prompt}")?;
        output.flush()?;
        let mut line = String::new();
        if self.input.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let end = line.trim_end_matches(['\r', '\n']).len();
        line.truncate(end);
        Ok(Some(line))
    }
}

/// The line editor on the terminal (stdin), with its history.
pub struct Terminal {
    editor: DefaultEditor,
    shared: Arc<Shared>,
}

/// What the editor and the thread watching the server share.
struct Shared {
    phase: Mutex<Phase>,
    /// Set when the [`Terminal`] is dropped: the watching thread ends.
    stop: AtomicBool,
    /// The terminal's settings before the editor changed them.
    mode: Option<sys::term::Mode>,
}

#[derive(Debug, Default)]
struct Phase {
    /// The editor is waiting for the user.
    at_prompt: bool,
    /// The server closed the connection: `(who, exit code)` of the client.
    closed: Option<(String, i32)>,
}

impl Shared {
    fn phase(&self) -> MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts the terminal back, says the server closed the connection and
    /// ends the process. Called with the phase locked, so the editor cannot
    /// go on meanwhile.
    fn leave(&self, who: &str, code: i32) -> ! {
        if let Some(mode) = &self.mode {
            let _ = sys::term::restore(io::stdin().as_fd(), mode);
        }
        // Bracketed paste off (the editor turns it on), then a fresh line
        // below the abandoned prompt.
        let mut out = io::stdout();
        let _ = out.write_all(b"\x1b[?2004l\r\n");
        let _ = out.flush();
        eprintln!("{who}: {SERVER_CLOSED}");
        std::process::exit(code)
    }
}

impl Terminal {
    /// A line editor on stdin and stdout.
    pub fn new() -> io::Result<Terminal> {
        let config = Config::builder()
            .auto_add_history(false)
            .max_history_size(1000)
            .map_err(io::Error::other)?
            .build();
        let editor = DefaultEditor::with_config(config).map_err(readline_io)?;
        Ok(Terminal {
            editor,
            shared: Arc::new(Shared {
                phase: Mutex::new(Phase::default()),
                stop: AtomicBool::new(false),
                mode: sys::term::mode(io::stdin().as_fd()).ok(),
            }),
        })
    }

    /// Ends the process as soon as the peer of the stream socket `socket`
    /// closes the connection while the prompt waits (or at the next prompt,
    /// when it closed during an exchange): `<who>: the server closed the
    /// connection` on stderr, then exit status `code`. A thread watches the
    /// socket for the end of the peer's stream (`POLLRDHUP`); replies
    /// arriving are not its business.
    pub fn end_when_closed(&mut self, socket: OwnedFd, who: &str, code: i32) -> io::Result<()> {
        let shared = Arc::clone(&self.shared);
        let who = who.to_string();
        std::thread::Builder::new()
            .name("server-watch".into())
            .spawn(move || {
                while !shared.stop.load(Ordering::SeqCst) {
                    if !sys::socket::wait_peer_closed(socket.as_fd(), 200) {
                        continue;
                    }
                    let mut phase = shared.phase();
                    if phase.at_prompt {
                        shared.leave(&who, code);
                    }
                    phase.closed = Some((who, code));
                    return;
                }
            })
            .map(|_| ())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
}

impl Lines for Terminal {
    fn line(&mut self, prompt: &str, _output: &mut dyn Write) -> io::Result<Option<String>> {
        {
            let mut phase = self.shared.phase();
            if let Some((who, code)) = &phase.closed {
                self.shared.leave(who, *code);
            }
            phase.at_prompt = true;
        }
        let read = self.editor.readline(prompt);
        self.shared.phase().at_prompt = false;
        match read {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = self.editor.add_history_entry(line.as_str());
                }
                Ok(Some(line))
            }
            Err(ReadlineError::Eof | ReadlineError::Interrupted) => Ok(None),
            Err(e) => Err(readline_io(e)),
        }
    }

    fn is_terminal(&self) -> bool {
        true
    }
}

fn readline_io(e: ReadlineError) -> io::Error {
    match e {
        ReadlineError::Io(e) => e,
        other => io::Error::other(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piped_lines_lose_only_their_line_endings() {
        let mut input = io::Cursor::new(b"one\r\n  two  \nlast".to_vec());
        let mut lines = Piped::new(&mut input);
        let mut out = Vec::new();
        assert_eq!(lines.line("> ", &mut out).unwrap().as_deref(), Some("one"));
        assert_eq!(
            lines.line("> ", &mut out).unwrap().as_deref(),
            Some("  two  ")
        );
        assert_eq!(lines.line("? ", &mut out).unwrap().as_deref(), Some("last"));
        assert_eq!(lines.line("> ", &mut out).unwrap(), None);
        assert_eq!(out, b"> > ? > ");
    }
}
