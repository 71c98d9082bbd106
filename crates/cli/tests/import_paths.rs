//! `ragenie import` stays in its data folder (its own test binary: it points HOME elsewhere).

use ragenie_cli::cli::build_plan;
use ragenie_cli::plan::DEFAULT_MAX_FILE_BYTES;
use ragenie_cli::ragbot::{OUTSIDE_REASON, ReadOptions};

fn opts(max_file_bytes: u64) -> ReadOptions {
    ReadOptions {
        max_file_bytes,
        allow_outside: false,
    }
}

/// A `profiles.yaml` someone else wrote must not reach past its folder: absolute paths, `~/`,
/// `..` and links leading out are skipped and listed, unless `--allow-outside` is given.
#[test]
fn import_refuses_paths_outside_the_data_folder_unless_allowed() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.md"), "# Secret\nthe private key\n").unwrap();
    std::fs::write(outside.join("up.md"), "# Up\nabove the folder\n").unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    std::fs::write(home.join(".ssh/id_rsa.md"), "# Key\nBEGIN PRIVATE KEY\n").unwrap();
    let root = tmp.path().join("data");
    std::fs::create_dir_all(root.join("curated-datasets")).unwrap();
    std::fs::write(root.join("curated-datasets/inside.md"), "# Inside\nfine\n").unwrap();
    std::os::unix::fs::symlink(
        outside.join("secret.md"),
        root.join("curated-datasets/link.md"),
    )
    .unwrap();
    let absolute = outside.join("secret.md");
    std::fs::write(
        root.join("profiles.yaml"),
        format!(
            "profiles:\n  - name: Work\n    datasets:\n      - curated-datasets/inside.md\n      - {}\n      - ~/.ssh/id_rsa.md\n      - ../outside/up.md\n      - curated-datasets/link.md\n",
            absolute.display()
        ),
    )
    .unwrap();
    // `~` expands to $HOME; point it at the fake home for this process only.
    // SAFETY: this test binary holds this one test, so no other thread reads HOME.
    unsafe { std::env::set_var("HOME", &home) };

    let plan = build_plan(Some(&root), &[], None, opts(DEFAULT_MAX_FILE_BYTES)).unwrap();
    let places: Vec<(&str, &str)> = plan
        .documents
        .iter()
        .map(|d| (d.folder.as_str(), d.name.as_str()))
        .collect();
    assert_eq!(
        places,
        [("curated-datasets", "inside.md")],
        "{:#?}",
        plan.skipped
    );
    let refused: Vec<&str> = plan
        .skipped
        .iter()
        .filter(|s| s.reason == OUTSIDE_REASON)
        .map(|s| s.path.as_str())
        .collect();
    for end in ["outside/secret.md", ".ssh/id_rsa.md", "outside/up.md"] {
        assert!(
            refused.iter().any(|p| p.ends_with(end)),
            "{end} is listed as outside: {refused:?}"
        );
    }

    let allowed = build_plan(
        Some(&root),
        &[],
        None,
        ReadOptions {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            allow_outside: true,
        },
    )
    .unwrap();
    assert_eq!(
        allowed.documents.len(),
        4,
        "inside, secret (also behind the link, read once), id_rsa and up: {:#?}",
        allowed.skipped
    );
}
