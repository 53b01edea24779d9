//! The workspace bearer: `$CONFIGS_DIR/.auth_token`, written by the platform
//! when the workspace is created.
//!
//! How it is read (symlinks followed, size cap, validation) is
//! [`crate::secret_file`]'s, shared with the secrets of secret-backed hosts.

use std::path::Path;

use anyhow::Result;

use crate::secret_file;
use crate::token::Secret;

/// A bearer file larger than this is refused unread (a real one is ~43 bytes).
pub const MAX_BEARER_FILE: u64 = 4096;

/// Read and validate the bearer; every error names the path.
pub fn read(path: &Path) -> Result<Secret> {
    secret_file::read(path, "the workspace bearer", MAX_BEARER_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn trims_whitespace() {
        let d = dir();
        let p = d.path().join(".auth_token");
        fs::write(&p, "  abc-DEF_123\n").unwrap();
        assert_eq!(read(&p).unwrap().expose(), "abc-DEF_123");
    }

    #[test]
    fn errors_name_the_path_and_never_the_content() {
        let d = dir();
        let p = d.path().join(".auth_token");
        let missing = read(&p).unwrap_err().to_string();
        assert!(missing.contains(&p.display().to_string()), "{missing}");
        assert!(missing.contains("no such file"), "{missing}");

        fs::write(&p, " \n").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("is empty"));

        fs::write(&p, "abc def-secretpart").unwrap();
        let bad = read(&p).unwrap_err().to_string();
        assert!(
            bad.contains("not usable") && !bad.contains("secretpart"),
            "{bad}"
        );

        fs::write(&p, b"\xff\xfe-secretpart\n").unwrap();
        let bad = read(&p).unwrap_err().to_string();
        assert!(
            bad.contains("not usable") && !bad.contains("secretpart"),
            "{bad}"
        );

        fs::write(&p, "a".repeat(5000)).unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("too large"));

        let sub = d.path().join("sub");
        fs::create_dir(&sub).unwrap();
        assert!(
            read(&sub)
                .unwrap_err()
                .to_string()
                .contains("is a directory")
        );
    }

    #[test]
    fn follows_a_symlink_as_secret_mounts_use_them() {
        let d = dir();
        let real = d.path().join("real");
        fs::write(&real, "tok\n").unwrap();
        let link = d.path().join(".auth_token");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(read(&link).unwrap().expose(), "tok");
    }
}
