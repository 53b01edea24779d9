//! The platform's answer: `{"token": …, "expires_at": …, "owner": …}`
//! decoded and checked ([`decode_answer`]). The reason a body is refused
//! never quotes it: it may hold a token.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::diag::debug;
use crate::owner::Owner;
use crate::secret::{self, Secret};
use crate::token::{Token, parse_rfc3339};

/// The platform's answer: the token, and the owner it was minted for when
/// the platform said (`None`: it serves every owner).
#[derive(Debug)]
pub struct Answer {
    pub token: Token,
    pub owner: Option<Owner>,
    /// What the token carries, when the answer says (`"permissions"`: a
    /// map of name to level): checked against a narrowed request.
    pub permissions: Option<BTreeMap<String, String>>,
    /// The repositories the token opens, when the answer says.
    pub repositories: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Wire {
    token: String,
    #[serde(default)]
    expires_at: Option<serde_json::Value>,
    #[serde(default)]
    owner: Option<serde_json::Value>,
    #[serde(default)]
    permissions: Option<serde_json::Value>,
    #[serde(default)]
    repositories: Option<serde_json::Value>,
}

/// Decode and check the platform's JSON. The reason returned never quotes
/// the body: serde's own messages can, so they are not used.
pub fn decode(body: &[u8], now: i64) -> Result<Token, String> {
    decode_answer(body, now).map(|answer| answer.token)
}

/// [`decode`], with the owner the token was minted for: a GitHub login, or
/// none (missing or `null`); anything else is refused.
pub fn decode_answer(body: &[u8], now: i64) -> Result<Answer, String> {
    let wire: Wire = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => {
            "it is not of the form {\"token\": \"…\", \"expires_at\": \"<RFC 3339>\"}".to_string()
        }
        _ => format!("it is not JSON (line {}, column {})", e.line(), e.column()),
    })?;
    secret::validate(&wire.token).map_err(|why| format!("the token is not usable: {why}"))?;
    let expires_at = match &wire.expires_at {
        None | Some(serde_json::Value::Null) => {
            debug!("the platform gave no expires_at; the token is served without an expiry");
            None
        }
        Some(serde_json::Value::String(text)) => match parse_rfc3339(text) {
            Some(t) => Some(t),
            None => {
                debug!("expires_at is not RFC 3339; the token is served without an expiry");
                None
            }
        },
        Some(_) => {
            debug!("expires_at is not a string; the token is served without an expiry");
            None
        }
    };
    if let Some(t) = expires_at
        && t <= now
    {
        return Err(format!(
            "the token expired already, at {}",
            crate::token::format_rfc3339(t)
        ));
    }
    let owner = match &wire.owner {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(text)) => {
            Some(Owner::parse(text).ok_or("its owner is not a GitHub login")?)
        }
        Some(_) => return Err("its owner is not a GitHub login".to_string()),
    };
    Ok(Answer {
        token: Token {
            secret: Secret::new(wire.token),
            expires_at,
        },
        owner,
        permissions: permissions(wire.permissions)?,
        repositories: repositories(wire.repositories)?,
    })
}

/// `"permissions": {"NAME": "LEVEL", …}` (missing or `null`: not said).
fn permissions(
    value: Option<serde_json::Value>,
) -> Result<Option<BTreeMap<String, String>>, String> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Object(map)) => map
            .into_iter()
            .map(|(name, level)| match level {
                serde_json::Value::String(level) => Ok((name, level)),
                _ => Err("its permissions are not a map of names to levels".to_string()),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err("its permissions are not a map of names to levels".to_string()),
    }
}

/// `"repositories": ["NAME", …]` (or GitHub's objects with a `name`;
/// missing or `null`: not said).
fn repositories(value: Option<serde_json::Value>) -> Result<Option<Vec<String>>, String> {
    let bad = || "its repositories are not a list of names".to_string();
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                serde_json::Value::String(name) => Ok(name),
                serde_json::Value::Object(mut repo) => match repo.remove("name") {
                    Some(serde_json::Value::String(name)) => Ok(name),
                    _ => Err(bad()),
                },
                _ => Err(bad()),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_795_437_296; // 2026-11-23T12:34:56Z

    #[test]
    fn decodes_token_and_expiry() {
        let t = decode(
            br#"{"token":"ghs_x1","expires_at":"2026-11-23T13:34:56Z"}"#,
            NOW,
        )
        .unwrap();
        assert_eq!(t.secret.expose(), "ghs_x1");
        assert_eq!(t.expires_at, Some(NOW + 3600));
    }

    #[test]
    fn expiry_missing_null_or_not_rfc3339_means_none() {
        for body in [
            r#"{"token":"t"}"#,
            r#"{"token":"t","expires_at":null}"#,
            r#"{"token":"t","expires_at":"in an hour"}"#,
            r#"{"token":"t","expires_at":1795440896}"#,
            r#"{"token":"t","extra":[1,2],"expires_at":"2026-11-23"}"#,
            // Found by tests/fuzz.rs: the year 10000 in UTC, which RFC 3339
            // cannot write (fetch-token --json printed a bare number).
            r#"{"token":"t","expires_at":"9999-12-31T23:00:00-01:00"}"#,
        ] {
            assert_eq!(
                decode(body.as_bytes(), NOW).unwrap().expires_at,
                None,
                "{body}"
            );
        }
    }

    #[test]
    fn refuses_expired_bad_or_missing_tokens_without_quoting_them() {
        let cases: [&[u8]; 9] = [
            br#"{"token":"secret-1","expires_at":"2026-11-23T12:34:56Z"}"#,
            b"{\"token\":\"secret-2\\nx\"}",
            b"{\"token\":\"secret-3\\u0000\"}",
            br#"{"token":"secret 4"}"#,
            br#"{"token":""}"#,
            br#"{"expires_at":"2026-11-23T13:34:56Z"}"#,
            br#"{"token":["secret-5"]}"#,
            b"<html>secret-6</html>",
            b"{\"token\":\"secret-7\xff\"}",
        ];
        for body in cases {
            let why = decode(body, NOW).unwrap_err();
            assert!(!why.contains("secret"), "{why}");
        }
    }

    #[test]
    fn the_owner_a_token_was_minted_for() {
        let body = |owner: &str| {
            format!(r#"{{"token":"ghs_x1","expires_at":"2026-11-23T13:34:56Z"{owner}}}"#)
        };
        let owner = |extra: &str| decode_answer(body(extra).as_bytes(), NOW).map(|a| a.owner);
        assert_eq!(owner(""), Ok(None));
        assert_eq!(owner(r#","owner":null"#), Ok(None));
        assert_eq!(owner(r#","owner":"orgB""#), Ok(Owner::parse("orgB")));
        for bad in [r#","owner":"org/b""#, r#","owner":7"#, ",\"owner\":\"\""] {
            let why = owner(bad).unwrap_err();
            assert!(why.contains("owner"), "{bad}: {why}");
        }
    }

    #[test]
    fn what_a_narrowed_token_carries() {
        let body = |extra: &str| {
            format!(r#"{{"token":"ghs_x1","expires_at":"2026-11-23T13:34:56Z"{extra}}}"#)
        };
        let answer = |extra: &str| decode_answer(body(extra).as_bytes(), NOW);
        let a = answer(r#","permissions":{"contents":"read","metadata":"read"},"repositories":["app",{"name":"lib","id":7}]"#).unwrap();
        assert_eq!(a.permissions.unwrap()["contents"], "read");
        assert_eq!(a.repositories.unwrap(), ["app", "lib"]);
        let a = answer("").unwrap();
        assert_eq!((a.permissions, a.repositories), (None, None));
        for bad in [
            r#","permissions":["contents"]"#,
            r#","permissions":{"contents":1}"#,
            r#","repositories":"app""#,
            r#","repositories":[7]"#,
        ] {
            assert!(answer(bad).is_err(), "{bad}");
        }
    }
}
