//! Where tests and benchmarks find the weights: `RAGENIE_TEST_MODEL_DIR`, else the folder
//! `scripts/lib/common.sh`'s `ensure_minilm` fills (`.tools/models/all-MiniLM-L6-v2`).

use std::path::PathBuf;

/// The all-MiniLM-L6-v2 folder, or `None` when it is not installed. Under the test command
/// (`RAGENIE_REQUIRE_MODEL=1`) a missing folder panics: the tests that need it must not be
/// skipped there.
pub fn minilm_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("RAGENIE_TEST_MODEL_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/models/all-MiniLM-L6-v2")
        }
    };
    if dir.join("model.safetensors").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("RAGENIE_REQUIRE_MODEL").is_none(),
        "RAGENIE_REQUIRE_MODEL is set but no model is in {} (scripts/lib/common.sh: ensure_minilm)",
        dir.display()
    );
    eprintln!(
        "SKIPPED: no embedding model in {} (run `source scripts/lib/common.sh && ensure_minilm`)",
        dir.display()
    );
    None
}
