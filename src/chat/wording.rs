//! What the room says, in the operator's language: English by default, or the
//! course's own Chinese wording (`netkit chat serve --lang zh`), where members
//! see "xxx 进入聊天室", "xxx 说：..." and "xxx 退出了聊天室" exactly as the
//! course's room prints them.
//!
//! Only the text changes: the requests (`L`/`C`/`Q`) and the replies a course
//! client waits for (`OK`, `EXIT`, and `ERR ` in front of a refusal) are the
//! same in every language.

use std::fmt;

use super::room::Refusal;

/// The language of the room's notices and refusal reasons.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// English: "alice joined the room", "alice: hi", "alice left the room".
    #[default]
    En,
    /// The network-programming course's Chinese: "alice 进入聊天室", "alice 说：hi", "alice 退出了聊天室".
    Zh,
}

impl Lang {
    /// Told to the others when `name` joins.
    pub fn joined(self, name: &str) -> String {
        match self {
            Lang::En => format!("{name} joined the room"),
            Lang::Zh => format!("{name} 进入聊天室"),
        }
    }

    /// What the others receive when `name` says `text`.
    pub fn said(self, name: &str, text: &str) -> String {
        match self {
            Lang::En => format!("{name}: {text}"),
            Lang::Zh => format!("{name} 说：{text}"),
        }
    }

    /// Told to the others when `name` leaves with `Q`.
    pub fn left(self, name: &str) -> String {
        match self {
            Lang::En => format!("{name} left the room"),
            Lang::Zh => format!("{name} 退出了聊天室"),
        }
    }

    /// The operator's broadcast from the server console.
    pub fn admin(self, text: &str) -> String {
        match self {
            Lang::En => format!("Admin: {text}"),
            Lang::Zh => format!("管理员 说：{text}"),
        }
    }

    /// Told to the others when `name` is dropped after `silence` without a word.
    pub fn dropped(self, name: &str, silence: &str) -> String {
        match self {
            Lang::En => format!("{name} was dropped after {silence} of silence"),
            Lang::Zh => format!("{name} 因 {silence} 未发言被移出聊天室"),
        }
    }

    /// Told to the dropped member itself.
    pub fn dropped_you(self, silence: &str) -> String {
        match self {
            Lang::En => {
                format!(
                    "you were dropped from the room after {silence} of silence; join again to talk"
                )
            }
            Lang::Zh => format!("你因 {silence} 未发言被移出聊天室；重新进入后才能发言"),
        }
    }

    /// Told to every member when the server stops.
    pub fn closing(self) -> &'static str {
        match self {
            Lang::En => "the room is closing; goodbye",
            Lang::Zh => "聊天室关闭了，再见",
        }
    }

    /// Told to every member when `n` broadcasts from the room's other
    /// servers were lost on the way (Redis was away too long, or restarted).
    pub fn lost(self, n: u64) -> String {
        match self {
            Lang::En if n == 1 => "1 message from the room's other servers was lost".to_string(),
            Lang::En => format!("{n} messages from the room's other servers were lost"),
            Lang::Zh => format!("来自聊天室其他服务器的 {n} 条消息丢失了"),
        }
    }

    /// Told to a member whose name a member on another server of the room
    /// holds (claimed there while this server could not reach Redis).
    pub fn name_lost_you(self, name: &str) -> String {
        match self {
            Lang::En => format!(
                "ERR name '{name}' was taken on another server of the room while this one was cut off; join again with another name"
            ),
            Lang::Zh => format!(
                "ERR 在本服务器断开期间，用户名 '{name}' 已被其他服务器上的成员使用；请换个名字重新进入"
            ),
        }
    }

    /// The reason sent after `ERR ` for a refused request.
    pub fn refusal(self, refusal: &Refusal) -> String {
        match self {
            Lang::En => refusal.to_string(),
            Lang::Zh => Zh(refusal).to_string(),
        }
    }
}

/// A refusal in the course's Chinese.
struct Zh<'a>(&'a Refusal);

impl fmt::Display for Zh<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Refusal::NameTaken(n) => write!(f, "该用户已存在：'{n}'"),
            Refusal::NameReserved(n) => write!(f, "用户名 '{n}' 是保留的"),
            Refusal::NameInvalid(why) => write!(f, "用户名无效：{}", name_rule(why)),
            Refusal::RoomFull(max) => write!(f, "聊天室已满（{max} 人）"),
            Refusal::HostFull { host, max } => {
                write!(f, "来自 {host} 的成员太多（每台主机最多 {max} 个）")
            }
            Refusal::NotMember => write!(f, "你不在聊天室里；请先发送 L <名字> 进入"),
            Refusal::Impersonation(n) => {
                write!(f, "'{n}' 是从另一个地址进入的；你不能以其名义发言或退出")
            }
            Refusal::WrongName { joined_as, claimed } => write!(
                f,
                "这个地址以 '{joined_as}' 进入；不能以 '{claimed}' 的名义发言或退出"
            ),
            Refusal::TextTooLong { len, max } => {
                write!(f, "消息太长：{len} 字节（上限 {max}）；没有发送")
            }
            Refusal::TextControl => write!(f, "消息含有控制字符；没有发送"),
            Refusal::TextEmpty => write!(f, "消息为空；没有发送"),
            Refusal::InvalidUtf8 => write!(f, "数据报不是有效的 UTF-8"),
            Refusal::Unknown => write!(f, "未知请求；请用 L <名字>、C <名字> <消息> 或 Q <名字>"),
            Refusal::Usage(u) => write!(f, "用法：{u}"),
        }
    }
}

/// The name rules of [`Refusal::NameInvalid`] in Chinese.
fn name_rule(why: &str) -> &str {
    match why {
        "empty" => "为空",
        "longer than 32 characters" => "超过 32 个字符",
        "contains control characters" => "含有控制字符",
        "contains ':'" => "含有 ':'",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_course_wording() {
        assert_eq!(Lang::Zh.joined("小明"), "小明 进入聊天室");
        assert_eq!(Lang::Zh.said("小明", "你好"), "小明 说：你好");
        assert_eq!(Lang::Zh.left("小明"), "小明 退出了聊天室");
        assert_eq!(Lang::En.said("bob", "hi"), "bob: hi");
    }

    #[test]
    fn the_per_host_refusal_in_both_languages() {
        let full = Refusal::HostFull {
            host: "10.0.0.1".parse().unwrap(),
            max: 16,
        };
        assert_eq!(
            Lang::En.refusal(&full),
            "too many members from 10.0.0.1 (limit 16 per host)"
        );
        assert_eq!(
            Lang::Zh.refusal(&full),
            "来自 10.0.0.1 的成员太多（每台主机最多 16 个）"
        );
    }

    #[test]
    fn every_name_rule_has_a_translation() {
        for why in [
            "empty",
            "longer than 32 characters",
            "contains control characters",
            "contains ':'",
        ] {
            assert_ne!(name_rule(why), why);
        }
    }
}
