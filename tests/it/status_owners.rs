//! `status` across owners (issue 24 items 6 and 12): the history of every
//! owner's entry, an owner without an installation named, and the cache
//! line summarised past a handful of owners.

use crate::support::*;

/// The line of check `name` (its second word).
fn line<'a>(out: &'a Out, name: &str) -> &'a str {
    out.stdout
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no {name} line: {out:?}"))
}

#[test]
fn status_names_an_owner_without_an_installation_from_its_history() {
    let ws = Workspace::new();
    ws.platform.set_owners(&["orgA", "orgB"]);
    // The default entry is fine; orgX has no installation (HTTP 404).
    assert_eq!(ws.helper(&["fetch-token"], "").code(), 0);
    for _ in 0..3 {
        let out = ws.helper(&["fetch-token", "--owner", "orgX"], "");
        assert_ne!(out.code(), 0, "{out:?}");
    }
    let out = ws.helper(&["status"], "");
    ws.assert_no_secret_in(&out.stdout, "stdout");
    let history = line(&out, "history");
    assert!(
        history.starts_with("warn")
            && history.contains("orgx: no installation of the App (HTTP 404)"),
        "{out:?}"
    );
    assert!(!history.contains("no platform failure"), "{out:?}");
}

#[test]
fn status_summarises_the_cache_past_a_handful_of_owners() {
    let ws = Workspace::new();
    assert_eq!(ws.helper(&["fetch-token"], "").code(), 0);
    // 300 owners' entries (copies of the default one: status reads each).
    let entry = std::fs::read(ws.cache.join("token")).unwrap();
    for n in 0..300 {
        let path = ws.cache.join(format!("token@own{n:03}"));
        std::fs::write(&path, &entry).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
    }
    let out = ws.helper(&["status"], "");
    let cache = line(&out, "cache");
    assert!(cache.contains("own000"), "{cache}");
    assert!(!cache.contains("own299"), "{cache}");
    assert!(cache.contains("and 296 more (0 expired)"), "{cache}");
    assert!(cache.len() < 1024, "{} bytes: {cache}", cache.len());
}
