//! `netkit chat join`: the client.
//!
//! It asks for a name until the server accepts one (`L name` → `OK`), then
//! sends and receives at the same time. On a terminal it runs a small line
//! editor in raw mode ([`LineEditor`]): incoming lines are printed *above* the
//! prompt, and the prompt and the half-typed line are redrawn intact below
//! them. Elsewhere (a pipe, a script) it reads plain lines from stdin and
//! prints incoming lines on stdout. `quit`, Ctrl-C, Ctrl-D on an empty line,
//! end of input, SIGTERM or SIGHUP all leave cleanly: `Q name`, then a short
//! wait for `EXIT`.

use std::io::{self, BufRead, IsTerminal, Write};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crossterm::event::{self, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::terminal::{self, Clear, ClearType};
use crossterm::{cursor::MoveToColumn, queue, style::Print};

use super::room::{EXIT, OK};
use crate::sys;

/// What `netkit chat join` was asked to do.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    /// The chat server.
    pub server: SocketAddr,
    /// The name to try first; without it the client asks.
    pub name: Option<String>,
    /// Run the line editor (stdin and stdout are terminals) rather than plain
    /// line mode.
    pub terminal: bool,
}

impl JoinOptions {
    /// Options for `server`, using the line editor when stdin and stdout are
    /// both terminals.
    pub fn new(server: SocketAddr, name: Option<String>) -> JoinOptions {
        JoinOptions {
            server,
            name,
            terminal: io::stdin().is_terminal() && io::stdout().is_terminal(),
        }
    }
}

/// Why the client stopped early.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server never answered a join.
    #[error("no reply from {0} (is a chat server running there?)")]
    NoReply(SocketAddr),
    /// Line mode: the name given with `--name` was refused.
    #[error("name refused: {0}")]
    Refused(String),
    /// Line mode: input ended before any name was accepted.
    #[error("input ended before the server accepted a name")]
    NoName,
    /// A socket or terminal operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

fn io_err(context: &'static str) -> impl FnOnce(io::Error) -> ClientError {
    move |source| ClientError::Io { context, source }
}

/// Joins the room at `opts.server` and chats until the user leaves.
pub fn join(opts: &JoinOptions) -> Result<(), ClientError> {
    let link = Link::open(opts.server).map_err(io_err("opening a UDP socket"))?;
    let state = Arc::new(State::default());
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        signal_hook::flag::register(sig, Arc::clone(&state.stop))
            .map_err(io_err("installing signal handlers"))?;
    }
    if opts.terminal {
        match RawMode::enable() {
            Ok(raw) => return run_terminal(opts, link, state, raw),
            Err(e) => eprintln!("netkit chat: no line editor ({e}); reading plain lines"),
        }
    }
    run_lines(opts, link, state)
}

// --- the line editor ---------------------------------------------------------

/// A one-line editor: the prompt, the text being typed and the cursor. It is
/// pure (keys in, actions out) so it is tested without a terminal.
#[derive(Debug, Clone, Default)]
pub struct LineEditor {
    /// Shown before the text (`name: `, then `alice> `).
    prompt: String,
    /// The text typed so far, as characters so the cursor moves by character.
    text: Vec<char>,
    /// Cursor position in `text`, `0..=text.len()`.
    cursor: usize,
}

/// What a key did to the [`LineEditor`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EditAction {
    /// The line changed or the cursor moved: redraw it.
    Redraw,
    /// Nothing happened.
    Nothing,
    /// Enter: here is the line (the editor is now empty).
    Submit(String),
    /// Ctrl-C, or Ctrl-D on an empty line: the user wants to leave.
    Leave,
}

impl LineEditor {
    /// An empty editor with `prompt`.
    pub fn new(prompt: &str) -> LineEditor {
        LineEditor {
            prompt: prompt.to_string(),
            ..LineEditor::default()
        }
    }

    /// Replaces the prompt, keeping the text.
    pub fn set_prompt(&mut self, prompt: &str) {
        self.prompt = prompt.to_string();
    }

    /// The text typed so far.
    pub fn text(&self) -> String {
        self.text.iter().collect()
    }

    /// Applies one key press.
    pub fn key(&mut self, key: KeyEvent) -> EditAction {
        if key.kind == KeyEventKind::Release {
            return EditAction::Nothing;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Enter => {
                let line = self.text();
                self.text.clear();
                self.cursor = 0;
                EditAction::Submit(line)
            }
            KeyCode::Char('c') if ctrl => EditAction::Leave,
            KeyCode::Char('d') if ctrl => {
                if self.text.is_empty() {
                    EditAction::Leave
                } else {
                    self.delete_at_cursor()
                }
            }
            KeyCode::Char('a') if ctrl => self.move_to(0),
            KeyCode::Char('e') if ctrl => self.move_to(self.text.len()),
            KeyCode::Char('b') if ctrl => self.move_to(self.cursor.saturating_sub(1)),
            KeyCode::Char('f') if ctrl => self.move_to(self.cursor + 1),
            KeyCode::Char('u') if ctrl => {
                self.text.drain(..self.cursor);
                self.cursor = 0;
                EditAction::Redraw
            }
            KeyCode::Char('k') if ctrl => {
                self.text.truncate(self.cursor);
                EditAction::Redraw
            }
            KeyCode::Char('w') if ctrl => {
                let mut start = self.cursor;
                while start > 0 && self.text[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && self.text[start - 1] != ' ' {
                    start -= 1;
                }
                self.text.drain(start..self.cursor);
                self.cursor = start;
                EditAction::Redraw
            }
            KeyCode::Char(_) if ctrl || key.modifiers.contains(KeyModifiers::ALT) => {
                EditAction::Nothing
            }
            KeyCode::Char(c) if !c.is_control() => {
                self.text.insert(self.cursor, c);
                self.cursor += 1;
                EditAction::Redraw
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                self.text.remove(self.cursor);
                EditAction::Redraw
            }
            KeyCode::Delete => self.delete_at_cursor(),
            KeyCode::Left => self.move_to(self.cursor.saturating_sub(1)),
            KeyCode::Right => self.move_to(self.cursor + 1),
            KeyCode::Home => self.move_to(0),
            KeyCode::End => self.move_to(self.text.len()),
            _ => EditAction::Nothing,
        }
    }

    /// What to show on a terminal `width` columns wide: the prompt and as
    /// much of the text as fits (scrolled so the cursor is visible), and the
    /// cursor's column.
    pub fn view(&self, width: usize) -> (String, usize) {
        // The last column stays free so the terminal never wraps the line.
        let usable = width.saturating_sub(1).max(2);
        let prompt_width = str_width(&self.prompt);
        let (prompt, prompt_width) = if prompt_width < usable {
            (self.prompt.as_str(), prompt_width)
        } else {
            ("", 0)
        };
        let room = usable - prompt_width;
        let width_of = |s: &[char]| s.iter().map(|c| char_width(*c)).sum::<usize>();
        let mut start = 0;
        while start < self.cursor && width_of(&self.text[start..self.cursor]) >= room {
            start += 1;
        }
        let mut end = start;
        let mut used = 0;
        while end < self.text.len() && used + char_width(self.text[end]) <= room {
            used += char_width(self.text[end]);
            end += 1;
        }
        let mut shown = String::from(prompt);
        shown.extend(&self.text[start..end]);
        (
            shown,
            prompt_width + width_of(&self.text[start..self.cursor]),
        )
    }

    fn move_to(&mut self, pos: usize) -> EditAction {
        let pos = pos.min(self.text.len());
        if pos == self.cursor {
            EditAction::Nothing
        } else {
            self.cursor = pos;
            EditAction::Redraw
        }
    }

    fn delete_at_cursor(&mut self) -> EditAction {
        if self.cursor < self.text.len() {
            self.text.remove(self.cursor);
            EditAction::Redraw
        } else {
            EditAction::Nothing
        }
    }
}

/// Columns a character takes on a terminal: 2 for East Asian wide characters
/// and most emoji, 0 for combining marks, else 1.
pub fn char_width(c: char) -> usize {
    let u = c as u32;
    match u {
        0x0300..=0x036F | 0x200B..=0x200F | 0xFE00..=0xFE0F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

fn str_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Makes a received line safe to print: control characters (which could move
/// the cursor or recolour the terminal) become `�`, tabs become spaces.
pub fn printable(line: &str) -> String {
    line.chars()
        .map(|c| match c {
            '\t' => ' ',
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

// --- the terminal front end --------------------------------------------------

/// Raw mode for as long as it lives; restored on drop (also on panic unwind).
struct RawMode;

impl RawMode {
    fn enable() -> io::Result<RawMode> {
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
struct Screen {
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
    fn print_above(&mut self, line: &str) {
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

fn lock(screen: &Mutex<Screen>) -> MutexGuard<'_, Screen> {
    screen.lock().unwrap_or_else(|e| e.into_inner())
}

fn run_terminal(
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
    lock(&screen).close(if left {
        "left the room"
    } else {
        "left (the server did not confirm with EXIT)"
    });
    state.stop.store(true, Ordering::SeqCst);
    let _ = receiver.join();
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

// --- the line-mode front end -------------------------------------------------

fn run_lines(opts: &JoinOptions, link: Link, state: Arc<State>) -> Result<(), ClientError> {
    let lines = spawn_stdin_reader();
    let name = match &opts.name {
        Some(n) => {
            let n = n.trim().to_string();
            match link.join(&n)? {
                Ok(()) => n,
                Err(reason) => return Err(ClientError::Refused(reason)),
            }
        }
        None => loop {
            let Some(n) = next_line(&lines, &state) else {
                return Err(ClientError::NoName);
            };
            let n = n.trim().to_string();
            if n.is_empty() {
                continue;
            }
            match link.join(&n)? {
                Ok(()) => break n,
                Err(reason) => eprintln!("netkit chat: name refused: {reason}"),
            }
        },
    };
    let receiver = spawn_receiver(&link, Arc::clone(&state), Sink::Stdout)?;
    while let Some(line) = next_line(&lines, &state) {
        if line.trim() == "quit" {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Err(e) = link.say(&name, &line) {
            eprintln!("netkit chat: not sent: {e}");
        }
    }
    if !state.exited() && !link.leave(&name, &state) {
        eprintln!("netkit chat: the server did not confirm with EXIT; leaving anyway");
    }
    state.stop.store(true, Ordering::SeqCst);
    let _ = receiver.join();
    Ok(())
}

/// Reads stdin on a thread so the main loop can also watch for signals.
/// `None` on the channel means end of input.
fn spawn_stdin_reader() -> mpsc::Receiver<Option<String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut input = io::stdin().lock();
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match input.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(None);
                    return;
                }
                Ok(_) => {
                    let line = String::from_utf8_lossy(&raw);
                    let line = line.trim_end_matches(['\r', '\n']).to_string();
                    if tx.send(Some(line)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// The next input line, or `None` at end of input, on a signal, or when the
/// server ended the membership.
fn next_line(lines: &mpsc::Receiver<Option<String>>, state: &State) -> Option<String> {
    loop {
        if state.stop.load(Ordering::SeqCst) || state.exited() {
            return None;
        }
        match lines.recv_timeout(Duration::from_millis(100)) {
            Ok(line) => return line,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

// --- the network side --------------------------------------------------------

/// How long to wait for a reply before asking again, and how often to ask.
const REPLY_WAIT: Duration = Duration::from_millis(1000);
const TRIES: usize = 3;

/// A UDP socket connected to the server, so only the server's datagrams
/// arrive and a missing server shows up as "connection refused".
struct Link {
    sock: UdpSocket,
    server: SocketAddr,
}

impl Link {
    fn open(server: SocketAddr) -> io::Result<Link> {
        let any: SocketAddr = if server.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(any)?;
        sock.connect(server)?;
        Ok(Link { sock, server })
    }

    /// Sends `L name`; `Ok(Err(reason))` if the server refused the name.
    /// Asks again when no reply comes (a repeated join is answered `OK`).
    fn join(&self, name: &str) -> Result<Result<(), String>, ClientError> {
        let request = format!("L {name}");
        let mut buf = vec![0u8; 65536];
        self.sock
            .set_read_timeout(Some(REPLY_WAIT))
            .map_err(io_err("socket"))?;
        for _ in 0..TRIES {
            self.sock
                .send(request.as_bytes())
                .map_err(io_err("sending to the server"))?;
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let reply = String::from_utf8_lossy(&buf[..n]);
                    let reply = reply.trim_end_matches(['\r', '\n']);
                    if reply == OK {
                        return Ok(Ok(()));
                    }
                    let reason = reply.strip_prefix("ERR ").unwrap_or(reply);
                    return Ok(Err(printable(reason)));
                }
                Err(e) if sys::timed_out(&e) || e.kind() == io::ErrorKind::ConnectionRefused => {
                    // Nothing yet, or nobody listening (ICMP): ask again.
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(ClientError::Io {
                        context: "receiving from the server",
                        source: e,
                    });
                }
            }
        }
        Err(ClientError::NoReply(self.server))
    }

    fn say(&self, name: &str, text: &str) -> io::Result<()> {
        self.sock.send(format!("C {name} {text}").as_bytes())?;
        Ok(())
    }

    /// Sends `Q name` and waits briefly for `EXIT`, asking again if needed.
    /// True when the server confirmed.
    fn leave(&self, name: &str, state: &State) -> bool {
        state.leaving.store(true, Ordering::SeqCst);
        for _ in 0..TRIES {
            if self.sock.send(format!("Q {name}").as_bytes()).is_err() {
                return false;
            }
            if state.wait_exited(Duration::from_millis(500)) {
                return true;
            }
        }
        false
    }
}

/// What the threads of a client share.
#[derive(Debug, Default)]
struct State {
    /// Set by SIGINT/SIGTERM/SIGHUP or when the session is over.
    stop: Arc<AtomicBool>,
    /// Set once we sent `Q`, so the `EXIT` that follows is expected.
    leaving: AtomicBool,
    /// Set when `EXIT` arrived.
    exit: Mutex<bool>,
    /// Wakes whoever waits for `EXIT`.
    exit_cv: Condvar,
}

impl State {
    fn exited(&self) -> bool {
        *self.exit.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_exited(&self) {
        *self.exit.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.exit_cv.notify_all();
    }

    fn wait_exited(&self, limit: Duration) -> bool {
        let guard = self.exit.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .exit_cv
            .wait_timeout_while(guard, limit, |done| !*done)
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }
}

/// Where received lines go.
enum Sink {
    /// Above the editor's line.
    Screen(Arc<Mutex<Screen>>),
    /// To stdout, one per line.
    Stdout,
}

impl Sink {
    fn show(&self, line: &str) {
        match self {
            Sink::Screen(s) => lock(s).print_above(line),
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                let _ = writeln!(out, "{}", printable(line));
                let _ = out.flush();
            }
        }
    }
}

/// Receives until `EXIT` or until told to stop, showing every other line.
fn spawn_receiver(
    link: &Link,
    state: Arc<State>,
    sink: Sink,
) -> Result<std::thread::JoinHandle<()>, ClientError> {
    let sock = link.sock.try_clone().map_err(io_err("socket"))?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .map_err(io_err("socket"))?;
    let server = link.server;
    std::thread::Builder::new()
        .name("chat-receiver".into())
        .spawn(move || {
            let mut buf = vec![0u8; 65536];
            let mut unreachable = false;
            while !state.stop.load(Ordering::SeqCst) {
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        unreachable = false;
                        let text = String::from_utf8_lossy(&buf[..n]);
                        let text = text.trim_end_matches(['\r', '\n']);
                        if text == EXIT {
                            if !state.leaving.load(Ordering::SeqCst) {
                                sink.show("the server ended your membership");
                            }
                            state.set_exited();
                            return;
                        }
                        sink.show(text);
                    }
                    Err(e) if sys::timed_out(&e) => {}
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        if !unreachable {
                            sink.show(&format!("(no chat server answers at {server})"));
                            unreachable = true;
                        }
                    }
                    Err(e) => {
                        sink.show(&format!("(receive failed: {e})"));
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
            }
        })
        .map_err(io_err("starting the receiver thread"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(ed: &mut LineEditor, code: KeyCode) -> EditAction {
        ed.key(KeyEvent::new(code, KeyModifiers::NONE))
    }

    fn ctrl(ed: &mut LineEditor, c: char) -> EditAction {
        ed.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
    }

    fn typed(ed: &mut LineEditor, s: &str) {
        for c in s.chars() {
            press(ed, KeyCode::Char(c));
        }
    }

    #[test]
    fn typing_editing_and_enter() {
        let mut ed = LineEditor::new("> ");
        typed(&mut ed, "helo");
        press(&mut ed, KeyCode::Left);
        typed(&mut ed, "l");
        assert_eq!(ed.text(), "hello");
        press(&mut ed, KeyCode::End);
        typed(&mut ed, " world");
        press(&mut ed, KeyCode::Backspace);
        assert_eq!(ed.text(), "hello worl");
        ctrl(&mut ed, 'w');
        assert_eq!(ed.text(), "hello ");
        ctrl(&mut ed, 'a');
        press(&mut ed, KeyCode::Delete);
        assert_eq!(ed.text(), "ello ");
        assert_eq!(
            press(&mut ed, KeyCode::Enter),
            EditAction::Submit("ello ".into())
        );
        assert_eq!(ed.text(), "");
        typed(&mut ed, "abc");
        ctrl(&mut ed, 'u');
        assert_eq!(ed.text(), "");
    }

    #[test]
    fn leaving_keys() {
        let mut ed = LineEditor::new("> ");
        assert_eq!(ctrl(&mut ed, 'c'), EditAction::Leave);
        typed(&mut ed, "x");
        // Ctrl-D on a non-empty line deletes instead of leaving.
        assert_ne!(ctrl(&mut ed, 'd'), EditAction::Leave);
        ctrl(&mut ed, 'u');
        assert_eq!(ctrl(&mut ed, 'd'), EditAction::Leave);
        // Other control keys type nothing.
        assert_eq!(ctrl(&mut ed, 'z'), EditAction::Nothing);
        assert_eq!(ed.text(), "");
    }

    #[test]
    fn view_scrolls_to_keep_the_cursor_visible() {
        let mut ed = LineEditor::new("me> ");
        typed(&mut ed, "hello");
        assert_eq!(ed.view(80), ("me> hello".to_string(), 9));
        let mut ed = LineEditor::new("me> ");
        typed(&mut ed, &"x".repeat(30));
        // 20 columns: 19 usable, 4 for the prompt, the cursor in the last.
        let (shown, col) = ed.view(20);
        assert_eq!(shown, format!("me> {}", "x".repeat(14)));
        assert_eq!(col, 18);
        ctrl(&mut ed, 'a');
        let (shown, col) = ed.view(20);
        assert_eq!(shown, format!("me> {}", "x".repeat(15)));
        assert_eq!(col, 4);
    }

    #[test]
    fn wide_characters_take_two_columns() {
        let mut ed = LineEditor::new("> ");
        typed(&mut ed, "你好a");
        assert_eq!(ed.view(80).1, 2 + 5);
        assert_eq!(char_width('é'), 1);
        assert_eq!(char_width('\u{301}'), 0);
    }

    #[test]
    fn printable_defuses_escapes() {
        assert_eq!(printable("a\x1b[2Jb\tc"), "a\u{FFFD}[2Jb c");
    }
}
