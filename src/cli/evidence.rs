//! `garita evidence`: a dispute pack from the encrypted day files, and a key pair for a
//! custodian.
//!
//! `export` reads the days in range line by line, follows each day's chain (so a record
//! taken out or changed is reported), picks the records whose keyed hashes match what
//! was asked (a request id, an order, a payment code, a DNI, an email) or the last N of a
//! route, and opens only those with the custodian's identity file. It writes a directory:
//! one folder an exchange (`record.json`, `request.body`, `response.body`), and
//! `manifest.json` with the SHA-256 of every file, the chain check of each day read, and
//! for each notification whether its signature verifies under the configured secret.
//! Nothing but the matched records is ever decrypted, and no day is held in memory.

use crate::config::Config;
use crate::core::identity::key_list::KeyHasher;
use crate::core::request::facts::KeyKind;
use crate::core::webhook::Notification;
use crate::observe::evidence::day_file::{
    self, BatchLine, ChainCheck, ChainWalk, Manifest, RecordIndex,
};
use crate::state::identity_keys::hashes_of;
use base64::Engine as _;
use jiff::civil::Date;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::io::{BufRead, Read};
use std::path::Path;
use std::rc::Rc;

/// What to find.
pub enum Query {
    RequestId(String),
    Order(String),
    Code(String),
    Dni(String),
    Email(String),
    /// The last N records (of a route, if given).
    Last(usize),
}

pub struct ExportArgs<'a> {
    pub config: &'a Path,
    pub identity: &'a Path,
    pub query: Query,
    pub route: Option<&'a str>,
    pub from: Option<Date>,
    pub to: Option<Date>,
    pub out: &'a Path,
}

/// What an export found, for its report.
pub struct Exported {
    pub exchanges: usize,
    pub days: Vec<ChainCheck>,
}

/// The keyed hashes that name what `query` asks for (any one matches).
fn wanted(config: &Config, hasher: &KeyHasher, query: &Query) -> Result<Vec<String>, String> {
    let labelled = |label: &str, v: &str| {
        String::from_utf8_lossy(&hasher.hex_digest_labelled(label, v)).into_owned()
    };
    Ok(match query {
        Query::RequestId(id) => vec![labelled("request_id", id.trim())],
        Query::Order(order) => vec![labelled("order", order)],
        Query::Code(code) => vec![labelled("code", code.trim())],
        Query::Dni(dni) => hashes_of(config, KeyKind::Dni, dni, hasher)?,
        Query::Email(email) => hashes_of(config, KeyKind::Email, email, hasher)?,
        Query::Last(_) => Vec::new(),
    })
}

/// The day files of `dir` within the range, oldest first.
fn days_in(dir: &Path, from: Option<Date>, to: Option<Date>) -> Result<Vec<Date>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut days: Vec<Date> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let name = name.to_str()?;
            name.ends_with(".jsonl")
                .then(|| day_file::day_of(name))
                .flatten()
        })
        .filter(|d| from.is_none_or(|f| *d >= f) && to.is_none_or(|t| *d <= t))
        .collect();
    days.sort();
    Ok(days)
}

/// Line `n` (from 0) of `day`'s file, again.
fn read_line(dir: &Path, day: Date, n: usize) -> Result<BatchLine, String> {
    let path = day_file::day_path(dir, day);
    let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = std::io::BufReader::new(file)
        .lines()
        .nth(n)
        .and_then(Result::ok)
        .ok_or_else(|| format!("{}: line {} is gone", path.display(), n + 1))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: line {}: {e}", path.display(), n + 1))
}

/// Open one sealed record with the custodian's identities.
fn open_record(
    identities: &[Box<dyn age::Identity + Send + Sync>],
    sealed: &str,
) -> Result<Vec<u8>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|_| "the record is not base64".to_string())?;
    let decryptor = age::Decryptor::new(&bytes[..]).map_err(|e| e.to_string())?;
    let mut reader = decryptor
        .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
        .map_err(|e| format!("cannot open it with this identity file ({e})"))?;
    let mut plain = Vec::new();
    reader.read_to_end(&mut plain).map_err(|e| e.to_string())?;
    Ok(plain)
}

/// Export a dispute pack; an error names what failed.
pub fn export(args: &ExportArgs<'_>) -> Result<Exported, String> {
    let config = Config::load(args.config).map_err(|e| e.to_string())?;
    let settings = config
        .evidence
        .as_ref()
        .ok_or("the config has no [evidence] section")?;
    let key = config
        .identity
        .hash_key
        .as_ref()
        .ok_or("the config's identity.hash_key_env is not set: the index cannot be read")?;
    let hasher = KeyHasher::new(key);
    let wanted = wanted(&config, &hasher, &args.query)?;
    let identities = age::IdentityFile::from_file(args.identity.display().to_string())
        .map_err(|e| format!("{}: {e}", args.identity.display()))?
        .into_identities()
        .map_err(|e| format!("{}: {e}", args.identity.display()))?;
    let days = days_in(&settings.dir, args.from, args.to)?;
    let total = days
        .iter()
        .filter_map(|d| std::fs::metadata(day_file::day_path(&settings.dir, *d)).ok())
        .map(|m| m.len())
        .sum();
    let bar = super::logs::progress(total, "reading the evidence");
    std::fs::create_dir_all(args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;

    let mut pack = Pack::new(args.out, &config, &identities);
    // The last N: where they are (day, line, record), read again once the scan is done,
    // so that no batch is held meanwhile.
    let mut last: VecDeque<(Date, usize, usize)> = VecDeque::new();
    let mut checks = Vec::new();
    for day in days {
        let path = day_file::day_path(&settings.dir, day);
        let file = std::fs::File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut walk = ChainWalk::new(&hasher, day);
        for (n, text) in std::io::BufReader::new(bar.wrap_read(file))
            .lines()
            .enumerate()
        {
            let text = text.map_err(|e| format!("{}: {e}", path.display()))?;
            let line = serde_json::from_str::<BatchLine>(&text).ok();
            walk.next(n + 1, line.as_ref());
            let Some(line) = line else { continue };
            let line = Rc::new(line);
            let chosen = line.records.iter().enumerate().filter(|(_, r)| {
                args.route.is_none_or(|route| route == r.route)
                    && match args.query {
                        Query::Last(_) => true,
                        _ => r.keys.iter().any(|k| wanted.contains(k)),
                    }
            });
            for (i, _) in chosen {
                match args.query {
                    Query::Last(wanted_last) => {
                        last.push_back((day, n, i));
                        if last.len() > wanted_last {
                            last.pop_front();
                        }
                    }
                    _ => pack.add(&line, i)?,
                }
            }
        }
        let manifest = std::fs::read(day_file::manifest_path(&settings.dir, day))
            .ok()
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok());
        checks.push(walk.finish(manifest.as_ref()));
    }
    let mut reread: Option<(Date, usize, Rc<BatchLine>)> = None;
    for &(day, n, i) in &last {
        if reread.as_ref().is_none_or(|(d, l, _)| (*d, *l) != (day, n)) {
            reread = Some((day, n, Rc::new(read_line(&settings.dir, day, n)?)));
        }
        let (_, _, line) = reread.as_ref().expect("read above");
        pack.add(line, i)?;
    }
    bar.finish_and_clear();
    pack.finish(&checks)?;
    Ok(Exported {
        exchanges: pack.exchanges.len(),
        days: checks,
    })
}

/// The dispute pack being written.
struct Pack<'a> {
    out: &'a Path,
    config: &'a Config,
    identities: &'a [Box<dyn age::Identity + Send + Sync>],
    exchanges: Vec<Value>,
    files: Vec<(String, String)>,
    /// The last batch opened (its records are asked for one after the other).
    opened: Option<(Rc<BatchLine>, Vec<Value>)>,
}

impl<'a> Pack<'a> {
    fn new(
        out: &'a Path,
        config: &'a Config,
        identities: &'a [Box<dyn age::Identity + Send + Sync>],
    ) -> Self {
        Self {
            out,
            config,
            identities,
            exchanges: Vec::new(),
            files: Vec::new(),
            opened: None,
        }
    }

    /// Record `i` of `line`, opening the line's batch unless it is the last one opened.
    fn record(&mut self, line: &Rc<BatchLine>, i: usize) -> Result<Value, String> {
        let index = &line.records[i];
        // Told apart by chain link (unique to a line), not by address: a line read
        // again may land where a dropped one was.
        let same = self
            .opened
            .as_ref()
            .is_some_and(|(l, _)| l.chain == line.chain);
        if !same {
            let what = |e: String| format!("record {} of {}: {e}", index.seq, index.ts);
            let plain = open_record(self.identities, &line.sealed).map_err(what)?;
            let records: Vec<Value> =
                serde_json::from_slice(&plain).map_err(|e| what(e.to_string()))?;
            self.opened = Some((line.clone(), records));
        }
        let (_, records) = self.opened.as_ref().expect("opened above");
        records
            .get(i)
            .cloned()
            .ok_or_else(|| format!("record {} of {}: not in its batch", index.seq, index.ts))
    }

    fn write(&mut self, name: String, bytes: &[u8]) -> Result<(), String> {
        let path = self.out.join(&name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        self.files.push((name, hex::encode(Sha256::digest(bytes))));
        Ok(())
    }

    /// Open record `i` of `line` and write its exchange.
    fn add(&mut self, line: &Rc<BatchLine>, i: usize) -> Result<(), String> {
        let mut record = self.record(line, i)?;
        let index: &RecordIndex = &line.records[i];
        let folder = format!(
            "{:03}-{}",
            self.exchanges.len() + 1,
            record["request_id"].as_str().unwrap_or("unknown")
        );
        std::fs::create_dir_all(self.out.join(&folder)).map_err(|e| e.to_string())?;
        let mut bodies = Vec::new();
        for part in ["request", "response"] {
            let Some(message) = record.get_mut(part).and_then(Value::as_object_mut) else {
                continue;
            };
            let body = message
                .remove("body_base64")
                .and_then(|b| b.as_str().map(str::to_string))
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
                .unwrap_or_default();
            let name = format!("{folder}/{part}.body");
            message.insert("body_file".into(), Value::from(format!("{part}.body")));
            bodies.push((name, body));
        }
        let signature = signature_check(self.config, &record, bodies.first().map(|(_, b)| &b[..]));
        for (name, body) in bodies {
            self.write(name, &body)?;
        }
        let text = serde_json::to_vec_pretty(&record).map_err(|e| e.to_string())?;
        self.write(format!("{folder}/record.json"), &text)?;
        self.exchanges.push(serde_json::json!({
            "folder": folder,
            "request_id": record["request_id"],
            "route": record["route"],
            "received_at": record["received_at"],
            "day": index.ts.get(..10),
            "seq": index.seq,
            "signature": signature,
        }));
        Ok(())
    }

    fn finish(&mut self, checks: &[ChainCheck]) -> Result<(), String> {
        let files: serde_json::Map<String, Value> = self
            .files
            .iter()
            .map(|(name, sha)| (name.clone(), Value::from(sha.as_str())))
            .collect();
        let manifest = serde_json::json!({
            "exchanges": self.exchanges,
            "files_sha256": files,
            "days": checks,
        });
        let path = self.out.join("manifest.json");
        let text = serde_json::to_vec_pretty(&manifest).map_err(|e| e.to_string())?;
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// For a notification's record: whether its signature verifies under the configured
/// secrets, at the time it was received. `None` (null) for what is not a notification.
fn signature_check(config: &Config, record: &Value, body: Option<&[u8]>) -> Value {
    let policy = record["policy"].as_str().and_then(|name| {
        config
            .policies
            .iter()
            .find(|(_, p)| &*p.name == name)
            .map(|(_, p)| p)
    });
    let (Some(rule), Some(body)) = (policy.and_then(|p| p.webhook.as_ref()), body) else {
        return Value::Null;
    };
    let mut headers = http::HeaderMap::new();
    for pair in record["request"]["headers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let (Some(name), Some(value)) = (pair[0].as_str(), pair[1].as_str()) else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    let target = record["request"]["target"].as_str().unwrap_or("");
    let query = target.split_once('?').map(|(_, q)| q);
    let received = record["received_at"]
        .as_str()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
        .map_or(0, |t| t.as_second());
    let notification = Notification::new(&headers, query, body);
    let verdict = rule
        .profile
        .verify(&rule.keys, &notification, received, rule.tolerance);
    serde_json::json!({
        "profile": rule.profile.name(),
        "verifies": verdict.is_ok(),
        "error": verdict.err().map(|e| format!("{e:?}")),
    })
}

/// A new identity for a custodian: the file to keep (offline), and its public key for
/// `[evidence] recipients`.
pub fn keygen(out: &Path) -> Result<String, String> {
    use age::secrecy::ExposeSecret;
    let identity = age::x25519::Identity::generate();
    let public = identity.to_public().to_string();
    let text = format!(
        "# created by garita evidence keygen\n# public key: {public}\n{}\n",
        identity.to_string().expose_secret()
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(out)
        .map_err(|e| format!("{}: {e}", out.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(public)
}

/// The report printed after an export.
pub fn report(exported: &Exported, out: &Path) -> String {
    let mut text = format!(
        "{} exchanges written to {}\n",
        exported.exchanges,
        out.display()
    );
    for day in &exported.days {
        if day.intact {
            text.push_str(&format!(
                "{}: {} records, chain intact\n",
                day.day, day.records
            ));
        } else {
            text.push_str(&format!(
                "{}: {} records, CHAIN BROKEN: {}\n",
                day.day,
                day.records,
                day.problems.join("; ")
            ));
        }
    }
    text
}
