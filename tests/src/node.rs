//! Node.js programs of ours that tests run against the server: the stock automerge-repo client
//! (`tests/interop/`) and the browser stories (`tests/e2e/`, Debian's Chromium through
//! playwright-core). Each prints JSON lines and ends with `{"ok":true,...}` or
//! `{"ok":false,"error":...}`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

/// Runs a setup script of `scripts/` once per test binary (installs are idempotent anyway).
pub fn ensure(script: &str, args: &[&str]) {
    static DONE: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let key = format!("{script} {}", args.join(" "));
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if done.contains(&key) {
        return;
    }
    let status = Command::new(repo_root().join("scripts").join(script))
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("running scripts/{script}: {e}"));
    assert!(status.success(), "scripts/{key} failed");
    done.push(key);
}

/// Runs `node <script>` (relative to the workspace root) with `vars`; returns its final JSON
/// line, and fails the test with everything it printed unless that line says `"ok": true`.
pub async fn run(script: &str, vars: Vec<(String, String)>) -> Value {
    let mut command = Command::new("node");
    command.current_dir(repo_root()).arg(script);
    for (name, value) in vars {
        command.env(name, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the node task")
        .expect("running node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let result: Value = serde_json::from_str(last)
        .unwrap_or_else(|_| panic!("{script} printed no JSON result:\n{stdout}\n{stderr}"));
    assert_eq!(result["ok"], true, "{script} failed: {result}\n{stderr}");
    result
}
