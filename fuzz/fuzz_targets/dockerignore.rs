//! `.dockerignore` patterns (`Ignore::parse`, `excluded`, `may_reinclude_below`), the Go-style
//! path cleaning, and the glob matcher under them. The input is the file's text, then a last line
//! that is the path asked about. Properties: cleaning is idempotent and leaves no empty or `.`
//! segments; without `!` exceptions, an excluded path excludes everything below it; a pattern
//! without metacharacters matches itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rreg::build::dockerignore::{self, Ignore};
use rreg::build::glob;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (patterns, path) = text.rsplit_once('\n').unwrap_or(("", text));

    let c = dockerignore::clean(path);
    assert_eq!(dockerignore::clean(&c), c, "clean is idempotent for {path:?}");
    assert!(c == "." || c.split('/').all(|s| !s.is_empty() && s != "."), "{c:?}");

    if let Ok(ig) = Ignore::parse(patterns, ".dockerignore") {
        let excluded = ig.excluded(path);
        let _ = (ig.may_reinclude_below(path), ig.is_empty());
        if excluded && !ig.has_exceptions() && c != "." {
            let child = format!("{c}/zz");
            assert!(ig.excluded(&child), "{path:?} is excluded but {child:?} is not");
        }
    }

    for line in patterns.lines() {
        let valid = glob::is_valid(line);
        let _ = (
            glob::matches_path(line, path),
            glob::matches_text(line, path),
            glob::has_meta(line),
        );
        if valid && !glob::has_meta(line) && !line.contains('\\') {
            assert!(
                glob::matches_path(line, line) && glob::matches_text(line, line),
                "{line:?}"
            );
        }
    }
});
