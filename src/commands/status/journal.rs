//! The journal check: where the journal of token decisions is, how big it
//! is, and the last `fail` it holds (when, and its error line).

use super::checks::ago;
use super::render::{Check, Mark, check};
use crate::journal::{Line, file};
use crate::settings::Settings;
use crate::token::{now_unix, parse_rfc3339};

pub fn journal(settings: &Settings, checks: &mut Vec<Check>) {
    let Some(path) = &settings.journal else {
        checks.push(check(
            "journal",
            Mark::Skip,
            "off (--journal off or MOLECULE_TOKEN_JOURNAL=off, or caching off and no path named)",
        ));
        return;
    };
    let old = file::rotated_path(path);
    let (mut texts, mut problems) = (Vec::new(), Vec::new());
    for p in [&old, path] {
        match file::read(p) {
            Ok(text) => texts.extend(text),
            Err(why) => problems.push(why),
        }
    }
    let (size, old_size) = file::sizes(path);
    let mut message = match size {
        Some(size) => format!("{}, {}", path.display(), kib(size)),
        None => format!("{} (nothing recorded yet)", path.display()),
    };
    if let Some(old_size) = old_size {
        message.push_str(&format!(" (and {} in {})", kib(old_size), old.display()));
    }
    let last_fail = texts
        .iter()
        .rev()
        .flat_map(|t| t.lines().rev())
        .filter(|l| l.contains("\"fail\""))
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .find(|l| l.event == "fail");
    match last_fail {
        Some(fail) => {
            let when = parse_rfc3339(&fail.time).map_or(fail.time.clone(), |t| {
                format!("{} ago", ago(now_unix() - t))
            });
            message.push_str(&format!(
                "; last fail {when} ({}): {}",
                fail.command.as_deref().unwrap_or("-"),
                fail.error.as_deref().unwrap_or("-")
            ));
        }
        None => message.push_str("; no fail recorded"),
    }
    if problems.is_empty() {
        checks.push(check("journal", Mark::Ok, message));
    } else {
        message = format!("{}: nothing is journaled; {message}", problems.join("; "));
        checks.push(check("journal", Mark::Warn, message));
    }
}

fn kib(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} bytes"),
        b => format!("{:.1} KiB", b as f64 / 1024.0),
    }
}
