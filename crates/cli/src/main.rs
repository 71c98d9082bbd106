//! The `ragenie` binary: the process's arguments and standard streams handed to the library.

use std::io::IsTerminal;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let stdin = std::io::stdin();
    let stdin_is_terminal = stdin.is_terminal();
    let io = ragenie_cli::cli::Io {
        stdin: &mut stdin.lock(),
        stdin_is_terminal,
        out: &mut std::io::stdout(),
        err: &mut std::io::stderr(),
    };
    match ragenie_cli::cli::run(std::env::args_os(), io).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
