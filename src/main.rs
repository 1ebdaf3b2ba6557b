//! The `courier` binary: `courier serve` runs the server, `courier migrate` applies migrations,
//! and the operator's commands (`backup`, `users`, `stats`) run beside a live server;
//! `courier config defaults` prints the commented `config.toml`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use courier::admin::{self, users, Admin, AdminError};
use courier::config::LogFormat;
use courier::{Application, Settings};
use courier_actors::Clock;

#[derive(Parser)]
#[command(name = "courier", version, about = "A WhatsApp-style messaging server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (applies pending migrations first).
    Serve {
        /// Configuration file (default: ./config.toml when present).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Copy the SQLite database to a new file while the server runs (PostgreSQL: use pg_dump).
    Backup {
        /// The copy to write; an existing file is never overwritten.
        file: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Show an account, suspend it, lift a suspension, or sign it out everywhere.
    Users {
        #[arg(value_enum)]
        action: users::Action,
        /// A phone number in E.164 form (+14155550123) or a user id.
        who: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Make a user a system admin, or end it (the API cannot).
    Admin {
        #[arg(value_enum)]
        action: admin::admins::Action,
        /// A phone number in E.164 form (+14155550123) or a user id.
        who: String,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Count users, chats and messages.
    Stats {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// About the configuration itself.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
}

#[derive(Subcommand)]
enum ConfigAction {
    /// Print every key with its default value, commented: the `config.toml` template.
    Defaults,
}

/// Starts logging: the server logs to stdout (`info` and up, or `RUST_LOG`), in `log.format`;
/// an operator's command prints its answer on stdout, so only its problems are logged, to
/// stderr.
fn init_logs(server: bool, format: LogFormat) {
    let filter = |default: &str| {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
    };
    match (server, format) {
        (true, LogFormat::Json) => tracing_subscriber::fmt()
            .json()
            .with_current_span(false)
            .with_env_filter(filter("info"))
            .init(),
        (true, LogFormat::Text) => tracing_subscriber::fmt()
            .with_ansi(std::io::stdout().is_terminal())
            .with_env_filter(filter("info"))
            .init(),
        (false, _) => tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_env_filter(filter("warn"))
            .init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match &cli.command {
        Command::Config {
            action: ConfigAction::Defaults,
        } => {
            print!("{}", courier::config::template::defaults());
            return ExitCode::SUCCESS;
        }
        Command::Serve { config }
        | Command::Migrate { config }
        | Command::Backup { config, .. }
        | Command::Users { config, .. }
        | Command::Admin { config, .. }
        | Command::Stats { config } => config.clone(),
    };
    let settings = match Settings::load(config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("courier: {e}");
            return ExitCode::from(2);
        }
    };
    let server = matches!(cli.command, Command::Serve { .. } | Command::Migrate { .. });
    init_logs(server, settings.log.format);
    if !server {
        return admin_command(cli.command, settings);
    }
    let result = actix_web::rt::System::new().block_on(async move {
        match cli.command {
            Command::Serve { .. } => {
                let app = Application::build(settings, Clock::system()).await?;
                app.run_until_signal().await?;
            }
            Command::Migrate { .. } => {
                let ran = courier_actors::store::migrate(&settings.database.url).await?;
                println!("applied {ran} migration(s)");
            }
            _ => {}
        }
        anyhow::Ok(())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("courier: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs an operator's command; prints its output, or its one-line error.
fn admin_command(command: Command, settings: Settings) -> ExitCode {
    let result = actix_web::rt::System::new().block_on(async move {
        if let Command::Backup { .. } = command {
            admin::backup::check_backend(&settings.database.url)?;
        }
        let admin = Admin::open(&settings, Clock::system()).await?;
        match command {
            Command::Backup { file, .. } => admin::backup::run(&admin, &file).await,
            Command::Users { action, who, .. } => users::run(&admin, action, &who).await,
            Command::Admin { action, who, .. } => admin::admins::run(&admin, action, &who).await,
            Command::Stats { .. } => admin::stats::run(&admin).await,
            Command::Serve { .. } | Command::Migrate { .. } | Command::Config { .. } => {
                Ok(String::new())
            }
        }
    });
    match result {
        Ok(out) => {
            print!("{out}");
            ExitCode::SUCCESS
        }
        Err(AdminError { message, exit }) => {
            eprintln!("courier: {message}");
            ExitCode::from(exit)
        }
    }
}
