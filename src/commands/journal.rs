//! `journal`: the journal of token decisions, read back for people and
//! agents: filtered by time, event, owner and token (by its hash, or by
//! the token itself read from stdin, never printed), one readable line per
//! entry or the objects as written (`--json`). The rotated file is read
//! first, so entries come oldest first.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::anyhow;

use crate::diag::debug;
use crate::error::{Error, Result};
use crate::journal::{self, Kind, Line, file};
use crate::secret::{self, Secret};
use crate::settings::Settings;
use crate::token::{now_unix, parse_rfc3339};

/// How much of stdin `--token-stdin` reads.
const MAX_TOKEN_INPUT: u64 = 64 * 1024;

/// A `--hashed-token` shorter than this is refused: it would match by
/// chance.
const MIN_HASH_PREFIX: usize = 8;

/// How many characters of a hash a readable line shows.
const SHOWN_HASH: usize = 12;

/// What `journal` was asked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub since: Option<Duration>,
    pub event: Option<Kind>,
    pub owner: Option<String>,
    pub hashed_token: Option<String>,
    pub token_stdin: bool,
    pub json: bool,
}

pub fn run(settings: &Settings, options: &Options) -> Result<()> {
    let Some(path) = &settings.journal else {
        return Err(anyhow!(
            "no journal: it is off (--journal off or MOLECULE_TOKEN_JOURNAL=off), or caching is \
             off and no --journal PATH is named"
        )
        .into());
    };
    let hash = match (&options.hashed_token, options.token_stdin) {
        (_, true) => Some(hash_of_stdin()?),
        (Some(hash), false) if hash.trim().len() < MIN_HASH_PREFIX => {
            return Err(Error::Usage(format!(
                "--hashed-token: give at least {MIN_HASH_PREFIX} characters of the hash"
            )));
        }
        (Some(hash), false) => Some(hash.trim().to_string()),
        (None, false) => None,
    };
    let filter = Filter {
        after: options.since.map(|d| now_unix() - d.as_secs() as i64),
        event: options.event,
        owner: options.owner.as_deref(),
        hash: hash.as_deref(),
    };
    let mut out = String::new();
    for file_path in [file::rotated_path(path), path.clone()] {
        for (text, line) in entries(&file_path)? {
            if filter.keeps(&line) {
                match options.json {
                    true => out.push_str(&text),
                    false => out.push_str(&readable(&line)),
                }
                out.push('\n');
            }
        }
    }
    super::write_stdout(out.as_bytes())
}

/// The token on stdin (one line, whitespace around it dropped), hashed.
fn hash_of_stdin() -> Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(MAX_TOKEN_INPUT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow!("cannot read stdin: {}", crate::diag::io_reason(&e)))?;
    if bytes.len() as u64 > MAX_TOKEN_INPUT {
        return Err(anyhow!(
            "--token-stdin: stdin holds more than {} KiB; give the token alone",
            MAX_TOKEN_INPUT / 1024
        )
        .into());
    }
    let token = Secret::new(String::from_utf8_lossy(&bytes).trim().to_string());
    if let Err(why) = secret::validate(token.expose()) {
        return Err(anyhow!("--token-stdin: what stdin holds is not a token: {why}").into());
    }
    Ok(journal::hashed_token(token.expose()))
}

/// Each line of the journal file at `path` with its entry; a line that is
/// not an entry is skipped (a debug line says how many).
fn entries(path: &Path) -> Result<Vec<(String, Line)>> {
    let text = match file::read(path) {
        Ok(Some(text)) => text,
        Ok(None) => return Ok(Vec::new()),
        Err(why) => return Err(anyhow!("{why}").into()),
    };
    let mut skipped = 0;
    let found = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| match serde_json::from_str::<Line>(l) {
            Ok(line) => Some((l.to_string(), line)),
            Err(_) => {
                skipped += 1;
                None
            }
        })
        .collect();
    if skipped > 0 {
        debug!(
            "journal: skipped {skipped} lines of {} that are not entries",
            path.display()
        );
    }
    Ok(found)
}

/// Which entries to print.
struct Filter<'a> {
    /// Unix seconds: entries at or after.
    after: Option<i64>,
    event: Option<Kind>,
    owner: Option<&'a str>,
    /// A whole hash or the start of one.
    hash: Option<&'a str>,
}

impl Filter<'_> {
    fn keeps(&self, line: &Line) -> bool {
        let time_ok = self
            .after
            .is_none_or(|after| parse_rfc3339(&line.time).is_some_and(|t| t >= after));
        let event_ok = self.event.is_none_or(|e| line.event == e.name());
        let owner_ok = self
            .owner
            .is_none_or(|o| (line.owner.as_deref()).is_some_and(|lo| lo.eq_ignore_ascii_case(o)));
        let hash_ok = self
            .hash
            .is_none_or(|h| (line.hashed_token.as_deref()).is_some_and(|lh| lh.starts_with(h)));
        time_ok && event_ok && owner_ok && hash_ok
    }
}

/// One readable line: time, event, command, the process chain by name,
/// host and repository, the start of the hash, the source, the error.
/// Nothing from the file reaches a terminal as a control character.
pub fn readable(line: &Line) -> String {
    let chain: Vec<&str> = line
        .process
        .iter()
        .map(|p| p.name.as_deref().unwrap_or("?"))
        .collect();
    let place = match (&line.host, &line.repo) {
        (Some(host), Some(repo)) => format!("{host}/{}", repo.trim_start_matches('/')),
        (Some(host), None) => host.clone(),
        (None, Some(repo)) => repo.clone(),
        (None, None) => "-".to_string(),
    };
    let hash = line.hashed_token.as_deref().map_or("-".to_string(), |h| {
        h.chars().take(SHOWN_HASH).collect::<String>()
    });
    let mut text = format!(
        "{}  {:<8}  {:<11}  {}  {}  {}",
        line.time,
        line.event,
        line.command.as_deref().unwrap_or("-"),
        match chain.is_empty() {
            true => "-".to_string(),
            false => chain.join("<"),
        },
        place,
        hash,
    );
    if let Some(owner) = line.owner.as_deref().filter(|_| line.repo.is_none()) {
        text.push_str(&format!("  owner {owner}"));
    }
    if let Some(source) = &line.source {
        text.push_str(&format!("  {source}"));
    }
    if let Some(ms) = line.duration_ms {
        text.push_str(&format!("  {ms} ms"));
    }
    if let Some(error) = &line.error {
        text.push_str(&format!("  error: {error}"));
    }
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `--since`: seconds, or with an `s`, `m`, `h` or `d` suffix.
pub fn parse_since(value: &str) -> std::result::Result<Duration, String> {
    let value = value.trim();
    let (number, unit) = match value.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&value[..i], c),
        _ => (value, 's'),
    };
    let scale = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err("expected seconds, or a number with s, m, h or d (15m, 2h, 7d)".into()),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(scale))
        .map(Duration::from_secs)
        .ok_or_else(|| "expected seconds, or a number with s, m, h or d (15m, 2h, 7d)".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::process::Ancestor;

    #[test]
    fn since_takes_units() {
        assert_eq!(parse_since("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_since("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_since("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_since("7d"), Ok(Duration::from_secs(604_800)));
        for bad in ["", "m", "1.5h", "3w", "-1", "x1"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_readable_line_names_the_chain_the_repo_and_the_hash_start() {
        let line = Line {
            time: "2026-12-07T14:03:00.123Z".into(),
            event: "fail".into(),
            command: Some("get".into()),
            host: Some("github.com".into()),
            repo: Some("o/app.git".into()),
            hashed_token: Some("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=".into()),
            error: Some("the platform\u{1b}[31m said no".into()),
            process: ["git", "bash"]
                .iter()
                .map(|n| Ancestor {
                    name: Some(n.to_string()),
                    ..Ancestor::default()
                })
                .collect(),
            ..Line::default()
        };
        let text = readable(&line);
        assert_eq!(
            text,
            "2026-12-07T14:03:00.123Z  fail      get          git<bash  github.com/o/app.git  \
             ungWv48Bz+pB  error: the platform [31m said no"
        );
    }

    #[test]
    fn the_filter_matches_a_hash_by_its_start_and_an_owner_without_case() {
        let line = Line {
            time: "2026-12-07T14:03:00.123Z".into(),
            event: "serve".into(),
            owner: Some("Molecule-AI".into()),
            hashed_token: Some("ungWv48Bz+pB".into()),
            ..Line::default()
        };
        let filter = |hash, owner, event| Filter {
            after: None,
            event,
            owner,
            hash,
        };
        assert!(filter(Some("ungWv48B"), Some("molecule-ai"), Some(Kind::Serve)).keeps(&line));
        assert!(!filter(Some("ungWv48C"), None, None).keeps(&line));
        assert!(!filter(None, Some("other"), None).keeps(&line));
        assert!(!filter(None, None, Some(Kind::Fail)).keeps(&line));
        let recent = Filter {
            after: Some(now_unix() - 60),
            ..filter(None, None, None)
        };
        assert!(!recent.keeps(&line));
    }
}
