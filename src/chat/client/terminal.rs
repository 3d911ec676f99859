//! The terminal front end of `netkit chat join`: raw mode ([`RawMode`]), the
//! [`Screen`] that keeps the editor's line at the bottom while received lines
//! are printed above it, and the chat loop that runs on it
//! ([`run_terminal`], [`read_line`]).

use std::io::{self, Write};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crossterm::event::{self, Event as TermEvent};
use crossterm::terminal::{self, Clear, ClearType};
use crossterm::{cursor::MoveToColumn, queue, style::Print};

use super::editor::{EditAction, LineEditor, printable};
use super::link::{Link, Sink, spawn_receiver};
use super::{ClientError, JoinOptions, State, io_err};

/// Raw mode for as long as it lives; restored on drop (also on panic unwind).
pub(super) struct RawMode;

impl RawMode {
    pub(super) fn enable() -> io::Result<RawMode> {
        terminal::enable_raw_mode()?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = terminal::disable_raw_mode();
    }
}

/// The terminal: the editor's line at the bottom, everything else above it.
/// Shared by the input loop and the receiving thread.
pub(super) struct Screen {
    /// The prompt and the line being typed.
    editor: LineEditor,
    /// Where it is drawn.
    out: io::Stdout,
}

impl Screen {
    /// Draws the editor's line over the current terminal line.
    fn redraw(&mut self) {
        let width = terminal::size().map_or(80, |(w, _)| usize::from(w));
        let (shown, col) = self.editor.view(width);
        let _ = queue!(
            self.out,
            MoveToColumn(0),
            Print(shown),
            Clear(ClearType::UntilNewLine),
            MoveToColumn(u16::try_from(col).unwrap_or(u16::MAX)),
        );
        let _ = self.out.flush();
    }

    /// Prints `line` where the editor's line was, then redraws the editor
    /// below it.
    pub(super) fn print_above(&mut self, line: &str) {
        let _ = queue!(
            self.out,
            MoveToColumn(0),
            Clear(ClearType::CurrentLine),
            Print(printable(line)),
            Print("\r\n"),
        );
        self.redraw();
    }

    /// Clears the editor's line for good.
    fn close(&mut self, last: &str) {
        let _ = queue!(
            self.out,
            MoveToColumn(0),
            Clear(ClearType::CurrentLine),
            Print(last),
            Print("\r\n"),
        );
        let _ = self.out.flush();
    }
}

pub(super) fn lock(screen: &Mutex<Screen>) -> MutexGuard<'_, Screen> {
    screen.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn run_terminal(
    opts: &JoinOptions,
    link: Link,
    state: Arc<State>,
    raw: RawMode,
) -> Result<(), ClientError> {
    let screen = Arc::new(Mutex::new(Screen {
        editor: LineEditor::new("name: "),
        out: io::stdout(),
    }));
    lock(&screen).print_above(&format!(
        "netkit chat: joining {} (Ctrl-C or 'quit' leaves)",
        opts.server
    ));
    let mut first = opts.name.clone();
    let name = loop {
        let candidate = match first.take() {
            Some(n) => n,
            None => match read_line(&screen, &state).map_err(io_err("reading the terminal"))? {
                Some(n) => n,
                None => {
                    lock(&screen).close("");
                    return Ok(());
                }
            },
        };
        let candidate = candidate.trim().to_string();
        if candidate.is_empty() {
            continue;
        }
        match link.join(&candidate) {
            Ok(Ok(())) => break candidate,
            Ok(Err(reason)) => lock(&screen).print_above(&format!("name refused: {reason}")),
            Err(e) => {
                lock(&screen).close("");
                drop(raw);
                return Err(e);
            }
        }
    };
    {
        let mut s = lock(&screen);
        s.editor.set_prompt(&format!("{name}> "));
        s.print_above(&format!("joined as {name}"));
    }
    let receiver = spawn_receiver(&link, Arc::clone(&state), Sink::Screen(Arc::clone(&screen)))?;
    let keeper = link.keep_alive(&name, opts.keep_alive, &state)?;
    while let Some(line) = read_line(&screen, &state).map_err(io_err("reading the terminal"))? {
        if line.trim() == "quit" {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        match link.say(&name, &line) {
            Ok(()) => lock(&screen).print_above(&format!("{name}: {line}")),
            Err(e) => lock(&screen).print_above(&format!("(not sent: {e})")),
        }
    }
    let left = state.exited() || link.leave(&name, &state);
    lock(&screen).close(if state.room_closed.load(Ordering::SeqCst) {
        "left (the room closed)"
    } else if left {
        "left the room"
    } else {
        "left (the server did not confirm with EXIT)"
    });
    state.stop.store(true, Ordering::SeqCst);
    let _ = receiver.join();
    if let Some(k) = keeper {
        let _ = k.join();
    }
    drop(raw);
    Ok(())
}

/// Runs the editor until Enter (the line), or a request to leave (`None`):
/// Ctrl-C/Ctrl-D, a signal, or the server ending the membership.
fn read_line(screen: &Mutex<Screen>, state: &State) -> io::Result<Option<String>> {
    lock(screen).redraw();
    loop {
        if state.stop.load(Ordering::SeqCst) || state.exited() {
            return Ok(None);
        }
        if !event::poll(Duration::from_millis(100))? {
            continue;
        }
        let mut s = lock(screen);
        match event::read()? {
            TermEvent::Key(key) => match s.editor.key(key) {
                EditAction::Submit(line) => return Ok(Some(line)),
                EditAction::Leave => return Ok(None),
                EditAction::Redraw => s.redraw(),
                EditAction::Nothing => {}
            },
            TermEvent::Resize(..) => s.redraw(),
            _ => {}
        }
    }
}
