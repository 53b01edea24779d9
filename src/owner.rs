//! The owner of a repository (a GitHub organisation or user login), which
//! picks the GitHub App installation, and so the token, the platform mints
//! (`docs/platform-api.md`). Every way a command learns an owner ends here,
//! validated the same way: a git request's path, gh's `-R OWNER/REPO` or
//! `GH_REPO`, a remote's URL, a `--owner` flag. Anything that is not a
//! GitHub login counts as "owner unknown" (`None`): no query, the default
//! entry.

use std::fmt;

/// The longest GitHub login.
pub const MAX_LOGIN: usize = 39;

/// A valid GitHub login: ASCII letters, digits and hyphens, 1 to 39 of
/// them. Kept as given; compared and keyed without case (GitHub's logins
/// are case-insensitive).
#[derive(Clone, Debug)]
pub struct Owner(String);

impl Owner {
    /// `text` when it is a GitHub login, else `None`.
    pub fn parse(text: &str) -> Option<Owner> {
        let valid = (1..=MAX_LOGIN).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        valid.then(|| Owner(text.to_string()))
    }

    /// The owner in git's `path=` of a credential request (with
    /// `useHttpPath`): its first segment, as in `molecule-ai/core.git`. A
    /// path of one segment (`repo.git` at the server's root) names no owner,
    /// and neither does one with an empty, `.` or `..` segment, or a `%` in
    /// one: git decodes the URL's percent-encoding once (`orgA/%2e%2e/orgB`
    /// arrives as `orgA/../orgB`), and the server resolves such a path to
    /// another owner's repository than its first segment names. A single
    /// trailing slash is allowed.
    pub fn from_git_path(path: &str) -> Option<Owner> {
        let path = path.trim_start_matches('/');
        let path = path.strip_suffix('/').unwrap_or(path);
        let mut segments = path.split('/');
        let first = segments.next()?;
        let mut rest = segments.peekable();
        rest.peek()?;
        let odd = |s: &str| s.is_empty() || s == "." || s == ".." || s.contains('%');
        if rest.any(odd) {
            return None;
        }
        Owner::parse(first)
    }

    /// The owner of gh's `OWNER/REPO` or `HOST/OWNER/REPO` (as `-R` and
    /// `GH_REPO` take it); with a host, only when `serves(host)`.
    pub fn from_repo_arg(text: &str, serves: &dyn Fn(&str) -> bool) -> Option<Owner> {
        let parts: Vec<&str> = text.split('/').collect();
        match parts.as_slice() {
            [owner, repo] if !repo.is_empty() => Owner::parse(owner),
            [host, owner, repo] if !repo.is_empty() && serves(host) => Owner::parse(owner),
            _ => None,
        }
    }

    /// The owner of a remote's URL, when its host is one `serves` accepts:
    /// `https://HOST/OWNER/REPO(.git)`, `ssh://[user@]HOST[:port]/OWNER/REPO`,
    /// or scp-like `[user@]HOST:OWNER/REPO`.
    pub fn from_remote_url(url: &str, serves: &dyn Fn(&str) -> bool) -> Option<Owner> {
        Owner::from_git_path(remote_path(url, serves)?)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form the cache keys on: lower case.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl PartialEq for Owner {
    fn eq(&self, other: &Owner) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Eq for Owner {}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A repository a client names: its owner and its name (lower case, without
/// `.git`), from the same places as the owner, for a token narrowed to it
/// (`--per-repository`). Only `OWNER/REPO` names one: a deeper path does not
/// (GitHub has none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repository {
    pub owner: Owner,
    pub name: String,
}

impl Repository {
    /// From git's `path=` (`OWNER/REPO.git`).
    pub fn from_git_path(path: &str) -> Option<Repository> {
        let path = path.trim_start_matches('/').trim_end_matches('/');
        let (owner, name) = path.split_once('/')?;
        Some(Repository {
            owner: Owner::parse(owner)?,
            name: crate::scope::parse_repository(name).ok()?,
        })
    }

    /// From gh's `OWNER/REPO` or `HOST/OWNER/REPO` (with a host, only when
    /// `serves(host)`).
    pub fn from_repo_arg(text: &str, serves: &dyn Fn(&str) -> bool) -> Option<Repository> {
        match text.split_once('/') {
            Some((host, rest)) if rest.contains('/') => {
                serves(host).then(|| Repository::from_git_path(rest))?
            }
            _ => Repository::from_git_path(text),
        }
    }

    /// From a remote's URL, as [`Owner::from_remote_url`].
    pub fn from_remote_url(url: &str, serves: &dyn Fn(&str) -> bool) -> Option<Repository> {
        Repository::from_git_path(remote_path(url, serves)?)
    }
}

/// The path of a remote's URL whose host `serves` accepts.
fn remote_path<'a>(url: &'a str, serves: &dyn Fn(&str) -> bool) -> Option<&'a str> {
    let (host, path) = match url.split_once("://") {
        Some((_, rest)) => {
            let (authority, path) = rest.split_once('/')?;
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            (host, path)
        }
        None => {
            // scp-like syntax: no slash before the first colon.
            let (authority, path) = url.split_once(':')?;
            if authority.contains('/') {
                return None;
            }
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            (host, path)
        }
    };
    // An ssh port is not part of the host git's https requests name.
    let https_host = if url.starts_with("ssh://") {
        host.split(':').next().unwrap_or(host)
    } else {
        host
    };
    serves(https_host).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github(host: &str) -> bool {
        host.eq_ignore_ascii_case("github.com")
    }

    #[test]
    fn logins_are_letters_digits_and_hyphens_up_to_39() {
        for good in ["molecule-ai", "A", "x1", "a-b-c", &"a".repeat(39)] {
            assert!(Owner::parse(good).is_some(), "{good}");
        }
        for bad in [
            "",
            &"a".repeat(40),
            "org_name",
            "org.name",
            "org%2Fx",
            "org name",
            "ørg",
            "a/b",
            "a&owner=b",
        ] {
            assert!(Owner::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(Owner::parse("Molecule-AI"), Owner::parse("molecule-ai"));
        assert_eq!(Owner::parse("Molecule-AI").unwrap().key(), "molecule-ai");
        assert_eq!(Owner::parse("Molecule-AI").unwrap().as_str(), "Molecule-AI");
    }

    #[test]
    fn the_first_segment_of_a_git_path() {
        let owner = |p| Owner::from_git_path(p).map(|o| o.0);
        assert_eq!(owner("orgA/repo.git").as_deref(), Some("orgA"));
        assert_eq!(owner("orgA/repo").as_deref(), Some("orgA"));
        assert_eq!(owner("/orgA/repo.git").as_deref(), Some("orgA"));
        assert_eq!(owner("orgA/group/repo.git").as_deref(), Some("orgA"));
        assert_eq!(owner("repo.git"), None);
        assert_eq!(owner(""), None);
        assert_eq!(owner("org.x/repo.git"), None);
        assert_eq!(owner("org%41/repo.git"), None);
        assert_eq!(owner("orgA/repo/").as_deref(), Some("orgA"));
        // What both gits send for `orgA/%2e%2e/orgB/y.git`, `orgA//y`,
        // `./orgA/y`, and a double encoding: no owner.
        for odd in [
            "orgA/../orgB/y.git",
            "orgA//y.git",
            "orgA//",
            "./orgA/y.git",
            "orgA/./y.git",
            "orgA/y/..",
            "orgA/%2e%2e/orgB/y.git",
            "orgA/x%2Fy.git",
            "..//orgA/y",
        ] {
            assert_eq!(owner(odd), None, "{odd}");
        }
    }

    #[test]
    fn gh_repo_arguments() {
        let owner = |t| Owner::from_repo_arg(t, &github).map(|o| o.0);
        assert_eq!(owner("orgB/x").as_deref(), Some("orgB"));
        assert_eq!(owner("github.com/orgB/x").as_deref(), Some("orgB"));
        assert_eq!(owner("gitlab.com/orgB/x"), None);
        assert_eq!(owner("orgB"), None);
        assert_eq!(owner("orgB/"), None);
        assert_eq!(owner("a/b/c/d"), None);
    }

    #[test]
    fn remote_urls() {
        let owner = |u| Owner::from_remote_url(u, &github).map(|o| o.0);
        for url in [
            "https://github.com/orgB/x.git",
            "https://user@github.com/orgB/x",
            "https://GitHub.com/orgB/x/",
            "git@github.com:orgB/x.git",
            "ssh://git@github.com/orgB/x.git",
            "ssh://git@github.com:22/orgB/x.git",
        ] {
            assert_eq!(owner(url).as_deref(), Some("orgB"), "{url}");
        }
        for url in [
            "https://gitlab.com/orgB/x.git",
            "git@gitlab.com:orgB/x.git",
            "/srv/git/orgB/x.git",
            "../x",
            "https://github.com/x.git",
            "file:///github.com/orgB/x",
        ] {
            assert_eq!(owner(url), None, "{url}");
        }
    }
    #[test]
    fn repositories_are_owner_slash_name() {
        let repo = |r: Option<Repository>| r.map(|r| format!("{}/{}", r.owner, r.name));
        assert_eq!(
            repo(Repository::from_git_path("orgA/App.git")).as_deref(),
            Some("orgA/app")
        );
        assert_eq!(
            repo(Repository::from_git_path("/orgA/app/")).as_deref(),
            Some("orgA/app")
        );
        assert_eq!(repo(Repository::from_git_path("orgA/group/app.git")), None);
        assert_eq!(repo(Repository::from_git_path("app.git")), None);
        let arg = |t| repo(Repository::from_repo_arg(t, &github));
        assert_eq!(arg("orgB/x").as_deref(), Some("orgB/x"));
        assert_eq!(arg("github.com/orgB/x").as_deref(), Some("orgB/x"));
        assert_eq!(arg("gitlab.com/orgB/x"), None);
        let url = |u| repo(Repository::from_remote_url(u, &github));
        assert_eq!(url("git@github.com:orgB/x.git").as_deref(), Some("orgB/x"));
        assert_eq!(url("https://github.com/orgB/x").as_deref(), Some("orgB/x"));
        assert_eq!(url("https://gitlab.com/orgB/x"), None);
    }
}
