//! How `status` shows its checks: short aligned lines (coloured on a
//! terminal unless NO_COLOR is set), or JSON.

use std::io::IsTerminal;

use super::redact::Redactor;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Mark {
    fn word(self) -> &'static str {
        match self {
            Mark::Ok => "ok",
            Mark::Warn => "warn",
            Mark::Fail => "fail",
            Mark::Skip => "skip",
        }
    }

    fn colour(self) -> &'static str {
        match self {
            Mark::Ok => "\x1b[32m",
            Mark::Warn => "\x1b[33m",
            Mark::Fail => "\x1b[31m",
            Mark::Skip => "\x1b[2m",
        }
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Mark,
    pub message: String,
}

pub fn check(name: &'static str, status: Mark, message: impl Into<String>) -> Check {
    Check {
        name,
        status,
        message: message.into(),
    }
}

/// Short aligned lines: `ok    bearer    /configs/.auth_token (0600, 44 bytes)`.
/// Every message is redacted first (see `redact.rs`).
fn render(checks: &[Check], colour: bool, redactor: &Redactor) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for c in checks {
        let word = c.status.word();
        let mark = if colour {
            format!("{}{word:<4}\x1b[0m", c.status.colour())
        } else {
            format!("{word:<4}")
        };
        let message = redactor.redact(&c.message);
        out.push_str(&format!("{mark}  {:<width$}  {message}\n", c.name));
    }
    out
}

/// The whole report: aligned lines, or `{"ok": …, "checks": […]}`; either
/// way every message passes `redactor` (there is no other way out).
pub fn report(checks: &[Check], json: bool, redactor: &Redactor) -> anyhow::Result<String> {
    if json {
        #[derive(serde::Serialize)]
        struct Report {
            ok: bool,
            checks: Vec<Check>,
        }
        let ok = !checks.iter().any(|c| c.status == Mark::Fail);
        let checks = checks
            .iter()
            .map(|c| check(c.name, c.status, redactor.redact(&c.message)))
            .collect();
        let mut json = serde_json::to_string_pretty(&Report { ok, checks })?;
        json.push('\n');
        return Ok(json);
    }
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    Ok(render(checks, colour, redactor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_aligned_and_plain_without_a_terminal() {
        let checks = [
            check(
                "bearer",
                Mark::Ok,
                "/configs/.auth_token (mode 0600, 44 bytes)",
            ),
            check("platform", Mark::Fail, "platform error (HTTP 500)"),
        ];
        assert_eq!(
            render(&checks, false, &Redactor::default()),
            "ok    bearer    /configs/.auth_token (mode 0600, 44 bytes)\n\
             fail  platform  platform error (HTTP 500)\n"
        );
        assert!(render(&checks, true, &Redactor::default()).contains("\x1b[31mfail\x1b[0m"));
    }
}
