//! The Dockerfile front end: `parser::lex` (directives, continuations, flags, heredocs),
//! `Dockerfile::parse` (typed instructions and stages), `instruction::parse_one` (ONBUILD
//! triggers), and the word processing of `shell` (quote removal, escapes, `${V…}` substitution and
//! pattern trimming) with both escape characters. Properties: instructions come in line order
//! within the text, stages are numbered in order, and a word without quotes, escapes or `$` expands
//! to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rreg::build::instruction::{self, Dockerfile};
use rreg::build::{parser, shell};

/// The variables `$NAME` sees: set, empty, with spaces, a path (for `#`/`%` trimming).
fn vars(name: &str) -> Option<String> {
    match name {
        "A" => Some("aaa".into()),
        "EMPTY" => Some(String::new()),
        "SP" => Some("x  y".into()),
        "PATHV" => Some("/usr/local/bin/tool.tar.gz".into()),
        "Q" => Some("'\"$A\\".into()),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.split('\n').count();

    if let Ok(l) = parser::lex(text, "Dockerfile") {
        assert!(matches!(l.directives.escape, '\\' | '`'));
        let mut prev = 0;
        for raw in &l.instructions {
            assert!(raw.line > prev && raw.line <= lines, "line {} of {lines}", raw.line);
            prev = raw.line;
            assert!(raw.keyword.chars().all(|c| c.is_ascii_uppercase()));
            let _ = parser::heredoc_markers(&raw.rest);
            let _ = parser::json_array(&raw.rest);
        }
    }
    if let Ok(d) = Dockerfile::parse(text, "Dockerfile") {
        assert!(!d.stages.is_empty());
        for (i, s) in d.stages.iter().enumerate() {
            assert_eq!(s.index, i);
            assert!(s.line <= lines);
            if let Some(n) = &s.name {
                assert_eq!(d.stage(n), Some(i), "stage {n:?} is found by its name");
            }
        }
    }
    for escape in ['\\', '`'] {
        let _ = instruction::parse_one(text, escape, "Dockerfile");
    }
    let _ = instruction::parse_duration(text);

    // Word processing: the first character picks the escape character.
    let escape = if text.starts_with('`') { '`' } else { '\\' };
    let _ = shell::expand_word(text, escape, &vars);
    let _ = shell::expand_words(text, escape, &vars);
    let _ = shell::split_keep_quotes(text, escape);
    let _ = shell::referenced_names(text);
    if !text.contains(['\'', '"', '$', escape]) {
        assert_eq!(shell::expand_word(text, escape, &vars).ok().as_deref(), Some(text));
    }
});
