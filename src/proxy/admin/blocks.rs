//! The runtime block list over the admin API.
//!
//! - `GET /admin/blocks` lists every blocked key (fact, keyed hash, since, by, reason).
//! - `POST /admin/blocks` with `{"fact":"dni","value":"12345678","reason":"chargeback"}`
//!   blocks a DNI, email, phone, account or device: the value is normalised and hashed
//!   as the rules do (an email may have two hashes, folded and not, when policies differ),
//!   and the next request carrying it is refused on every instance sharing the store.
//!   Answers 201 with the hashes added (200 if all were there already).
//! - `DELETE /admin/blocks/{fact}/{hash}` lifts one (404 if it was not there).
//! - `DELETE /admin/blocks` with `{"fact":"dni","value":"12345678"}` lifts the blocks of a
//!   value given in clear, hashed as `POST` hashes it (the value travels in the body, not
//!   the path, so that it stays out of access logs).
//!
//! The value itself is never stored, logged or echoed: only its keyed hash. A block's
//! `reason` is the operator's free text, kept and shown verbatim: write no identifier in
//! it. Addresses are blocked in the config's `ip_rules` lists, which a reload applies.

use super::{body_of, error, json, AdminApp, Reply};
use crate::core::request::facts::KeyKind;
use crate::proxy::served::Served;
use crate::state::identity_keys::hashes_of;
use crate::state::store::{Block, BlockNote};
use pingora::protocols::http::ServerSession;
use serde::Serialize;

/// Longest reason kept with a block.
const MAX_REASON: usize = 200;

#[derive(Serialize)]
struct BlockEvent<'a> {
    fact: &'a str,
    hash: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

/// The identity facts a block may name.
fn identity_kind(fact: &str) -> Option<KeyKind> {
    KeyKind::parse(fact).filter(|k| *k != KeyKind::Ip)
}

impl AdminApp {
    pub(super) async fn list_blocks(&self, served: &Served) -> Reply {
        match served.admin(served.runtime.store.blocks()).await {
            Ok(blocks) => json(200, &serde_json::json!({ "blocks": blocks })),
            Err(_) => error(503, "store_unavailable"),
        }
    }

    pub(super) async fn add_block(
        &self,
        session: &mut ServerSession,
        served: &Served,
        by: &str,
    ) -> Reply {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Body {
            fact: String,
            value: String,
            reason: Option<String>,
        }
        const EXPECTED: &str =
            "expected {\"fact\":\"dni|email|phone|account|device\",\"value\":\"...\",\"reason\":\"...\"}";
        let body = match body_of::<Body>(session, EXPECTED).await {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let Some(kind) = identity_kind(&body.fact) else {
            return error(
                400,
                "fact must be dni, email, phone, account or device (addresses go in ip_rules)",
            );
        };
        if body.reason.as_ref().is_some_and(|r| r.len() > MAX_REASON) {
            return error(400, "reason is longer than 200 bytes");
        }
        let hashes = match hashes_of(&served.config, kind, &body.value, &served.runtime.hasher) {
            Ok(hashes) => hashes,
            // The value is not echoed: it may be a DNI.
            Err(_) => return error(400, &format!("not a valid {}", kind.as_str())),
        };
        let note = BlockNote {
            since: served.runtime.now().as_second(),
            by: by.to_string(),
            reason: body.reason.clone(),
        };
        let mut added = Vec::new();
        let mut already = Vec::new();
        for hash in hashes {
            let block = Block {
                fact: kind.as_str().to_string(),
                hash,
                note: note.clone(),
            };
            match served.admin(served.runtime.store.block(&block)).await {
                Ok(true) => {
                    self.audit(
                        "block_added",
                        by,
                        BlockEvent {
                            fact: &block.fact,
                            hash: &block.hash,
                            reason: block.note.reason.as_deref(),
                        },
                    );
                    added.push(block);
                }
                Ok(false) => already.push(block),
                Err(_) => return error(503, "store_unavailable"),
            }
        }
        let status = if added.is_empty() { 200 } else { 201 };
        json(
            status,
            &serde_json::json!({ "added": added, "already_blocked": already }),
        )
    }

    /// `DELETE /admin/blocks` with a fact and a value in clear: every hash of the value.
    pub(super) async fn remove_block_by_value(
        &self,
        session: &mut ServerSession,
        served: &Served,
        by: &str,
    ) -> Reply {
        const EXPECTED: &str =
            "expected {\"fact\":\"dni|email|phone|account|device\",\"value\":\"...\"}";
        let body = match body_of::<super::FactValue>(session, EXPECTED).await {
            Ok(body) => body,
            Err(reply) => return reply,
        };
        let Some(kind) = identity_kind(&body.fact) else {
            return error(400, "fact must be dni, email, phone, account or device");
        };
        let hashes = match hashes_of(&served.config, kind, &body.value, &served.runtime.hasher) {
            Ok(hashes) => hashes,
            Err(_) => return error(400, &format!("not a valid {}", kind.as_str())),
        };
        let mut removed = Vec::new();
        for hash in hashes {
            match self.unblock(served, kind, &hash, by).await {
                Ok(true) => {
                    removed.push(serde_json::json!({ "fact": kind.as_str(), "hash": hash }))
                }
                Ok(false) => {}
                Err(reply) => return reply,
            }
        }
        if removed.is_empty() {
            return error(404, "not_blocked");
        }
        json(200, &serde_json::json!({ "removed": removed }))
    }

    /// Lift one block, audited; whether it was there, or the 503 to answer.
    async fn unblock(
        &self,
        served: &Served,
        kind: KeyKind,
        hash: &str,
        by: &str,
    ) -> Result<bool, Reply> {
        match served
            .admin(served.runtime.store.unblock(kind.as_str(), hash))
            .await
        {
            Ok(true) => {
                self.audit(
                    "block_removed",
                    by,
                    BlockEvent {
                        fact: kind.as_str(),
                        hash,
                        reason: None,
                    },
                );
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(_) => Err(error(503, "store_unavailable")),
        }
    }

    pub(super) async fn remove_block(
        &self,
        served: &Served,
        fact: &str,
        hash: &str,
        by: &str,
    ) -> Reply {
        let Some(kind) = identity_kind(fact) else {
            return error(400, "fact must be dni, email, phone, account or device");
        };
        if hash.is_empty() || !hash.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return error(400, "expected /admin/blocks/{fact}/{hash}");
        }
        match self.unblock(served, kind, hash, by).await {
            Ok(true) => json(
                200,
                &serde_json::json!({ "removed": [{ "fact": kind.as_str(), "hash": hash }] }),
            ),
            Ok(false) => error(404, "not_blocked"),
            Err(reply) => reply,
        }
    }
}
