//! Extraction in a child process with limits, so a hostile upload cannot take the server down.
//!
//! The shipped binaries abort on panic, and some failures are not panics at all (a stack
//! overflow on deeply nested objects, an allocation a decompression bomb asks for): only a
//! separate process contains those. A binary that extracts calls [`init`] first thing in
//! `main`; from then on [`crate::extract`] re-runs this same executable as a child (the
//! `RAGENIE_EXTRACT_CHILD` role), hands it the bytes on stdin and reads the outcome from stdout.
//! The child runs with an address-space limit, a CPU-time limit and a wall-clock deadline; if
//! it dies or overruns, the document fails with a reason and the parent carries on.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{ExtractError, Extracted, MAX_TEXT_BYTES, normalize_media_type};

/// The environment variable that puts a binary in the extraction-child role.
pub const CHILD_ENV: &str = "RAGENIE_EXTRACT_CHILD";

/// What a child may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Address space (`RLIMIT_AS`): past it allocations fail and the child aborts.
    pub memory_bytes: u64,
    /// CPU seconds (`RLIMIT_CPU`): past it the kernel ends the child.
    pub cpu_secs: u64,
    /// Wall-clock deadline, after which the parent kills the child (a child blocked or sleeping
    /// uses no CPU).
    pub wall: Duration,
}

impl Default for Limits {
    /// Fits the documents Lambda (1 GB of memory, a 29 s timeout) with room for the parent.
    fn default() -> Self {
        Self {
            memory_bytes: 512 * 1024 * 1024,
            cpu_secs: 20,
            wall: Duration::from_secs(25),
        }
    }
}

struct Sandbox {
    exe: PathBuf,
    limits: Limits,
}

static SANDBOX: OnceLock<Sandbox> = OnceLock::new();

/// Call first thing in `main` of every binary that extracts. In the child role this does the
/// job and exits; otherwise it makes this process extract in children of itself.
pub fn init() {
    init_with(Limits::default());
}

/// [`init`] with other limits (tests).
pub fn init_with(limits: Limits) {
    if std::env::var_os(CHILD_ENV).is_some() {
        std::process::exit(child_main());
    }
    match std::env::current_exe() {
        Ok(exe) => {
            let _ = SANDBOX.set(Sandbox { exe, limits });
        }
        // Without our own path we cannot re-run ourselves; extraction stays in-process.
        Err(e) => eprintln!("extraction sandbox unavailable (no executable path): {e}"),
    }
}

/// Whether [`crate::extract`] runs in a child process in this process.
pub fn enabled() -> bool {
    SANDBOX.get().is_some()
}

/// What the child writes back.
#[derive(Serialize, Deserialize)]
enum Outcome {
    Ok {
        media_type: String,
        text: String,
        title: Option<String>,
    },
    Err(WireError),
}

#[derive(Serialize, Deserialize)]
enum WireError {
    Unsupported,
    Corrupt(String),
    Encrypted,
    Empty,
    TooLarge(String),
}

/// The child: `<media type>\n<bytes>` on stdin, one [`Outcome`] as JSON on stdout.
fn child_main() -> i32 {
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return 2;
    }
    let Some(split) = input.iter().position(|&b| b == b'\n') else {
        return 2;
    };
    let media_type = String::from_utf8_lossy(&input[..split]).into_owned();
    let outcome = match crate::extract_here(&media_type, &input[split + 1..]) {
        Ok(e) => Outcome::Ok {
            media_type: e.media_type.to_owned(),
            text: e.text,
            title: e.title,
        },
        Err(e) => Outcome::Err(match e {
            ExtractError::Unsupported { .. } => WireError::Unsupported,
            ExtractError::Corrupt(m) => WireError::Corrupt(m),
            ExtractError::Encrypted => WireError::Encrypted,
            ExtractError::Empty => WireError::Empty,
            ExtractError::TooLarge(m) => WireError::TooLarge(m),
        }),
    };
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer(&mut out, &outcome).is_ok() && out.flush().is_ok();
    if written { 0 } else { 2 }
}

fn failed(why: &str) -> ExtractError {
    ExtractError::Corrupt(format!("the file could not be read safely ({why})"))
}

/// Extracts in a child when [`init`] ran; `None` otherwise.
pub(crate) fn run(media_type: &str, bytes: &[u8]) -> Option<Result<Extracted, ExtractError>> {
    let sandbox = SANDBOX.get()?;
    Some(run_child(sandbox, media_type, bytes))
}

fn run_child(sandbox: &Sandbox, media_type: &str, bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let limits = sandbox.limits;
    let mut command = Command::new(&sandbox.exe);
    command
        .env(CHILD_ENV, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    // SAFETY: between fork and exec the closure only calls setrlimit, which is
    // async-signal-safe, and allocates nothing.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(move || {
            let limit = |resource, value: u64| {
                let rlim = libc::rlimit {
                    rlim_cur: value as libc::rlim_t,
                    rlim_max: value as libc::rlim_t,
                };
                if libc::setrlimit(resource, &rlim) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            };
            limit(libc::RLIMIT_AS, limits.memory_bytes)?;
            limit(libc::RLIMIT_CPU, limits.cpu_secs)?;
            limit(libc::RLIMIT_CORE, 0)?;
            Ok(())
        });
    }
    let mut child = command.spawn().map_err(|e| {
        tracing_free_log(&format!("could not start the extraction child: {e}"));
        failed("the extractor could not start")
    })?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let job: Vec<u8> = [media_type.as_bytes(), b"\n", bytes].concat();
    // Feed and read on threads: a child that stops reading (or never stops writing) must not
    // block the parent past the deadline.
    std::thread::spawn(move || {
        let _ = stdin.write_all(&job);
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // The text cap, plus room for JSON escaping and the title.
        let cap = (MAX_TEXT_BYTES as u64) * 6 + 64 * 1024;
        let mut out = Vec::new();
        let read = (&mut stdout).take(cap).read_to_end(&mut out);
        let _ = tx.send(read.map(|_| out));
    });
    let output = match rx.recv_timeout(limits.wall) {
        Ok(Ok(out)) => out,
        Ok(Err(_)) => Vec::new(),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed(&format!(
                "reading it took longer than {} s",
                limits.wall.as_secs()
            )));
        }
    };
    let status = child.wait().map_err(|_| failed("the extractor vanished"))?;
    if !status.success() {
        use std::os::unix::process::ExitStatusExt;
        let why = match status.signal() {
            Some(libc::SIGXCPU) | Some(libc::SIGKILL) => {
                "it needed more computing time than a document may use".to_owned()
            }
            Some(libc::SIGABRT) | Some(libc::SIGSEGV) | Some(libc::SIGBUS) => {
                "the reader crashed on it, or it needed more memory than a document may use"
                    .to_owned()
            }
            Some(signal) => format!("the reader stopped with signal {signal}"),
            None => format!(
                "the reader stopped with status {}",
                status.code().unwrap_or(-1)
            ),
        };
        return Err(failed(&why));
    }
    match serde_json::from_slice::<Outcome>(&output) {
        Ok(Outcome::Ok {
            media_type,
            text,
            title,
        }) => Ok(Extracted {
            media_type: normalize_media_type(&media_type)
                .ok_or_else(|| failed("the extractor answered nonsense"))?,
            text,
            title,
        }),
        Ok(Outcome::Err(e)) => Err(match e {
            WireError::Unsupported => ExtractError::Unsupported {
                accepted: crate::ACCEPTED_MEDIA_TYPES.to_vec(),
            },
            WireError::Corrupt(m) => ExtractError::Corrupt(m),
            WireError::Encrypted => ExtractError::Encrypted,
            WireError::Empty => ExtractError::Empty,
            WireError::TooLarge(m) => ExtractError::TooLarge(m),
        }),
        Err(_) => Err(failed("the extractor answered nonsense")),
    }
}

/// This crate has no logger of its own; a start failure is worth a line on stderr.
fn tracing_free_log(message: &str) {
    eprintln!("ragenie-extract: {message}");
}
