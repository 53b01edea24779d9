//! The workspace bearer: `$CONFIGS_DIR/.auth_token`, written by the platform
//! when the workspace is created.
//!
//! A symlink is followed: secret mounts (Kubernetes, Docker) present files as
//! links into a `..data` directory, and the file's owner, not the link,
//! decides who can read it.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Result, bail};

use crate::diag::io_reason;
use crate::token::{self, Invalid, Secret};

/// A bearer file larger than this is refused unread (a real one is ~43 bytes).
pub const MAX_BEARER_FILE: u64 = 4096;

/// Read and validate the bearer; every error names the path.
pub fn read(path: &Path) -> Result<Secret> {
    let shown = path.display();
    // Look before opening: opening a FIFO would block.
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => bail!(
            "cannot read the workspace bearer {shown}: {}",
            io_reason(&e)
        ),
    };
    if meta.is_dir() {
        bail!("cannot read the workspace bearer {shown}: it is a directory");
    }
    if !meta.is_file() {
        bail!("cannot read the workspace bearer {shown}: it is not a regular file");
    }
    if meta.len() > MAX_BEARER_FILE {
        bail!(
            "the workspace bearer {shown} is too large ({} bytes; a bearer is under {MAX_BEARER_FILE})",
            meta.len()
        );
    }
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => bail!(
            "cannot read the workspace bearer {shown}: {}",
            io_reason(&e)
        ),
    };
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    if let Err(e) = (&mut file)
        .take(MAX_BEARER_FILE + 1)
        .read_to_end(&mut bytes)
    {
        bail!(
            "cannot read the workspace bearer {shown}: {}",
            io_reason(&e)
        );
    }
    if bytes.len() as u64 > MAX_BEARER_FILE {
        bail!(
            "the workspace bearer {shown} is too large (a bearer is under {MAX_BEARER_FILE} bytes)"
        );
    }
    // Not UTF-8 cannot be printable ASCII: refuse it as such, not as empty.
    let Ok(text) = String::from_utf8(bytes) else {
        bail!(
            "the workspace bearer {shown} is not usable: {}",
            Invalid::BadByte
        );
    };
    match token::validate(text.trim()) {
        Ok(()) => Ok(Secret::new(text.trim().to_string())),
        Err(Invalid::Empty) => bail!("the workspace bearer {shown} is empty"),
        Err(why) => bail!("the workspace bearer {shown} is not usable: {why}"),
    }
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
