//! Secrets: a wrapper that cannot be printed by accident, the validation
//! every secret passes before it reaches git, and the careful reading of a
//! secret from a file: the workspace bearer, and the secrets of secret-backed
//! hosts (`$CONFIGS_DIR/secrets.d/NAME`).
//!
//! A symlink is followed: secret mounts (Kubernetes, Docker) present files as
//! links into a `..data` directory, and the file's owner, not the link,
//! decides who can read it. The file is looked at before it is opened (a FIFO
//! would block), read up to a cap, trimmed, and validated like every token;
//! every error names the path and none quotes the content.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{Result, bail};

use crate::diag::io_reason;

/// A secret string (a token or the workspace bearer).
///
/// It has no `Display`, its `Debug` prints `REDACTED`, and [`Secret::expose`]
/// marks each place where the secret deliberately leaves the program: the
/// stdout writer, the HTTP header, a child's stdin or environment.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(REDACTED)")
    }
}

/// The soft core-size limit the process started with, for [`allow_core_dumps`].
static CORE_LIMIT_AT_START: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Make a crash unable to leak a secret, before any is read (as ssh-agent
/// does): the process is marked not dumpable (no core file, and no other
/// process of this user may ptrace it or read its `/proc/PID/mem`), and the
/// soft `RLIMIT_CORE` is set to 0. A core file would land in git's working
/// directory, where `git add -A` picks it up, holding the bearer and the
/// token. Children inherit the zero core limit (the fallback helper holds a
/// PAT); `exec` gives its command the limit back with [`allow_core_dumps`].
/// Failures are ignored: there is nothing better to do than go on.
pub fn protect_process() {
    // SAFETY: prctl(PR_SET_DUMPABLE) and get/setrlimit only read and write
    // the plain values given; none of them touches memory of ours otherwise.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
            CORE_LIMIT_AT_START.store(limit.rlim_cur, std::sync::atomic::Ordering::Relaxed);
            limit.rlim_cur = 0;
            libc::setrlimit(libc::RLIMIT_CORE, &limit);
        }
    }
}

/// Give back the core-size limit [`protect_process`] took, just before this
/// process becomes another program (`exec`): its crashes are its own.
pub fn allow_core_dumps() {
    let soft = CORE_LIMIT_AT_START.load(std::sync::atomic::Ordering::Relaxed);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: as in protect_process.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_CORE, &mut limit) == 0 {
            limit.rlim_cur = soft.min(limit.rlim_max);
            libc::setrlimit(libc::RLIMIT_CORE, &limit);
        }
    }
}

/// Why a secret was refused. Never carries the secret itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    Empty,
    /// A byte outside printable ASCII without space (0x21..=0x7E): it could
    /// inject a line into git's protocol or a header into HTTP.
    BadByte,
    /// Longer than [`MAX_SECRET`] bytes.
    TooLong,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Empty => f.write_str("it is empty"),
            Invalid::BadByte => f.write_str(
                "it contains a character that is not printable ASCII \
                 (a space, control character or non-ASCII byte)",
            ),
            Invalid::TooLong => write!(f, "it is longer than {MAX_SECRET} bytes"),
        }
    }
}

/// The one length rule for a token or secret: at most this many bytes
/// (a GitHub token is 40 to a few hundred). What [`validate`] accepts, the
/// cache stores and reads back, and a secret file of this length (plus its
/// line ending) is read.
pub const MAX_SECRET: usize = 4096;

/// Accept only non-empty printable ASCII without spaces (bytes 0x21 to 0x7E),
/// at most [`MAX_SECRET`] bytes.
pub fn validate(secret: &str) -> Result<(), Invalid> {
    if secret.is_empty() {
        return Err(Invalid::Empty);
    }
    if secret.len() > MAX_SECRET {
        return Err(Invalid::TooLong);
    }
    if secret.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        Ok(())
    } else {
        Err(Invalid::BadByte)
    }
}

/// SHA-256 of `data` in hex: a fingerprint that tells a changed secret
/// apart without keeping it (callers put a domain string before it).
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// `value` with the user information of a URL in it (`user:password@`)
/// replaced by `***@`, for messages that echo a URL. Generous on purpose:
/// everything between `://` (or the start) and the last `@` goes, so that no
/// parser's idea of where the password ends (a `/` or `#` in it) can leave a
/// piece of it.
pub fn redact_url_userinfo(value: &str) -> String {
    let start = value.find("://").map_or(0, |i| i + 3);
    match value[start..].rfind('@') {
        Some(at) => format!("{}***{}", &value[..start], &value[start + at..]),
        None => value.to_string(),
    }
}

/// Prefixes of GitHub's token formats (`ghp_` personal, `gho_` OAuth,
/// `ghu_` user-to-server, `ghs_` server-to-server, `ghr_` refresh,
/// `github_pat_` fine-grained).
const TOKEN_PREFIXES: [&str; 6] = ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"];

/// A word at least this long, of letters and digits both, looks random.
const RANDOM_WORD: usize = 20;

/// `text` (a helper line from git's config, say) with whatever looks like a
/// secret replaced by `***`: the value after `password=`, a GitHub token
/// (`ghp_…`, `ghs_…`, `github_pat_…`, …), and any long word mixing letters
/// and digits (a token of another kind). For `status`, which shows helper
/// lines that may hold a password inline.
pub fn redact_secrets(text: &str) -> String {
    // Values after `password=`, up to what ends a shell word.
    let ends_value = |c: char| c.is_whitespace() || "'\";&|)}`\\".contains(c);
    let mut unvalued = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.to_ascii_lowercase().find("password=") {
        let value_start = at + "password=".len();
        unvalued.push_str(&rest[..value_start]);
        let value = &rest[value_start..];
        // A quoted value ends at its closing quote.
        let (open, value) = match value.chars().next() {
            Some(q @ ('\'' | '"')) => (Some(q), &value[1..]),
            _ => (None, value),
        };
        let end = match open {
            Some(q) => value.find(q).unwrap_or(value.len()),
            // A backslash-escaped space belongs to the value
            // (`password=hunter\ 2tail`).
            None => {
                let mut chars = value.char_indices().peekable();
                let mut end = value.len();
                while let Some((i, c)) = chars.next() {
                    if c == '\\' && chars.peek().is_some_and(|(_, n)| n.is_whitespace()) {
                        chars.next();
                    } else if ends_value(c) {
                        end = i;
                        break;
                    }
                }
                end
            }
        };
        if let Some(q) = open {
            unvalued.push(q);
        }
        if end > 0 {
            unvalued.push_str("***");
        }
        rest = &value[end..];
    }
    unvalued.push_str(rest);
    // Then word by word.
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let mut out = String::with_capacity(unvalued.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if let Some(prefix) = TOKEN_PREFIXES
            .iter()
            .find(|p| word.len() > p.len() && word[..p.len()].eq_ignore_ascii_case(p))
        {
            out.push_str(&word[..prefix.len()]);
            out.push_str("***");
        } else if word.len() >= RANDOM_WORD
            && word.bytes().any(|b| b.is_ascii_digit())
            && word.bytes().any(|b| b.is_ascii_alphabetic())
        {
            out.push_str("***");
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in unvalued.chars() {
        if is_word(c) {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// A bearer file larger than this is refused unread: the longest secret,
/// with room for the whitespace around it.
pub const MAX_BEARER_FILE: u64 = MAX_SECRET as u64 + 64;

/// Read and validate the bearer; every error names the path.
pub fn read_bearer(path: &Path) -> Result<Secret> {
    read_file(path, "the workspace bearer", MAX_BEARER_FILE)
}

/// A secret file of a secret-backed host larger than this is refused unread
/// (a Gitea token is 40 characters): the longest secret, with room for the
/// whitespace around it.
pub const MAX_SECRET_FILE: u64 = MAX_SECRET as u64 + 64;

/// Read and validate the secret in `path`. `what` names it in errors
/// (`the workspace bearer`); files over `max` bytes are refused unread.
pub fn read_file(path: &Path, what: &str, max: u64) -> Result<Secret> {
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
    match validate(text.trim()) {
        Ok(()) => Ok(Secret::new(text.trim().to_string())),
        Err(Invalid::Empty) => bail!("{what} {shown} is empty"),
        Err(why) => bail!("{what} {shown} is not usable: {why}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn secrets_in_helper_lines_are_redacted() {
        for (line, shown) in [
            (
                "!f() { echo username=op; echo password=hunter2; }; f",
                "!f() { echo username=op; echo password=***; }; f",
            ),
            ("!echo PASSWORD='x y'; :", "!echo PASSWORD='***'; :"),
            ("!echo password=\"a\"", "!echo password=\"***\""),
            ("!echo password=", "!echo password="),
            ("store --token ghp_abcdefghij0123", "store --token ghp_***"),
            ("x GHS_abc y", "x GHS_*** y"),
            (
                "!f() { echo github_pat_11AB_cd; }",
                "!f() { echo github_pat_***; }",
            ),
            ("cache --key 3f2a9c0e4b7d8a1f6e5c2b9d", "cache --key ***"),
            // Ordinary lines are shown as they are.
            (
                "store --file=/home/op/.git-credentials",
                "store --file=/home/op/.git-credentials",
            ),
            (
                "/usr/lib/git-core/git-credential-libsecret",
                "/usr/lib/git-core/git-credential-libsecret",
            ),
            ("cache --timeout=3600", "cache --timeout=3600"),
            ("ghp_", "ghp_"),
            ("", ""),
        ] {
            assert_eq!(redact_secrets(line), shown, "{line}");
        }
    }

    #[test]
    fn url_userinfo_is_redacted() {
        for (url, shown) in [
            ("http://svc:PW@platform:8080", "http://***@platform:8080"),
            ("h=https://u:PW@x/api", "h=https://***@x/api"),
            ("http://svc:P/W@platform", "http://***@platform"),
            ("http://a@b:PW@platform/x", "http://***@platform/x"),
            ("svc:PW@platform", "***@platform"),
            ("http://platform:8080/x", "http://platform:8080/x"),
            ("", ""),
        ] {
            assert_eq!(redact_url_userinfo(url), shown, "{url}");
        }
    }

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = Secret::new("hunter2-value".into());
        assert_eq!(format!("{s:?}"), "Secret(REDACTED)");
        assert!(!format!("{:?}", Some(s)).contains("hunter2"));
    }

    #[test]
    fn validation_accepts_printable_ascii_only() {
        assert_eq!(validate("ghs_abcDEF0123456789-._~!"), Ok(()));
        assert_eq!(validate(""), Err(Invalid::Empty));
        for bad in [
            "a b", "a\nb", "a\rb", "a\0b", "a\tb", "a\x7fb", "tökén", "a\x1bb",
        ] {
            assert_eq!(validate(bad), Err(Invalid::BadByte), "{bad:?}");
        }
    }

    #[test]
    fn trims_whitespace() {
        let d = dir();
        let p = d.path().join(".auth_token");
        fs::write(&p, "  abc-DEF_123\n").unwrap();
        assert_eq!(read_bearer(&p).unwrap().expose(), "abc-DEF_123");
    }

    #[test]
    fn errors_name_the_path_and_never_the_content() {
        let d = dir();
        let p = d.path().join(".auth_token");
        let missing = read_bearer(&p).unwrap_err().to_string();
        assert!(missing.contains(&p.display().to_string()), "{missing}");
        assert!(missing.contains("no such file"), "{missing}");

        fs::write(&p, " \n").unwrap();
        assert!(
            read_bearer(&p)
                .unwrap_err()
                .to_string()
                .contains("is empty")
        );

        fs::write(&p, "abc def-secretpart").unwrap();
        let bad = read_bearer(&p).unwrap_err().to_string();
        assert!(
            bad.contains("not usable") && !bad.contains("secretpart"),
            "{bad}"
        );

        fs::write(&p, b"\xff\xfe-secretpart\n").unwrap();
        let bad = read_bearer(&p).unwrap_err().to_string();
        assert!(
            bad.contains("not usable") && !bad.contains("secretpart"),
            "{bad}"
        );

        fs::write(&p, "a".repeat(5000)).unwrap();
        assert!(
            read_bearer(&p)
                .unwrap_err()
                .to_string()
                .contains("too large")
        );

        let sub = d.path().join("sub");
        fs::create_dir(&sub).unwrap();
        assert!(
            read_bearer(&sub)
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
        assert_eq!(read_bearer(&link).unwrap().expose(), "tok");
    }
}
