//! The `garita` command: run the gateway, check a configuration, sign a test
//! notification, look at the state or the review queue, or play the demo. Each subcommand is a thin wrapper; the work is in the
//! layers below.

mod admin_client;
mod args;
mod block;
pub mod demo;
mod evidence;
mod init;
mod inspect;
mod logs;
mod replay;
mod review;
mod rules;
mod sign;
mod simulate;
mod status;

use crate::config::Config;
use crate::observe::process_log::LogFormat;
use args::{
    BlockCommand, Cli, Command, LogsCommand, QuotaCommand, ReviewCommand, RulesCommand,
    StateCommand,
};
use clap::Parser;
use demo::DemoOptions;
use std::path::PathBuf;
use std::process::ExitCode;

/// Print what an admin command answered, or the error (exit status 2).
fn print_or_fail(result: Result<String, String>) -> ExitCode {
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

/// Print a report that says whether what it checked held: exit 0 if it did, 1 if not,
/// 2 with the error when it could not run.
fn print_checked(result: Result<(String, bool), String>) -> ExitCode {
    match result {
        Ok((text, held)) => {
            print!("{text}");
            if held {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The `garita` command line.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let format = match &cli.command {
        Command::Run { log_format, .. } => *log_format,
        _ => LogFormat::Text,
    };
    crate::observe::process_log::init(format, crate::proxy::log_taps());
    match cli.command {
        Command::Check { config } => match Config::load(&config) {
            Ok(c) => {
                println!("{}: ok", config.display());
                print!("{}", c.summary());
                for warning in &c.warnings {
                    eprintln!("warning: {warning}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Run {
            config, upgrade, ..
        } => {
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
            let built = if upgrade {
                crate::proxy::server::build_server_upgrading(config)
            } else {
                crate::proxy::server::build_server(config)
            };
            match built {
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
        Command::Logs {
            command:
                LogsCommand::Export {
                    config,
                    log,
                    from,
                    to,
                    format,
                },
        } => {
            let Some(format) = logs::Format::parse(&format) else {
                eprintln!("error: --format is jsonl or csv, not {format:?}");
                return ExitCode::from(2);
            };
            let log = match (log, config) {
                (Some(log), _) => Ok(log),
                (None, Some(config)) => logs::log_of_config(&config),
                (None, None) => Err("--config or --log".to_string()),
            };
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let result = log.and_then(|log| logs::export(&log, from, to, format, &mut out));
            let flushed = std::io::Write::flush(&mut out);
            match (result, flushed) {
                (Ok(done), Ok(())) => {
                    if done.unreadable > 0 {
                        eprintln!(
                            "{} lines were not decision-log JSON and were left out",
                            done.unreadable
                        );
                    }
                    ExitCode::SUCCESS
                }
                (Err(e), _) => {
                    eprintln!("error: {e}");
                    ExitCode::from(2)
                }
                (_, Err(e)) => {
                    eprintln!("error: writing the export: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Replay {
            config,
            logs,
            decisions,
            sample,
        } => match replay_command(&config, &logs, decisions.as_deref(), sample) {
            Ok(report) => {
                print!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Evidence { command } => evidence_command(command),
        Command::Rules {
            command:
                RulesCommand::Report {
                    config,
                    log,
                    from,
                    to,
                    good_after_days,
                    review_at,
                    min_labelled,
                    propose,
                },
        } => print_or_fail(rules::report(&rules::Ask {
            config: &config,
            log: log.as_deref(),
            from,
            to,
            good_after: i64::from(good_after_days) * 86_400,
            teaching: crate::core::outcomes::Teaching {
                review_at: f64::from(review_at) / 100.0,
                min_labelled,
            },
            propose: propose.as_deref(),
        })),
        Command::Simulate {
            target,
            flow,
            gateway,
            body,
        } => print_checked(simulate::run(&target, flow, gateway, body.as_deref())),
        Command::Review { command } => print_or_fail(match command {
            ReviewCommand::List { target, all, json } => review::list(&target, all, json),
            ReviewCommand::Resolve {
                target,
                id,
                outcome,
                block,
            } => review::resolve(&target, &id, &outcome, block.as_deref()),
        }),
        Command::Block { command } => print_or_fail(match command {
            BlockCommand::Add {
                target,
                fact,
                value,
                reason,
            } => block::add(&target, &fact, &value, reason.as_deref()),
            BlockCommand::List { target, json } => block::list(&target, json),
            BlockCommand::Remove {
                target,
                fact,
                value,
            } => block::remove(&target, &fact, &value),
        }),
        Command::Reload { target } => print_or_fail(block::reload(&target)),
        Command::Init {
            dir,
            geoip,
            state_dir,
            log_dir,
            run_dir,
        } => print_or_fail(init::run(&init::Layout {
            dir,
            state_dir,
            log_dir,
            run_dir,
            geoip,
        })),
        Command::Status { target, json } => print_or_fail(status::status(&target, json)),
        Command::Quota {
            command:
                QuotaCommand::Reset {
                    target,
                    fact,
                    value,
                },
        } => print_or_fail(status::reset_quota(&target, &fact, &value)),
        Command::Try { upstream } => match demo::tryout::run(upstream) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
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

/// `garita replay`: load the config, replay the logs, report.
fn replay_command(
    config: &std::path::Path,
    logs: &[PathBuf],
    decisions: Option<&std::path::Path>,
    sample: usize,
) -> Result<String, String> {
    let config = Config::load_offline(config).map_err(|e| e.to_string())?;
    let replay = replay::Replay::new(config)?;
    let mut out = match decisions {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?,
        )),
        None => None,
    };
    let tally = replay::run(
        &replay,
        logs,
        sample,
        out.as_mut().map(|o| o as &mut dyn std::io::Write),
    )?;
    if let Some(mut out) = out {
        std::io::Write::flush(&mut out).map_err(|e| format!("writing the decisions: {e}"))?;
    }
    let other_key = tally.kept.get(replay::ANOTHER_KEY).copied().unwrap_or(0);
    if tally.replayed == 0 && other_key > 0 {
        return Err(format!(
            "every logged request ({other_key}) was hashed with another key than this config's (its key id is {}): set identity.hash_key_env to the key the logs were made with",
            replay.key_id()
        ));
    }
    Ok(replay::report(&tally, replay.unmatchable_entries))
}

fn evidence_command(command: args::EvidenceCommand) -> ExitCode {
    match command {
        args::EvidenceCommand::Keygen { out } => match evidence::keygen(&out) {
            Ok(public) => {
                println!("{public}");
                eprintln!(
                    "identity written to {} (keep it offline); put the line above in [evidence] recipients",
                    out.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        args::EvidenceCommand::Export {
            config,
            identity,
            request_id,
            order,
            cip,
            dni,
            email,
            last,
            route,
            from,
            to,
            out,
        } => {
            use evidence::Query;
            let query = match (request_id, order, cip, dni, email, last) {
                (Some(v), ..) => Query::RequestId(v),
                (_, Some(v), ..) => Query::Order(v),
                (_, _, Some(v), ..) => Query::Code(v),
                (_, _, _, Some(v), ..) => Query::Dni(v),
                (_, _, _, _, Some(v), _) => Query::Email(v),
                (.., Some(n)) => Query::Last(n),
                _ => {
                    eprintln!("error: say what to export: --request-id, --order, --cip, --dni, --email or --last N");
                    return ExitCode::from(2);
                }
            };
            let args = evidence::ExportArgs {
                config: &config,
                identity: &identity,
                query,
                route: route.as_deref(),
                from,
                to,
                out: &out,
            };
            print_checked(evidence::export(&args).map(|exported| {
                let intact = exported.days.iter().all(|d| d.intact);
                (evidence::report(&exported, &out), intact)
            }))
        }
    }
}
