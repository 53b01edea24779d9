//! Which git this machine runs, and the oldest one this helper supports.
//!
//! The minimum is 2.34 (Ubuntu 22.04's git). What each feature this helper
//! relies on needs, from git's release notes:
//!
//! | feature | since |
//! | --- | --- |
//! | an empty `credential.helper` value resets the list | 2.9 |
//! | `[includeIf "gitdir:…"]` | 2.13 |
//! | `git config --list --show-scope` | 2.26 |
//! | `GIT_CONFIG_GLOBAL`, `GIT_CONFIG_SYSTEM` | 2.32 |
//! | `password_expiry_utc` from a helper (older gits ignore the line: the token is used until the helper stops serving it) | 2.41 |
//! | `credential-store`/`cache` erase only the entry holding the rejected password (older: every entry for the host and user name; the fallback wrapper guards this) | 2.41 |
//! | `git var GIT_CONFIG_GLOBAL`/`GIT_CONFIG_SYSTEM` (not used: see configure's location.rs) | 2.42 |

use anyhow::{Result, anyhow, bail};

use crate::git::config;

/// The oldest git configure supports.
pub const MINIMUM: (u32, u32) = (2, 34);

/// `git --version`'s numbers: `git version 2.39.5` → (2, 39, 5); also
/// `2.43.0.windows.1` and `2.39.3 (Apple Git-146)`.
pub fn parse(text: &str) -> Option<(u32, u32, u32)> {
    let rest = text.trim().strip_prefix("git version ")?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let mut number = || parts.next().and_then(|p| p.parse::<u32>().ok());
    let (major, minor) = (number()?, number()?);
    Some((major, minor, number().unwrap_or(0)))
}

/// The git on PATH, checked against [`MINIMUM`]: below it, an error naming
/// the version found and the minimum.
pub fn require_minimum() -> Result<(u32, u32, u32)> {
    let out = config::git(&["--version".into()], "git --version")?;
    let text = String::from_utf8_lossy(&out);
    let version =
        parse(&text).ok_or_else(|| anyhow!("cannot read git's version from {:?}", text.trim()))?;
    if (version.0, version.1) < MINIMUM {
        bail!(
            "git {}.{}.{} is too old: configure needs git {}.{} or newer",
            version.0,
            version.1,
            version.2,
            MINIMUM.0,
            MINIMUM.1
        );
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_as_gits_print_them() {
        assert_eq!(parse("git version 2.39.5\n"), Some((2, 39, 5)));
        assert_eq!(parse("git version 2.43.0.windows.1"), Some((2, 43, 0)));
        assert_eq!(
            parse("git version 2.39.3 (Apple Git-146)"),
            Some((2, 39, 3))
        );
        assert_eq!(parse("git version 3.0"), Some((3, 0, 0)));
        assert_eq!(parse("git version 2.34.1-rc0"), Some((2, 34, 1)));
        assert_eq!(parse("hub version 2.14"), None);
        assert_eq!(parse("git version x"), None);
    }
}
