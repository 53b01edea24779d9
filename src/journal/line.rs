//! One journal line: the JSON object the contract defines (its keys in the
//! contract's order, every key present, `null` when unknown), kept under
//! [`MAX_LINE`] bytes so that one `write` appends it whole.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::process::{self, Ancestor};
use super::{Command, Event, hashed_token};

/// A line is at most this many bytes, its newline included: one `write`
/// under `O_APPEND` of less than a page never interleaves with another's.
pub const MAX_LINE: usize = 4095;

/// What a field cut short ends with.
const CUT: &str = "…";

/// One decision, as written (and read back by `journal` and `status`).
/// Reading is lenient: a key missing from an older or foreign line is
/// `null`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Line {
    /// RFC 3339 in UTC, with milliseconds.
    pub time: String,
    pub event: String,
    pub command: Option<String>,
    pub host: Option<String>,
    pub owner: Option<String>,
    /// git's `path`, gh's `-R`.
    pub repo: Option<String>,
    pub permissions: Option<BTreeMap<String, String>>,
    pub repositories: Option<Vec<String>>,
    /// Base64 of the token's SHA-256, as GitHub's audit log names it.
    pub hashed_token: Option<String>,
    /// RFC 3339.
    pub expires_at: Option<String>,
    pub source: Option<String>,
    pub pid: u32,
    /// This process's ancestors, nearest first, at most four.
    pub process: Vec<Ancestor>,
    pub cwd: Option<String>,
    pub error: Option<String>,
    pub duration_ms: Option<u64>,
}

impl Line {
    /// The line for `event` of `command`, with what the request named
    /// (an event's own host or owner wins) and what this process is.
    pub fn new(
        event: &Event,
        command: Command,
        host: Option<String>,
        owner: Option<String>,
        repo: Option<String>,
    ) -> Line {
        Line {
            time: now_rfc3339_ms(),
            event: event.kind.name().to_string(),
            command: Some(command.name().to_string()),
            host: event.host.map(str::to_string).or(host),
            owner: event.owner.map(str::to_string).or(owner),
            repo,
            permissions: event.permissions.clone(),
            repositories: event.repositories.clone(),
            hashed_token: event.token.map(|t| hashed_token(t.expose())),
            expires_at: event.expires_at.map(rfc3339),
            source: event.source.map(|s| s.name().to_string()),
            pid: std::process::id(),
            process: process::ancestors(),
            cwd: process::cwd(),
            error: event.error.clone(),
            duration_ms: event.duration_ms,
        }
    }

    /// The line as written: one JSON object and a newline, at most
    /// [`MAX_LINE`] bytes (the longest free-text fields cut short first).
    pub fn to_text(mut self) -> String {
        for _ in 0..64 {
            let text = self.render();
            if text.len() <= MAX_LINE {
                return text;
            }
            if !self.cut_longest() {
                break;
            }
        }
        // Nothing left to cut but what cannot be long: the bare decision.
        Line {
            process: Vec::new(),
            repositories: self.repositories.as_ref().map(|_| vec![CUT.to_string()]),
            permissions: None,
            ..Line {
                time: self.time,
                event: self.event,
                command: self.command,
                hashed_token: self.hashed_token,
                expires_at: self.expires_at,
                source: self.source,
                pid: self.pid,
                duration_ms: self.duration_ms,
                ..Line::default()
            }
        }
        .render()
    }

    fn render(&self) -> String {
        let mut text = serde_json::to_string(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Halve the longest free-text field (or list); false when none is
    /// longer than a few bytes.
    fn cut_longest(&mut self) -> bool {
        let repositories_len = self
            .repositories
            .as_ref()
            .map_or(0, |r| r.iter().map(|s| s.len() + 3).sum());
        let mut fields: Vec<&mut Option<String>> = vec![
            &mut self.repo,
            &mut self.cwd,
            &mut self.error,
            &mut self.host,
            &mut self.owner,
            &mut self.command,
        ];
        for ancestor in &mut self.process {
            fields.push(&mut ancestor.exe);
            fields.push(&mut ancestor.name);
        }
        let longest = fields
            .into_iter()
            .filter_map(|f| f.as_mut())
            .max_by_key(|s| s.len());
        let longest_len = longest.as_ref().map_or(0, |s| s.len());
        if repositories_len > longest_len && repositories_len > 16 {
            let list = self.repositories.as_mut().expect("non-empty");
            list.truncate(list.len() / 2);
            list.push(CUT.to_string());
            return true;
        }
        match longest {
            Some(text) if text.len() > 8 => {
                cut(text, text.len() / 2);
                true
            }
            _ => false,
        }
    }
}

/// `text` cut to at most `max` bytes (at a character boundary), with
/// [`CUT`] after it.
fn cut(text: &mut String, max: usize) {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(CUT);
}

/// Now, as `2026-12-07T14:03:00.123Z`.
pub fn now_rfc3339_ms() -> String {
    let t = OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Unix seconds as RFC 3339 in UTC (the number itself if out of range).
fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Kind, Source};
    use crate::secret::Secret;

    fn line(event: &Event) -> Line {
        Line::new(
            event,
            Command::Get,
            Some("github.com".into()),
            Some("molecule-ai".into()),
            Some("molecule-ai/app.git".into()),
        )
    }

    #[test]
    fn a_line_has_every_key_in_the_contracts_order_and_no_token() {
        let token = Secret::new("ghs_linetesttoken0123456789".into());
        let event = Event::new(Kind::Serve)
            .token(&token, Some(1_795_437_296))
            .source(Source::Cache);
        let text = line(&event).to_text();
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
        assert!(!text.contains(token.expose()), "{text}");
        let keys: Vec<String> = match serde_json::from_str(&text).unwrap() {
            serde_json::Value::Object(map) => map.keys().cloned().collect(),
            other => panic!("{other}"),
        };
        // serde_json's map is sorted; the text keeps the written order.
        let order: Vec<usize> = [
            "\"time\"",
            "\"event\"",
            "\"command\"",
            "\"host\"",
            "\"owner\"",
            "\"repo\"",
            "\"permissions\"",
            "\"repositories\"",
            "\"hashed_token\"",
            "\"expires_at\"",
            "\"source\"",
            "\"pid\"",
            "\"process\"",
            "\"cwd\"",
            "\"error\"",
            "\"duration_ms\"",
        ]
        .iter()
        .map(|k| text.find(k).unwrap_or_else(|| panic!("{k} in {text}")))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(keys.len(), 16);
        let back: Line = serde_json::from_str(&text).unwrap();
        assert_eq!(back.event, "serve");
        assert_eq!(back.source.as_deref(), Some("cache"));
        assert_eq!(back.expires_at.as_deref(), Some("2026-11-23T12:34:56Z"));
        assert_eq!(
            back.hashed_token.unwrap(),
            crate::journal::hashed_token(token.expose())
        );
        assert_eq!(back.pid, std::process::id());
        assert_eq!(back.time.len(), "2026-12-07T14:03:00.123Z".len());
    }

    #[test]
    fn a_long_line_is_cut_to_fit_and_stays_json() {
        let mut event = Event::new(Kind::Fail).error("é".repeat(5000));
        event.repositories = Some((0..500).map(|i| format!("repo-{i}")).collect());
        let mut line = line(&event);
        line.repo = Some("\u{1}".repeat(3000));
        line.cwd = Some("/very/long".repeat(400));
        let text = line.to_text();
        assert!(text.len() <= MAX_LINE, "{}", text.len());
        let back: Line = serde_json::from_str(&text).unwrap();
        assert_eq!(back.event, "fail");
        assert!(back.error.unwrap().ends_with(CUT));
        assert!(back.repositories.unwrap().last().unwrap() == CUT);
    }

    #[test]
    fn a_foreign_line_reads_leniently() {
        let back: Line = serde_json::from_str(r#"{"time":"t","event":"serve","x":1}"#).unwrap();
        assert_eq!(back.event, "serve");
        assert_eq!(back.hashed_token, None);
    }
}
