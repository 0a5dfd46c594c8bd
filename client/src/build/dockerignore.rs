//! `.dockerignore` with Docker's rules (moby `patternmatcher`): one pattern per line, `#` comments,
//! patterns cleaned like `filepath.Clean` with a leading `/` dropped, `!` exceptions, `**` across
//! directories, and a pattern that matches a directory also excluding everything below it. The
//! last pattern that matches decides.

use serde::{Deserialize, Serialize};

use super::glob;

/// One parsed pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Pattern {
    text: String,
    exception: bool,
}

/// The patterns of a `.dockerignore` file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

/// Cleans a path as Go's `filepath.Clean` does, for a relative path (`.` for empty).
pub fn clean(p: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|s| *s != "..") {
                    out.pop();
                } else if !p.starts_with('/') {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    if out.is_empty() {
        ".".to_owned()
    } else {
        out.join("/")
    }
}

impl Ignore {
    /// Parses the file's text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> anyhow::Result<Ignore> {
        let mut patterns = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exception, rest) = match line.strip_prefix('!') {
                Some(r) => (true, r.trim()),
                None => (false, line),
            };
            if rest.is_empty() {
                anyhow::bail!("{file}:{}: illegal exclusion pattern: \"!\"", n + 1);
            }
            let cleaned = clean(rest);
            if !glob::is_valid(&cleaned) {
                anyhow::bail!("{file}:{}: bad pattern {rest:?}", n + 1);
            }
            if cleaned == "." {
                // `.` or `/` would exclude the whole context; Docker ignores it.
                continue;
            }
            patterns.push(Pattern {
                text: cleaned,
                exception,
            });
        }
        Ok(Ignore { patterns })
    }

    /// Whether there are `!` exceptions (then an excluded directory must still be walked).
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }

    /// Whether no pattern was given.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether the context-relative `path` is excluded.
    pub fn excluded(&self, path: &str) -> bool {
        let path = clean(path);
        let mut excluded = false;
        for p in &self.patterns {
            if p.exception != excluded {
                // An exception can only re-include something excluded, and the other way round.
                continue;
            }
            if matches_or_parent(&p.text, &path) {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether an excluded directory may hold something an exception re-includes (so it must be
    /// walked).
    pub fn may_reinclude_below(&self, dir: &str) -> bool {
        let dir = clean(dir);
        self.patterns.iter().filter(|p| p.exception).any(|p| {
            let prefix = format!("{dir}/");
            p.text.starts_with(&prefix) || p.text.starts_with("**") || !p.text.contains('/') && glob::has_meta(&p.text)
        })
    }
}

fn matches_or_parent(pattern: &str, path: &str) -> bool {
    if glob::matches_path(pattern, path) {
        return true;
    }
    let mut cur = path;
    while let Some(i) = cur.rfind('/') {
        cur = &cur[..i];
        if glob::matches_path(pattern, cur) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ig(text: &str) -> Ignore {
        Ignore::parse(text, ".dockerignore").expect("valid")
    }

    #[test]
    fn cleans_like_go() {
        assert_eq!(clean("/a/./b/../c/"), "a/c");
        assert_eq!(clean("./"), ".");
        assert_eq!(clean("a//b"), "a/b");
    }

    #[test]
    fn docker_rules() {
        let i = ig("# comment\n*.log\n!keep.log\nbuild/\n/tmp\n**/*.o\n");
        assert!(i.excluded("a.log"));
        assert!(!i.excluded("keep.log"));
        assert!(!i.excluded("d/a.log"), "*.log is rooted at the context");
        assert!(i.excluded("build"));
        assert!(i.excluded("build/x/y"), "a matched directory excludes its contents");
        assert!(i.excluded("tmp/z"));
        assert!(i.excluded("x.o"));
        assert!(i.excluded("src/deep/x.o"));
        assert!(!i.excluded("src/x.c"));
    }

    #[test]
    fn last_match_wins_and_reinclusion() {
        let i = ig("docs\n!docs/README.md\n");
        assert!(i.excluded("docs/a.md"));
        assert!(!i.excluded("docs/README.md"));
        assert!(i.may_reinclude_below("docs"));
        let j = ig("!a.txt\n*.txt\n");
        assert!(j.excluded("a.txt"), "a later pattern overrides an earlier exception");
        let k = ig("*\n!src\n");
        assert!(!k.excluded("src/main.rs"));
        assert!(k.excluded("Makefile"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = Ignore::parse("ok\n!\n", "ctx/.dockerignore").expect_err("bad");
        assert!(e.to_string().starts_with("ctx/.dockerignore:2:"), "{e}");
        let e = Ignore::parse("[abc\n", ".dockerignore").expect_err("bad");
        assert!(e.to_string().contains(":1:"), "{e}");
    }
}
