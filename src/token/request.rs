//! What a caller asks the engine for: ONE key type that every caller
//! passes ([`Request`]), so that what picks a token (today the owner; a
//! narrowed scope next) is added in one place. The entry that serves a
//! request is named after it (`token`, `token@OWNER`: [`Request::stem`]).
//!
//! The platform's own state (its outage memory: `platform_state.rs`)
//! never depends on a request: an unavailable platform is unavailable
//! whatever is asked of it.

use crate::owner::Owner;

/// The name every entry's file starts with; an owner's adds `@OWNER`.
pub const ENTRY_STEM: &str = "token";

/// A request for a token: the installation's owner (`None`: the
/// platform's default installation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub owner: Option<Owner>,
}

impl Request {
    /// A request for `owner`'s installation (`None`: the default).
    pub fn for_owner(owner: Option<&Owner>) -> Request {
        Request {
            owner: owner.cloned(),
        }
    }

    pub fn owner(&self) -> Option<&Owner> {
        self.owner.as_ref()
    }

    /// The name of the entry that serves this request: `token`, or
    /// `token@OWNER` (the login in lower case).
    pub fn stem(&self) -> String {
        match &self.owner {
            Some(owner) => format!("{ENTRY_STEM}@{}", owner.key()),
            None => ENTRY_STEM.to_string(),
        }
    }
}

impl std::fmt::Display for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.owner {
            Some(owner) => write!(f, "owner {owner}"),
            None => f.write_str("no owner in the request"),
        }
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
    }
}
