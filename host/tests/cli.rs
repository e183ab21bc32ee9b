//! The `ml-connector` binary's operator commands, run as an operator would: `sandbox`, `ping`,
//! `orders`, `mapping`, `config check`, each `--help`, and the systemd unit.
//!
//! One short sandbox run (shared by the tests that read its data directory) provides a real
//! database with posted orders; `ping` and `mapping check` run against simulators started here.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use mlc_sim::woo::{WooConfig, WooSim};
use mlc_sim::x3::{X3Config, X3Sim};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ml-connector");

fn mlc(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("ML_CONNECTOR_CONFIG")
        .env("MLC_LOG", "warn")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlc-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One `sandbox --orders 30 --exit-when-done` run: its data directory, exit status and output.
struct SandboxRun {
    dir: PathBuf,
    ok: bool,
    stdout: String,
    stderr: String,
}

fn sandbox_run() -> &'static SandboxRun {
    static RUN: OnceLock<SandboxRun> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir = scratch("sandbox").join("data");
        let out = mlc(&[
            "sandbox",
            "--orders",
            "30",
            "--exit-when-done",
            "--port",
            "0",
            "--data-dir",
            dir.to_str().unwrap(),
        ]);
        SandboxRun {
            dir,
            ok: out.status.success(),
            stdout: text(&out.stdout),
            stderr: text(&out.stderr),
        }
    })
}

fn sandbox_config() -> String {
    let run = sandbox_run();
    assert!(run.ok, "the sandbox failed:\n{}", run.stderr);
    run.dir.join("config.toml").to_str().unwrap().to_string()
}

#[test]
fn sandbox_posts_thirty_orders_as_thirty_documents_and_says_so_in_one_json_line() {
    let run = sandbox_run();
    assert!(run.ok, "exit status; stderr:\n{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "stdout is one line of JSON: {:?}",
        run.stdout
    );
    let v: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["orders_placed"], 30, "{v}");
    assert_eq!(v["documents_in_x3"], 30, "{v}");
    assert_eq!(v["duplicates"], 0, "{v}");
    assert_eq!(v["held"], 0, "{v}");
    assert_eq!(v["failed"], 0, "{v}");
    assert!(v["elapsed_ms"].as_u64().is_some(), "{v}");
    assert!(
        run.stderr.contains("/status"),
        "the status page URL is printed: {}",
        run.stderr
    );
}

#[test]
fn sandbox_refuses_a_data_dir_that_already_holds_orders() {
    let run = sandbox_run();
    assert!(run.ok, "{}", run.stderr);
    let out = mlc(&[
        "sandbox",
        "--orders",
        "1",
        "--exit-when-done",
        "--port",
        "0",
        "--data-dir",
        run.dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("already holds"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn exit_when_done_without_orders_is_a_usage_error() {
    let out = mlc(&["sandbox", "--exit-when-done"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn help_of_each_command_says_what_it_does() {
    for (args, words) in [
        (
            vec!["--help"],
            vec!["sandbox", "ping", "orders", "mapping", "Exit status"],
        ),
        (vec!["serve", "--help"], vec!["webhooks", "SIGTERM"]),
        (
            vec!["sandbox", "--help"],
            vec![
                "simulator",
                "--exit-when-done",
                "one sales document per order",
            ],
        ),
        (
            vec!["ping", "--help"],
            vec!["DNS", "401", "folder", "Exits 1"],
        ),
        (vec!["orders", "--help"], vec!["list", "show", "replay"]),
        (
            vec!["orders", "list", "--help"],
            vec!["--state", "attention"],
        ),
        (
            vec!["orders", "show", "--help"],
            vec!["timeline", "last error"],
        ),
        (
            vec!["orders", "replay", "--help"],
            vec!["within a second", "not posted twice"],
        ),
        (
            vec!["mapping", "import", "--help"],
            vec!["bad row", "held orders"],
        ),
        (vec!["mapping", "export", "--help"], vec!["CSV"]),
        (vec!["mapping", "check", "--help"], vec!["catalogue"]),
        (
            vec!["config", "check", "--help"],
            vec!["without any secret"],
        ),
    ] {
        let out = mlc(&args);
        assert!(out.status.success(), "{args:?}");
        let help = text(&out.stdout);
        for w in words {
            assert!(help.contains(w), "{args:?} --help lacks {w:?}:\n{help}");
        }
    }
}

// ---- config check -------------------------------------------------------------------------

const X3_PASSWORD: &str = "pw-Zq8!never-print";
const WOO_SECRET: &str = "cs_never_print_0123456789";
const HOOK_SECRET: &str = "hook-never-print";

fn write_config(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, body).unwrap();
    path
}

fn good_config() -> String {
    format!(
        r#"data-dir = "data"
[x3]
base-url = "http://127.0.0.1:9"
folder = "SEED"
user = "admin"
password = "{X3_PASSWORD}"
[woocommerce]
url = "http://127.0.0.1:9/"
consumer-key = "ck_0123456789abcdef"
consumer-secret = "{WOO_SECRET}"
webhook-secret = "{HOOK_SECRET}"
[orders]
dimension-types = ["CCT", "DEP"]
"#
    )
}

fn assert_no_secret(s: &str) {
    for secret in [X3_PASSWORD, WOO_SECRET, HOOK_SECRET] {
        assert!(!s.contains(secret), "{secret} printed:\n{s}");
    }
}

#[test]
fn config_check_summarises_a_good_config_without_secrets() {
    let dir = scratch("config-good");
    let path = write_config(&dir, &good_config());
    let out = mlc(&["config", "check", "--config", path.to_str().unwrap()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("OK"), "{stdout}");
    assert!(stdout.contains("folder SEED"), "{stdout}");
    assert!(stdout.contains("password set inline"), "{stdout}");
    assert_no_secret(&stdout);
    assert_no_secret(&stderr);
}

#[test]
fn config_check_names_the_problem_of_a_bad_config_without_secrets() {
    let dir = scratch("config-bad");
    for (edit, want) in [
        (
            good_config().replace("user = \"admin\"\n", ""),
            "needs user and password",
        ),
        (
            good_config().replace("folder = \"SEED\"", "folder = \"SEED\"\nfoldr = \"X\""),
            "unknown field `foldr`",
        ),
        // A syntax error on a secret's line: the position, never the line's text.
        (
            good_config().replace(
                &format!("password = \"{X3_PASSWORD}\""),
                &format!("password = \"{X3_PASSWORD}"),
            ),
            "line 6",
        ),
        (
            good_config().replace("[orders]\n", "[orders]\ndocument-kind = \"quote\"\n"),
            "document-kind",
        ),
    ] {
        let path = write_config(&dir, &edit);
        let out = mlc(&["config", "check", "--config", path.to_str().unwrap()]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{want}: {stdout}{stderr}");
        assert!(stderr.contains(want), "{want}: {stderr}");
        assert_eq!(
            stderr.matches("error:").count(),
            1,
            "one error line: {stderr}"
        );
        assert_no_secret(&stdout);
        assert_no_secret(&stderr);
    }
}

// ---- orders ---------------------------------------------------------------------------------

fn posted_ids(config: &str) -> Vec<u64> {
    let out = mlc(&[
        "orders", "list", "--state", "posted", "--json", "--config", config,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_u64().unwrap())
        .collect()
}

#[test]
fn orders_list_shows_every_sandbox_order_posted() {
    let config = sandbox_config();
    let ids = posted_ids(&config);
    assert_eq!(ids.len(), 30, "{ids:?}");
    let out = mlc(&["orders", "list", "--config", &config]);
    let table = text(&out.stdout);
    assert!(out.status.success());
    assert!(table.contains("posted 30"), "{table}");
    assert_eq!(
        table
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some("posted"))
            .count(),
        30,
        "{table}"
    );
}

#[test]
fn orders_show_gives_state_document_timeline_and_ledger() {
    let config = sandbox_config();
    let id = posted_ids(&config)[0];
    let out = mlc(&["orders", "show", &id.to_string(), "--config", &config]);
    let s = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for want in [
        &format!("order {id}"),
        "state          posted",
        "X3 document",
        "timeline",
        "posted",
        "X3 writes (ledger)",
        "sales order",
    ] {
        assert!(s.contains(want), "{want}:\n{s}");
    }
    let out = mlc(&[
        "orders",
        "show",
        &id.to_string(),
        "--json",
        "--config",
        &config,
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "posted");
    assert!(
        v["document_no"].as_str().is_some_and(|d| !d.is_empty()),
        "{v}"
    );
    assert!(!v["timeline"].as_array().unwrap().is_empty());

    let out = mlc(&["orders", "show", "999999", "--config", &config]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("order 999999 is unknown"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn orders_replay_queues_orders_by_id_and_by_state_and_names_unknown_ones() {
    let config = sandbox_config();
    let ids = posted_ids(&config);
    let out = mlc(&["orders", "replay", &ids[1].to_string(), "--config", &config]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 order(s) queued again"),
        "{}",
        text(&out.stdout)
    );
    let out = mlc(&[
        "orders",
        "show",
        &ids[1].to_string(),
        "--json",
        "--config",
        &config,
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["queued"], true, "{v}");
    // Still posted: a replay never forgets the document it already has.
    assert_eq!(v["state"], "posted");

    let out = mlc(&["orders", "replay", "--state", "posted", "--config", &config]);
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("30 order(s) queued again"),
        "{}",
        text(&out.stdout)
    );

    let out = mlc(&[
        "orders",
        "replay",
        &ids[2].to_string(),
        "999998",
        "--config",
        &config,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("1 order(s) queued again"));
    assert!(
        text(&out.stderr).contains("999998"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn orders_commands_refuse_a_data_dir_without_a_database() {
    let dir = scratch("orders-nodb");
    let path = write_config(&dir, &good_config());
    let out = mlc(&["orders", "list", "--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no database"),
        "{}",
        text(&out.stderr)
    );
}

// ---- mapping ----------------------------------------------------------------------------------

const GOOD_MAPPING: &str = "key_type,key,item_code,sales_unit,gl_account,dimensions,site
sku,WOO-TSHIRT,TSHIRT,UN,706100,CCT=WEB,
variation,14,HOODIE-RED,UN,706100,CCT=WEB;DEP=APPAREL,
shipping,flat_rate,CARRIAGE,UN,708500,,
";

#[test]
fn mapping_import_names_the_bad_row_and_stores_nothing_then_takes_a_good_table() {
    let dir = scratch("mapping-import");
    let config = write_config(&dir, &good_config());
    let config = config.to_str().unwrap();
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        GOOD_MAPPING.replace(
            "HOODIE-RED,UN,706100,CCT=WEB;DEP=APPAREL",
            "HOODIE-RED,UN,706100,XYZ=1",
        ),
    )
    .unwrap();
    let out = mlc(&[
        "mapping",
        "import",
        bad.to_str().unwrap(),
        "--config",
        config,
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("row 2"), "the bad row's number: {stderr}");
    assert!(stderr.contains("was not imported"), "{stderr}");
    let out = mlc(&["mapping", "export", "--config", config]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "nothing stored: {}",
        text(&out.stdout)
    );

    let good = dir.join("good.csv");
    std::fs::write(&good, GOOD_MAPPING).unwrap();
    let out = mlc(&[
        "mapping",
        "import",
        good.to_str().unwrap(),
        "--config",
        config,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("imported 3 mapping row(s)"),
        "{}",
        text(&out.stdout)
    );
    let out = mlc(&["mapping", "export", "--config", config]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), GOOD_MAPPING);
}

// ---- ping and mapping check against the simulators ----------------------------------------

fn sims_config(dir: &Path, x3: &X3Sim, woo: &WooSim, x3_password: &str) -> PathBuf {
    let w = woo.config();
    write_config(
        dir,
        &format!(
            r#"data-dir = "data"
[x3]
base-url = "{}"
folder = "{}"
user = "{}"
password = "{x3_password}"
timeout-secs = 5
[woocommerce]
url = "{}"
consumer-key = "{}"
consumer-secret = "{}"
webhook-secret = "w"
[orders]
dimension-types = ["CCT", "DEP"]
"#,
            x3.base_url(),
            x3.config().folder,
            x3.config().user,
            woo.site_url(),
            w.consumer_key,
            w.consumer_secret
        ),
    )
}

#[test]
fn ping_says_ok_for_both_and_names_a_wrong_x3_password() {
    let x3 = X3Sim::start(X3Config::default()).unwrap();
    let woo = WooSim::start(WooConfig::default()).unwrap();
    let dir = scratch("ping");
    let config = sims_config(&dir, &x3, &woo, &x3.config().password);
    let out = mlc(&["ping", "--config", config.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("X3           ok"), "{stdout}");
    assert!(stdout.contains("WooCommerce  ok"), "{stdout}");

    let wrong = "wrong-pw-never-print";
    let config = sims_config(&dir, &x3, &woo, wrong);
    let out = mlc(&["ping", "--config", config.to_str().unwrap()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("X3           FAILED"), "{stdout}");
    assert!(
        stdout.contains("401"),
        "the verdict names the 401: {stdout}"
    );
    assert!(stdout.contains("WooCommerce  ok"), "{stdout}");
    assert!(stderr.contains("the X3 connection test failed"), "{stderr}");
    assert!(!stdout.contains(wrong) && !stderr.contains(wrong));
}

#[test]
fn mapping_check_lists_the_catalogue_entries_no_row_covers() {
    let x3 = X3Sim::start(X3Config::default()).unwrap();
    let woo = WooSim::start(WooConfig::default()).unwrap();
    let dir = scratch("mapping-check");
    let config = sims_config(&dir, &x3, &woo, &x3.config().password);
    let config = config.to_str().unwrap();
    let good = dir.join("good.csv");
    std::fs::write(&good, GOOD_MAPPING).unwrap();
    assert!(
        mlc(&[
            "mapping",
            "import",
            good.to_str().unwrap(),
            "--config",
            config
        ])
        .status
        .success()
    );
    let out = mlc(&["mapping", "check", "--config", config]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("2 of 6 catalogue entries mapped"),
        "{stdout}"
    );
    assert!(
        stdout.contains("product 16 \"Gift wrapping\" (no SKU)"),
        "{stdout}"
    );
    assert!(stdout.contains("variation 15 of product 13"), "{stdout}");

    let full = format!(
        "{GOOD_MAPPING}sku,WOO-CAP,CAP,UN,706100,,\nsku,WOO-MUG,MUG,UN,706200,,\nvariation,15,HOODIE-BLUE,UN,706100,,\nproduct,16,GIFTWRAP,UN,708000,,\n"
    );
    std::fs::write(&good, full).unwrap();
    assert!(
        mlc(&[
            "mapping",
            "import",
            good.to_str().unwrap(),
            "--config",
            config
        ])
        .status
        .success()
    );
    let out = mlc(&["mapping", "check", "--config", config]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(
        text(&out.stdout).contains("6 of 6"),
        "{}",
        text(&out.stdout)
    );
}

// ---- the systemd unit -------------------------------------------------------------------------

#[test]
fn service_unit_is_notify_hardened_and_passes_systemd_analyze_verify() {
    let unit_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/ml-connector.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    for want in [
        "Type=notify",
        "User=ml-connector",
        "StateDirectory=ml-connector",
        "ConfigurationDirectory=ml-connector",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "SystemCallFilter=@system-service",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "Restart=on-failure",
        "WatchdogSec=60",
    ] {
        assert!(unit.lines().any(|l| l == want), "{want} missing");
    }
    // wasmtime's JIT needs pages that were writable to become executable.
    assert!(!unit.lines().any(|l| l == "MemoryDenyWriteExecute=yes"));

    let Ok(analyze) = which("systemd-analyze") else {
        eprintln!("systemd-analyze is not installed: verify skipped");
        return;
    };
    // verify insists that ExecStart's binary exists: point it at the one just built.
    let dir = scratch("unit");
    let copy = dir.join("ml-connector.service");
    std::fs::write(&copy, unit.replace("/usr/local/bin/ml-connector", BIN)).unwrap();
    let out = Command::new(analyze)
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "systemd-analyze verify: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|f| f.is_file())
        })
        .ok_or(())
}

/// Regression (issue 14): with the document settings and the mapping saved through the plugin
/// (the admin API's overlay in the database), `config check` said "sales orders of type  at site
/// ," and "mapping none": it read only the file. It shows the settings in force.
#[test]
fn config_check_shows_the_settings_and_mapping_saved_through_the_admin_api() {
    const STORED_PW: &str = "stored-pw-never-print-71";
    let dir = scratch("config-stored");
    let path = write_config(&dir, &good_config());
    let out = mlc(&["config", "check", "--config", path.to_str().unwrap()]);
    let before = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        before.contains("of type (not set) at site (not set)"),
        "{before}"
    );
    assert!(
        before.contains("none saved through the admin API"),
        "{before}"
    );

    let store = ml_connector::store::Store::open(&dir.join("data")).unwrap();
    store
        .kv_set(
            "settings",
            &serde_json::json!({
                "orders": {"order-type": "WEB", "sales-site": "FR011", "customer-category": "WEBCU"},
                "x3": {"base-url": "http://127.0.0.1:8124", "password": STORED_PW},
            })
            .to_string(),
        )
        .unwrap();
    store
        .kv_set(
            "mapping",
            "key_type,key,item_code,sales_unit,gl_account,dimensions,site\n\
             sku,WOO-MUG,MUG,UN,706200,CCT=WEB;DEP=HOME,\n\
             variation,14,HOODIE-RED,UN,706100,CCT=WEB,\n",
        )
        .unwrap();
    drop(store);
    let out = mlc(&["config", "check", "--config", path.to_str().unwrap()]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    for want in [
        "sales orders of type WEB at site FR011",
        "http://127.0.0.1:8124 folder SEED",
        "password set, saved through the admin API",
        "2 rows, stored in",
        "with 5 saved through the admin API or the plugin, which are in force: \
         orders.customer-category, orders.order-type, orders.sales-site, x3.base-url, x3.password",
    ] {
        assert!(stdout.contains(want), "{want}:\n{stdout}");
    }
    assert!(
        !stdout.contains("127.0.0.1:9 folder"),
        "not the file's X3: {stdout}"
    );
    assert_no_secret(&stdout);
    assert!(!stdout.contains(STORED_PW) && !stderr.contains(STORED_PW));
}

// ---- output and logging (issue 14) ----------------------------------------------------------

/// Regression: `orders show N | head` panicked ("failed printing to stdout: Broken pipe"). A
/// reader that has gone ends each command quietly; nothing panics.
#[test]
fn commands_writing_into_a_closed_pipe_end_quietly_without_a_panic() {
    let config = sandbox_config();
    let id = posted_ids(&config)[0].to_string();
    for args in [
        vec!["orders", "show", &id, "--config", &config],
        vec!["orders", "show", &id, "--json", "--config", &config],
        vec!["orders", "list", "--config", &config],
        vec!["mapping", "export", "--config", &config],
        vec!["config", "check", "--config", &config],
    ] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = Command::new(BIN)
            .args(&args)
            .env("MLC_LOG", "warn")
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
    }
}

/// Binds a datagram socket standing in for systemd's `$NOTIFY_SOCKET`.
fn notify_socket(dir: &Path) -> (std::os::unix::net::UnixDatagram, PathBuf) {
    let path = dir.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    (sock, path)
}

/// Reads notifications until one contains `want`; every message read, in order.
fn notified(sock: &std::os::unix::net::UnixDatagram, want: &str, seen: &mut Vec<String>) {
    let mut buf = [0u8; 4096];
    while !seen.iter().any(|m| m.contains(want)) {
        let n = sock
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no {want:?} from the host ({e}); got {seen:?}"));
        seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
}

/// Under systemd: journald priorities on every log line when stderr is the journal
/// (`JOURNAL_STREAM` names it), `READY=1` with a `STATUS=` of the queue, `WATCHDOG=1` at half of
/// `WATCHDOG_USEC`, `STOPPING=1` at SIGTERM. A stderr that is not the stream `JOURNAL_STREAM`
/// names gets the plain lines.
#[test]
fn under_systemd_the_log_has_priorities_and_the_host_notifies_ready_status_watchdog_stopping() {
    use std::os::unix::fs::MetadataExt;
    let dir = scratch("systemd");
    let config = write_config(
        &dir,
        &format!("listen = \"127.0.0.1:0\"\n{}", good_config()),
    );
    for journal in [true, false] {
        let log_path = dir.join(format!("stderr-{journal}.log"));
        let log = std::fs::File::create(&log_path).unwrap();
        let meta = log.metadata().unwrap();
        // The journal's stream is this file; the other run names another stream.
        let stream = if journal {
            format!("{}:{}", meta.dev(), meta.ino())
        } else {
            format!("{}:{}", meta.dev(), meta.ino() + 1)
        };
        let _ = std::fs::remove_file(dir.join("notify.sock"));
        let (sock, sock_path) = notify_socket(&dir);
        let mut child = Command::new(BIN)
            .args(["serve", "--config", config.to_str().unwrap()])
            .env("MLC_LOG", "info")
            .env("JOURNAL_STREAM", &stream)
            .env("NOTIFY_SOCKET", &sock_path)
            .env("WATCHDOG_USEC", "400000")
            .stdout(std::process::Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut seen = Vec::new();
        notified(&sock, "READY=1", &mut seen);
        let ready = seen.iter().find(|m| m.contains("READY=1")).unwrap();
        assert!(
            ready.contains("STATUS=0 order(s) waiting, 0 being posted; X3 "),
            "{ready}"
        );
        notified(&sock, "WATCHDOG=1", &mut seen);
        // A refused admin request: one warning.
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap();
        let addr = ready["listen"].as_str().unwrap();
        let r = ureq::get(format!("http://{addr}/api/admin/settings"))
            .header(
                "Authorization",
                "Bearer not-the-admin-token-0000000000000000",
            )
            .config()
            .http_status_as_error(false)
            .build()
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        notified(&sock, "STOPPING=1", &mut seen);
        assert!(child.wait().unwrap().success());
        let stderr = std::fs::read_to_string(&log_path).unwrap();
        if journal {
            assert!(
                stderr.lines().any(|l| l.starts_with("<6>listening on")),
                "{stderr}"
            );
            assert!(
                stderr
                    .lines()
                    .any(|l| l.starts_with("<4>admin API: refused a request with a wrong token")),
                "{stderr}"
            );
            assert!(
                stderr.lines().all(|l| l.starts_with('<')),
                "every line has a priority: {stderr}"
            );
        } else {
            assert!(
                stderr.lines().any(|l| l.starts_with("INFO listening on")),
                "{stderr}"
            );
            assert!(!stderr.contains("<6>"), "{stderr}");
        }
        assert_no_secret(&stderr);
    }
}

/// The libraries' own records (ureq here) reach the log through the same logger, with their
/// target, and without what they keep for `trace` (a request's query, which may be signed).
#[test]
fn library_logs_come_through_the_hosts_logger_without_secrets() {
    let dir = scratch("library-logs");
    let config = write_config(&dir, &good_config());
    let out = Command::new(BIN)
        .args(["ping", "--config", config.to_str().unwrap()])
        .env("MLC_LOG", "debug")
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "both connections fail: {stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("DEBUG [ureq") && l.contains("127.0.0.1:9")),
        "ureq's records: {stderr}"
    );
    assert_no_secret(&stderr);
    assert!(!stderr.contains("consumer_secret="), "{stderr}");
    // At the default level, none of ureq's debug records.
    let out = Command::new(BIN)
        .args(["ping", "--config", config.to_str().unwrap()])
        .env("MLC_LOG", "info")
        .output()
        .unwrap();
    assert!(
        !text(&out.stderr).contains("[ureq"),
        "{}",
        text(&out.stderr)
    );
}
