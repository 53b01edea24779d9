//! git's URL rules, in one place: how `credential_from_url` splits a
//! `url=` of a credential request (credential.c), how urlmatch.c normalises
//! and matches the URL in a `credential.<url>.*` config key, with
//! credential.c's partial-URL fallback, and percent-decoding as git does it.

/// The parts of a `url=` in a credential request, percent-decoded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct CredentialUrl {
    pub protocol: String,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `None` when the URL names no host (`https:///x`).
    pub host: Option<String>,
    pub path: Option<String>,
}

/// The raw pieces of a `url=`, split as git's `credential_from_url` splits
/// it and not yet percent-decoded. The user part ends at the FIRST `@` of
/// the authority, and the authority ends at the first of `/`, `?`, `#`
/// (credential.c), so `https://evil.test#@github.com/` and
/// `https://evil.test?@github.com/` name the host `evil.test`, as they do
/// for git, curl and every URL parser, not `github.com`.
#[derive(Debug, PartialEq, Eq)]
pub struct RawCredentialUrl<'a> {
    pub protocol: &'a str,
    /// Everything before the first `@` of the authority, if there is one.
    pub userinfo: Option<&'a str>,
    /// Between the user part and the first of `/`, `?`, `#`. `None` when
    /// empty, or when it holds another `@` (`https://x@evil.test@github.com/`:
    /// git calls that host `evil.test@github.com`, which no host name is and
    /// which a URL parser reading up to the LAST `@` would call `github.com`;
    /// it is served to nobody).
    pub host: Option<&'a str>,
    /// What follows the authority, from its first `/`, `?` or `#` on.
    pub rest: &'a str,
}

/// Split `url` into its raw pieces; `None` when it has no `scheme://`.
pub fn split_raw_credential_url(url: &str) -> Option<RawCredentialUrl<'_>> {
    let (protocol, after) = url.split_once("://")?;
    if protocol.is_empty() {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (userinfo, host) = match authority.split_once('@') {
        Some((user, host)) => (Some(user), host),
        None => (None, authority),
    };
    Some(RawCredentialUrl {
        protocol,
        userinfo,
        host: Some(host).filter(|h| !h.is_empty() && !h.contains('@')),
        rest,
    })
}

/// Split `scheme://[user[:password]@]host[:port][/path]` as git's
/// `credential_from_url` does (see [`RawCredentialUrl`]), then
/// percent-decode user, password, host and path; `None` when it has no
/// `scheme://`. The password is what precedes the user part's first `:`.
/// The path loses its leading and trailing slashes, as in git.
pub fn split_credential_url(url: &str) -> Option<CredentialUrl> {
    let raw = split_raw_credential_url(url)?;
    let (username, password) = match raw.userinfo {
        Some(info) => match info.split_once(':') {
            Some((u, p)) => (Some(percent_decode(u)), Some(percent_decode(p))),
            None => (Some(percent_decode(info)), None),
        },
        None => (None, None),
    };
    let path = raw.rest.trim_start_matches('/');
    Some(CredentialUrl {
        protocol: raw.protocol.to_string(),
        username,
        password,
        host: raw.host.map(percent_decode),
        path: (!path.is_empty()).then(|| {
            let decoded = percent_decode(path);
            match decoded.trim_end_matches('/') {
                "" => decoded[..1].to_string(),
                trimmed => trimmed.to_string(),
            }
        }),
    })
}

/// `%XX` escapes decoded as git does for URLs (invalid ones kept as they
/// are; bytes that are not UTF-8 replaced).
pub fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// How a `credential.<pattern>.*` entry applies to requests for
/// `https://HOST/…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applies {
    /// To every request for the host.
    All,
    /// Only to some: the pattern names a path or a user name.
    Some,
    No,
}

/// Does the subsection `pattern` of a `credential.<pattern>.helper` apply to
/// `https://HOST/`? Git's rule (credential_apply_config): the pattern is a
/// URL normalised and matched by urlmatch.c (scheme, user, host with `*`
/// labels, port, path prefix); a pattern that does not normalise is matched
/// field by field as a partial URL (`github.com`, `https://`).
pub fn applies(pattern: &str, host: &str) -> Applies {
    let Some(want) = Url::normalize(&format!("https://{host}/")) else {
        return Applies::No;
    };
    match Url::normalize(pattern) {
        Some(p) => {
            if p.scheme != want.scheme || !host_matches(&p.host, &want.host) || p.port != want.port
            {
                Applies::No
            } else if p.user.is_some() || p.path != "/" {
                Applies::Some
            } else {
                Applies::All
            }
        }
        None => partial_applies(pattern, host),
    }
}

/// credential.c's `credential_from_potentially_partial_url` and
/// `credential_match`: each part the pattern names must equal the request's.
fn partial_applies(pattern: &str, host: &str) -> Applies {
    let (protocol, rest) = match pattern.find("://") {
        Some(i) => (
            Some(&pattern[..i]).filter(|p| !p.is_empty()),
            &pattern[i + 3..],
        ),
        None => (None, pattern),
    };
    if protocol.is_some_and(|p| p != "https") {
        return Applies::No;
    }
    let slash = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (user, host_part) = match rest[..slash].find('@') {
        Some(at) => (true, &rest[at + 1..slash]),
        None => (false, &rest[..slash]),
    };
    if !host_part.is_empty() && percent_decode(host_part) != host {
        return Applies::No;
    }
    let path = rest[slash..].trim_matches('/');
    if user || !path.is_empty() {
        Applies::Some
    } else {
        Applies::All
    }
}

/// The parts of a URL that urlmatch compares, normalised as url_normalize
/// does: scheme and host in lower case, the default port dropped, an empty
/// path made `/`.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    scheme: String,
    user: Option<String>,
    host: String,
    port: Option<u16>,
    path: String,
}

impl Url {
    fn normalize(url: &str) -> Option<Url> {
        let (scheme, rest) = url.split_once("://")?;
        let mut chars = scheme.chars();
        if !chars.next()?.is_ascii_alphabetic()
            || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        {
            return None;
        }
        let scheme = scheme.to_ascii_lowercase();
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        // urlmatch.c: the user part ends at the first `@`.
        let (user, hostport) = match authority.find('@') {
            Some(at) => (Some(authority[..at].to_string()), &authority[at + 1..]),
            None => (None, authority),
        };
        let (host, port) = if hostport.starts_with('[') {
            let close = hostport.find(']')?;
            let after = &hostport[close + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return None,
            };
            (&hostport[..=close], port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        let host = percent_decode(host).to_ascii_lowercase();
        let host_ok = |c: char| c.is_ascii_alphanumeric() || "-._~*[]:".contains(c);
        if host.is_empty() || !host.chars().all(host_ok) {
            return None;
        }
        let port = match port {
            None | Some("") => None,
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
                let n: u32 = p.parse().ok()?;
                if n == 0 || n > 65535 {
                    return None;
                }
                Some(n as u16)
            }
            Some(_) => return None,
        };
        let default = match scheme.as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        };
        let port = port.filter(|p| Some(*p) != default);
        let path = match path.trim_end_matches('/') {
            "" | "/." => "/".to_string(),
            p => p.to_string(),
        };
        Some(Url {
            scheme,
            user,
            host,
            port,
            path,
        })
    }
}

/// urlmatch.c's `match_host`: label by label, a `*` label matches any one label.
fn host_matches(pattern: &str, host: &str) -> bool {
    let p: Vec<&str> = pattern.split('.').collect();
    let h: Vec<&str> = host.split('.').collect();
    p.len() == h.len() && p.iter().zip(&h).all(|(p, h)| *p == "*" || p == h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_patterns_apply_to_a_host() {
        use Applies::*;
        let cases = [
            ("https://github.com", "github.com", All),
            ("https://github.com/", "github.com", All),
            ("HTTPS://GitHub.COM", "github.com", All),
            ("https://github.com:443", "github.com", All),
            ("https://*.com", "github.com", All),
            ("https://*.github.com", "github.com", No),
            ("https://*", "github.com", No),
            ("https://git%68ub.com", "github.com", All),
            ("https://github.com:8443", "github.com", No),
            ("https://github.com:8443", "github.com:8443", All),
            ("https://github.com", "github.com:8443", No),
            ("http://github.com", "github.com", No),
            ("https://gitlab.com", "github.com", No),
            ("https://github.com.evil", "github.com", No),
            ("https://github.com/org", "github.com", Some),
            ("https://bob@github.com", "github.com", Some),
            ("https://[::1]:8443", "[::1]:8443", All),
            // Not normalisable: matched as a partial URL.
            ("github.com", "github.com", All),
            ("GitHub.com", "github.com", No),
            ("https://", "github.com", All),
            ("http://", "github.com", No),
            ("github.com/org/repo.git", "github.com", Some),
            ("bob@github.com", "github.com", Some),
            ("gitlab.com", "github.com", No),
        ];
        for (pattern, host, expected) in cases {
            assert_eq!(applies(pattern, host), expected, "{pattern} for {host}");
        }
    }

    #[test]
    fn url_is_split_as_git_splits_it() {
        let host = |url: &str| split_credential_url(url).and_then(|u| u.host);
        // The authority ends at the first of `/`, `?`, `#`.
        assert_eq!(
            host("https://evil.test#@github.com/").as_deref(),
            Some("evil.test")
        );
        assert_eq!(
            host("https://evil.test?@github.com/").as_deref(),
            Some("evil.test")
        );
        assert_eq!(
            host("https://evil.test/@github.com/").as_deref(),
            Some("evil.test")
        );
        // The user part ends at the first `@`; a host with another is none.
        let two = split_credential_url("https://x@evil.test@github.com/").unwrap();
        assert_eq!((two.username.as_deref(), two.host), (Some("x"), None));
        // Decoding comes after the split.
        let u = split_credential_url("https://a%40b:p%3Aw@gith%75b.com:8443/o/r.git/").unwrap();
        assert_eq!(u.username.as_deref(), Some("a@b"));
        assert_eq!(u.password.as_deref(), Some("p:w"));
        assert_eq!(u.host.as_deref(), Some("github.com:8443"));
        assert_eq!(u.path.as_deref(), Some("o/r.git"));
        assert_eq!(
            host("https://evil.test%40github.com/").as_deref(),
            Some("evil.test@github.com")
        );
        assert_eq!(host("https://[::1]:8443/x").as_deref(), Some("[::1]:8443"));
        assert_eq!(host("https:///x"), None);
        assert_eq!(split_credential_url("github.com/x"), None);
        assert_eq!(split_credential_url("://github.com/x"), None);
    }

    #[test]
    fn a_pattern_with_two_ats_is_not_normalised() {
        // urlmatch.c ends the user at the first `@`; `evil@github.com` is
        // then no host, and the pattern is matched as a partial URL.
        assert_eq!(
            applies("https://x@evil@github.com", "github.com"),
            Applies::No
        );
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("a%40b"), "a@b");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%41%"), "A%");
    }
}
