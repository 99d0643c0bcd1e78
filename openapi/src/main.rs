//! Writes the OpenAPI document generated from the code to `openapi/openapi.json`, or with
//! `--check` fails when the committed file differs from it (CI runs the check as a test too).

use std::path::PathBuf;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("openapi.json")
}

/// The document exactly as committed: pretty-printed with a trailing newline.
fn render() -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(&taccuino_server::openapi::document())? + "\n")
}

fn main() -> anyhow::Result<()> {
    let path = committed_path();
    let rendered = render()?;
    if std::env::args().any(|a| a == "--check") {
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != rendered {
            anyhow::bail!(
                "{} is out of date: run `cargo run -p taccuino-openapi` and commit it",
                path.display()
            );
        }
        println!("{} is current", path.display());
    } else {
        std::fs::write(&path, rendered)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_document_matches_the_code() {
        let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
        let rendered = render().expect("render");
        assert!(
            committed == rendered,
            "openapi/openapi.json is out of date: run `cargo run -p taccuino-openapi` and commit it"
        );
    }
}
