//! The `rreg` binary: parses the command line, runs the command, and turns an error into one line
//! on stderr and a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `rreg __runtime …`: a container job, which must start single-threaded (see runtime).
    if let Some(code) = rreg::runtime::maybe_run_stage() {
        return ExitCode::from(u8::try_from(code).unwrap_or(255));
    }
    let cli = rreg::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rreg: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(rreg::commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<rreg::output::SilentExit>().is_some() => {
            ExitCode::from(e.downcast_ref::<rreg::output::SilentExit>().map_or(1, |s| s.0))
        }
        Err(e) => {
            let line = format!("{e:#}").replace(['\n', '\r'], " ");
            eprintln!("rreg: {line}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
