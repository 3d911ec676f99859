//! Framing: how a byte stream is cut into messages.
//!
//! - [`frame`]: length-prefixed frames (4-byte big-endian length, then the
//!   payload), the control messages of the netkit file protocol.
//! - [`line`](mod@line): lines ending in LF (CR optional), the control messages of FTP.
//!
//! Both follow the same shape: a pure `parse` that looks at a buffer and says
//! "here is one message and this many bytes were used", "incomplete, bring more
//! bytes", or "this can never become a valid message" — so sessions can use them
//! without IO and tests can feed them byte strings. The blocking helpers in
//! [`frame`] are for clients that own their socket.

pub mod frame;
pub mod line;
