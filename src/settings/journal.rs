//! `--journal PATH|off` and `MOLECULE_TOKEN_JOURNAL`: where token decisions
//! are journaled. Default: `journal.jsonl` in the cache directory; with the
//! cache off (and no path named), no journal.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{Source, UsageError, invalid};
use crate::journal::FILE_NAME;

/// The value that turns the journal off.
pub const OFF: &str = "off";

const VARIABLE: &str = "MOLECULE_TOKEN_JOURNAL";

/// The journal's path (`None`: off) from the flag, else the variable (an
/// empty one counts as unset), else the default in `cache_dir`. A
/// relative path is a usage error: git runs the helper in any directory.
pub fn resolve(
    flag: Option<&Path>,
    env: &dyn Fn(&str) -> Option<OsString>,
    cache_dir: Option<&Path>,
) -> Result<Option<PathBuf>, UsageError> {
    let given = match flag {
        Some(path) => Some((path.to_path_buf(), Source::Flag("journal"))),
        None => env(VARIABLE)
            .filter(|v| !v.is_empty())
            .map(|v| (PathBuf::from(v), Source::Env(VARIABLE))),
    };
    match given {
        None => Ok(cache_dir.map(|dir| dir.join(FILE_NAME))),
        Some((path, _)) if path.as_os_str().eq_ignore_ascii_case(OFF) => Ok(None),
        Some((path, _)) if path.is_absolute() => Ok(Some(path)),
        Some((path, source)) => Err(invalid(
            source,
            &path.to_string_lossy(),
            "expected an absolute path, or off (a relative one would put the journal in \
             whatever directory git runs in)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_flag_variable_off_and_relative() {
        let cache = Path::new("/c");
        let none = |_: &str| None;
        let var = |value: &'static str| move |name: &str| (name == VARIABLE).then(|| value.into());
        assert_eq!(
            resolve(None, &none, Some(cache)),
            Ok(Some(PathBuf::from("/c/journal.jsonl")))
        );
        assert_eq!(resolve(None, &none, None), Ok(None));
        assert_eq!(
            resolve(None, &var(""), Some(cache)).unwrap().unwrap(),
            Path::new("/c/journal.jsonl")
        );
        assert_eq!(resolve(None, &var("OFF"), Some(cache)), Ok(None));
        assert_eq!(
            resolve(None, &var("/j/x.jsonl"), None),
            Ok(Some(PathBuf::from("/j/x.jsonl")))
        );
        assert_eq!(
            resolve(Some(Path::new("off")), &var("/j"), Some(cache)),
            Ok(None)
        );
        assert_eq!(
            resolve(Some(Path::new("/f")), &var("off"), Some(cache)),
            Ok(Some(PathBuf::from("/f")))
        );
        let e = resolve(None, &var("rel.jsonl"), Some(cache)).unwrap_err();
        assert!(e.0.contains(VARIABLE) && e.0.contains("absolute"), "{e}");
        let e = resolve(Some(Path::new("rel")), &none, Some(cache)).unwrap_err();
        assert!(e.0.contains("--journal"), "{e}");
    }
}
