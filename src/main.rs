//! The `garita` command: run the gateway, check a configuration, or play the demo.
#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use garita::config::Config;
use garita::demo::{self, DemoOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Start a demo shop and the gateway on loopback and play scripted requests.
    Demo {
        #[arg(long, short, default_value = "conf/demo.toml")]
        config: PathBuf,
        /// Exit after the script; non-zero if any row differed from what it expected.
        #[arg(long)]
        exit: bool,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => match Config::load(&config) {
            Ok(c) => {
                println!("{}: ok", config.display());
                print!("{}", c.summary());
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
            match garita::gateway::build_server(config) {
                Ok(server) => server.run_forever(),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
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
