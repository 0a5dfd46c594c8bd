//! The command line: `rreg-server [serve] [--config FILE] [--listen ADDR] [--data-dir DIR]` and
//! `rreg-server migrate`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{Overrides, Settings};
use crate::startup::Application;

/// A self-hosted private Docker Hub.
#[derive(Debug, Parser)]
#[command(name = "rreg-server", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the registry (the default).
    Serve(Common),
    /// Create or upgrade the database schema, then exit.
    Migrate(Common),
    /// Manage accounts from the server's own machine.
    Admin(AdminArgs),
    /// Collect garbage once (safe while servers run) and report what was freed.
    Gc(GcArgs),
    /// Check the database against blob storage both ways; one line per problem, exit 1 if any.
    Fsck(FsckArgs),
}

#[derive(Debug, Args)]
struct FsckArgs {
    #[command(flatten)]
    common: Common,
    /// Fix what is safe to fix (missing blobs no manifest uses, orphans, trash, broken uploads).
    #[arg(long)]
    repair: bool,
    /// Also re-hash every blob (reads every stored byte).
    #[arg(long)]
    verify: bool,
    /// Leave objects younger than this many seconds alone: they may belong to a push in flight
    /// (default: gc.grace_secs).
    #[arg(long)]
    grace_secs: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct GcArgs {
    #[command(flatten)]
    common: Common,
    /// Report what would be freed without removing anything.
    #[arg(long)]
    dry_run: bool,
    /// Leave anything younger than this many seconds (default: gc.grace_secs).
    #[arg(long)]
    grace_secs: Option<u64>,
    /// Also delete untagged manifests (default: gc.delete_untagged).
    #[arg(long)]
    untagged: bool,
}

#[derive(Debug, Args)]
struct AdminArgs {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a user; the password is read from stdin with --password-stdin, else generated and printed.
    CreateUser {
        name: String,
        /// Make the user a server administrator.
        #[arg(long)]
        admin: bool,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (from stdin with --password-stdin, else generated and printed).
    ResetPassword {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Grant server administration (or take it away with --revoke).
    SetAdmin {
        name: String,
        #[arg(long)]
        revoke: bool,
    },
}

/// Options every subcommand takes.
#[derive(Debug, Args, Default)]
struct Common {
    /// Configuration file (TOML); see config/rreg.toml for every key.
    #[arg(long, short = 'c', env = "RREG_CONFIG")]
    config: Option<PathBuf>,
    /// Address to listen on, e.g. 0.0.0.0:5000 (port 0 picks a free one).
    #[arg(long)]
    listen: Option<String>,
    /// Data folder for blobs and the SQLite database.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Database URL (`sqlite://FILE` or `postgres://USER@HOST:PORT/DB`); default SQLite in the data folder.
    #[arg(long)]
    database_url: Option<String>,
}

impl Common {
    fn settings(&self) -> Result<Settings, String> {
        let o = Overrides {
            listen: self.listen.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
        };
        Settings::load(self.config.as_deref(), &o).map_err(|e| format!("configuration: {e}"))
    }
}

/// Runs the command line; returns the process exit code.
pub async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Serve(Common::default())) {
        Command::Serve(c) => serve(c).await,
        Command::Migrate(c) => migrate(c).await,
        Command::Admin(a) => admin(a).await,
        Command::Gc(g) => gc(g).await,
        Command::Fsck(f) => return fsck(f).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rreg-server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(c: Common) -> Result<(), String> {
    let settings = c.settings()?;
    crate::telemetry::init(&settings.log.level, &settings.log.format);
    let app = Application::build(&settings).await.map_err(|e| e.to_string())?;
    tracing::info!(addr = %app.addr(), data_dir = %settings.storage.data_dir.display(), "rreg-server ready");
    let mut out = std::io::stdout();
    let scheme = if app.is_tls() { "https" } else { "http" };
    let _ = writeln!(out, "listening on {scheme}://{}", app.addr());
    if let Some(r) = app.redirect_addr() {
        let _ = writeln!(out, "redirecting http://{r} to https");
    }
    let _ = out.flush();
    app.run().await.map_err(|e| format!("server: {e}"))
}

async fn migrate(c: Common) -> Result<(), String> {
    let settings = c.settings()?;
    crate::telemetry::init(&settings.log.level, &settings.log.format);
    std::fs::create_dir_all(&settings.storage.data_dir).map_err(|e| e.to_string())?;
    crate::db::Db::connect(&settings.database_url(), 1)
        .await
        .map_err(|e| e.to_string())?;
    println!("database is up to date");
    Ok(())
}

fn read_password(from_stdin: bool) -> Result<(String, bool), String> {
    if !from_stdin {
        return Ok((crate::auth::random_secret(18), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password: {e}"))?;
    Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
}

async fn admin(a: AdminArgs) -> Result<(), String> {
    let settings = a.common.settings()?;
    crate::telemetry::init("warn", &settings.log.format);
    std::fs::create_dir_all(&settings.storage.data_dir).map_err(|e| e.to_string())?;
    let db = crate::db::Db::connect(&settings.database_url(), 2)
        .await
        .map_err(|e| e.to_string())?;
    let accounts = crate::services::Accounts::bootstrap(db.clone(), &settings.auth, &settings.storage.data_dir)
        .await
        .map_err(|e| e.to_string())?;
    match a.command {
        AdminCommand::CreateUser {
            name,
            admin,
            password_stdin,
        } => {
            let (pw, generated) = read_password(password_stdin)?;
            accounts
                .create_user(&name, &pw, admin)
                .await
                .map_err(|e| e.to_string())?;
            let _ = db.audit("rreg-server admin", "user.create", &name, "", "").await;
            if generated {
                println!("created user {name} with password {pw}");
            } else {
                println!("created user {name}");
            }
        }
        AdminCommand::ResetPassword { name, password_stdin } => {
            let (pw, generated) = read_password(password_stdin)?;
            accounts.set_password(&name, &pw).await.map_err(|e| e.to_string())?;
            let _ = db.audit("rreg-server admin", "user.password", &name, "", "").await;
            if generated {
                println!("new password for {name}: {pw}");
            } else {
                println!("password of {name} changed");
            }
        }
        AdminCommand::SetAdmin { name, revoke } => {
            let u = db
                .user_by_name(&name)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no user {name:?}"))?;
            db.set_admin(u.id, !revoke).await.map_err(|e| e.to_string())?;
            let _ = db
                .audit(
                    "rreg-server admin",
                    "user.admin",
                    &name,
                    if revoke { "revoked" } else { "granted" },
                    "",
                )
                .await;
            println!("{name} is {}an administrator", if revoke { "no longer " } else { "" });
        }
    }
    Ok(())
}

async fn gc(g: GcArgs) -> Result<(), String> {
    let settings = g.common.settings()?;
    crate::telemetry::init("warn", &settings.log.format);
    let registry = crate::startup::registry(&settings).await.map_err(|e| e.to_string())?;
    let mut opts = settings.gc.options(g.dry_run);
    if let Some(s) = g.grace_secs {
        opts.grace = std::time::Duration::from_secs(s);
    }
    opts.delete_untagged |= g.untagged;
    let report = registry.collect_garbage(&opts).await.map_err(|e| e.to_string())?;
    if report.skipped_busy {
        return Err(report.to_string());
    }
    println!("{}{report}", if g.dry_run { "would free: " } else { "freed: " });
    Ok(())
}

async fn fsck(f: FsckArgs) -> ExitCode {
    let run = async {
        let settings = f.common.settings()?;
        crate::telemetry::init("warn", &settings.log.format);
        let registry = crate::startup::registry(&settings).await.map_err(|e| e.to_string())?;
        let opts = crate::services::FsckOptions {
            repair: f.repair,
            verify: f.verify,
            grace: std::time::Duration::from_secs(f.grace_secs.unwrap_or(settings.gc.grace_secs)),
        };
        registry.fsck(&opts).await.map_err(|e| e.to_string())
    };
    let report = match run.await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rreg-server: fsck: {e}");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    if f.json {
        let _ = writeln!(out, "{}", serde_json::to_string(&report).unwrap_or_default());
    } else {
        for finding in &report.findings {
            let _ = writeln!(out, "{finding}");
        }
        let _ = writeln!(out, "fsck: {report}");
    }
    if report.unrepaired() > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
