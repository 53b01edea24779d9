//! Our block in the config file's text: configure appends it, unconfigure
//! takes out exactly its lines, so that the rest of the file (comments,
//! blank-line runs, a missing final newline, bytes that are not UTF-8, the
//! user's own `[credential "https://HOST/"]` sections) is left byte for byte.
//!
//! A block is what configure writes, and only that: in a section headed
//! `[credential "https://HOST/"]`, a reset line (`helper =`) followed by this
//! helper's line and the wrapped fallbacks (blank and comment lines between
//! them are not ours and stay). A user's own `helper =` in a section of the
//! same name is theirs. The section header goes too when nothing else is
//! left in its section. When the file did not end with a line break,
//! configure adds one and says so in a comment on its header
//! ([`ENDED_THE_LINE`]), so that unconfigure takes that line break out again.
//!
//! For a platform host the block ends with [`USE_HTTP_PATH`], right after
//! the helper lines: git then sends the repository's path in its requests,
//! so that the helper knows the owner whose installation's token to fetch.
//! `useHttpPath` is a setting of the URL, not of one helper: the `fallback`
//! wrapper takes the path out again for the kept helpers.

use std::collections::BTreeSet;

use crate::git::helpers::{Line, classify};

/// On the header of a block configure wrote after a last line that had no
/// line break: unconfigure removes the line break too.
pub const ENDED_THE_LINE: &str = "# molecule-git-token-helper ended the line above";

/// The last line of a platform host's block.
pub const USE_HTTP_PATH: &str = "useHttpPath = true";

/// One host's block, as found in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub host: String,
    /// The block ends with [`USE_HTTP_PATH`].
    pub use_http_path: bool,
    /// Line numbers of its helper lines (reset, ours, fallbacks).
    lines: Vec<usize>,
    /// The header's line number, when the section holds nothing else.
    header: Option<usize>,
    /// The header says configure ended the line above.
    ended_the_line: bool,
}

/// The text's lines, each with its line break when it has one.
fn split_lines(text: &[u8]) -> Vec<&[u8]> {
    text.split_inclusive(|&b| b == b'\n').collect()
}

/// A line without its line break and surrounding blanks, as UTF-8 (a line
/// that is not UTF-8 is none of ours).
fn trimmed(line: &[u8]) -> Option<&str> {
    std::str::from_utf8(line).ok().map(str::trim)
}

fn is_blank_or_comment(line: &[u8]) -> bool {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    text.is_empty() || text.starts_with('#') || text.starts_with(';')
}

fn is_header(line: &[u8]) -> bool {
    String::from_utf8_lossy(line).trim_start().starts_with('[')
}

/// The host of a `[credential "https://HOST/"]` header, and whether it
/// carries [`ENDED_THE_LINE`]; `None` for any other line.
fn header_host(line: &[u8]) -> Option<(String, bool)> {
    let text = trimmed(line)?;
    let rest = text.strip_prefix('[')?;
    let (section, rest) = rest.split_at(rest.find(' ')?);
    if !section.eq_ignore_ascii_case("credential") {
        return None;
    }
    let rest = rest.trim_start().strip_prefix("\"https://")?;
    let end = rest.find("/\"]")?;
    let host = &rest[..end];
    let after = rest[end + 3..].trim();
    if host.is_empty() || host.contains(['"', '\\', '/']) {
        return None;
    }
    if !(after.is_empty() || after.starts_with('#') || after.starts_with(';')) {
        return None;
    }
    Some((host.to_string(), after == ENDED_THE_LINE))
}

/// The value of a `helper = VALUE` line, unquoted as git reads it; `None`
/// for any other line (and for a value this reader does not follow, such
/// as one continued on the next line).
fn helper_value(line: &[u8]) -> Option<String> {
    key_value(line, "helper")
}

/// The value of a `NAME = VALUE` line (the name without case), unquoted.
fn key_value(line: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(line).ok()?;
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    let text = text.trim_start();
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(text.len());
    if !text[..name_end].eq_ignore_ascii_case(name) {
        return None;
    }
    let rest = text[name_end..].trim_start_matches([' ', '\t']);
    parse_value(rest.strip_prefix('=')?)
}

/// git's parse_value (config.c): blanks around the value dropped, runs of
/// blanks inside kept as spaces, `"` quoting, `\` escapes, `#` and `;`
/// outside quotes start a comment.
fn parse_value(raw: &str) -> Option<String> {
    let mut value = String::new();
    let (mut quoted, mut spaces) = (false, 0);
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if !quoted && (c == ' ' || c == '\t') {
            if !value.is_empty() {
                spaces += 1;
            }
            continue;
        }
        if !quoted && (c == '#' || c == ';') {
            break;
        }
        value.extend(std::iter::repeat_n(' ', spaces));
        spaces = 0;
        match c {
            '\\' => match chars.next()? {
                't' => value.push('\t'),
                'b' => value.push('\u{8}'),
                'n' => value.push('\n'),
                c @ ('\\' | '"') => value.push(c),
                _ => return None,
            },
            '"' => quoted = !quoted,
            c => value.push(c),
        }
    }
    (!quoted).then_some(value)
}

/// A value as git writes it (config.c's write_pair): quoted when it starts
/// or ends with a space or holds `;` or `#`; `\`, `"`, tab and newline
/// escaped.
fn quote_value(value: &str) -> String {
    let quote = value.starts_with(' ') || value.ends_with(' ') || value.contains([';', '#']);
    let mut out = String::new();
    if quote {
        out.push('"');
    }
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    if quote {
        out.push('"');
    }
    out
}

/// Every block in `text`.
pub fn find(text: &[u8]) -> Vec<Found> {
    let lines = split_lines(text);
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let Some((host, ended_the_line)) = header_host(lines[i]) else {
            i += 1;
            continue;
        };
        let end = (i + 1..lines.len())
            .find(|&j| is_header(lines[j]))
            .unwrap_or(lines.len());
        let mut ours = Vec::new();
        let mut use_http_path = false;
        // Each reset line followed by this helper's line (blank and comment
        // lines between are not ours), then the fallbacks.
        let mut j = i + 1;
        while j < end {
            if helper_value(lines[j]).as_deref() != Some("") {
                j += 1;
                continue;
            }
            let next = (j + 1..end).find(|&k| !is_blank_or_comment(lines[k]));
            let is_ours = |k: usize| {
                helper_value(lines[k]).is_some_and(|v| matches!(classify(&v), Line::Ours { .. }))
            };
            match next {
                Some(k) if is_ours(k) => {
                    let mut block = vec![j, k];
                    let mut m = k + 1;
                    while m < end {
                        if is_blank_or_comment(lines[m]) {
                            m += 1;
                            continue;
                        }
                        let fallback = helper_value(lines[m])
                            .is_some_and(|v| matches!(classify(&v), Line::Fallback { .. }));
                        if !fallback {
                            break;
                        }
                        block.push(m);
                        m += 1;
                    }
                    let next = (m..end).find(|&k| !is_blank_or_comment(lines[k]));
                    if let Some(k) = next
                        .filter(|&k| key_value(lines[k], "usehttppath").as_deref() == Some("true"))
                    {
                        block.push(k);
                        use_http_path = true;
                        m = k + 1;
                    }
                    ours.extend(block);
                    j = m;
                }
                _ => j += 1,
            }
        }
        if !ours.is_empty() {
            let alone = end - (i + 1) == ours.len();
            found.push(Found {
                host: host.clone(),
                use_http_path,
                lines: ours,
                header: alone.then_some(i),
                ended_the_line,
            });
        }
        i = end;
    }
    found
}

/// `text` without the blocks `remove` (each found in this very text); a line
/// break configure added before one of them goes too when nothing follows.
pub fn remove(text: &[u8], remove: &[&Found]) -> Vec<u8> {
    let lines = split_lines(text);
    let mut gone = BTreeSet::new();
    let mut ended_at = Vec::new();
    for block in remove {
        gone.extend(block.lines.iter().copied());
        if let Some(header) = block.header {
            gone.insert(header);
            if block.ended_the_line {
                ended_at.push(header);
            }
        }
    }
    let mut out = Vec::with_capacity(text.len());
    let mut ended = None;
    for (n, line) in lines.iter().enumerate() {
        if ended_at.contains(&n) && ended.is_none() {
            ended = Some(out.len());
        }
        if !gone.contains(&n) {
            out.extend_from_slice(line);
        }
    }
    if ended == Some(out.len()) && out.last() == Some(&b'\n') {
        out.pop();
    }
    out
}

/// `text` with a block for each `(host, values, use_http_path)` appended.
pub fn append(text: &[u8], blocks: &[(String, Vec<String>, bool)]) -> Vec<u8> {
    let mut out = text.to_vec();
    let mut ended_the_line = false;
    if !out.is_empty() && out.last() != Some(&b'\n') {
        out.push(b'\n');
        ended_the_line = true;
    }
    for (host, values, use_http_path) in blocks {
        out.extend_from_slice(format!("[credential \"https://{host}/\"]").as_bytes());
        if std::mem::take(&mut ended_the_line) {
            out.extend_from_slice(format!(" {ENDED_THE_LINE}").as_bytes());
        }
        out.push(b'\n');
        for value in values {
            out.extend_from_slice(format!("\thelper = {}\n", quote_value(value)).as_bytes());
        }
        if *use_http_path {
            out.extend_from_slice(format!("\t{USE_HTTP_PATH}\n").as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "/usr/bin/molecule-git-token-helper --timeout 5";
    const FALLBACK: &str = "/usr/bin/molecule-git-token-helper fallback -- 'store --file=/s'";

    fn block(host: &str, use_http_path: bool) -> (String, Vec<String>, bool) {
        let values = vec![String::new(), OURS.into(), FALLBACK.into()];
        (host.to_string(), values, use_http_path)
    }

    fn round_trip(start: &[u8]) {
        let with = append(
            start,
            &[block("github.com", true), block("git.example.test", false)],
        );
        let found = find(&with);
        assert_eq!(found.len(), 2, "{}", String::from_utf8_lossy(&with));
        assert!(found[0].use_http_path && !found[1].use_http_path);
        let all: Vec<&Found> = found.iter().collect();
        assert_eq!(
            remove(&with, &all),
            start,
            "{}",
            String::from_utf8_lossy(&with)
        );
    }

    #[test]
    fn append_then_remove_is_byte_for_byte() {
        for start in [
            &b""[..],
            b"[user]\n\tname = Op",
            b"[user]\n\tname = Jos\xe9\n",
            b"[credential]\n\thelper = store ; the PAT\n# the end\n; really\n",
            b"[user]\n\tname = Op\n\n\n\n[credential]\n\thelper = store\n\n\n",
            b"[credential \"https://github.com/\"]\n\t# the PAT is in store\n",
            b"[credential \"https://github.com/\"]\n\thelper =\n",
            b"[credential \"https://github.com/\"]\n\thelper =",
        ] {
            round_trip(start);
        }
    }

    #[test]
    fn use_http_path_is_ours_only_right_after_our_helpers() {
        let ours = format!(
            "[credential \"https://github.com/\"]\n\thelper =\n\thelper = {OURS}\n\tUseHttpPath = true\n"
        );
        let found = find(ours.as_bytes());
        assert!(found[0].use_http_path);
        assert!(remove(ours.as_bytes(), &[&found[0]]).is_empty());
        // A user's own setting after something else of theirs stays.
        let theirs = format!(
            "[credential \"https://github.com/\"]\n\thelper =\n\thelper = {OURS}\n\tusername = op\n\tuseHttpPath = true\n"
        );
        let found = find(theirs.as_bytes());
        assert!(!found[0].use_http_path);
        assert_eq!(
            remove(theirs.as_bytes(), &[&found[0]]),
            b"[credential \"https://github.com/\"]\n\tusername = op\n\tuseHttpPath = true\n"
        );
    }

    #[test]
    fn a_users_reset_line_is_not_ours() {
        let text = b"[credential \"https://github.com/\"]\n\thelper =\n\thelper = store\n";
        assert!(find(text).is_empty());
        // Ours after it in the same section (as git config --add put it):
        // only our lines go, the user's reset and the header stay.
        let text = format!(
            "[credential \"https://github.com/\"]\n\thelper =\n\t# mine\n\thelper = \n\thelper = {OURS}\n"
        );
        let found = find(text.as_bytes());
        assert_eq!(found.len(), 1);
        assert_eq!(
            remove(text.as_bytes(), &[&found[0]]),
            b"[credential \"https://github.com/\"]\n\thelper =\n\t# mine\n"
        );
    }

    #[test]
    fn values_are_written_and_read_as_git_does() {
        for value in [
            "",
            "plain value",
            "!f() { echo password=x; }; f",
            " lead",
            "trail ",
            "back\\slash \"quoted\" # hash",
            "tab\there",
        ] {
            let line = format!("\thelper = {}\n", quote_value(value));
            assert_eq!(
                helper_value(line.as_bytes()).as_deref(),
                Some(value),
                "{line}"
            );
        }
        assert_eq!(helper_value(b"\tHelper=x ; c\n").as_deref(), Some("x"));
        assert_eq!(helper_value(b"\thelpers = x\n"), None);
        assert_eq!(helper_value(b"\thelper = \"open\n"), None);
    }
}
