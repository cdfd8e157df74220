//! The command line as clap reads it: every subcommand, its flags and their help text.
//! What each does is in the file named after it; `main` in [`super`] dispatches.

use super::{admin_client, logs};
use crate::observe::process_log::LogFormat;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "garita",
    version,
    about = "An edge gateway for a web shop's payment routes"
)]
pub(super) struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Subcommand)]
pub(super) enum Command {
    /// Serve with the given configuration until SIGTERM or SIGINT.
    Run {
        /// The configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// How garita's own log (standard error) is written: text, or JSON a line each.
        #[arg(long, value_enum, env = "GARITA_LOG_FORMAT", default_value = "text")]
        log_format: LogFormat,
        /// Take over the listeners of the running garita (then send it SIGQUIT): a binary
        /// upgrade that drops no request.
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate a configuration (syntax, keys, networks, countries, files) and summarise it.
    Check {
        /// The configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print the headers a provider would send with the notification on standard input,
    /// to test a sandbox flow end to end (paid, expired, duplicate, forged, stale).
    Sign {
        /// pagoefectivo, stripe, standard-webhooks, checkout, dlocal or mercadopago; the generic
        /// hmac profile signs with --config and --policy (its header and template live there).
        #[arg(long, required_unless_present = "config")]
        profile: Option<String>,
        /// The environment variable holding the secret.
        #[arg(long, required_unless_present = "config")]
        secret_env: Option<String>,
        /// Or: sign as the webhook policy of a config would verify (its first secret).
        #[arg(long, requires = "policy", conflicts_with_all = ["profile", "secret_env"])]
        config: Option<PathBuf>,
        /// With --config: the name of the webhook policy to sign for.
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
    /// The audit trail: the decision log's days, rotated and compressed.
    Logs {
        #[command(subcommand)]
        command: LogsCommand,
    },
    /// Decide logged requests again under another config and print what would change:
    /// decisions and risk rules, logged against replayed, and the first changed requests.
    Replay {
        /// The config to try (its hash key must be the one the logs were made with).
        #[arg(long, short)]
        config: PathBuf,
        /// Decision-log files, oldest first (rotated .jsonl.gz days, then the active file).
        #[arg(required = true)]
        logs: Vec<PathBuf>,
        /// Also write each replayed decision to this file, one JSON line a request.
        #[arg(long)]
        decisions: Option<PathBuf>,
        /// How many changed requests to list.
        #[arg(long, default_value_t = 20)]
        sample: usize,
    },
    /// Evidence for disputes: export the encrypted exchanges of an order, a code or an
    /// identity as a dispute pack; make a custodian's key pair.
    Evidence {
        #[command(subcommand)]
        command: EvidenceCommand,
    },
    /// What the outcomes in the audit trail (reviews resolved, codes paid or refunded)
    /// say of the risk rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Walk one payment code's flow through the running gateway against the shop's
    /// sandbox backend, printing at each step what garita decided, what the backend
    /// answered and what the store holds; exit 1 naming the first step that differs.
    Simulate {
        #[command(flatten)]
        target: admin_client::Target,
        /// The flow to walk.
        #[arg(long, value_enum)]
        flow: super::simulate::flows::Flow,
        /// The gateway's address, when not the first of server.listen.
        #[arg(long)]
        gateway: Option<std::net::SocketAddr>,
        /// The creation request's JSON body (default: built from the policy's facts).
        #[arg(long)]
        body: Option<PathBuf>,
    },
    /// The review queue of a running gateway, through its admin API.
    Review {
        #[command(subcommand)]
        command: ReviewCommand,
    },
    /// The runtime block list of the running gateway (identity keys refused on every
    /// instance sharing its store).
    Block {
        #[command(subcommand)]
        command: BlockCommand,
    },
    /// Have the running gateway read its configuration again (as SIGHUP does), and say
    /// whether it took.
    Reload {
        #[command(flatten)]
        target: admin_client::Target,
    },
    /// The running gateway at a glance: listeners, config digest and last reload, store,
    /// upstreams, reviews waiting, blocks held, the last five minutes' decisions.
    Status {
        #[command(flatten)]
        target: admin_client::Target,
        /// Print the admin API's JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// Support actions on one identity's quotas.
    Quota {
        #[command(subcommand)]
        command: QuotaCommand,
    },
    /// Write a starter installation into a directory (config, lists, a GeoIP database,
    /// garita.env with fresh secrets) that the shipped systemd unit starts as it is.
    Init {
        /// Where to write it, e.g. /etc/garita (created if missing; nothing is overwritten).
        #[arg(long)]
        dir: PathBuf,
        /// A MaxMind GeoLite2/GeoIP2 Country database to copy in (default: the small test
        /// database, with a warning).
        #[arg(long)]
        geoip: Option<PathBuf>,
        /// The state directory the config names (the unit's StateDirectory).
        #[arg(long, default_value = "/var/lib/garita")]
        state_dir: PathBuf,
        /// The log directory the config names (the unit's LogsDirectory).
        #[arg(long, default_value = "/var/log/garita")]
        log_dir: PathBuf,
        /// The runtime directory for the upgrade socket (the unit's RuntimeDirectory).
        #[arg(long, default_value = "/run/garita")]
        run_dir: PathBuf,
    },
    /// Serve the example config (conf/garita.toml, built in) on loopback in front of the
    /// demo shop, and print curl commands to try, each with the status it gets.
    Try {
        /// Send allowed requests to this backend instead of the built-in demo shop.
        #[arg(long)]
        upstream: Option<std::net::SocketAddr>,
    },
    /// Start a demo shop and the gateway on loopback and play scripted requests.
    Demo {
        /// A configuration file (TOML) to run the script against; by default the built-in
        /// demo configuration (conf/demo.toml).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Exit after the script; non-zero if any row differed from what it expected.
        #[arg(long)]
        exit: bool,
    },
}

#[derive(Subcommand)]
pub(super) enum QuotaCommand {
    /// Start one identity's quota counters (and shared rates) again on every policy, e.g.
    /// after a customer's mistaken retries; audited with the token's name.
    Reset {
        #[command(flatten)]
        target: admin_client::Target,
        /// dni, email, phone, account, device or ip.
        fact: String,
        /// The value as a request carries it (normalised and hashed by the gateway).
        value: String,
    },
}

#[derive(Subcommand)]
pub(super) enum BlockCommand {
    /// Block a DNI, email, phone, account or device (kept only as its keyed hash).
    Add {
        #[command(flatten)]
        target: admin_client::Target,
        /// dni, email, phone, account or device.
        fact: String,
        /// The value, as a request would carry it.
        value: String,
        /// Why, for the audit trail and the list.
        #[arg(long)]
        reason: Option<String>,
    },
    /// List the blocked keys: fact, keyed hash, since, by whom, why.
    List {
        #[command(flatten)]
        target: admin_client::Target,
        /// The admin API's JSON instead of one line per block.
        #[arg(long)]
        json: bool,
    },
    /// Lift a block, by its value (as `add` took it) or the hash `list` shows.
    Remove {
        #[command(flatten)]
        target: admin_client::Target,
        /// dni, email, phone, account or device.
        fact: String,
        /// The value in clear, or the keyed hash as `list` shows it (32 hex digits).
        value: String,
    },
}

#[derive(Subcommand)]
pub(super) enum StateCommand {
    /// What the store holds for one identity, address or webhook event: quota counters
    /// with their windows, bindings, shared rates, replay records. The value is hashed as
    /// the rules hash it; nothing else is printed in clear.
    Inspect {
        /// The configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// dni, email, phone, account, device, ip, or event (a webhook's replay key, such
        /// as a PagoEfectivo operationNumber).
        fact: String,
        /// The value as a request carries it (it is normalised and hashed, never printed).
        value: String,
    },
}

#[derive(Subcommand)]
pub(super) enum LogsCommand {
    /// Write the lines of a range of UTC days (inclusive) to standard output, streaming.
    Export {
        /// Read the decision log this config writes...
        #[arg(long, short, required_unless_present = "log")]
        config: Option<PathBuf>,
        /// ...or this active log file and its rotated days beside it.
        #[arg(long, conflicts_with = "config")]
        log: Option<PathBuf>,
        /// First UTC day: a date (2026-11-01), today, yesterday, or a number of days back
        /// (7d: the last seven days, today included).
        #[arg(long, value_parser = logs::parse_day)]
        from: jiff::civil::Date,
        /// Last UTC day, as --from (default: today).
        #[arg(long, value_parser = logs::parse_day, default_value = "today")]
        to: jiff::civil::Date,
        /// jsonl (the lines as logged) or csv (one column per field).
        #[arg(long, default_value = "jsonl")]
        format: String,
    },
}

// Parsed once per run: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub(super) enum EvidenceCommand {
    /// Decrypt the matching records of a range of UTC days into a dispute pack (a
    /// directory: each exchange as JSON with its raw bodies, and a manifest with the
    /// SHA-256 of every file, each day's chain check and each notification's signature
    /// check). Exits 1 when a day's chain is broken.
    Export {
        /// The config whose [evidence] to read (its hash key indexes the records).
        #[arg(long, short)]
        config: PathBuf,
        /// A custodian's age identity file (from `garita evidence keygen` or age-keygen).
        #[arg(long)]
        identity: PathBuf,
        /// The request's id (X-Request-Id, or the decision log's request_id).
        #[arg(long, group = "find")]
        request_id: Option<String>,
        /// The order reference, as the request sent it.
        #[arg(long, group = "find")]
        order: Option<String>,
        /// The payment code (PagoEfectivo's CIP): its creation and its notifications.
        #[arg(long, group = "find")]
        cip: Option<String>,
        /// A DNI (normalised and hashed as the rules do).
        #[arg(long, group = "find")]
        dni: Option<String>,
        /// An email (normalised and hashed as the rules do).
        #[arg(long, group = "find")]
        email: Option<String>,
        /// The last N exchanges (of --route, if given).
        #[arg(long, group = "find")]
        last: Option<usize>,
        /// Only this route's exchanges.
        #[arg(long)]
        route: Option<String>,
        /// First UTC day (a date, today, yesterday, or 30d; default: the oldest kept).
        #[arg(long, value_parser = logs::parse_day)]
        from: Option<jiff::civil::Date>,
        /// Last UTC day (default: the newest).
        #[arg(long, value_parser = logs::parse_day)]
        to: Option<jiff::civil::Date>,
        /// The dispute pack's directory (created; its files are overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Make a custodian's age identity file (kept offline, mode 0600) and print its
    /// public key for `[evidence] recipients`.
    Keygen {
        /// Where to write the identity (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub(super) enum RulesCommand {
    /// Per risk rule over a range of UTC days: how often it fired, the labelled bad and
    /// good among those, precision, the share of bad requests it caught, and a suggested
    /// weight with how it was computed.
    Report {
        /// The config whose rules and weights to report on (and whose decision log to read).
        #[arg(long, short)]
        config: PathBuf,
        /// Read this active log file and its rotated days instead of the config's.
        #[arg(long)]
        log: Option<PathBuf>,
        /// First UTC day of the decisions: a date, today, yesterday, or 30d.
        #[arg(long, value_parser = logs::parse_day)]
        from: jiff::civil::Date,
        /// Last UTC day of the decisions (default: today). Outcomes are read up to the
        /// newest line.
        #[arg(long, value_parser = logs::parse_day, default_value = "today")]
        to: jiff::civil::Date,
        /// Days after its payment that a code not refunded labels its request good.
        #[arg(long, default_value_t = 14)]
        good_after_days: u16,
        /// The precision (percent) at which one rule alone should reach review.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u8).range(1..=100))]
        review_at: u8,
        /// Fewer labelled firings than this suggest no weight.
        #[arg(long, default_value_t = 20)]
        min_labelled: u64,
        /// Write the config with the suggested weights here (beside the config, so that
        /// its relative paths still resolve), for `garita replay` to try.
        #[arg(long)]
        propose: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub(super) enum ReviewCommand {
    /// The requests waiting for review, oldest first: id, time, route, amount, score,
    /// reasons.
    List {
        #[command(flatten)]
        target: admin_client::Target,
        /// Include the resolved ones.
        #[arg(long)]
        all: bool,
        /// Print the API's JSON instead of one line a review.
        #[arg(long)]
        json: bool,
    },
    /// Resolve a review: approved, or fraud (the keys of the facts its policy's
    /// fraud_blocks names, by default DNI, email, account and device, go on the block list
    /// at once).
    Resolve {
        #[command(flatten)]
        target: admin_client::Target,
        /// The review's id (the request id the backend saw as X-Request-Id).
        id: String,
        /// approved or fraud.
        outcome: String,
        /// For fraud: block only these facts (comma-separated, e.g. dni,email), fewer than
        /// the policy's fraud_blocks.
        #[arg(long, value_delimiter = ',')]
        block: Option<Vec<String>>,
    },
}
