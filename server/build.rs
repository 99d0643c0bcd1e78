//! Builds the PWA (`pwa/`, with npm and Vite) into `OUT_DIR/pwa`, which `http::pwa` embeds in
//! the binary: `cargo run` serves the current app with no separate step.

use std::path::Path;
use std::process::Command;

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest)
        .parent()
        .expect("server/ is inside the workspace");
    let out = Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("pwa");
    for input in [
        "pwa/index.html",
        "pwa/src",
        "pwa/public",
        "pwa/build",
        "pwa/vite.config.js",
        "pwa/package.json",
        "pwa/package-lock.json",
        "scripts/build-pwa",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(input).display());
    }
    let status = Command::new("bash")
        .arg(root.join("scripts/build-pwa"))
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("could not run scripts/build-pwa: {e}"));
    assert!(
        status.success(),
        "building the PWA failed (scripts/build-pwa {}): see its output above",
        out.display()
    );
}
