//! The `rreg-server` binary: everything lives in the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    rreg_server::cli::main().await
}
