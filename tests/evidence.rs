//! Evidence for disputes through the real binary: a code's creation and its paid
//! notification are captured, encrypted to two custodians; the day file holds nothing
//! identifying in clear; `garita evidence export` finds exactly the asked exchanges by
//! request id, order, code and DNI, or the last ten, opens them with either custodian's
//! identity and not with another, verifies the notification's signature, and reports a
//! record taken out of a day. A full disk costs records, counted, never requests; old
//! days are removed.

#[macro_use]
mod fixtures;
mod support;

use fixtures::PE_SECRET;
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use support::{RawRequest, RawResponse, TestGateway};

const DNI: &str = "45678912";
const EMAIL: &str = "ana.quispe@example.pe";
const PHONE: &str = "987654321";
const ORDER: &str = "ORD-2026-000123";
const CONCEPT: &str = "Zapatillas de correr talla 38";

fn rules(recipients: &[String], dir: Option<&Path>) -> String {
    let recipients: Vec<String> = recipients.iter().map(|r| format!("{r:?}")).collect();
    let dir = dir.map_or(String::new(), |d| {
        format!("dir = {:?}\n", d.display().to_string())
    });
    format!(
        concat!(
            r#"
[policies.cips.facts]
dni = "json:/userDocumentNumber"
email = "json:/userEmail"
phone = "json:/userPhone"
order = "json:/transactionCode"
amount = "json:/amount"
currency = "json:/currency"

[policies.cips.payment_codes]
code = "response_json:/data/cip"

[policies.cips.evidence]

[policies.pe.webhook]
profile = "pagoefectivo"
secrets = [{{ env = "PE_SECRET" }}]
[policies.pe.webhook.settles]

[policies.pe.evidence]

[evidence]
{dir}recipients = [{}]
"#,
            cip_and_pe_routes!()
        ),
        recipients.join(", "),
        dir = dir,
    )
}

/// A custodian's identity file in `dir`, made by `garita evidence keygen`; its public key.
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let path = dir.join(name);
    let out = support::run(
        support::garita_bin(),
        &["evidence", "keygen", "--out", path.to_str().unwrap()],
        &[],
        None,
    );
    assert!(out.success, "{}", out.text());
    (path, out.stdout.trim().to_string())
}

fn gateway(recipients: &[String], dir: Option<&Path>) -> TestGateway {
    TestGateway::builder()
        .env("PE_SECRET", PE_SECRET)
        .clock("2026-11-25T15:00:00Z")
        .rules(&rules(recipients, dir))
        .start()
}

fn create(gw: &TestGateway, order: &str) -> RawResponse {
    let body = format!(
        r#"{{"userDocumentNumber":"{DNI}","userEmail":"{EMAIL}","userPhone":"{PHONE}","transactionCode":"{order}","amount":"25.00","currency":"PEN","paymentConcept":"{CONCEPT}"}}"#
    );
    RawRequest::new("POST", "/v1/cips")
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer shop-api-key-never-kept")
        .body(body)
        .send(gw.proxy)
        .expect("gateway answers")
}

fn cip_of(answer: &RawResponse) -> String {
    let json: serde_json::Value = serde_json::from_slice(&answer.body).expect("a JSON answer");
    json["data"]["cip"].as_str().expect("a code").to_string()
}

fn notify_paid(gw: &TestGateway, cip: &str) -> RawResponse {
    fixtures::pe_code_notification(cip, "paid", &format!("op-{cip}"))
        .send(gw.proxy)
        .expect("gateway answers")
}

/// `garita evidence export` with `args` into a new directory; its output and the pack's
/// manifest.
fn export(
    gw: &TestGateway,
    identity: &Path,
    args: &[&str],
    out: &Path,
) -> (support::Output, serde_json::Value) {
    let config = gw.path("garita.toml");
    let mut all = vec![
        "evidence",
        "export",
        "--config",
        config.to_str().unwrap(),
        "--identity",
        identity.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let run = support::run(
        support::garita_bin(),
        &all,
        &[("PE_SECRET", PE_SECRET)],
        None,
    );
    let manifest = std::fs::read(out.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(serde_json::Value::Null);
    (run, manifest)
}

fn exchanges(manifest: &serde_json::Value) -> Vec<serde_json::Value> {
    manifest["exchanges"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        bytes.extend(std::fs::read(entry.path()).unwrap());
    }
    bytes
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_code_and_its_notification_are_kept_sealed_and_exported_by_what_names_them() {
    let keys = tempfile::tempdir().unwrap();
    let (first, first_public) = keygen(keys.path(), "first.key");
    let (second, second_public) = keygen(keys.path(), "second.key");
    let (stranger, _) = keygen(keys.path(), "stranger.key");
    let gw = gateway(&[first_public, second_public], None);

    let created = create(&gw, ORDER);
    assert_eq!(created.status, 200);
    let cip = cip_of(&created);
    assert_eq!(notify_paid(&gw, &cip).status, 200);
    gw.wait_for_metric("garita_evidence_records_total 2");

    // Nothing identifying in clear on disk: not the DNI, email, phone, order, code or body.
    let evidence = gw.path("evidence");
    let bytes = all_bytes(&evidence);
    assert!(!bytes.is_empty());
    for clear in [
        DNI,
        EMAIL,
        PHONE,
        ORDER,
        &cip,
        CONCEPT,
        "Zapatillas",
        "shop-api-key",
    ] {
        assert!(
            !contains(&bytes, clear),
            "{clear} in clear in {}",
            evidence.display()
        );
    }

    let request_id = gw.wait_for_decisions(2)[0]["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = keys.path().join("by-request");
    let (run, manifest) = export(&gw, &first, &["--request-id", &request_id], &out);
    assert!(run.success, "{}", run.text());
    let found = exchanges(&manifest);
    assert_eq!(found.len(), 1, "{manifest:#}");
    assert_eq!(found[0]["request_id"], request_id.as_str());
    let folder = out.join(found[0]["folder"].as_str().unwrap());
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(folder.join("record.json")).unwrap()).unwrap();
    assert_eq!(record["request"]["method"], "POST");
    assert_eq!(record["request"]["target"], "/v1/cips");
    assert_eq!(record["decision"]["decision"], "allow");
    assert_eq!(record["response"]["status"], 200);
    let headers = record["request"]["headers"]
        .to_string()
        .to_ascii_lowercase();
    assert!(
        !headers.contains("authorization") && !headers.contains("shop-api-key"),
        "{headers}"
    );
    // The bodies as sent and answered, byte for byte, with their digests in the manifest.
    let request_body = std::fs::read(folder.join("request.body")).unwrap();
    assert!(contains(&request_body, DNI) && contains(&request_body, CONCEPT));
    assert_eq!(
        std::fs::read(folder.join("response.body")).unwrap(),
        created.body
    );
    let name = format!("{}/request.body", found[0]["folder"].as_str().unwrap());
    assert_eq!(
        manifest["files_sha256"][&name],
        hex::encode(sha2::Sha256::digest(&request_body)),
        "{manifest:#}"
    );
    assert_eq!(manifest["days"][0]["intact"], true, "{manifest:#}");

    // By the code: its creation and its notification, whose signature verifies.
    let (run, manifest) = export(&gw, &second, &["--cip", &cip], &keys.path().join("by-cip"));
    assert!(run.success, "{}", run.text());
    let found = exchanges(&manifest);
    assert_eq!(found.len(), 2, "{manifest:#}");
    assert_eq!(found[1]["route"], "pe-notify");
    assert_eq!(found[1]["signature"]["verifies"], true, "{manifest:#}");
    assert!(found[0]["signature"].is_null());

    // By order and by DNI: the creation only; another DNI: nothing.
    for (flag, value, n) in [
        ("--order", ORDER, 1),
        ("--dni", DNI, 1),
        ("--dni", "11223344", 0),
    ] {
        let out = keys.path().join(format!("by{flag}-{value}"));
        let (run, manifest) = export(&gw, &first, &[flag, value], &out);
        assert!(run.success, "{}", run.text());
        assert_eq!(
            exchanges(&manifest).len(),
            n,
            "{flag} {value}: {manifest:#}"
        );
    }

    // Another custodian's identity opens nothing.
    let (run, _) = export(
        &gw,
        &stranger,
        &["--cip", &cip],
        &keys.path().join("stranger"),
    );
    assert!(!run.success);
    assert!(run.text().contains("cannot open"), "{}", run.text());
}

#[test]
fn the_last_ten_are_found_and_a_record_taken_out_is_reported() {
    let keys = tempfile::tempdir().unwrap();
    let (identity, public) = keygen(keys.path(), "custodian.key");
    let gw = gateway(&[public], None);
    // One at a time, each written before the next: a line of the day file each.
    for i in 0..12 {
        assert_eq!(create(&gw, &format!("ORD-{i}")).status, 200);
        gw.wait_for_metric(&format!("garita_evidence_records_total {}", i + 1));
    }
    let ids: Vec<String> = gw
        .wait_for_decisions(12)
        .iter()
        .map(|l| l["request_id"].as_str().unwrap().to_string())
        .collect();

    let (run, manifest) = export(
        &gw,
        &identity,
        &["--last", "10", "--route", "cips"],
        &keys.path().join("last"),
    );
    assert!(run.success, "{}", run.text());
    let found: Vec<String> = exchanges(&manifest)
        .iter()
        .map(|e| e["request_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(found, ids[2..].to_vec());

    // Take the fifth line (the fifth record) out of the day: the export says where.
    let day = gw.path("evidence").join("evidence-2026-11-25.jsonl");
    let text = std::fs::read_to_string(&day).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .enumerate()
        .filter(|(i, _)| *i != 4)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&day, kept.join("\n") + "\n").unwrap();
    let (run, manifest) = export(
        &gw,
        &identity,
        &["--last", "3"],
        &keys.path().join("broken"),
    );
    assert_eq!(run.code, Some(1), "{}", run.text());
    assert!(run.stdout.contains("CHAIN BROKEN"), "{}", run.stdout);
    assert!(run.stdout.contains("records 5 to 5"), "{}", run.stdout);
    assert_eq!(manifest["days"][0]["intact"], false);
}

#[test]
fn a_full_disk_costs_records_counted_never_requests() {
    let keys = tempfile::tempdir().unwrap();
    let (_, public) = keygen(keys.path(), "custodian.key");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.path().join("evidence-2026-11-25.jsonl")).unwrap();
    let gw = gateway(&[public], Some(dir.path()));
    for i in 0..3 {
        assert_eq!(create(&gw, &format!("ORD-{i}")).status, 200);
    }
    let scrape = gw.wait_for_metric("garita_evidence_write_errors_total 3");
    assert!(
        scrape.contains("garita_evidence_records_total 0"),
        "{scrape}"
    );
    assert_eq!(gw.received().len(), 3, "every request was served");
}

#[test]
fn days_past_retention_are_removed() {
    let keys = tempfile::tempdir().unwrap();
    let (_, public) = keygen(keys.path(), "custodian.key");
    let gw = gateway(&[public], None);
    assert_eq!(create(&gw, ORDER).status, 200);
    gw.wait_for_metric("garita_evidence_records_total 1");
    let day = gw.path("evidence").join("evidence-2026-11-25.jsonl");
    let manifest = gw
        .path("evidence")
        .join("evidence-2026-11-25.manifest.json");
    // The manifest follows its batch.
    support::eventually("the day and its manifest", || {
        day.exists() && manifest.exists()
    });
    // 400 days later the day is still kept; the day after, it is gone.
    gw.set_clock("2027-12-30T12:00:00Z");
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert!(day.exists(), "kept for 400 days");
    gw.set_clock("2027-12-31T12:00:00Z");
    support::eventually("the old day removed", || {
        !day.exists() && !manifest.exists()
    });
}

#[test]
fn check_names_where_evidence_goes_and_refuses_a_capture_without_recipients() {
    let keys = tempfile::tempdir().unwrap();
    let (_, public) = keygen(keys.path(), "custodian.key");
    let gw = gateway(std::slice::from_ref(&public), None);
    let check = |config: &Path| {
        support::run(
            support::garita_bin(),
            &["check", "--config", config.to_str().unwrap()],
            &[("PE_SECRET", PE_SECRET)],
            None,
        )
    };
    let out = check(&gw.path("garita.toml"));
    assert!(out.success, "{}", out.text());
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("evidence:"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    for part in [
        "/evidence for policies cips, pe",
        "kept 400 days",
        "1 recipient(s)",
        &public,
    ] {
        assert!(line.contains(part), "{part} not in {line}");
    }

    let text = std::fs::read_to_string(gw.path("garita.toml")).unwrap();
    let no_recipients = text.replace(&format!("recipients = [{public:?}]"), "recipients = []");
    assert_ne!(no_recipients, text);
    let bad = gw.path("no-recipients.toml");
    std::fs::write(&bad, no_recipients).unwrap();
    let out = check(&bad);
    assert!(!out.success);
    assert!(out.text().contains("evidence.recipients"), "{}", out.text());

    let no_section = text.replace("[evidence]", "[unused_evidence]");
    let no_section: String = no_section
        .lines()
        .filter(|l| !l.starts_with("[unused_evidence]") && !l.starts_with("recipients ="))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&bad, no_section).unwrap();
    let out = check(&bad);
    assert!(!out.success);
    assert!(
        out.text().contains("policies.cips.evidence"),
        "{}",
        out.text()
    );
}

#[test]
fn a_key_rotated_by_a_reload_seals_what_follows_and_one_chain_runs_through_the_day() {
    let keys = tempfile::tempdir().unwrap();
    let (old, old_public) = keygen(keys.path(), "old.key");
    let (new, new_public) = keygen(keys.path(), "new.key");
    let gw = gateway(std::slice::from_ref(&old_public), None);
    assert_eq!(create(&gw, "ORD-before").status, 200);
    gw.wait_for_metric("garita_evidence_records_total 1");

    let text = gw.config_text();
    let rotated = text.replace(
        &format!("recipients = [{old_public:?}]"),
        &format!("recipients = [{new_public:?}]"),
    );
    assert_ne!(rotated, text);
    gw.write_config(&rotated);
    gw.signal("HUP");
    gw.wait_for_metric("garita_config_reloads_total 1");
    assert_eq!(create(&gw, "ORD-after").status, 200);
    gw.wait_for_metric("garita_evidence_records_total 2");

    let before = keys.path().join("before");
    let (run, manifest) = export(&gw, &old, &["--order", "ORD-before"], &before);
    assert!(run.success, "{}", run.text());
    assert_eq!(exchanges(&manifest).len(), 1);
    assert_eq!(manifest["days"][0]["intact"], true, "{manifest:#}");
    assert_eq!(manifest["days"][0]["records"], 2, "{manifest:#}");
    let (run, _) = export(
        &gw,
        &old,
        &["--order", "ORD-after"],
        &keys.path().join("old-after"),
    );
    assert!(
        !run.success,
        "the old key opens nothing sealed after the rotation"
    );
    let (run, manifest) = export(
        &gw,
        &new,
        &["--order", "ORD-after"],
        &keys.path().join("after"),
    );
    assert!(run.success, "{}", run.text());
    assert_eq!(exchanges(&manifest).len(), 1);
}
