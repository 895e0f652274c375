//! A note for a `RUST_LOG` that turns off chatsdk's own warnings without meaning to (a
//! typo reads as a crate name, and everything else goes quiet, errors included).

/// A line of chatsdk's own at `level`, to ask the filter about.
pub(super) fn our_line(level: log::Level) -> log::Metadata<'static> {
    log::Metadata::builder()
        .level(level)
        .target("chatsdk")
        .build()
}

/// What to say when the filter `spec` (`RUST_LOG`) turns off chatsdk's warnings without
/// asking for it: a typo (`infoo` reads as the name of a crate to log, so everything else
/// is off), a filter naming other crates only (`actix_web=debug`), an empty value (errors
/// only). A level that leaves them out on purpose (`off`, `error`, `chatsdk=error`) is
/// honoured without a word. `enabled` is the filter built from `spec`.
pub(super) fn silenced_warnings_note(
    spec: &str,
    enabled: impl Fn(log::Level) -> bool,
) -> Option<String> {
    if enabled(log::Level::Warn) || sets_a_quiet_level_for_chatsdk(spec) {
        return None;
    }
    let what = if enabled(log::Level::Error) {
        "warnings"
    } else {
        "warnings and errors"
    };
    // Keep what a filter with crate levels asks for, and give chatsdk a level beside it.
    let directives = spec.split('/').next().unwrap_or_default().trim();
    let example = if directives.contains('=') {
        format!("info,{directives}")
    } else {
        "info".to_string()
    };
    Some(format!(
        "RUST_LOG={spec:?} turns off chatsdk's {what}: it sets no level for them (a typo?); \
         e.g. RUST_LOG={example}, or RUST_LOG=error or off to mean it"
    ))
}

/// Whether `spec` names a level below WARN for chatsdk: bare (`error`, `off`) or for a
/// prefix of its name (`chatsdk=error`), read as env_logger reads it.
fn sets_a_quiet_level_for_chatsdk(spec: &str) -> bool {
    let directives = spec.split('/').next().unwrap_or_default();
    directives.split(',').any(|directive| {
        let (name, level) = match directive.trim().split_once('=') {
            Some((name, level)) => (name.trim(), level.trim()),
            None => ("", directive.trim()),
        };
        "chatsdk".starts_with(name)
            && level
                .parse::<log::LevelFilter>()
                .is_ok_and(|l| l < log::LevelFilter::Warn)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Log as _;

    /// The note for `spec`, asked of the filter env_logger builds from it.
    fn note_for(spec: &str) -> Option<String> {
        let mut builder = env_logger::Builder::new();
        builder.parse_filters(spec);
        let logger = builder.build();
        silenced_warnings_note(spec, |l| logger.enabled(&our_line(l)))
    }

    #[test]
    fn a_rust_log_that_silences_chatsdks_warnings_unasked_gets_a_note_and_a_chosen_level_none() {
        for quiet_on_purpose in [
            "off",
            "error",
            "ERROR",
            "chatsdk=error",
            "info,chatsdk=off",
            "error,actix_web=debug",
        ] {
            assert_eq!(note_for(quiet_on_purpose), None, "{quiet_on_purpose}");
        }
        for loud_enough in [
            "info",
            "warn",
            "debug",
            "chatsdk=warn",
            "actix_web=debug,warn",
        ] {
            assert_eq!(note_for(loud_enough), None, "{loud_enough}");
        }
        let typo = note_for("infoo").expect("a note for a typo");
        assert!(
            typo.starts_with("RUST_LOG=\"infoo\" turns off chatsdk's warnings and errors"),
            "{typo}"
        );
        assert!(typo.contains("e.g. RUST_LOG=info"), "{typo}");
        for unasked in ["actix_web=debug", "chatsdk::relay=info"] {
            let note = note_for(unasked).unwrap_or_else(|| panic!("no note for {unasked}"));
            assert!(note.contains("warnings and errors"), "{note}");
            assert!(
                note.contains(&format!("e.g. RUST_LOG=info,{unasked},")),
                "{note}"
            );
        }
        // A `/regex` would filter the suggested line too: the example leaves it out.
        let regex = note_for("actix_web=debug/GET").expect("a note");
        assert!(
            regex.contains("e.g. RUST_LOG=info,actix_web=debug,"),
            "{regex}"
        );
        // Empty: env_logger's default, errors only.
        let empty = note_for("").expect("a note for an empty RUST_LOG");
        assert!(
            empty.starts_with("RUST_LOG=\"\" turns off chatsdk's warnings:"),
            "{empty}"
        );
    }
}
