//! The `garita` command: run the gateway, check a configuration, sign a test
//! notification, look at the state or the review queue, or play the demo. Each subcommand is a thin wrapper; the work is in the
//! layers below.

pub mod demo;
mod inspect;
mod review;
mod sign;

use crate::config::Config;
use clap::{Parser, Subcommand};
use demo::DemoOptions;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "garita",
    version,
    about = "An edge gateway for a web shop's payment routes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve with the given configuration until SIGTERM or SIGINT.
    Run {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a configuration (syntax, keys, networks, countries, files) and summarise it.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print the headers a provider would send with the notification on standard input,
    /// to test a sandbox flow end to end (paid, expired, duplicate, forged, stale).
    Sign {
        /// pagoefectivo, stripe, standard-webhooks, checkout, dlocal or mercadopago.
        #[arg(long, required_unless_present = "config")]
        profile: Option<String>,
        /// The environment variable holding the secret.
        #[arg(long, required_unless_present = "config")]
        secret_env: Option<String>,
        /// Or: sign as the webhook policy of a config would verify (its first secret).
        #[arg(long, requires = "policy", conflicts_with_all = ["profile", "secret_env"])]
        config: Option<PathBuf>,
        #[arg(long)]
        policy: Option<String>,
        /// Unix seconds to sign with (default: now); an old one makes a stale notification.
        #[arg(long)]
        timestamp: Option<i64>,
        /// The event id, where the scheme signs one (dLocal: X-Login; Mercado Pago: data.id).
        #[arg(long)]
        id: Option<String>,
    },
    /// Look at the state garita keeps.
    State {
        #[command(subcommand)]
        command: StateCommand,
    },
    /// The review queue of a running gateway, through its admin API.
    Review {
        #[command(subcommand)]
        command: ReviewCommand,
    },
    /// Start a demo shop and the gateway on loopback and play scripted requests.
    Demo {
        #[arg(long, short, default_value = "conf/demo.toml")]
        config: PathBuf,
        /// Exit after the script; non-zero if any row differed from what it expected.
        #[arg(long)]
        exit: bool,
    },
}

#[derive(Subcommand)]
enum StateCommand {
    /// What the store holds for one identity, address or webhook event: quota counters
    /// with their windows, bindings, shared rates, replay records. The value is hashed as
    /// the rules hash it; nothing else is printed in clear.
    Inspect {
        #[arg(long, short)]
        config: PathBuf,
        /// dni, email, phone, account, device, ip, or event (a webhook's replay key, such
        /// as a PagoEfectivo operationNumber).
        fact: String,
        value: String,
    },
}

#[derive(Subcommand)]
enum ReviewCommand {
    /// The requests waiting for review, oldest first: id, time, route, amount, score,
    /// reasons.
    List {
        #[arg(long, short)]
        config: PathBuf,
        /// The admin token to call with, by name (default: the first in [admin]).
        #[arg(long)]
        token: Option<String>,
        /// The admin API's address, when not the one admin.listen gives (0.0.0.0, port 0).
        #[arg(long)]
        admin: Option<std::net::SocketAddr>,
        /// Include the resolved ones.
        #[arg(long)]
        all: bool,
        /// Print the API's JSON instead of one line a review.
        #[arg(long)]
        json: bool,
    },
    /// Resolve a review: approved, or fraud (its DNI, email, phone, account and device go
    /// on the block list at once).
    Resolve {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        token: Option<String>,
        #[arg(long)]
        admin: Option<std::net::SocketAddr>,
        /// The review's id (the request id the backend saw as X-Request-Id).
        id: String,
        /// approved or fraud.
        outcome: String,
    },
}

/// The `garita` command line.
pub fn main() -> ExitCode {
    crate::observe::process_log::init();
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => match Config::load(&config) {
            Ok(c) => {
                println!("{}: ok", config.display());
                print!("{}", c.summary());
                for warning in &c.warnings {
                    println!("WARNING: {warning}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Run { config } => {
            let config = match Config::load(&config) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            for warning in &config.warnings {
                log::warn!("{warning}");
            }
            match crate::proxy::server::build_server(config) {
                Ok(gateway) => {
                    for line in gateway.listening_lines() {
                        println!("{line}");
                    }
                    gateway.run();
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Sign {
            profile,
            secret_env,
            config,
            policy,
            timestamp,
            id,
        } => match sign::run(profile, secret_env, config, policy, timestamp, id) {
            Ok(headers) => {
                print!("{headers}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::State {
            command:
                StateCommand::Inspect {
                    config,
                    fact,
                    value,
                },
        } => match inspect::run(&config, &fact, &value) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Review { command } => {
            let result = match command {
                ReviewCommand::List {
                    config,
                    token,
                    admin,
                    all,
                    json,
                } => review::list(&review::Target::new(config, token, admin), all, json),
                ReviewCommand::Resolve {
                    config,
                    token,
                    admin,
                    id,
                    outcome,
                } => review::resolve(&review::Target::new(config, token, admin), &id, &outcome),
            };
            match result {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Demo { config, exit } => match demo::run(&DemoOptions { config, exit }) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
