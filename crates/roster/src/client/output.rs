//! Printing: text for people (styled only when stdout is a terminal, via anstream) or JSON
//! for scripts (`--json`).

use anstyle::{AnsiColor, Style};
use serde::Serialize;

/// Bold, for names.
pub(crate) const STRONG: Style = Style::new().bold();
/// Dimmed, for ids and secondary details.
pub(crate) const DIM: Style = Style::new().dimmed();
/// Green, for what went well.
pub(crate) const GOOD: Style = AnsiColor::Green.on_default();
/// Yellow, for what needs attention.
pub(crate) const NOTE: Style = AnsiColor::Yellow.on_default();

/// The printer of one command.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Out {
    json: bool,
}

impl Out {
    /// Text, or JSON when `json`.
    pub(crate) fn new(json: bool) -> Self {
        Out { json }
    }

    /// Whether output is JSON.
    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// Prints `value` as JSON when asked for JSON, else runs `text`.
    pub(crate) fn show<T: Serialize>(&self, value: &T, text: impl FnOnce()) -> anyhow::Result<()> {
        if self.json {
            anstream::println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            text();
        }
        Ok(())
    }
}

/// `text` in `style` (anstream strips the style when stdout is not a terminal).
pub(crate) fn styled(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}
