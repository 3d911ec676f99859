//! The chat room fed arbitrary datagrams from a few addresses, with time
//! passing and idle expiry (`netkit::chat::Room`), and the same datagrams
//! through `ChatService::on_datagram`. Never panics; the sender hears only
//! `OK`, `EXIT` or `ERR ...`; only members and the sender are sent to; no
//! delivered line can forge another (no CR or LF); members stay valid and
//! unique; the room never outgrows its limit.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use netkit::chat::{ChatService, Lang, Limits, Room};
use netkit::server::DatagramService;

const ADDRS: [&str; 6] = [
    "127.0.0.1:1000",
    "127.0.0.1:1001",
    "127.0.0.2:1000",
    "[::1]:1000",
    "[::1]:1001",
    "10.0.0.1:5",
];

fn check_members(room: &Room, limits: &Limits) {
    let members = room.members();
    assert!(members.len() <= limits.max_members);
    assert_eq!(members.len(), room.len());
    for (i, (addr, name)) in members.iter().enumerate() {
        assert_eq!(room.member(*addr), Some(name.as_str()));
        assert!(!name.is_empty() && name.chars().count() <= 32);
        assert!(!name.contains(':') && !name.chars().any(char::is_control));
        assert_eq!(name.trim(), name);
        for (_, other) in &members[i + 1..] {
            assert_ne!(
                name.to_lowercase(),
                other.to_lowercase(),
                "two members named alike"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_members: 1 + (flags as usize & 3),
        max_text: [0, 1, 16, 800][(flags as usize >> 2) & 3],
        idle_timeout: (flags & 0x10 != 0).then(|| Duration::from_secs(30)),
        max_per_host: 1 + (flags as usize >> 6),
    };
    let lang = if flags & 0x20 != 0 {
        Lang::Zh
    } else {
        Lang::En
    };
    let addrs: Vec<SocketAddr> = ADDRS.iter().map(|a| a.parse().unwrap()).collect();
    let mut room = Room::new(limits.clone()).speaking(lang);
    let service = ChatService::new(Room::new(limits.clone()).speaking(lang), false);
    let start = Instant::now();
    let mut now = start;
    // Each datagram: [who | seconds << 3] [len] bytes...
    while let [head, len, tail @ ..] = rest {
        let n = (*len as usize).min(tail.len());
        let (dgram, next) = tail.split_at(n);
        rest = next;
        let from = addrs[(*head & 7) as usize % addrs.len()];
        now += Duration::from_secs((*head >> 3) as u64 * 3);
        let before: Vec<SocketAddr> = room.members().into_iter().map(|(a, _)| a).collect();
        let outcome = room.handle(from, dgram, now);
        let after: Vec<SocketAddr> = room.members().into_iter().map(|(a, _)| a).collect();
        for (to, bytes) in &outcome.sends {
            let text = String::from_utf8_lossy(bytes);
            if *to == from {
                assert!(
                    text == "OK" || text == "EXIT" || text.starts_with("ERR "),
                    "the sender was sent {text:?}"
                );
            } else {
                assert!(
                    before.contains(to) || after.contains(to),
                    "sent to a stranger"
                );
                assert!(!text.contains(['\n', '\r']), "a forged line {text:?}");
            }
        }
        check_members(&room, &limits);
        let expired = room.expire(now);
        for (to, _) in &expired.sends {
            assert!(after.contains(to), "an expiry notice to a stranger");
        }
        check_members(&room, &limits);
        if let Ok(sends) = room.admin(&String::from_utf8_lossy(dgram)) {
            assert_eq!(sends.len(), room.len());
        }
        let mut out = Vec::new();
        service.on_datagram(from, dgram, &mut out);
        for (to, bytes) in &out {
            if *to == from {
                let text = String::from_utf8_lossy(bytes);
                assert!(text == "OK" || text == "EXIT" || text.starts_with("ERR "));
            }
        }
        assert!(service.members().len() <= limits.max_members);
    }
    let mut out = Vec::new();
    service.on_tick(&mut out);
    assert_eq!(room.closing().len(), room.len());
});
