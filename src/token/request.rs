//! What a caller asks the engine for: ONE key type that every caller
//! passes ([`Request`]): the owner, and the scope the token is narrowed to
//! (`scope.rs`). The entry that serves a request is named after it
//! (`token`, `token@OWNER`, `token@OWNER%SCOPE`, `token%SCOPE`:
//! [`Request::stem`]), so a narrowed request never gets the full token nor
//! the full request a narrowed one.
//!
//! The platform's own state (its outage memory: `platform_state.rs`)
//! never depends on a request: an unavailable platform is unavailable
//! whatever is asked of it.

use crate::owner::Owner;
use crate::scope::Scope;

/// The name every entry's file starts with; an owner's adds `@OWNER`.
pub const ENTRY_STEM: &str = "token";

/// A request for a token: the installation's owner (`None`: the
/// platform's default installation), narrowed to a scope (the full scope:
/// the installation's own token).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub owner: Option<Owner>,
    pub scope: Scope,
}

impl Request {
    /// A request for `owner`'s installation (`None`: the default).
    pub fn for_owner(owner: Option<&Owner>) -> Request {
        Request::new(owner.cloned(), Scope::full())
    }

    /// A request for `owner`'s installation's token narrowed to `scope`.
    pub fn new(owner: Option<Owner>, scope: Scope) -> Request {
        Request { owner, scope }
    }

    pub fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Narrowed to less than the installation's token.
    pub fn is_narrowed(&self) -> bool {
        !self.scope.is_full()
    }

    /// The name of the entry that serves this request: `token`, or
    /// `token@OWNER` (the login in lower case), with `%SCOPE` for a
    /// narrowed one ([`Scope::short`]: never a `.`, which starts the
    /// suffix of an entry's other files).
    pub fn stem(&self) -> String {
        let mut stem = match &self.owner {
            Some(owner) => format!("{ENTRY_STEM}@{}", owner.key()),
            None => ENTRY_STEM.to_string(),
        };
        if self.is_narrowed() {
            stem = format!("{stem}%{}", self.scope.short());
        }
        stem
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.owner {
            Some(owner) => write!(f, "owner {owner}")?,
            None => f.write_str("no owner in the request")?,
        }
        if self.is_narrowed() {
            write!(f, ", narrowed to {}", self.scope)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_named_after_the_request() {
        assert_eq!(Request::default().stem(), "token");
        let orgb = Owner::parse("OrgB").unwrap();
        assert_eq!(Request::for_owner(Some(&orgb)).stem(), "token@orgb");
        assert_eq!(Request::for_owner(None), Request::default());
        let read = Scope::full().with_permissions("contents:read").unwrap();
        assert_eq!(
            Request::new(Some(orgb), read.clone()).stem(),
            "token@orgb%contents:read"
        );
        assert_eq!(Request::new(None, read).stem(), "token%contents:read");
    }
}
