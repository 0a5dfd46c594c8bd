//! `rreg-bench`: the load generator of `bench/load.sh` (concurrent pushes and pulls against any OCI
//! registry, with Docker's token flow, Basic or no auth) and the tag seeder of `bench/browse.sh`.
//! Each subcommand prints one JSON object on stdout; the shell scripts turn them into tables.

mod client;
mod image;
mod load;
mod rng;
mod seed;
mod stats;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "rreg-bench", about = "Load generator and seeder of rreg's benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Concurrent clients pushing, pulling back and cross-pulling small random images.
    Load(load::LoadArgs),
    /// One image with a long history, its manifest PUT under many tags.
    Seed(seed::SeedArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rreg-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let out = rt.block_on(async {
        match cli.command {
            Command::Load(a) => load::run(a).await,
            Command::Seed(a) => seed::run(a).await,
        }
    });
    match out {
        Ok(v) => {
            println!("{v}");
            let errors = v["errors"].as_u64().unwrap_or(0);
            if errors > 0 {
                eprintln!("rreg-bench: {errors} errors");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rreg-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
