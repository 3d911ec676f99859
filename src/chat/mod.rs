//! `netkit chat`: the course's UDP chat room, wire-compatible, safe and fast.
//!
//! Like a QQ group: a user joins with a name and everyone is told; what one
//! says, all the others receive as `name: text`; leaving tells the others; the
//! operator broadcasts `Admin: text` from the server's console.
//!
//! # Wire contract
//!
//! Datagrams are UTF-8 text (a trailing `\r\n` or `\n` is ignored).
//!
//! | request           | the server does                                                    |
//! |-------------------|--------------------------------------------------------------------|
//! | `L <name>`        | tells every other member `<name> joined the room`, then replies `OK`; or replies `ERR <reason>` (taken, reserved, invalid, room full, too many from this host) |
//! | `C <name> <text>` | sends `<name>: <text>` to every other member (never back to the sender) |
//! | `Q <name>`        | tells the others `<name> left the room`, replies `EXIT`, forgets the member |
//! | `K <name>`        | nothing: a keep-alive (netkit's addition); never answered, never passed on |
//!
//! Course clients only look for `OK` and `EXIT` and print anything else, so
//! they work unchanged. The rules the course left out:
//!
//! - A member is bound to the address that joined. `C`/`Q` from another
//!   address, or naming another member, get `ERR` and change nothing.
//! - Names are trimmed, 1 to 32 characters, without control characters or
//!   `:` (which would let a name forge a `name: text` line), unique
//!   case-insensitively; the console's own names `admin` and `管理员` (any
//!   case) are reserved, while names that merely contain them (`badminton`)
//!   are fine.
//! - Texts are at most `--max-text` bytes (800 by default, so a delivered line
//!   fits a 1 KiB receive buffer) and contain no control characters except
//!   tab (a newline could forge an `Admin:` line). Longer texts are refused
//!   with `ERR`, never cut.
//! - Invalid UTF-8 and unknown requests get `ERR <reason>` and change nothing.
//! - A second `L` from an address already in the room: with the same name
//!   (any case) it is answered `OK` again and nobody is told twice (so a
//!   client whose `OK` was lost can simply ask again); with another name it is
//!   a fresh member (the others are told the old one left): a socket that got the
//!   port of a member that vanished without `Q` does not inherit it.
//! - At most `--max-per-host` members (16) per source IP address, so one
//!   machine's throwaway sockets cannot fill the room.
//! - `Q` from an address that is not in the room gets `EXIT` (there is
//!   nothing to leave) unless the name belongs to a member, which is refused.
//! - A member nothing was heard from for `--idle-timeout` (10 minutes by
//!   default, `0` = never) is dropped: it is told so, and the others get
//!   `<name> was dropped after <time> of silence`. Any datagram refreshes a
//!   member; netkit's client sends `K` when it has been silent for 30 s.
//! - Replies never grow with the request (names they quote are cut to 32
//!   characters), so none exceeds [`room::MAX_REPLY`] bytes.
//!
//! UDP source addresses can be forged: whoever can send from a member's
//! address speaks for it. docs/chat.md says what that means and what the
//! limits bound.
//!
//! # Layout
//!
//! - [`room`]: the [`Room`], a pure state machine: `(from, bytes, now)` in,
//!   datagrams to send and log events out.
//! - [`server`]: [`ChatService`], the room as a
//!   [`DatagramService`](crate::server::DatagramService), and `serve` (socket
//!   buffers, operator console, log).
//! - [`relay`]: one room on many servers (`--redis URL --room NAME`):
//!   broadcasts through a Redis Stream with per-server sequence numbers (late
//!   or reported lost, never dropped silently), name claims with an expiry
//!   the owning server keeps alive, heartbeats that tell the room when a
//!   server died.
//! - [`wording`]: what the room says, in English or (`--lang zh`) the
//!   course's Chinese (`xxx 进入聊天室`, `xxx 说：...`, `xxx 退出了聊天室`).
//! - [`client`]: `netkit chat join`, with a line editor that keeps the typed
//!   line intact while messages arrive above it.
//! - [`mod@bench`]: `netkit bench chat`, delivery rate, latency and loss per model.
//! - [`cli`]: the clap commands.

pub mod bench;
pub mod cli;
pub mod client;
pub mod relay;
pub mod room;
pub mod server;
pub mod wording;

pub use room::{Broadcast, Event, Fanout, Limits, Outcome, Refusal, Room};
pub use server::ChatService;
pub use wording::Lang;
