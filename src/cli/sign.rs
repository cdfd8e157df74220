//! `garita sign`: the headers a payment provider would send with a notification.
//!
//! For testing a shop's sandbox flow end to end through garita: sign a `cip.paid` body and
//! send it (verified and forwarded), send it again (a duplicate), sign an old timestamp (a
//! stale notification), or edit the body after signing (a forgery).

use crate::config::Config;
use crate::core::webhook::{sign, Profile};
use std::io::Read;
use std::path::PathBuf;

pub fn run(
    profile: Option<String>,
    secret_env: Option<String>,
    config: Option<PathBuf>,
    policy: Option<String>,
    timestamp: Option<i64>,
    id: Option<String>,
) -> Result<String, String> {
    let (profile, key) = match (config, policy) {
        (Some(path), Some(name)) => {
            let config = Config::load(&path).map_err(|e| e.to_string())?;
            let rule = config
                .policies
                .find(&name)
                .and_then(|id| config.policies[id].webhook.as_ref())
                .ok_or_else(|| format!("{}: no webhook policy named {name:?}", path.display()))?;
            (rule.profile.clone(), rule.keys[0].clone())
        }
        _ => {
            let name = profile.ok_or("--profile is required without --config")?;
            let profile = Profile::named(&name).ok_or_else(|| {
                format!("unknown profile {name:?}; the generic hmac profile signs with --config and --policy")
            })?;
            let var = secret_env.ok_or("--secret-env is required without --config")?;
            let secret = std::env::var(&var)
                .map_err(|_| format!("the environment variable {var} is not set"))?;
            let key = profile
                .key_from_secret(&secret)
                .map_err(|why| format!("{var}: expected {why}"))?;
            (profile, key)
        }
    };
    let mut body = Vec::new();
    let stdin = std::io::stdin();
    if std::io::IsTerminal::is_terminal(&stdin) {
        // Otherwise it looks as if sign hung.
        eprintln!(
            "garita sign: reading the notification body from standard input; paste it and end with Ctrl-D (or pipe a file: garita sign ... < body.json)"
        );
    }
    stdin
        .lock()
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the body from standard input: {e}"))?;
    let timestamp = timestamp.unwrap_or_else(|| jiff::Timestamp::now().as_second());
    let id = id.unwrap_or_else(|| format!("evt_{:016x}", rand::random::<u64>()));
    let mut out = String::new();
    for (name, value) in sign(&profile, &key, &body, timestamp, &id) {
        out.push_str(&format!("{name}: {value}\n"));
    }
    Ok(out)
}
