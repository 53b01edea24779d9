//! Git's rules as the helper needs them: how git turns a helper value into
//! a command line (credential.c's `credential_do`).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// The shell command git runs for helper `value` and `operation`, as
/// credential.c's `credential_do` builds it: `!cmd` runs `cmd`, an absolute
/// path runs as it is, anything else is `git credential-VALUE`; then a space
/// and the operation. Git hands the result to `sh -c`.
pub fn helper_command(value: &OsStr, operation: &OsStr) -> OsString {
    let value = value.as_bytes();
    let mut cmd = if let Some(snippet) = value.strip_prefix(b"!") {
        snippet.to_vec()
    } else if value.first() == Some(&b'/') {
        value.to_vec()
    } else {
        [b"git credential-", value].concat()
    };
    cmd.push(b' ');
    cmd.extend_from_slice(operation.as_bytes());
    OsString::from_vec(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_commands_as_git_builds_them() {
        let cmd = |v: &str, op: &str| helper_command(OsStr::new(v), OsStr::new(op));
        assert_eq!(
            cmd("store --file=/x", "get"),
            "git credential-store --file=/x get"
        );
        assert_eq!(cmd("!f() { cat; }; f", "store"), "f() { cat; }; f store");
        assert_eq!(
            cmd("/usr/bin/h --x 'a b'", "erase"),
            "/usr/bin/h --x 'a b' erase"
        );
        assert_eq!(cmd("", "get"), "git credential- get");
    }
}
