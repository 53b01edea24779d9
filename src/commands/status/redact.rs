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

/// Whether a variable's name says it holds a secret: `NAME=SECRET` for a
/// name (letters, digits, `_`) ending in `_PAT`, `_TOKEN`, `_PASSWORD`,
/// `_SECRET` or `_KEY`, or that is one of those words (any case).
fn is_secret_variable(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && ["PAT", "TOKEN", "PASSWORD", "SECRET", "KEY"]
            .iter()
            .any(|end| name == *end || name.ends_with(&format!("_{end}")))
}

/// curl's `-u`/`--user USER:PASSWORD` (also `-uUSER:PASSWORD` and
/// `--user=USER:PASSWORD`): the value with what follows its first `:`
/// masked; `None` when `value` has no `:` (then it names a user only).
fn masked_user_value(value: &str) -> Option<String> {
    let (user, password) = value.split_once(':')?;
    Some(if password.is_empty() {
        value.to_string()
    } else {
        format!("{user}:{MASK}")
    })
}

/// Where the word at the start of `text` ends: at the first whitespace that
/// no backslash escapes (`password=hunter\ 2tail` is one word).
fn word_end(text: &str) -> usize {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if c.is_whitespace() && !escaped {
            return i;
        }
        escaped = c == '\\' && !escaped;
    }
    text.len()
}

/// The value of every secret-looking option (`--password S`, `--token=S`,
/// `-p S`, curl's `-u USER:S`), of every secret-looking variable
/// (`GITHUB_PAT=S`), and every argument of a `printf` whose format has
/// `password=`, as `***`. Works on words separated by whitespace that no
/// backslash escapes, keeping the spacing and a shell separator (`;`, `|`,
/// `&`, `)`) that ends a word.
fn redact_arguments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut mask_next = false;
    // The next word is the value of `-u`/`--user`.
    let mut user_next = false;
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
        let end = word_end(rest);
        let word = &rest[..end];
        rest = &rest[end..];
        // A shell separator at the end of a word ends the command.
        let body = word.trim_end_matches([';', '|', '&', ')', '}']);
        let separator = &word[body.len()..];
        let bare = body.trim_start_matches(['!', '(', '{', '\'', '"']);
        let prefix_len = body.len() - bare.len();
        let user_value = match bare.split_once('=') {
            Some(("--user", value)) => masked_user_value(value).map(|v| format!("--user={v}")),
            _ if bare.starts_with("-u") && bare.len() > 2 && !bare.starts_with("--") => {
                masked_user_value(&bare[2..]).map(|v| format!("-u{v}"))
            }
            _ => None,
        };
        if user_next && !body.is_empty() {
            out.push_str(&masked_user_value(body).unwrap_or_else(|| body.to_string()));
            user_next = false;
        } else if mask_next && !body.is_empty() {
            out.push_str(MASK);
            mask_next = false;
        } else if let Some(value) = user_value {
            out.push_str(&body[..prefix_len]);
            out.push_str(&value);
        } else if let Some((name, value)) =
            bare.split_once('=').filter(|(n, _)| is_secret_variable(n))
        {
            // Quotes around the value stay (a printf format may end there).
            let inner = value.trim_matches(['\'', '"']);
            let open = value.len() - value.trim_start_matches(['\'', '"']).len();
            out.push_str(&body[..prefix_len]);
            out.push_str(name);
            out.push('=');
            out.push_str(&value[..open]);
            if !inner.is_empty() {
                out.push_str(MASK);
            }
            out.push_str(&value[(open + inner.len()).min(value.len())..]);
        } else if printf == 2 && !body.is_empty() {
            // (An argument of a printf whose format asks for a password.)
            out.push_str(MASK);
        } else if let Some((name, _)) = bare.split_once('=').filter(|(n, _)| is_secret_option(n)) {
            out.push_str(&body[..prefix_len]);
            out.push_str(name);
            out.push('=');
            out.push_str(MASK);
        } else {
            if is_secret_option(bare) {
                mask_next = true;
            }
            user_next = bare == "-u" || bare == "--user";
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
            user_next = false;
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
    fn curl_users_secret_variables_and_escaped_spaces_go() {
        // Issue 24 item 10: secrets that don't look like tokens.
        let r = Redactor::default();
        for (line, shown) in [
            (
                "!curl -u bot:hunter2secret https://x",
                "!curl -u bot:*** https://x",
            ),
            ("!curl --user bot:PlainPass x", "!curl --user bot:*** x"),
            ("!curl -ubot:PlainPass x", "!curl -ubot:*** x"),
            ("!curl --user=bot:PlainPass x", "!curl --user=bot:*** x"),
            ("!curl -u bot x", "!curl -u bot x"),
            (
                "!GITHUB_PAT=CorrectHorseBattery tool",
                "!GITHUB_PAT=*** tool",
            ),
            (
                "MY_TOKEN=abc DB_PASSWORD=x tool",
                "MY_TOKEN=*** DB_PASSWORD=*** tool",
            ),
            (
                "!f() { API_KEY=abc A_SECRET=def tool; }; f",
                "!f() { API_KEY=*** A_SECRET=*** tool; }; f",
            ),
            ("!PATH=/bin:/usr/bin tool", "!PATH=/bin:/usr/bin tool"),
            ("!echo password=hunter\\ 2tail", "!echo password=***"),
            (
                "!tool --password hunter\\ 2tail x",
                "!tool --password *** x",
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
