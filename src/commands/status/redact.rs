//! The one redaction step every message of `status` passes before it is
//! printed (text or `--json`): whatever came from outside (an API's
//! message, a helper line from git's config, a URL) may hold a secret, so
//! no message is printed as it was written. Removed: the secrets `status`
//! itself read (the current token, the bearer, the secret hosts' secrets,
//! the token variables in the environment), a URL's user information, the
//! values of secret-looking arguments (`--password`, `--token`, `-p`, …;
//! `password=…`; a `printf` whose format has a `password=` loses every
//! argument after it), and words shaped like tokens. Better to mask too
//! much than too little.

use crate::secret::{Secret, redact_secrets};

/// What stands in for a secret.
const MASK: &str = "***";

/// A known secret shorter than this is not searched for (it would mask
/// ordinary words); no real token or bearer is.
const MIN_KNOWN: usize = 6;

/// Redacts `status`'s messages; built with every secret `status` read.
#[derive(Default)]
pub struct Redactor {
    known: Vec<Secret>,
}

impl Redactor {
    /// Also remove `secret` wherever it appears.
    pub fn know(&mut self, secret: &Secret) {
        if secret.expose().len() >= MIN_KNOWN && !self.known.contains(secret) {
            self.known.push(secret.clone());
        }
    }

    /// `text` with every secret removed (see the module's comment).
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        // The longest first: a secret that contains another goes whole.
        let mut known: Vec<&str> = self.known.iter().map(|s| s.expose()).collect();
        known.sort_by_key(|s| std::cmp::Reverse(s.len()));
        for secret in known {
            if text.contains(secret) {
                text = text.replace(secret, MASK);
            }
        }
        redact_secrets(&redact_arguments(&redact_userinfo(&text)))
    }
}

/// Every URL's user information (`scheme://user:password@host`) as `***@`:
/// from `://` to the last `@` before the URL ends (whitespace or a quote),
/// so no idea of where a password ends can leave a piece of it.
fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = at + 3;
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let end = after
            .find(|c: char| c.is_whitespace() || c == '\'' || c == '"' || c == '`')
            .unwrap_or(after.len());
        match after[..end].rfind('@') {
            Some(userinfo_end) => {
                out.push_str(MASK);
                rest = &after[userinfo_end..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// Whether an option names a secret: `-p`, or a name with `pass`, `token`,
/// `secret`, `key`, `auth`, `bearer` or `cred` in it (any case).
fn is_secret_option(word: &str) -> bool {
    let Some(name) = word.strip_prefix('-') else {
        return false;
    };
    let name = name.trim_start_matches('-').to_ascii_lowercase();
    // One that names a place holds none (`--secret-host HOST=NAME`,
    // `--token-file PATH`); a URL's password goes with its userinfo.
    let place = ["host", "file", "path", "dir", "url"]
        .iter()
        .any(|part| name.contains(part));
    name == "p"
        || !place
            && ["pass", "token", "secret", "key", "auth", "bearer", "cred"]
                .iter()
                .any(|part| name.contains(part))
}

/// The value of every secret-looking option (`--password S`, `--token=S`,
/// `-p S`), and every argument of a `printf` whose format has `password=`,
/// as `***`. Works on whitespace-separated words, keeping the spacing and a
/// shell separator (`;`, `|`, `&`, `)`) that ends a word.
fn redact_arguments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut mask_next = false;
    // Inside a printf: 0 = no, 1 = the next word is its format, 3 = inside
    // a quoted format, 2 = its format has `password=`: every argument goes.
    let mut printf = 0;
    let mut format_has_password = false;
    let mut format_quote = None;
    let mut rest = text;
    while !rest.is_empty() {
        let space = rest.len() - rest.trim_start().len();
        out.push_str(&rest[..space]);
        rest = &rest[space..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        // A shell separator at the end of a word ends the command.
        let body = word.trim_end_matches([';', '|', '&', ')', '}']);
        let separator = &word[body.len()..];
        let bare = body.trim_start_matches(['!', '(', '{', '\'', '"']);
        if mask_next && !body.is_empty() {
            out.push_str(MASK);
            mask_next = false;
        } else if printf == 2 && !body.is_empty() {
            // (An argument of a printf whose format asks for a password.)
            out.push_str(MASK);
        } else if let Some((name, _)) = bare.split_once('=').filter(|(n, _)| is_secret_option(n)) {
            let prefix_len = body.len() - bare.len();
            out.push_str(&body[..prefix_len]);
            out.push_str(name);
            out.push('=');
            out.push_str(MASK);
        } else {
            if is_secret_option(bare) {
                mask_next = true;
            }
            out.push_str(body);
        }
        // The format may be quoted, with spaces: it runs to its closing
        // quote.
        if printf == 1 || printf == 3 {
            format_has_password |= body.to_ascii_lowercase().contains("password=");
            let quote = body.chars().next().filter(|q| *q == '\'' || *q == '"');
            if printf == 1 && quote.is_some_and(|q| body.len() < 2 || !body.ends_with(q)) {
                format_quote = quote;
                printf = 3;
            } else if printf == 3 && !format_quote.is_some_and(|q| body.ends_with(q)) {
                // Still inside the format.
            } else {
                printf = if format_has_password { 2 } else { 0 };
            }
        } else if bare == "printf" {
            printf = 1;
            format_has_password = false;
        }
        out.push_str(separator);
        if !separator.is_empty() {
            mask_next = false;
            printf = 0;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(secrets: &[&str]) -> Redactor {
        let mut r = Redactor::default();
        for s in secrets {
            r.know(&Secret::new(s.to_string()));
        }
        r
    }

    #[test]
    fn known_secrets_go_wherever_they_are() {
        let r = redactor(&["tok-current-0001", "bearer-abcdef", "ab"]);
        assert_eq!(
            r.redact("Bad credentials: tok-current-0001 (bearer-abcdef)"),
            "Bad credentials: *** (***)"
        );
        // Too short to search for: ordinary words stay.
        assert_eq!(r.redact("a tab"), "a tab");
    }

    #[test]
    fn secret_looking_arguments_and_printf_arguments_go() {
        let r = Redactor::default();
        for (line, shown) in [
            (
                "/opt/helper --password S3cret",
                "/opt/helper --password ***",
            ),
            (
                "/opt/helper --token=S3cret -v",
                "/opt/helper --token=*** -v",
            ),
            ("/opt/helper -p S3cret; echo", "/opt/helper -p ***; echo"),
            (
                "helper --api-key k1 --user bob",
                "helper --api-key *** --user bob",
            ),
            (
                "!printf 'username=bot\\npassword=%s\\n' S3cret",
                "!printf 'username=bot\\npassword=***\\n' ***",
            ),
            (
                "!printf 'username=%s\\npassword=%s\\n' bot S3cret; :",
                "!printf 'username=%s\\npassword=***\\n' *** ***; :",
            ),
            ("!printf 'hello %s' world", "!printf 'hello %s' world"),
            (
                "!printf 'user: %s password=%s' bot S3cret",
                "!printf 'user: %s password=***' *** ***",
            ),
            (
                "!f() { echo password=hunter2; }; f",
                "!f() { echo password=***; }; f",
            ),
            (
                "store --file=/home/op/.creds",
                "store --file=/home/op/.creds",
            ),
            ("cache --timeout=3600", "cache --timeout=3600"),
            (
                "configure --secret-host git.example=GITEA",
                "configure --secret-host git.example=GITEA",
            ),
        ] {
            assert_eq!(r.redact(line), shown, "{line}");
        }
    }

    #[test]
    fn url_userinfo_goes_and_the_rest_of_the_message_stays() {
        let r = Redactor::default();
        assert_eq!(
            r.redact("cannot connect to http://svc:PW@platform:8080/x (refused); op@host"),
            "cannot connect to http://***@platform:8080/x (refused); op@host"
        );
        assert_eq!(
            r.redact("'https://u:p/w@h' and https://plain/x"),
            "'https://***@h' and https://plain/x"
        );
    }
}
