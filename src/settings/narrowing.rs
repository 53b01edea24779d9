//! `--permissions`, `--repositories`, `--per-repository` and their
//! variables resolved into one [`Narrowing`]: a flag wins over its
//! variable; the variables are read in every mode (`get`, the gh proxy, the
//! shell hook), so one of them narrows a whole process tree.

use super::{BOOL_EXPECTED, Source, UsageError, invalid, parse_bool};
use crate::scope::{Narrowing, PER_REPOSITORY_VAR, PERMISSIONS_VAR, REPOSITORIES_VAR, Scope};

/// The narrowing flags as given (fetch-token, exec and env have them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NarrowFlags {
    pub permissions: Option<String>,
    pub repositories: Option<String>,
    pub per_repository: bool,
}

type Var<'a> = dyn Fn(&'static str) -> Result<Option<(String, Source<'static>)>, UsageError> + 'a;

pub(super) fn resolve(flags: &NarrowFlags, var: &Var<'_>) -> Result<Narrowing, UsageError> {
    let pick = |flag: &Option<String>, flag_name: &'static str, env_name: &'static str| {
        Ok::<_, UsageError>(match flag {
            Some(v) => Some((v.clone(), Source::Flag(flag_name))),
            None => var(env_name)?,
        })
    };
    let mut scope = Scope::full();
    if let Some((list, src)) = pick(&flags.permissions, "permissions", PERMISSIONS_VAR)? {
        scope = scope
            .with_permissions(&list)
            .map_err(|e| invalid(src, &list, &e))?;
    }
    if let Some((list, src)) = pick(&flags.repositories, "repositories", REPOSITORIES_VAR)? {
        scope = scope
            .with_repositories(&list)
            .map_err(|e| invalid(src, &list, &e))?;
    }
    let per_repository = flags.per_repository
        || match var(PER_REPOSITORY_VAR)? {
            Some((v, src)) => parse_bool(&v).ok_or_else(|| invalid(src, &v, BOOL_EXPECTED))?,
            None => false,
        };
    Ok(Narrowing {
        scope,
        per_repository,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Flags, resolve};
    use super::*;
    use std::ffi::OsString;

    fn with(flags: NarrowFlags, vars: &[(&str, &str)]) -> Result<Narrowing, UsageError> {
        let vars: Vec<(String, OsString)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        let flags = Flags {
            narrow: flags,
            ..Flags::default()
        };
        let env = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        resolve(&flags, &env).map(|s| s.narrowing)
    }

    #[test]
    fn nothing_asked_is_the_full_token() {
        assert!(with(NarrowFlags::default(), &[]).unwrap().is_full());
        let empty = [
            (PERMISSIONS_VAR, ""),
            (REPOSITORIES_VAR, ""),
            (PER_REPOSITORY_VAR, "0"),
        ];
        assert!(with(NarrowFlags::default(), &empty).unwrap().is_full());
    }

    #[test]
    fn the_variables_then_the_flags_win() {
        let vars = [
            (PERMISSIONS_VAR, "pull_requests:write,contents:read"),
            (REPOSITORIES_VAR, "lib,app"),
            (PER_REPOSITORY_VAR, "yes"),
        ];
        let n = with(NarrowFlags::default(), &vars).unwrap();
        assert_eq!(
            n.scope.query(),
            "permissions=contents:read,pull_requests:write&repositories=app,lib"
        );
        assert!(n.per_repository);
        let flags = NarrowFlags {
            permissions: Some("contents:write".into()),
            repositories: Some("x".into()),
            per_repository: false,
        };
        let n = with(flags, &vars).unwrap();
        assert_eq!(n.scope.query(), "permissions=contents:write&repositories=x");
        assert!(n.per_repository, "the variable still asks per repository");
    }

    #[test]
    fn an_invalid_value_names_its_flag_or_variable() {
        for (var, value) in [
            (PERMISSIONS_VAR, "contents:everything"),
            (PERMISSIONS_VAR, "kontents:read"),
            (REPOSITORIES_VAR, "org/app"),
            (PER_REPOSITORY_VAR, "maybe"),
        ] {
            let e = with(NarrowFlags::default(), &[(var, value)]).unwrap_err();
            assert!(e.0.contains(var), "{e}");
        }
        let flags = NarrowFlags {
            permissions: Some("contents".into()),
            ..NarrowFlags::default()
        };
        let e = with(flags, &[]).unwrap_err();
        assert!(e.0.contains("--permissions"), "{e}");
        let flags = NarrowFlags {
            repositories: Some("a b".into()),
            ..NarrowFlags::default()
        };
        let e = with(flags, &[]).unwrap_err();
        assert!(e.0.contains("--repositories"), "{e}");
    }
}
