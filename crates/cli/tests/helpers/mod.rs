//! The real local server (every function's router on an embedded store in a temp dir) on
//! 127.0.0.1:0, and real accounts registered through `/auth/register`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ragenie_cli::client::Client;
use ragenie_common::config::Settings;
use ragenie_common::testing::TestServer;

pub struct Server {
    pub base: String,
    _dir: tempfile::TempDir,
    _server: TestServer,
}

pub async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let listener = TestServer::bind().await;
    let base = listener.base.clone();
    let state = ragenie_local::connect(Settings::embedded(dir.path().join("data"), &base))
        .await
        .unwrap();
    let server = listener.serve(ragenie_local::app(state, None));
    Server {
        base,
        _dir: dir,
        _server: server,
    }
}

pub const PASSWORD: &str = "Correct horse battery staple 42";

/// A fresh account; the client carries a personal API key created for it.
pub async fn account(server: &Server) -> (Client, String) {
    let email = format!("user-{}@example.test", unique());
    let anonymous = Client::new(&server.base, None).unwrap();
    let tokens = anonymous.register(&email, PASSWORD).await.unwrap();
    let key = anonymous
        .with_bearer(tokens.access_token)
        .create_api_key("tests")
        .await
        .unwrap();
    (Client::new(&server.base, Some(key.key)).unwrap(), email)
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// When each fixture session was "saved" (its file time): fixed, since a checkout's times are
/// whenever it was checked out.
pub const SESSION_EPOCH: u64 = 1_714_600_000; // 2024-05-01T21:46:40Z

/// A copy of a fixture tree in a temp dir, with session file times set one hour apart and
/// (for the workspace fixture) a dangling link standing for an unreadable file.
pub fn fixture_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(name);
    copy_tree(&fixture(name), &root);
    let sessions = root.join("sessions");
    if sessions.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&sessions)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for (i, f) in files.iter().enumerate() {
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(SESSION_EPOCH + 3600 * i as u64);
            std::fs::File::options()
                .write(true)
                .open(f)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
    }
    let personal = root.join("workspaces/personal/datasets");
    if personal.is_dir() {
        #[cfg(unix)]
        std::os::unix::fs::symlink(
            root.join("nowhere/lost.md"),
            personal.join("lost-on-another-disk.md"),
        )
        .unwrap();
    }
    (dir, root)
}

/// Runs the `ragenie` command line against `client`'s server and key; (result, stdout, stderr).
pub async fn ragenie(
    client: &Client,
    key: Option<&str>,
    args: &[&str],
) -> (anyhow::Result<()>, String, String) {
    ragenie_with_stdin(client, key, args, b"").await
}

/// [`ragenie`] with `input` on standard input (not a terminal).
pub async fn ragenie_with_stdin(
    client: &Client,
    key: Option<&str>,
    args: &[&str],
    input: &[u8],
) -> (anyhow::Result<()>, String, String) {
    let mut argv: Vec<OsString> = vec!["ragenie".into(), "--url".into(), client.base().into()];
    if let Some(k) = key {
        argv.push("--api-key".into());
        argv.push(k.into());
    }
    let config = std::env::temp_dir().join(format!("ragenie-cli-test-{}.json", unique()));
    argv.push("--config".into());
    argv.push(config.into());
    argv.extend(args.iter().map(OsString::from));
    run_cli(argv, input).await
}

/// Runs the command line `argv` (from the program name on) with `input` on standard input
/// (not a terminal); (result, stdout, stderr).
pub async fn run_cli(argv: Vec<OsString>, input: &[u8]) -> (anyhow::Result<()>, String, String) {
    let mut stdin: &[u8] = input;
    let mut out = Vec::new();
    let mut err = Vec::new();
    let io = ragenie_cli::cli::Io {
        stdin: &mut stdin,
        stdin_is_terminal: false,
        out: &mut out,
        err: &mut err,
    };
    let result = ragenie_cli::cli::run(argv, io).await;
    (
        result,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// An account's content in a form two accounts can be compared by: documents by content,
/// profiles by name with their links as contents, conversations by title.
#[derive(Debug, PartialEq)]
pub struct View {
    pub documents: BTreeMap<String, (String, String)>,
    pub profiles: BTreeMap<String, ProfileView>,
    pub conversations: BTreeMap<String, ConversationView>,
    pub default_model: Option<String>,
    pub default_profile: Option<String>,
}

#[derive(Debug, PartialEq)]
pub struct ProfileView {
    pub description: String,
    /// Content hashes, in order.
    pub instructions: Vec<String>,
    /// Content hashes, in order.
    pub datasets: Vec<String>,
    pub parents: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub struct ConversationView {
    /// Seconds since the epoch (Ragbot's file times have no finer grain).
    pub created_at: i64,
    pub profile: Option<String>,
    pub turns: Vec<(String, String)>,
}

impl View {
    /// Datasets as sets: retrieval does not depend on their order, and a Ragbot folder lists
    /// them in file-name order.
    pub fn datasets_unordered(mut self) -> Self {
        for p in self.profiles.values_mut() {
            p.datasets.sort();
        }
        self
    }
}

pub async fn view(client: &Client) -> View {
    let docs = client.documents().await.unwrap();
    let hash_of: BTreeMap<String, String> = docs
        .iter()
        .map(|d| (d.id.clone(), d.content_hash.clone()))
        .collect();
    let profiles = client.profiles().await.unwrap();
    let name_of: BTreeMap<String, String> = profiles
        .iter()
        .map(|p| (p.id.clone(), p.name.clone()))
        .collect();
    let mut conversations = BTreeMap::new();
    for c in client.conversations().await.unwrap() {
        let detail = client.conversation(&c.id).await.unwrap();
        let created = time::OffsetDateTime::parse(
            &c.created_at,
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp();
        let turns = detail
            .current_branch()
            .iter()
            .map(|m| (m.role.clone(), m.content.clone()))
            .collect();
        conversations.insert(
            c.title.clone(),
            ConversationView {
                created_at: created,
                profile: c.profile_id.as_ref().and_then(|p| name_of.get(p).cloned()),
                turns,
            },
        );
    }
    let prefs = client.preferences().await.unwrap();
    View {
        documents: docs
            .iter()
            .map(|d| {
                let path = if d.folder.is_empty() {
                    d.name.clone()
                } else {
                    format!("{}/{}", d.folder, d.name)
                };
                (d.content_hash.clone(), (path, d.kind.clone()))
            })
            .collect(),
        profiles: profiles
            .iter()
            .map(|p| {
                (
                    p.name.clone(),
                    ProfileView {
                        description: p.description.clone(),
                        instructions: p
                            .instruction_ids
                            .iter()
                            .map(|i| hash_of[i].clone())
                            .collect(),
                        datasets: p.dataset_ids.iter().map(|i| hash_of[i].clone()).collect(),
                        parents: p.parent_ids.iter().map(|i| name_of[i].clone()).collect(),
                    },
                )
            })
            .collect(),
        conversations,
        default_model: prefs.default_model,
        default_profile: prefs.default_profile.and_then(|p| name_of.get(&p).cloned()),
    }
}
