//! The words of the GitHub probes: GitHub's short `message`, the
//! permission it asked for, a spent rate limit and when it resets, a dead
//! token. The one place a reply's body is quoted from.

use super::Target;
use crate::commands::status::github::Reply;
use crate::token::format_rfc3339;

/// What to do about a permission the App lacks.
pub(super) const GRANT: &str = "grant it in the GitHub App's permissions (the App's settings: Permissions \
                     & events), then accept the new permissions on the installation";

/// GitHub's `message` from a JSON error body, when it is short and plain:
/// the one piece of a body ever quoted.
pub(super) fn message(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        message: String,
    }
    let text = serde_json::from_slice::<Body>(body).ok()?.message;
    let text: String = (text.chars())
        .filter(|c| !c.is_control() && *c != '"')
        .take(160)
        .collect();
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// `HTTP 403 "Resource not accessible by integration"`, or `HTTP 403`.
pub(super) fn said(reply: &Reply) -> String {
    match message(&reply.body) {
        Some(m) => format!("HTTP {} \"{m}\"", reply.status),
        None => format!("HTTP {}", reply.status),
    }
}

/// The permission GitHub asked for, when the header names it plainly.
pub(super) fn accepted_permission(reply: &Reply) -> Option<String> {
    let text = reply.accepted_permissions.as_deref()?.trim();
    let plain = |c: char| c.is_ascii_alphanumeric() || "_=,; ".contains(c);
    (!text.is_empty() && text.len() <= 100 && text.chars().all(plain)).then(|| text.to_string())
}

/// A refusal because the rate limit is spent, not for want of a permission.
pub(super) fn rate_spent(reply: &Reply) -> bool {
    matches!(reply.status, 403 | 429) && reply.rate_remaining == Some(0)
}

/// `2026-12-01T23:26:56Z (in 59 min)`.
pub(super) fn when(reset: i64, now: i64) -> String {
    let left = reset - now;
    let within = match left {
        s if s <= 0 => "now".to_string(),
        s if s < 60 => format!("in {s} s"),
        s if s < 3600 => format!("in {} min", s / 60),
        s if s % 3600 < 60 => format!("in {} h", s / 3600),
        s => format!("in {} h {} min", s / 3600, s % 3600 / 60),
    };
    format!("{} ({within})", format_rfc3339(reset))
}

/// A 401: the token the platform handed out is dead.
pub(super) fn dead_token(t: &Target, url: &str, reply: &Reply) -> String {
    format!(
        "{}: {url} answered {}: the token is not valid; the platform ({}) handed out a token \
         {} does not accept (revoked, expired, or from another GitHub App)",
        t.host,
        said(reply),
        t.platform,
        t.host
    )
}

/// Why a refusal for a spent rate limit: until when.
pub(super) fn spent_until(reply: &Reply, now: i64) -> String {
    match reply.rate_reset {
        Some(reset) => format!("the rate limit is spent until {}", when(reset, now)),
        None => "the rate limit is spent".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::NOW;
    use super::*;

    #[test]
    fn only_github_s_short_message_is_quoted() {
        assert_eq!(
            message(br#"{"message":"Bad credentials","documentation_url":"x"}"#).as_deref(),
            Some("Bad credentials")
        );
        assert_eq!(
            message(br#"{"message":"a\u001b[31m\"b"}"#).as_deref(),
            Some("a[31mb")
        );
        assert_eq!(
            message(&format!(r#"{{"message":"{}"}}"#, "x".repeat(500)).into_bytes())
                .map(|m| m.len()),
            Some(160)
        );
        assert_eq!(message(b"<html>secret page</html>"), None);
        assert_eq!(message(br#"{"message":""}"#), None);
        let r = Reply {
            status: 404,
            body: b"Not Found".to_vec(),
            ..Reply::default()
        };
        assert_eq!(said(&r), "HTTP 404");
    }

    #[test]
    fn reset_times_read_well() {
        assert_eq!(when(NOW, NOW), "2026-01-01T00:00:00Z (now)");
        assert_eq!(when(NOW + 30, NOW), "2026-01-01T00:00:30Z (in 30 s)");
        assert_eq!(when(NOW + 3900, NOW), "2026-01-01T01:05:00Z (in 1 h 5 min)");
        assert_eq!(when(NOW + 3601, NOW), "2026-01-01T01:00:01Z (in 1 h)");
    }
}
