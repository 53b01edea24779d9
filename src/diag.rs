//! Diagnostics: the debug lines of `-v`, and error text without noise.
//! Nothing here ever receives a secret: callers pass only what is safe.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// A debug line on stderr when `-v` or `MOLECULE_TOKEN_LOG=debug` is set.
macro_rules! debug {
    ($($arg:tt)*) => {
        if $crate::diag::verbose() {
            $crate::diag::write_line("debug", &format!($($arg)*));
        }
    };
}
pub(crate) use debug;

/// A warning line on stderr: something the user should fix, that did not
/// stop the work.
macro_rules! warning {
    ($($arg:tt)*) => {
        $crate::diag::write_line("warning", &format!($($arg)*))
    };
}
pub(crate) use warning;

/// Pass on another program's own words (gh's, say) as they were, whole.
pub fn write_raw(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Write `molecule-git-token-helper: <kind>: <message>` as one line, in one
/// write, with any line break in the message folded into a space.
pub fn write_line(kind: &str, message: &str) {
    let message: String = message
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let line = format!("molecule-git-token-helper: {kind}: {message}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// An I/O error's reason without the "(os error N)" suffix, lower-case first
/// letter, so it reads well after a colon.
pub fn io_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_reason_is_short() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_reason(&e), "no such file or directory");
    }
}
