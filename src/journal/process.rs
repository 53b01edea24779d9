//! Who asked: this process's ancestors from `/proc` (git, the agent's
//! shell, the agent), and the directory it runs in. Names and executables
//! only: never a command line (arguments can hold secrets).

use std::io::Read;

use serde::{Deserialize, Serialize};

/// A process in the chain: `name` from `/proc/PID/stat`, `exe` from
/// `/proc/PID/exe` (`null` when another user's process hides it).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ancestor {
    pub pid: u32,
    pub name: Option<String>,
    pub exe: Option<String>,
}

/// At most this many ancestors, nearest first.
pub const MAX_ANCESTORS: usize = 4;

/// How far up the chain is walked to find them.
const MAX_WALK: usize = 12;

/// This process's parent, its parent, …: at most [`MAX_ANCESTORS`],
/// stopping after init (pid 1) or at a process that cannot be read.
///
/// git's own plumbing is left out, so that the four are the processes a
/// person recognises (git, the agent's shell, the agent): the programs in
/// git's exec path (`…/git-core/`: `git-remote-https`, the `git` a
/// dispatcher re-executes) and the `sh` such a program runs the helper
/// with. A `git push` then reads `git < bash < agent`, not `sh <
/// git-remote-http < git < git`.
pub fn ancestors() -> Vec<Ancestor> {
    let mut walked: Vec<(Ancestor, bool)> = Vec::with_capacity(MAX_WALK);
    let mut pid = std::os::unix::process::parent_id();
    while pid > 0 && walked.len() < MAX_WALK {
        let key = pid.to_string();
        let Some((name, parent)) = stat(&key) else {
            break;
        };
        let exe = std::fs::read_link(format!("/proc/{key}/exe"))
            .ok()
            .map(|p| p.to_string_lossy().into_owned());
        let plumbing = exe.as_deref().is_some_and(|e| e.contains("/git-core/"));
        walked.push((
            Ancestor {
                pid,
                name: Some(name),
                exe,
            },
            plumbing,
        ));
        // Enough: four kept, and the last is not a shell whose parent
        // (one more step up) could make it git's plumbing.
        let kept = walked.iter().filter(|(_, p)| !p).count();
        let last_is_sh = walked
            .last()
            .is_some_and(|(a, _)| a.name.as_deref() == Some("sh"));
        if kept > MAX_ANCESTORS || kept == MAX_ANCESTORS && !last_is_sh {
            break;
        }
        pid = parent;
    }
    let mut chain = Vec::with_capacity(MAX_ANCESTORS);
    for (i, (ancestor, plumbing)) in walked.iter().enumerate() {
        let run_by_git = walked.get(i + 1).is_some_and(|(_, p)| *p);
        let helper_shell = run_by_git && ancestor.name.as_deref() == Some("sh");
        if !plumbing && !helper_shell && chain.len() < MAX_ANCESTORS {
            chain.push(ancestor.clone());
        }
    }
    chain
}

/// The name (`comm`) and parent of `/proc/PID/stat`: `PID (NAME) S PPID …`,
/// where NAME may hold spaces and parentheses (the last `)` ends it).
fn stat(pid: &str) -> Option<(String, u32)> {
    // One read: the kernel writes the whole of a stat file at once, and
    // the name and parent come first (the name is at most 64 bytes).
    let mut buf = [0u8; 1024];
    let n = std::fs::File::open(format!("/proc/{pid}/stat"))
        .ok()?
        .read(&mut buf)
        .ok()?;
    parse_stat(&String::from_utf8_lossy(&buf[..n]))
}

fn parse_stat(text: &str) -> Option<(String, u32)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let name = text.get(open + 1..close)?;
    let mut rest = text.get(close + 1..)?.split_ascii_whitespace();
    let _state = rest.next()?;
    let ppid = rest.next()?.parse().ok()?;
    let name = name
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    Some((name, ppid))
}

/// The working directory, when it can be named.
pub fn cwd() -> Option<String> {
    std::env::current_dir()
        .ok()
        .map(|p| p.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_names_may_hold_spaces_and_parentheses() {
        assert_eq!(
            parse_stat("42 (git) S 41 42 41 0"),
            Some(("git".to_string(), 41))
        );
        assert_eq!(
            parse_stat("42 (a (b) c) R 7 1 1"),
            Some(("a (b) c".to_string(), 7))
        );
        assert_eq!(parse_stat("42 git S 41"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn the_chain_starts_at_the_parent() {
        let chain = ancestors();
        assert!(!chain.is_empty() && chain.len() <= MAX_ANCESTORS);
        let parent = std::os::unix::process::parent_id();
        assert_eq!(chain[0].pid, parent);
    }
}
