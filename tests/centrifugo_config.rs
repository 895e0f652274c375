//! `chatsdk centrifugo-config`: the checked-in centrifugo/config.json is its output, and
//! what it prints passes the real Centrifugo's strict config check.

use crate::common;
use std::process::Command;

fn centrifugo_config(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_chatsdk"))
        .arg("centrifugo-config")
        .args(args)
        .output()
        .expect("chatsdk runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `centrifugo checkconfig --strict` on `text`; returns its verdict and output.
fn checkconfig_strict(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(common::centrifugo_binary())
        .args(["checkconfig", "--strict", "-c"])
        .arg(&path)
        .output()
        .unwrap();
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), output)
}

#[test]
fn the_checked_in_config_is_the_generated_one_byte_for_byte() {
    let generated = centrifugo_config(&[]);

    let checked_in = std::fs::read_to_string(common::repo_path("centrifugo/config.json")).unwrap();

    assert!(
        generated == checked_in,
        "centrifugo/config.json differs from what this ChatSDK generates: \
         run `chatsdk centrifugo-config > centrifugo/config.json`\n--- generated:\n{generated}"
    );
}

#[test]
fn generated_configs_pass_centrifugo_checkconfig_strict() {
    for args in [
        vec![],
        vec![
            "--allowed-origin",
            "https://app.example.com",
            "--allowed-origin",
            "http://localhost:3000",
        ],
    ] {
        let text = centrifugo_config(&args);

        let (ok, output) = checkconfig_strict(&text);

        assert!(
            ok,
            "checkconfig --strict refused {args:?}: {output}\n{text}"
        );
    }
    // The check can fail: an unknown key is refused in strict mode.
    let (ok, _) = checkconfig_strict(r#"{"client":{"no_such_option":true}}"#);
    assert!(!ok, "checkconfig --strict accepts unknown keys");
}

#[test]
fn allowed_origins_go_to_client_allowed_origins_and_no_secret_is_in_the_config() {
    let text = centrifugo_config(&["--allowed-origin", "https://app.example.com"]);

    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json["client"]["allowed_origins"],
        serde_json::json!(["https://app.example.com"])
    );
    assert!(json["client"].get("token").is_none(), "{text}");
    assert!(json.get("http_api").is_none(), "{text}");
    let namespaces: Vec<&str> = json["channel"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        namespaces,
        [
            chatsdk::realtime::CHAT_NAMESPACE,
            chatsdk::realtime::PERSONAL_NAMESPACE
        ]
    );
}
