//! The command line: arguments (clap) and what each command does. `main.rs` only calls
//! [`run`] with the process's arguments and streams.

use std::ffi::OsString;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

use crate::chat::{self, ChatRequest};
use crate::client::Client;
use crate::config::{Config, ServerEntry, config_path};
use crate::export::{self, archive_plan};
use crate::import;
use crate::plan::{DEFAULT_MAX_FILE_BYTES, Plan};
use crate::ragbot::{ReadOptions, Reader};

#[derive(Debug, Parser)]
#[command(
    name = "ragenie",
    version,
    about = "RaGenie from the terminal: chat with your documents, import Ragbot data, export your account."
)]
pub struct Cli {
    /// The RaGenie server (default: the one you last logged in to, else http://127.0.0.1:8080).
    #[arg(long, env = "RAGENIE_URL", global = true)]
    pub url: Option<String>,
    /// A personal API key (default: the one `ragenie login` stored for this server).
    #[arg(long, env = "RAGENIE_API_KEY", global = true, hide_env_values = true)]
    pub api_key: Option<String>,
    /// The configuration file (default: $XDG_CONFIG_HOME/ragenie/config.json).
    #[arg(long, env = "RAGENIE_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in with email and password; creates a personal API key and stores it.
    Login {
        #[arg(long)]
        email: Option<String>,
        /// Read the password from standard input (for scripts) instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        /// Create the account first.
        #[arg(long)]
        register: bool,
    },
    /// List your profiles.
    Profiles {
        #[arg(long)]
        json: bool,
    },
    /// List the models and their prices.
    Models {
        #[arg(long)]
        json: bool,
    },
    /// Ask a question; the answer streams as it is written. The prompt comes from the
    /// argument, --file, or standard input (an interactive session on a terminal).
    Chat {
        prompt: Option<String>,
        /// Read the prompt from a file.
        #[arg(short, long)]
        file: Option<PathBuf>,
        /// Profile name or id (a new conversation uses it).
        #[arg(short, long)]
        profile: Option<String>,
        #[arg(short, long)]
        model: Option<String>,
        /// Continue this conversation (by id).
        #[arg(short, long)]
        conversation: Option<String>,
    },
    /// Import a Ragbot data folder (workspaces/, profiles.yaml, custom-instructions/,
    /// curated-datasets/, sessions/, engines.yaml) or a RaGenie JSON archive. Safe to repeat.
    Import {
        /// A Ragbot data folder, or an archive written by `ragenie export`.
        source: Option<PathBuf>,
        /// Saved Ragbot sessions: a folder of *.json files, or one file (repeatable).
        #[arg(long)]
        sessions: Vec<PathBuf>,
        /// Ragbot's engines.yaml (its default model becomes your default).
        #[arg(long)]
        engines: Option<PathBuf>,
        /// Print the plan; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Skip files larger than this many bytes (RaGenie's direct-upload limit by default).
        #[arg(long, default_value_t = DEFAULT_MAX_FILE_BYTES)]
        max_file_bytes: u64,
        /// Also read documents outside the data folder (absolute paths, `~/…`, `..`, links
        /// leading out); without it they are skipped and listed.
        #[arg(long)]
        allow_outside: bool,
    },
    /// Export your profiles, documents and conversations: to a Ragbot workspace folder, or to
    /// one JSON archive (a target ending in .json, or --format json).
    Export {
        target: PathBuf,
        #[arg(long, value_enum)]
        format: Option<ExportFormat>,
    },
    /// Rename or move a folder of your documents with its subfolders (`a/b` → `c`: `a/b/x`
    /// becomes `c/x`); profiles using those folders follow. Repeats the server's bounded
    /// batches until the move is done.
    MoveFolder {
        /// The folder to move (`a/b`).
        from: String,
        /// Its new path (`c`, `c/d`).
        to: String,
    },
    /// Operator commands (an admin's API key): accounts, sign-up policy, invites, models; and
    /// the store's integrity check (`admin fsck`, with the server's store settings).
    Admin {
        #[command(subcommand)]
        command: crate::admin::AdminCommand,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Workspace,
    Json,
}

/// Standard streams, so tests can run commands with buffers.
pub struct Io<'a> {
    pub stdin: &'a mut dyn BufRead,
    pub stdin_is_terminal: bool,
    pub out: &'a mut dyn Write,
    pub err: &'a mut dyn Write,
}

struct Context_ {
    config_path: Option<PathBuf>,
    config: Config,
    url: String,
    key: Option<String>,
}

fn context(cli: &Cli) -> anyhow::Result<Context_> {
    let config_path = cli.config.clone().or_else(config_path);
    let config = match &config_path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let url = config.resolve_url(cli.url.as_deref());
    let key = config.resolve_key(&url, cli.api_key.as_deref());
    Ok(Context_ {
        config_path,
        config,
        url,
        key,
    })
}

/// Parses `args` and runs the command.
pub async fn run(args: impl IntoIterator<Item = OsString>, io: Io<'_>) -> anyhow::Result<()> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                write!(io.out, "{e}")?;
                return Ok(());
            }
            bail!("{e}");
        }
    };
    execute(cli, io).await
}

pub async fn execute(cli: Cli, io: Io<'_>) -> anyhow::Result<()> {
    // The integrity check reads the store itself: no server URL or API key.
    if let Command::Admin {
        command: crate::admin::AdminCommand::Fsck(args),
    } = &cli.command
    {
        return crate::admin_fsck::run(args.clone(), io.out).await;
    }
    let mut ctx = context(&cli)?;
    match cli.command {
        Command::Admin { command } => {
            let client = Client::new(&ctx.url, ctx.key.clone())?;
            crate::admin::run(&client, command, io.out).await
        }
        Command::Login {
            email,
            password_stdin,
            register,
        } => login(&mut ctx, email, password_stdin, register, io).await,
        Command::Profiles { json } => {
            let client = Client::new(&ctx.url, ctx.key.clone())?;
            let profiles = client.profiles().await?;
            if json {
                writeln!(io.out, "{}", serde_json::to_string_pretty(&profiles)?)?;
                return Ok(());
            }
            if profiles.is_empty() {
                writeln!(
                    io.out,
                    "No profiles yet (`ragenie import` brings Ragbot's)."
                )?;
            }
            let names: std::collections::HashMap<&str, &str> = profiles
                .iter()
                .map(|p| (p.id.as_str(), p.name.as_str()))
                .collect();
            for p in &profiles {
                let parents: Vec<&str> = p
                    .parent_ids
                    .iter()
                    .filter_map(|id| names.get(id.as_str()).copied())
                    .collect();
                writeln!(
                    io.out,
                    "{}  {}  ({} instructions, {} datasets{}{})",
                    p.id,
                    p.name,
                    p.instruction_ids.len(),
                    p.dataset_ids.len(),
                    if parents.is_empty() {
                        String::new()
                    } else {
                        format!(", inherits {}", parents.join(", "))
                    },
                    p.default_model
                        .as_deref()
                        .map(|m| format!(", model {m}"))
                        .unwrap_or_default()
                )?;
            }
            Ok(())
        }
        Command::MoveFolder { from, to } => {
            let client = Client::new(&ctx.url, ctx.key.clone())?;
            move_folder(&client, &from, &to, io.out).await
        }
        Command::Models { json } => {
            let client = Client::new(&ctx.url, ctx.key.clone())?;
            let models = client.models().await?;
            if json {
                let items: Vec<serde_json::Value> = models
                    .items
                    .iter()
                    .map(|m| {
                        serde_json::json!({"id": m.id, "provider": m.provider, "available": m.available,
                            "input_price": m.input_price, "output_price": m.output_price})
                    })
                    .collect();
                writeln!(io.out, "{}", serde_json::to_string_pretty(&items)?)?;
                return Ok(());
            }
            for m in &models.items {
                let price = match (m.input_price, m.output_price) {
                    (Some(i), Some(o)) => format!("${i}/${o} per M tokens in/out"),
                    _ => "no price".into(),
                };
                let marker = if m.id == models.default_model {
                    "*"
                } else {
                    " "
                };
                writeln!(
                    io.out,
                    "{marker} {:<40} {:<10} {:>9} ctx  {}{}",
                    m.id,
                    m.provider,
                    m.context_window,
                    price,
                    if m.available {
                        String::new()
                    } else {
                        format!(
                            "  (unavailable: {})",
                            m.unavailable_reason.as_deref().unwrap_or("no key")
                        )
                    }
                )?;
            }
            if models.offline {
                writeln!(
                    io.out,
                    "Offline: no provider key is set on the server; answers come from your documents alone."
                )?;
            }
            Ok(())
        }
        Command::Chat {
            prompt,
            file,
            profile,
            model,
            conversation,
        } => {
            let client = Client::new(&ctx.url, ctx.key.clone())?;
            let mut request = ChatRequest {
                prompt: String::new(),
                profile,
                model,
                conversation,
            };
            let interactive = prompt.is_none() && file.is_none() && io.stdin_is_terminal;
            if interactive {
                return interactive_chat(&client, request, io).await;
            }
            request.prompt = match (prompt, file) {
                (Some(p), _) => p,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?,
                (None, None) => {
                    let mut text = String::new();
                    io.stdin.read_to_string(&mut text)?;
                    text
                }
            };
            if request.prompt.trim().is_empty() {
                bail!("nothing to send: give a prompt, --file, or text on standard input");
            }
            let outcome = chat::ask(&client, &request, io.out).await?;
            if let Some(e) = &outcome.error {
                writeln!(io.err, "error: {e}")?;
            }
            writeln!(io.err, "{}", outcome.summary())?;
            if outcome.error.is_some() {
                bail!("the answer failed (the partial answer is saved)");
            }
            Ok(())
        }
        Command::Import {
            source,
            sessions,
            engines,
            dry_run,
            json,
            max_file_bytes,
            allow_outside,
        } => {
            let plan = build_plan(
                source.as_deref(),
                &sessions,
                engines.as_deref(),
                ReadOptions {
                    max_file_bytes,
                    allow_outside,
                },
            )?;
            let client = Client::new(&ctx.url, ctx.key.clone())?;
            let err = &mut *io.err;
            let report = {
                let mut progress = |line: &str| {
                    let _ = writeln!(err, "… {line}");
                };
                import::execute_with_progress(&client, &plan, dry_run, &mut progress).await?
            };
            if json {
                writeln!(io.out, "{}", serde_json::to_string_pretty(&report)?)?;
            } else {
                write!(io.out, "{}", report.render())?;
            }
            Ok(())
        }
        Command::Export { target, format } => {
            let client = Client::new(&ctx.url, ctx.key.clone())?;
            let format = format.unwrap_or(
                if target
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("json"))
                {
                    ExportFormat::Json
                } else {
                    ExportFormat::Workspace
                },
            );
            let archive = export::snapshot(&client).await?;
            let summary = match format {
                ExportFormat::Json => archive.write_json(&target)?,
                ExportFormat::Workspace => {
                    if target.is_file() {
                        bail!(
                            "{} is a file; a workspace export needs a folder",
                            target.display()
                        );
                    }
                    if target.is_dir() && std::fs::read_dir(&target)?.next().is_some() {
                        bail!(
                            "{} is not empty; export into a new or empty folder",
                            target.display()
                        );
                    }
                    archive.write_workspace(&target)?
                }
            };
            write!(io.out, "{}", summary.render(&target))?;
            Ok(())
        }
    }
}

/// Builds the import plan from the command's paths (no server involved).
pub fn build_plan(
    source: Option<&Path>,
    sessions: &[PathBuf],
    engines: Option<&Path>,
    options: ReadOptions,
) -> anyhow::Result<Plan> {
    if source.is_none() && sessions.is_empty() && engines.is_none() {
        bail!(
            "nothing to import: give a Ragbot data folder or an archive, --sessions or --engines"
        );
    }
    if let Some(src) = source
        && src.is_file()
    {
        return single_file_plan(src, sessions, engines, options);
    }
    let root = match source {
        Some(dir) => {
            if !dir.is_dir() {
                bail!("{} does not exist", dir.display());
            }
            dir.to_path_buf()
        }
        None => std::env::current_dir()?,
    };
    let mut reader = Reader::new(&root, options);
    if source.is_some() {
        reader.read_data_root();
    }
    for s in sessions {
        reader.read_sessions(s);
    }
    if let Some(e) = engines {
        reader.read_engines(e);
    }
    Ok(reader.finish())
}

/// A file given where a data folder may stand: an archive, one session, `engines.yaml` or
/// `profiles.yaml`.
fn single_file_plan(
    src: &Path,
    sessions: &[PathBuf],
    engines: Option<&Path>,
    options: ReadOptions,
) -> anyhow::Result<Plan> {
    let file_name = src
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let root = src
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or(std::env::current_dir()?);
    let max_file_bytes = options.max_file_bytes;
    let mut reader = Reader::new(&root, options);
    if file_name.ends_with(".yaml") || file_name.ends_with(".yml") {
        if file_name.starts_with("engines") {
            reader.read_engines(src);
        } else {
            reader.read_profiles_yaml(src);
        }
    } else {
        let first = std::fs::read(src)
            .with_context(|| format!("reading {}", src.display()))?
            .into_iter()
            .find(|b| !b.is_ascii_whitespace());
        if first != Some(b'[') {
            if !sessions.is_empty() || engines.is_some() {
                bail!("an archive is imported on its own");
            }
            return Ok(archive_plan(src, max_file_bytes));
        }
        reader.read_sessions(src);
    }
    for s in sessions {
        reader.read_sessions(s);
    }
    if let Some(e) = engines {
        reader.read_engines(e);
    }
    Ok(reader.finish())
}

async fn login(
    ctx: &mut Context_,
    email: Option<String>,
    password_stdin: bool,
    register: bool,
    io: Io<'_>,
) -> anyhow::Result<()> {
    let email = match email {
        Some(e) => e,
        None => {
            write!(io.err, "Email: ")?;
            io.err.flush()?;
            let mut line = String::new();
            io.stdin.read_line(&mut line)?;
            line.trim().to_owned()
        }
    };
    let password = if password_stdin || !io.stdin_is_terminal {
        let mut line = String::new();
        io.stdin.read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        rpassword::prompt_password("Password: ")?
    };
    if email.is_empty() || password.is_empty() {
        bail!("email and password are required");
    }
    let anonymous = Client::new(&ctx.url, None)?;
    let tokens = if register {
        anonymous.register(&email, &password).await?
    } else {
        anonymous.login(&email, &password).await?
    };
    let session = anonymous.with_bearer(tokens.access_token);
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "this computer".into());
    let key = session
        .create_api_key(&format!("ragenie CLI on {host}"))
        .await
        .context("creating a personal API key")?;
    ctx.config.remember(
        &ctx.url,
        ServerEntry {
            api_key: key.key,
            api_key_id: Some(key.id),
            email: Some(email.clone()),
        },
    );
    let path = ctx
        .config_path
        .clone()
        .context("no place for the configuration: set XDG_CONFIG_HOME or HOME, or pass --config")?;
    ctx.config.save(&path)?;
    writeln!(
        io.out,
        "Signed in to {} as {email}; API key stored in {}",
        ctx.url,
        path.display()
    )?;
    Ok(())
}

async fn interactive_chat(
    client: &Client,
    mut request: ChatRequest,
    io: Io<'_>,
) -> anyhow::Result<()> {
    writeln!(
        io.err,
        "Chatting with RaGenie at {} (empty line or Ctrl-D ends).",
        client.base()
    )?;
    let mut conversation: Option<String> = request.conversation.clone();
    loop {
        write!(io.err, "> ")?;
        io.err.flush()?;
        let mut line = String::new();
        if io.stdin.read_line(&mut line)? == 0 || line.trim().is_empty() {
            return Ok(());
        }
        request.prompt = line.trim_end().to_owned();
        request.conversation = conversation.clone();
        match chat::ask(client, &request, io.out).await {
            Ok(outcome) => {
                conversation = Some(outcome.conversation_id.clone());
                if let Some(e) = &outcome.error {
                    writeln!(io.err, "error: {e}")?;
                }
                writeln!(io.err, "{}", outcome.summary())?;
            }
            Err(e) => writeln!(io.err, "error: {e:#}")?,
        }
    }
}

/// `ragenie move-folder`: the server moves a bounded batch per call and says what remains, so
/// the same call is repeated until it answers `done` (each call takes at least one document out
/// of the folder; one that does not stops the loop).
async fn move_folder(
    client: &Client,
    from: &str,
    to: &str,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let body = serde_json::json!({"from": from, "to": to});
    let (mut moved, mut left, mut profiles) = (0, u64::MAX, 0);
    loop {
        let step = client
            .call(
                reqwest::Method::POST,
                "/documents/folders/rename",
                Some(&body),
            )
            .await?;
        let count = |k: &str| step[k].as_u64().unwrap_or(0);
        moved += count("moved");
        profiles += count("profiles_updated");
        let remaining = count("remaining");
        let (from, to) = (
            step["from"].as_str().unwrap_or(from),
            step["to"].as_str().unwrap_or(to),
        );
        if step["done"].as_bool() == Some(true) {
            writeln!(
                out,
                "Moved {from} to {to}: {moved} document{}, {profiles} profile update{}.",
                if moved == 1 { "" } else { "s" },
                if profiles == 1 { "" } else { "s" }
            )?;
            return Ok(());
        }
        if remaining >= left {
            bail!("moving {from} made no progress ({remaining} documents left); try again");
        }
        left = remaining;
        writeln!(out, "{moved} moved, {remaining} to go…")?;
    }
}
