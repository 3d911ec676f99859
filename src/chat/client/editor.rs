//! The pure line editor of `netkit chat join`: [`LineEditor`] (keys in,
//! [`EditAction`]s out), the terminal column widths of characters
//! ([`char_width`]) and [`printable`], which defuses received lines before
//! they are shown.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

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
