//! What a narrowed token may do: GitHub App permissions with their levels,
//! and the repositories it opens (`docs/platform-api.md`, "Narrowed
//! tokens"). Every way a command asks for less ends here, validated the
//! same way: `--permissions`, `--repositories`, `--per-repository` and their
//! `MOLECULE_TOKEN_*` variables. The full scope (nothing asked) is the
//! installation's own token, as before.
//!
//! A scope renders one canonical way (names sorted, repositories in lower
//! case, each once), so that two processes asking for the same thing in a
//! different order share one cache entry, one query and one journal line.

use std::collections::BTreeMap;
use std::fmt;

/// GitHub's limit on the repositories of one installation token.
pub const MAX_REPOSITORIES: usize = 500;
/// The longest repository name GitHub accepts.
pub const MAX_REPOSITORY_NAME: usize = 100;
/// [`Scope::short`] spells a scope out up to this length, else hashes it.
const MAX_SHORT: usize = 64;

/// The permission names of `POST /app/installations/{id}/access_tokens`
/// (GitHub's `app-permissions` schema), sorted.
pub const PERMISSION_NAMES: &[&str] = &[
    "actions",
    "administration",
    "attestations",
    "checks",
    "codespaces",
    "contents",
    "dependabot_secrets",
    "deployments",
    "discussions",
    "email_addresses",
    "environments",
    "followers",
    "git_ssh_keys",
    "gpg_keys",
    "interaction_limits",
    "issues",
    "members",
    "merge_queues",
    "metadata",
    "organization_administration",
    "organization_announcement_banners",
    "organization_copilot_seat_management",
    "organization_custom_org_roles",
    "organization_custom_properties",
    "organization_custom_roles",
    "organization_events",
    "organization_hooks",
    "organization_packages",
    "organization_personal_access_token_requests",
    "organization_personal_access_tokens",
    "organization_plan",
    "organization_projects",
    "organization_secrets",
    "organization_self_hosted_runners",
    "organization_user_blocking",
    "packages",
    "pages",
    "profile",
    "pull_requests",
    "repository_custom_properties",
    "repository_hooks",
    "repository_projects",
    "secret_scanning_alerts",
    "secrets",
    "security_events",
    "single_file",
    "starring",
    "statuses",
    "team_discussions",
    "vulnerability_alerts",
    "workflows",
];

/// A permission's level; `read` < `write` < `admin`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Read,
    Write,
    Admin,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        match text {
            "read" => Some(Level::Read),
            "write" => Some(Level::Write),
            "admin" => Some(Level::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::Write => "write",
            Level::Admin => "admin",
        }
    }
}

/// What a token may do. `permissions: None` and `repositories: None` is the
/// full scope (the installation's token); either one set narrows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Sorted by name, each name once.
    permissions: Option<Vec<(String, Level)>>,
    /// Lower case, sorted, each once; 1 to [`MAX_REPOSITORIES`].
    repositories: Option<Vec<String>>,
}

impl Scope {
    /// The installation's full token: nothing narrowed.
    pub fn full() -> Scope {
        Scope::default()
    }

    pub fn is_full(&self) -> bool {
        self.permissions.is_none() && self.repositories.is_none()
    }

    /// `NAME:LEVEL[,…]` into this scope's permissions. The message of an
    /// error says what is wrong, not where it came from (the caller names
    /// the flag or variable).
    pub fn with_permissions(mut self, list: &str) -> Result<Scope, String> {
        let mut out: BTreeMap<String, Level> = BTreeMap::new();
        for item in split_list(list) {
            let (name, level) = item.split_once(':').ok_or_else(|| {
                format!("{item:?} is not NAME:LEVEL (such as contents:read or pull_requests:write)")
            })?;
            let name = name.trim();
            if PERMISSION_NAMES.binary_search(&name).is_err() {
                return Err(format!(
                    "{name:?} is not a GitHub App permission name (such as contents, issues, \
                     pull_requests, workflows)"
                ));
            }
            let level = Level::parse(level.trim()).ok_or_else(|| {
                format!("{level:?} is not a level of {name}: expected read, write or admin")
            })?;
            match out.insert(name.to_string(), level) {
                Some(other) if other != level => {
                    return Err(format!(
                        "{name} is named twice, as {} and {}: give it once",
                        other.as_str(),
                        level.as_str()
                    ));
                }
                _ => {}
            }
        }
        if out.is_empty() {
            return Err("expected NAME:LEVEL[,…], such as contents:read".to_string());
        }
        self.permissions = Some(out.into_iter().collect());
        Ok(self)
    }

    /// `NAME[,…]` (repository names under the owner, as GitHub spells them)
    /// into this scope's repositories.
    pub fn with_repositories(mut self, list: &str) -> Result<Scope, String> {
        let mut names = Vec::new();
        for name in split_list(list) {
            names.push(parse_repository(name)?);
        }
        if names.is_empty() {
            return Err("expected NAME[,…], repository names such as app,lib".to_string());
        }
        names.sort();
        names.dedup();
        if names.len() > MAX_REPOSITORIES {
            return Err(format!(
                "{} repositories: GitHub narrows a token to at most {MAX_REPOSITORIES}",
                names.len()
            ));
        }
        self.repositories = Some(names);
        Ok(self)
    }

    /// The permissions asked, as ordered (name, level) pairs; `None`: not
    /// narrowed by permission.
    pub fn permissions(&self) -> Option<&[(String, Level)]> {
        self.permissions.as_deref()
    }

    /// The repositories asked (lower case, sorted); `None`: every
    /// repository of the installation.
    pub fn repositories(&self) -> Option<&[String]> {
        self.repositories.as_deref()
    }

    /// The canonical `permissions=…` value (`None` when not narrowed so).
    pub fn permissions_text(&self) -> Option<String> {
        self.permissions.as_ref().map(|p| {
            p.iter()
                .map(|(name, level)| format!("{name}:{}", level.as_str()))
                .collect::<Vec<_>>()
                .join(",")
        })
    }

    /// The canonical `repositories=…` value (`None` when not narrowed so).
    pub fn repositories_text(&self) -> Option<String> {
        self.repositories.as_ref().map(|r| r.join(","))
    }

    /// The query parameters, in canonical order, without a leading `&`:
    /// `permissions=contents:read,pull_requests:write&repositories=app,lib`;
    /// empty for the full scope. Nothing in it needs percent-encoding.
    pub fn query(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.permissions_text() {
            parts.push(format!("permissions={p}"));
        }
        if let Some(r) = self.repositories_text() {
            parts.push(format!("repositories={r}"));
        }
        parts.join("&")
    }

    /// A stable, short form for a cache file's name: the scope spelled out
    /// (`contents:read,pull_requests:write+app,lib`) when it is short and
    /// has no `.`, else `#` and 16 hex digits of the SHA-256 of
    /// [`Scope::query`]. Empty for the full scope. Only `[a-z0-9_:,+#-]`:
    /// never a path separator, never a `.`.
    pub fn short(&self) -> String {
        let mut text = self.permissions_text().unwrap_or_default();
        if let Some(r) = self.repositories_text() {
            text.push('+');
            text.push_str(&r);
        }
        // Never a '.': the cache's other files are an entry's name and a
        // `.suffix`, so an entry's own name has none.
        if text.len() <= MAX_SHORT && !text.contains('.') {
            return text;
        }
        let digest = ring::digest::digest(&ring::digest::SHA256, self.query().as_bytes());
        let hex: String = digest.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("#{hex}")
    }

    /// Whether a token that carries `permissions` and `repositories` (as
    /// the platform's answer says) is no wider than this scope asks: `Err`
    /// says how it is wider, or what the answer did not say. `metadata:
    /// read` is always allowed (GitHub grants it to every token). An answer
    /// that says nothing about what was narrowed is refused: the platform
    /// may have ignored the request.
    pub fn admits(
        &self,
        permissions: Option<&BTreeMap<String, String>>,
        repositories: Option<&[String]>,
    ) -> Result<(), String> {
        if let Some(asked) = &self.permissions {
            let carried = permissions.ok_or(
                "the answer does not say which permissions the token carries (a platform that \
                 does not narrow tokens?)",
            )?;
            for (name, level) in carried {
                let allowed = asked.iter().find(|(n, _)| n == name).map(|(_, l)| *l);
                let ok = match (Level::parse(level), allowed) {
                    (Some(carried), Some(allowed)) => carried <= allowed,
                    (Some(Level::Read), None) => name == "metadata",
                    _ => false,
                };
                if !ok {
                    return Err(format!(
                        "the token carries {}:{} (asked: {})",
                        name.escape_debug(),
                        level.escape_debug(),
                        self.permissions_text().unwrap_or_default()
                    ));
                }
            }
        }
        if let Some(asked) = &self.repositories {
            let carried = repositories.ok_or(
                "the answer does not say which repositories the token opens (a platform that \
                 does not narrow tokens?)",
            )?;
            if let Some(extra) = carried
                .iter()
                .find(|r| !asked.contains(&r.to_ascii_lowercase()))
            {
                return Err(format!(
                    "the token opens the repository {} (asked: {})",
                    extra.escape_debug(),
                    asked.join(",")
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Display for Scope {
    /// `contents:read,pull_requests:write on app,lib`; `full` for the full
    /// scope.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.permissions_text(), self.repositories_text()) {
            (None, None) => f.write_str("full"),
            (Some(p), None) => f.write_str(&p),
            (None, Some(r)) => write!(f, "every permission on {r}"),
            (Some(p), Some(r)) => write!(f, "{p} on {r}"),
        }
    }
}

/// What a process asks for: a scope, and whether to narrow it further to
/// the one repository its client names (`--per-repository`). Resolved from
/// flags and the environment by `settings`; the default asks for nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Narrowing {
    pub scope: Scope,
    pub per_repository: bool,
}

/// The variables that carry a [`Narrowing`] down a process tree.
pub const PERMISSIONS_VAR: &str = "MOLECULE_TOKEN_PERMISSIONS";
pub const REPOSITORIES_VAR: &str = "MOLECULE_TOKEN_REPOSITORIES";
pub const PER_REPOSITORY_VAR: &str = "MOLECULE_TOKEN_PER_REPOSITORY";

impl Narrowing {
    /// Nothing asked: the installation's full token.
    pub fn is_full(&self) -> bool {
        self.scope.is_full() && !self.per_repository
    }

    /// The scope of a request whose client names `repository` (`None`: it
    /// names none). Per repository, that repository alone (one of
    /// `--repositories`, when those are given too); none named is an error:
    /// a request that cannot be narrowed is not served at all.
    pub fn scope_for(&self, repository: Option<&str>) -> Result<Scope, String> {
        if !self.per_repository {
            return Ok(self.scope.clone());
        }
        let Some(named) = repository else {
            return Err(format!(
                "{PER_REPOSITORY_VAR} (--per-repository) asks for a token of one repository, \
                 and this request names none (no git path, no gh -R/GH_REPO, no origin remote \
                 of a served host)"
            ));
        };
        let name = parse_repository(named)?;
        if let Some(allowed) = &self.scope.repositories
            && !allowed.contains(&name)
        {
            return Err(format!(
                "the repository {name} is not one of {REPOSITORIES_VAR} (--repositories): {}",
                allowed.join(",")
            ));
        }
        Ok(Scope {
            repositories: Some(vec![name]),
            ..self.scope.clone()
        })
    }

    /// The variables that ask for this narrowing again, for a command's
    /// children (`exec`): `(name, Some(value))` to set, `(name, None)` to
    /// remove (a narrowing of nothing leaves the environment as it was:
    /// empty).
    pub fn variables(&self) -> Vec<(&'static str, Option<String>)> {
        if self.is_full() {
            return Vec::new();
        }
        vec![
            (PERMISSIONS_VAR, self.scope.permissions_text()),
            (REPOSITORIES_VAR, self.scope.repositories_text()),
            (
                PER_REPOSITORY_VAR,
                self.per_repository.then(|| "1".to_string()),
            ),
        ]
    }
}

/// A repository name as GitHub allows it: ASCII letters, digits, `.`, `_`
/// and `-`, at most 100, not `.` or `..`. Returned in lower case (GitHub's
/// names are case-insensitive). A trailing `.git` is dropped.
pub fn parse_repository(text: &str) -> Result<String, String> {
    let name = text.trim();
    let name = name.strip_suffix(".git").unwrap_or(name);
    let valid = (1..=MAX_REPOSITORY_NAME).contains(&name.len())
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !valid {
        return Err(format!(
            "{text:?} is not a repository name (letters, digits, '.', '_' and '-', at most \
             {MAX_REPOSITORY_NAME}; the name alone, without the owner)"
        ));
    }
    Ok(name.to_ascii_lowercase())
}

fn split_list(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|i| !i.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(p: Option<&str>, r: Option<&str>) -> Scope {
        let mut s = Scope::full();
        if let Some(p) = p {
            s = s.with_permissions(p).unwrap();
        }
        if let Some(r) = r {
            s = s.with_repositories(r).unwrap();
        }
        s
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn the_names_are_sorted_for_binary_search() {
        let mut sorted = PERMISSION_NAMES.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, PERMISSION_NAMES);
    }

    #[test]
    fn renders_one_canonical_way() {
        let a = scope(
            Some("pull_requests:write, contents:read"),
            Some("lib,App,app"),
        );
        let b = scope(Some("contents:read,pull_requests:write"), Some("app,lib"));
        assert_eq!(a, b);
        assert_eq!(
            a.query(),
            "permissions=contents:read,pull_requests:write&repositories=app,lib"
        );
        assert_eq!(a.short(), "contents:read,pull_requests:write+app,lib");
        assert_eq!(
            a.to_string(),
            "contents:read,pull_requests:write on app,lib"
        );
        assert_eq!(
            a.permissions().unwrap(),
            &[
                ("contents".to_string(), Level::Read),
                ("pull_requests".to_string(), Level::Write)
            ]
        );
        assert_eq!(a.repositories().unwrap(), &["app", "lib"]);
        assert_eq!(scope(None, Some("x")).query(), "repositories=x");
        assert_eq!(scope(None, Some("x")).short(), "+x");
        assert!(scope(None, Some("my.repo")).short().starts_with('#'));
        assert!(Scope::full().is_full());
        assert_eq!(Scope::full().query(), "");
        assert_eq!(Scope::full().short(), "");
        assert_eq!(Scope::full().to_string(), "full");
    }

    #[test]
    fn a_long_scope_is_hashed_stably() {
        let list: Vec<String> = (0..500).map(|i| format!("repo{i}")).collect();
        let a = scope(Some("contents:read"), Some(&list.join(",")));
        let mut reversed = list.clone();
        reversed.reverse();
        let b = scope(Some("contents:read"), Some(&reversed.join(",")));
        assert_eq!(a.short(), b.short());
        assert_eq!(a.short().len(), 17);
        assert!(a.short().starts_with('#'));
        let c = scope(Some("contents:write"), Some(&list.join(",")));
        assert_ne!(a.short(), c.short());
    }

    #[test]
    fn refuses_what_github_would_not_take() {
        for bad in [
            "",
            ",",
            "contents",
            "contents:",
            "contents:none",
            "contents:READ",
            "content:read",
            "Contents:read",
            "contents:read,contents:write",
            "contents:read&repositories=x",
        ] {
            assert!(Scope::full().with_permissions(bad).is_err(), "{bad:?}");
        }
        assert!(
            Scope::full()
                .with_permissions("contents:read,contents:read")
                .is_ok()
        );
        for bad in [
            "",
            "org/app",
            "a b",
            ".",
            "..",
            "ä",
            &"a".repeat(101),
            "x&y",
        ] {
            assert!(Scope::full().with_repositories(bad).is_err(), "{bad:?}");
        }
        let many: Vec<String> = (0..501).map(|i| format!("r{i}")).collect();
        assert!(Scope::full().with_repositories(&many.join(",")).is_err());
        assert_eq!(parse_repository("App.git").unwrap(), "app");
        assert_eq!(parse_repository("a.b_c-d").unwrap(), "a.b_c-d");
    }

    #[test]
    fn no_wider_than_asked() {
        let asked = scope(Some("contents:read,pull_requests:write"), Some("app"));
        let repos = ["app".to_string()];
        let ok = |p: &[(&str, &str)], r: &[String]| asked.admits(Some(&map(p)), Some(r));
        assert!(ok(&[("contents", "read"), ("metadata", "read")], &repos).is_ok());
        assert!(ok(&[("contents", "read"), ("pull_requests", "read")], &repos).is_ok());
        assert!(ok(&[], &["App".to_string()]).is_ok());
        assert!(ok(&[("contents", "write")], &repos).is_err());
        assert!(ok(&[("issues", "read")], &repos).is_err());
        assert!(ok(&[("metadata", "write")], &repos).is_err());
        assert!(ok(&[("contents", "superuser")], &repos).is_err());
        assert!(ok(&[("contents", "read")], &["app".into(), "lib".into()]).is_err());
        // An answer silent about what it carries: the platform ignored the
        // request.
        assert!(asked.admits(None, Some(&repos)).is_err());
        assert!(asked.admits(Some(&map(&[])), None).is_err());
        // The full scope admits anything; a scope of repositories only
        // admits any permission.
        assert!(Scope::full().admits(None, None).is_ok());
        let only_repos = scope(None, Some("app"));
        assert!(only_repos.admits(None, Some(&repos)).is_ok());
        assert!(only_repos.admits(None, None).is_err());
    }
    #[test]
    fn per_repository_takes_the_repository_the_client_names() {
        let per = Narrowing {
            scope: scope(Some("contents:read"), None),
            per_repository: true,
        };
        assert_eq!(
            per.scope_for(Some("App.git")).unwrap(),
            scope(Some("contents:read"), Some("app"))
        );
        assert!(
            per.scope_for(None)
                .unwrap_err()
                .contains(PER_REPOSITORY_VAR)
        );
        assert!(per.scope_for(Some("a/b")).is_err());
        let within = Narrowing {
            scope: scope(None, Some("app,lib")),
            per_repository: true,
        };
        assert_eq!(
            within.scope_for(Some("lib")).unwrap(),
            scope(None, Some("lib"))
        );
        assert!(within.scope_for(Some("other")).is_err());
        let plain = Narrowing {
            scope: scope(Some("issues:write"), None),
            per_repository: false,
        };
        assert_eq!(plain.scope_for(Some("x")).unwrap(), plain.scope);
        assert!(Narrowing::default().is_full());
        assert!(Narrowing::default().variables().is_empty());
        assert_eq!(
            per.variables(),
            [
                (PERMISSIONS_VAR, Some("contents:read".to_string())),
                (REPOSITORIES_VAR, None),
                (PER_REPOSITORY_VAR, Some("1".to_string()))
            ]
        );
    }
}
