//! The `/rate_limit` probe: the budget left, and whether the other probes
//! are worth making.

use super::words::{dead_token, message, said, when};
use super::{Answer, Target};
use crate::commands::status::render::{Check, Mark, check};

/// The `/rate_limit` line, and whether the other probes are worth making
/// (`Err(why)` when not).
pub(super) fn rate_check(
    t: &Target,
    url: &str,
    base: &str,
    reply: &Answer,
    now: i64,
) -> (Check, Result<(), String>) {
    let host = t.host;
    let reply = match reply {
        Ok(reply) => reply,
        Err(why) => {
            let gate = Err("the API did not answer".to_string());
            return (check("api", Mark::Fail, format!("{host}: {why}")), gate);
        }
    };
    let not_github = || Err("the API did not answer as GitHub's does".to_string());
    match reply.status {
        200 => {}
        401 => {
            let gate = Err("the token is not valid".to_string());
            return (check("api", Mark::Fail, dead_token(t, url, reply)), gate);
        }
        // GitHub Enterprise Server with rate limiting turned off.
        404 if message(&reply.body).is_some_and(|m| m.contains("not enabled")) => {
            let text = format!("{host}: {url} answered HTTP 404: rate limiting is not enabled");
            return (check("api", Mark::Ok, text), Ok(()));
        }
        status @ 300..=399 => {
            let text = format!(
                "{host}: {url} answered with a redirect (HTTP {status}), which is not followed: \
                 is the API at {base}? (--api-url HOST=URL)"
            );
            return (check("api", Mark::Fail, text), not_github());
        }
        _ => {
            let text = format!(
                "{host}: {url} answered {}: is the API at {base}? (--api-url HOST=URL)",
                said(reply)
            );
            return (check("api", Mark::Fail, text), not_github());
        }
    }
    #[derive(serde::Deserialize)]
    struct Budget {
        limit: u64,
        remaining: u64,
        reset: i64,
    }
    #[derive(serde::Deserialize)]
    struct Resources {
        core: Budget,
        graphql: Option<Budget>,
    }
    #[derive(serde::Deserialize)]
    struct Limits {
        resources: Resources,
    }
    let Ok(limits) = serde_json::from_slice::<Limits>(&reply.body) else {
        let text = format!(
            "{host}: {url} answered HTTP 200, but not as GitHub does: is the API at {base}? \
             (--api-url HOST=URL)"
        );
        return (check("api", Mark::Warn, text), Ok(()));
    };
    let resources = [
        ("core", Some(&limits.resources.core)),
        ("graphql", limits.resources.graphql.as_ref()),
    ];
    let mut mark = Mark::Ok;
    let mut parts = Vec::new();
    let mut low = Vec::new();
    let mut spent = Vec::new();
    for (name, budget) in resources {
        let Some(b) = budget else { continue };
        let percent = match b.limit {
            0 => 100,
            limit => b.remaining.min(limit) * 100 / limit,
        };
        let mut part = format!("{name} {}/{} left", b.remaining, b.limit);
        if b.remaining == 0 {
            mark = Mark::Fail;
            spent.push(format!("{name} until {}", when(b.reset, now)));
        } else if b.remaining * 10 < b.limit {
            if mark == Mark::Ok {
                mark = Mark::Warn;
            }
            part.push_str(&format!(" ({percent} %)"));
            low.push(name);
        }
        part.push_str(&format!(", resets {}", when(b.reset, now)));
        parts.push(part);
    }
    let mut text = format!("{host}: {url}: {}", parts.join("; "));
    if !spent.is_empty() {
        text.push_str(&format!(
            ": spent, GitHub refuses this installation's requests: {}",
            spent.join(", ")
        ));
    } else if !low.is_empty() {
        text.push_str(&format!(
            ": under 10 % of {} left; something is spending this installation's budget",
            low.join(" and ")
        ));
    }
    let gate = match limits.resources.core.remaining {
        0 => Err(format!(
            "the core rate limit is spent until {}",
            when(limits.resources.core.reset, now)
        )),
        _ => Ok(()),
    };
    (check("api", mark, text), gate)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{NOW, reply, target};
    use super::*;

    fn limits(core: (u64, u64), graphql: (u64, u64)) -> Answer {
        reply(
            200,
            &format!(
                r#"{{"resources":{{"core":{{"limit":{},"remaining":{},"reset":{},"used":0}},"graphql":{{"limit":{},"remaining":{},"reset":{},"used":0}}}},"rate":{{}}}}"#,
                core.0,
                core.1,
                NOW + 3540,
                graphql.0,
                graphql.1,
                NOW + 90
            ),
        )
    }

    const RATE: &str = "https://api.github.com/rate_limit";
    const API: &str = "https://api.github.com";

    #[test]
    fn rate_limit_outcomes() {
        let t = target();
        let (c, gate) = rate_check(&t, RATE, API, &limits((5000, 4990), (5000, 5000)), NOW);
        assert_eq!((c.status, gate), (Mark::Ok, Ok(())));
        assert_eq!(
            c.message,
            "github.com: https://api.github.com/rate_limit: core 4990/5000 left, resets \
             2026-01-01T00:59:00Z (in 59 min); graphql 5000/5000 left, resets \
             2026-01-01T00:01:30Z (in 1 min)"
        );

        // 2 % left: a warning with the reset time.
        let (c, gate) = rate_check(&t, RATE, API, &limits((5000, 100), (5000, 5000)), NOW);
        assert_eq!((c.status, gate), (Mark::Warn, Ok(())));
        assert!(
            c.message
                .contains("core 100/5000 left (2 %), resets 2026-01-01T00:59:00Z")
                && c.message.contains("under 10 % of core left"),
            "{}",
            c.message
        );
        // 10 % exactly is not under 10 %.
        let (c, _) = rate_check(&t, RATE, API, &limits((5000, 500), (5000, 5000)), NOW);
        assert_eq!(c.status, Mark::Ok, "{}", c.message);
        let (c, _) = rate_check(&t, RATE, API, &limits((5000, 5000), (5000, 1)), NOW);
        assert_eq!(c.status, Mark::Warn, "{}", c.message);
        assert!(
            c.message.contains("under 10 % of graphql left"),
            "{}",
            c.message
        );

        // Spent: a failure saying when it resets; the other probes are skipped.
        let (c, gate) = rate_check(&t, RATE, API, &limits((5000, 0), (5000, 5000)), NOW);
        assert_eq!(c.status, Mark::Fail);
        assert!(
            c.message
                .contains("GitHub refuses this installation's requests: core until 2026-01-01T00:59:00Z (in 59 min)"),
            "{}",
            c.message
        );
        assert_eq!(
            gate,
            Err("the core rate limit is spent until 2026-01-01T00:59:00Z (in 59 min)".into())
        );
        // graphql spent alone fails the line but leaves the REST probes worth making.
        let (c, gate) = rate_check(&t, RATE, API, &limits((5000, 5000), (5000, 0)), NOW);
        assert_eq!((c.status, gate), (Mark::Fail, Ok(())));

        let (c, gate) = rate_check(
            &t,
            RATE,
            API,
            &reply(401, r#"{"message":"Bad credentials"}"#),
            NOW,
        );
        assert_eq!(c.status, Mark::Fail);
        assert_eq!(
            c.message,
            "github.com: https://api.github.com/rate_limit answered HTTP 401 \"Bad credentials\": \
             the token is not valid; the platform (http://platform:8080/admin/github-installation-token) \
             handed out a token github.com does not accept (revoked, expired, or from another GitHub App)"
        );
        assert!(gate.is_err());

        let (c, gate) = rate_check(
            &t,
            RATE,
            API,
            &reply(404, r#"{"message":"Rate limiting is not enabled."}"#),
            NOW,
        );
        assert_eq!((c.status, gate), (Mark::Ok, Ok(())));
        let (c, gate) = rate_check(&t, RATE, API, &reply(404, "<html>"), NOW);
        assert_eq!(c.status, Mark::Fail);
        assert!(
            c.message
                .contains("is the API at https://api.github.com? (--api-url HOST=URL)")
        );
        assert!(gate.is_err());
        let (c, gate) = rate_check(&t, RATE, API, &reply(301, ""), NOW);
        assert!(
            c.message
                .contains("redirect (HTTP 301), which is not followed")
        );
        assert!(gate.is_err());
        let (c, gate) = rate_check(&t, RATE, API, &reply(200, "{}"), NOW);
        assert_eq!((c.status, gate), (Mark::Warn, Ok(())));
        let (c, gate) = rate_check(&t, RATE, API, &Err("cannot connect to x".into()), NOW);
        assert_eq!(c.message, "github.com: cannot connect to x");
        assert_eq!(gate, Err("the API did not answer".into()));
    }
}
