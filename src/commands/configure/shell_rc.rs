//! `configure --shell-init`: the line that sources `shell-init` in the
//! user's shell rc files, in a marked block, as conda's `init` writes its
//! own; and `unconfigure`, which takes the block out again so that each file
//! is back byte for byte.
//!
//! ```text
//! # >>> molecule-git-token-helper shell-init >>>
//! eval "$('/usr/local/bin/molecule-git-token-helper' shell-init bash)"
//! # <<< molecule-git-token-helper shell-init <<<
//! ```
//!
//! The files: `~/.bashrc` always (created when missing: bash is every
//! workspace's shell); `${ZDOTDIR:-~}/.zshrc` and
//! `${XDG_CONFIG_HOME:-~/.config}/fish/config.fish` when they exist or the
//! shell is on PATH. The start marker says what else configure did, so
//! that unconfigure can undo exactly that: `(created this file)` (the file
//! goes when nothing else is left in it) or `(added the newline above)` (a
//! file that did not end with one). A file that is a symbolic link (a
//! dotfiles checkout) is edited where it points. Each file is written whole
//! beside itself and renamed over it.

use std::path::PathBuf;

use anyhow::{Result, anyhow};

use super::file::{read, real_path, write};
use crate::diag::io_reason;

const START: &str = "# >>> molecule-git-token-helper shell-init >>>";
const START_CREATED: &str = "# >>> molecule-git-token-helper shell-init (created this file) >>>";
const START_NEWLINE: &str =
    "# >>> molecule-git-token-helper shell-init (added the newline above) >>>";
const END: &str = "# <<< molecule-git-token-helper shell-init <<<";

/// What else configure did when it wrote a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Created,
    NewlineAdded,
}

impl Kind {
    fn marker(self) -> &'static str {
        match self {
            Kind::Plain => START,
            Kind::Created => START_CREATED,
            Kind::NewlineAdded => START_NEWLINE,
        }
    }
}

/// A block of ours in a file's text: `start..end` covers its lines (the
/// end marker's newline included), `body` the line between the markers.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    start: usize,
    end: usize,
    body: String,
    kind: Kind,
}

/// The first block of ours in `text`.
fn find(text: &str) -> Option<Found> {
    let mut offset = 0;
    let mut open: Option<(usize, Kind, String)> = None;
    for line in text.split_inclusive('\n') {
        let bare = line.strip_suffix('\n').unwrap_or(line);
        let kind = [Kind::Plain, Kind::Created, Kind::NewlineAdded]
            .into_iter()
            .find(|k| bare == k.marker());
        match (&mut open, kind) {
            (None, Some(kind)) => open = Some((offset, kind, String::new())),
            (Some((start, kind, body)), _) if bare == END => {
                return Some(Found {
                    start: *start,
                    end: offset + line.len(),
                    body: std::mem::take(body),
                    kind: *kind,
                });
            }
            (Some((_, _, body)), _) => body.push_str(line),
            (None, None) => {}
        }
        offset += line.len();
    }
    None
}

fn block(kind: Kind, line: &str) -> String {
    format!("{}\n{line}\n{END}\n", kind.marker())
}

/// The rc files to write, with their shells' names: `.bashrc` always; the
/// others when present or when their shell is installed.
fn rc_files() -> Result<Vec<(&'static str, PathBuf)>> {
    let home = dirs::home_dir().ok_or_else(|| anyhow!("cannot find the home directory (HOME)"))?;
    let dir_var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let zsh = dir_var("ZDOTDIR").unwrap_or_else(|| home.clone());
    let config = dir_var("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
    let mut files = vec![("bash", home.join(".bashrc"))];
    for (shell, path) in [
        ("zsh", zsh.join(".zshrc")),
        ("fish", config.join("fish").join("config.fish")),
    ] {
        if path.exists() || installed(shell) {
            files.push((shell, path));
        }
    }
    Ok(files)
}

/// Is `program` on PATH?
fn installed(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.is_absolute() && dir.join(program).is_file())
    })
}

/// `configure --shell-init`: the block in each rc file, holding the line
/// `rc_line(SHELL)` gives for its shell (`bash`, `zsh`, `fish`).
/// Returns one line per file changed.
pub fn configure(rc_line: &dyn Fn(&str) -> String) -> Result<String> {
    let mut done = String::new();
    for (shell, path) in rc_files()? {
        let line = rc_line(shell);
        let path = real_path(&path);
        let text = read(&path)?;
        let new = match (&text, text.as_deref().and_then(find)) {
            (Some(_), Some(found)) if found.body == format!("{line}\n") => {
                crate::diag::debug!("configure: {} already sources shell-init", path.display());
                continue;
            }
            (Some(text), Some(found)) => {
                let mut new = text[..found.start].to_string();
                new += &block(found.kind, &line);
                new += &text[found.end..];
                new
            }
            (Some(text), None) if text.is_empty() || text.ends_with('\n') => {
                format!("{text}{}", block(Kind::Plain, &line))
            }
            (Some(text), None) => format!("{text}\n{}", block(Kind::NewlineAdded, &line)),
            (None, _) => block(Kind::Created, &line),
        };
        write(&path, &new)?;
        done += &match text {
            Some(_) => format!("{}: sources shell-init {shell}\n", path.display()),
            None => format!("{}: created, sourcing shell-init {shell}\n", path.display()),
        };
    }
    Ok(done)
}

/// `unconfigure`: take our block out of every rc file that has one.
/// Returns one line per file changed.
pub fn unconfigure() -> Result<String> {
    let mut done = String::new();
    for (_, path) in rc_files()? {
        let path = real_path(&path);
        let Some(text) = read(&path)? else { continue };
        let Some(found) = find(&text) else { continue };
        let mut start = found.start;
        if found.kind == Kind::NewlineAdded && found.end == text.len() && start > 0 {
            start -= 1; // the newline configure added: the file ended without one
        }
        let new = format!("{}{}", &text[..start], &text[found.end..]);
        if found.kind == Kind::Created && new.is_empty() {
            std::fs::remove_file(&path)
                .map_err(|e| anyhow!("cannot remove {}: {}", path.display(), io_reason(&e)))?;
            done += &format!("{}: removed (configure had created it)\n", path.display());
        } else {
            write(&path, &new)?;
            done += &format!("{}: no longer sources shell-init\n", path.display());
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_block_and_what_configure_did() {
        let text = format!("a\n{}b\n", block(Kind::NewlineAdded, "eval x"));
        let found = find(&text).unwrap();
        assert_eq!(found.kind, Kind::NewlineAdded);
        assert_eq!(found.body, "eval x\n");
        assert_eq!(&text[..found.start], "a\n");
        assert_eq!(&text[found.end..], "b\n");
        assert_eq!(
            find("a\n# <<< molecule-git-token-helper shell-init <<<\n"),
            None
        );
        assert_eq!(find(&format!("{START}\nno end\n")), None);
    }
}
