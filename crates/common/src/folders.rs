//! Folder paths of documents (`a/b/c`): one normalised form for uploads, moves, listings and
//! profile scopes, with bounds so no path, key or item grows without limit.

/// Longest folder path, in characters, once normalised.
pub const MAX_FOLDER_CHARS: usize = 400;
/// Deepest folder path (`a/b/…`, levels).
pub const MAX_FOLDER_DEPTH: usize = 16;
/// Longest single folder name.
pub const MAX_SEGMENT_CHARS: usize = 100;

/// Why a folder path was refused (the caller names the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FolderError(pub String);

/// The normalised form of a folder path: `/` separators (a `\` counts as one), no leading,
/// trailing or doubled separators, each name trimmed; `""` is the root. Refused: `.` or `..`
/// names, control characters, a name over [`MAX_SEGMENT_CHARS`], more than
/// [`MAX_FOLDER_DEPTH`] levels or [`MAX_FOLDER_CHARS`] characters.
pub fn normalize_folder(raw: &str) -> Result<String, FolderError> {
    if raw.chars().any(char::is_control) {
        return Err(FolderError("must not contain control characters".into()));
    }
    // Checked before splitting: a huge input is refused without building its parts.
    if raw.chars().count() > MAX_FOLDER_CHARS * 2 {
        return Err(FolderError(format!(
            "at most {MAX_FOLDER_CHARS} characters"
        )));
    }
    let mut parts = Vec::new();
    for part in raw.split(['/', '\\']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if part == "." || part == ".." {
            return Err(FolderError(
                "`.` and `..` are not folder names; give the path from the root".into(),
            ));
        }
        if part.chars().count() > MAX_SEGMENT_CHARS {
            return Err(FolderError(format!(
                "a folder name has at most {MAX_SEGMENT_CHARS} characters"
            )));
        }
        parts.push(part);
    }
    if parts.len() > MAX_FOLDER_DEPTH {
        return Err(FolderError(format!(
            "at most {MAX_FOLDER_DEPTH} levels of folders"
        )));
    }
    let path = parts.join("/");
    if path.chars().count() > MAX_FOLDER_CHARS {
        return Err(FolderError(format!(
            "at most {MAX_FOLDER_CHARS} characters"
        )));
    }
    Ok(path)
}

/// Whether `folder` is `root` or inside it (both normalised; the root `""` holds everything).
pub fn is_within(folder: &str, root: &str) -> bool {
    root.is_empty()
        || folder == root
        || (folder.len() > root.len()
            && folder.starts_with(root)
            && folder.as_bytes()[root.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised() {
        for (raw, want) in [
            ("", ""),
            ("/", ""),
            ("a", "a"),
            ("/a/b/", "a/b"),
            ("a//b", "a/b"),
            (" a / b ", "a/b"),
            ("a\\b\\c", "a/b/c"),
            ("notes.d/v1.2", "notes.d/v1.2"),
            ("...x", "...x"),
        ] {
            assert_eq!(normalize_folder(raw).unwrap(), want, "{raw:?}");
        }
    }

    #[test]
    fn escaping_and_oversize_paths_are_refused() {
        let long_name = "x".repeat(MAX_SEGMENT_CHARS + 1);
        let deep = vec!["d"; MAX_FOLDER_DEPTH + 1].join("/");
        let long_path = vec!["y".repeat(90); 5].join("/");
        for raw in [
            "..",
            "a/../b",
            "./a",
            "a/.",
            "..\\etc",
            "a\nb",
            "a\u{0}",
            long_name.as_str(),
            deep.as_str(),
            long_path.as_str(),
        ] {
            assert!(normalize_folder(raw).is_err(), "{raw:?}");
        }
        let just_deep = vec!["d"; MAX_FOLDER_DEPTH].join("/");
        assert_eq!(normalize_folder(&just_deep).unwrap(), just_deep);
    }

    #[test]
    fn within_means_the_folder_or_below_it() {
        assert!(is_within("a", "a"));
        assert!(is_within("a/b", "a"));
        assert!(is_within("a/b", ""));
        assert!(!is_within("ab", "a"));
        assert!(!is_within("a", "a/b"));
        assert!(!is_within("", "a"));
    }
}
