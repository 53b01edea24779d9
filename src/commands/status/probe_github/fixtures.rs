//! What the probe tests share: a target, replies as GitHub gives them.

use super::{Answer, Target};
use crate::commands::status::github::Reply;

pub const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

pub fn target() -> Target<'static> {
    Target {
        host: "github.com",
        platform: "http://platform:8080/admin/github-installation-token",
    }
}

pub fn reply(status: u16, body: &str) -> Answer {
    Ok(Reply {
        status,
        body: body.as_bytes().to_vec(),
        ..Reply::default()
    })
}

pub fn forbidden(permission: Option<&str>) -> Answer {
    Ok(Reply {
            status: 403,
            accepted_permissions: permission.map(str::to_string),
            rate_remaining: Some(4000),
            body: br#"{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest"}"#.to_vec(),
            ..Reply::default()
        })
}
