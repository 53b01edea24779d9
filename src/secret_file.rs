//! Reading a secret from a file: the workspace bearer, and the secrets of
//! secret-backed hosts (`$CONFIGS_DIR/secrets.d/NAME`).
//!
//! A symlink is followed: secret mounts (Kubernetes, Docker) present files as
//! links into a `..data` directory, and the file's owner, not the link,
//! decides who can read it. The file is looked at before it is opened (a FIFO
//! would block), read up to a cap, trimmed, and validated like every token;
//! every error names the path and none quotes the content.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Result, bail};

use crate::diag::io_reason;
use crate::token::{self, Invalid, Secret};

/// A secret file of a secret-backed host larger than this is refused unread
/// (a Gitea token is 40 characters).
pub const MAX_SECRET_FILE: u64 = 4096;

/// Read and validate the secret in `path`. `what` names it in errors
/// (`the workspace bearer`); files over `max` bytes are refused unread.
pub fn read(path: &Path, what: &str, max: u64) -> Result<Secret> {
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => bail!("cannot read {what} {shown}: {}", io_reason(&e)),
    };
    if meta.is_dir() {
        bail!("cannot read {what} {shown}: it is a directory");
    }
    if !meta.is_file() {
        bail!("cannot read {what} {shown}: it is not a regular file");
    }
    if meta.len() > max {
        bail!(
            "{what} {shown} is too large ({} bytes; at most {max} are read)",
            meta.len()
        );
    }
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => bail!("cannot read {what} {shown}: {}", io_reason(&e)),
    };
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    if let Err(e) = (&mut file).take(max + 1).read_to_end(&mut bytes) {
        bail!("cannot read {what} {shown}: {}", io_reason(&e));
    }
    if bytes.len() as u64 > max {
        bail!("{what} {shown} is too large (at most {max} bytes are read)");
    }
    // Not UTF-8 cannot be printable ASCII: refuse it as such, not as empty.
    let Ok(text) = String::from_utf8(bytes) else {
        bail!("{what} {shown} is not usable: {}", Invalid::BadByte);
    };
    match token::validate(text.trim()) {
        Ok(()) => Ok(Secret::new(text.trim().to_string())),
        Err(Invalid::Empty) => bail!("{what} {shown} is empty"),
        Err(why) => bail!("{what} {shown} is not usable: {why}"),
    }
}
