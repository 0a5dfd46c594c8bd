//! Glob matching as Go's `filepath.Match` does it (`*`, `?`, `[a-z]`, `[^x]`, `\` escapes), with
//! `.dockerignore`'s `**` (any number of directories), used by COPY sources, `.dockerignore` and the
//! `${V#pattern}` substitutions.

/// Whether the pattern has glob metacharacters.
pub fn has_meta(p: &str) -> bool {
    p.contains(['*', '?', '['])
}

/// Matches a path: `*` and `?` stop at `/`, a `**` matches across directories (`a/**/b` also
/// matches `a/b`).
pub fn matches_path(pattern: &str, path: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = path.chars().collect();
    m(&p, &t, true)
}

/// Matches free text: `*` matches anything, `/` included.
pub fn matches_text(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    m(&p, &t, false)
}

/// Whether the pattern is well-formed (brackets closed, no trailing escape).
pub fn is_valid(pattern: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return false;
                }
                i += 2;
            }
            '[' => match class_end(&p, i) {
                Some(e) => i = e + 1,
                None => return false,
            },
            _ => i += 1,
        }
    }
    true
}

/// Index of the `]` closing the class that starts at `start`.
fn class_end(p: &[char], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if p.get(i) == Some(&'^') || p.get(i) == Some(&'!') {
        i += 1;
    }
    let mut first = true;
    while i < p.len() {
        match p[i] {
            ']' if !first => return Some(i),
            '\\' => i += 2,
            _ => i += 1,
        }
        first = false;
    }
    None
}

fn class_matches(class: &[char], c: char) -> bool {
    let (negate, body) = match class.first() {
        Some('^') | Some('!') => (true, &class[1..]),
        _ => (false, class),
    };
    let mut i = 0;
    let mut hit = false;
    while i < body.len() {
        let mut lo = body[i];
        if lo == '\\' && i + 1 < body.len() {
            i += 1;
            lo = body[i];
        }
        let mut hi = lo;
        if i + 2 < body.len() && body[i + 1] == '-' {
            hi = body[i + 2];
            if hi == '\\' && i + 3 < body.len() {
                hi = body[i + 3];
                i += 1;
            }
            i += 2;
        }
        if lo <= c && c <= hi {
            hit = true;
        }
        i += 1;
    }
    hit != negate
}

/// Whether all of `p` matches all of `t`. A table of "`p[i..]` matches `t[j..]`", filled from the
/// ends, so each cell looks only at cells already known: O(|p|·|t|) time, where backtracking over
/// consecutive `*`/`**` was exponential (`********x` against 100 characters took minutes), and no
/// recursion as deep as the pattern.
fn m(p: &[char], t: &[char], path: bool) -> bool {
    let w = t.len() + 1;
    let mut ok = vec![false; (p.len() + 1) * w];
    ok[p.len() * w + t.len()] = true;
    // A character a `*`, `?` or class may take (never a `/` in a path).
    let takes = |x: char| !(path && x == '/');
    for i in (0..p.len()).rev() {
        let (row, below) = ok.split_at_mut((i + 1) * w);
        let row = &mut row[i * w..];
        // Cell (k, j) of the rows below this one.
        let at = |k: usize, j: usize| below[(k - i - 1) * w + j];
        let class = if p[i] == '[' {
            class_end(&p[i..], 0).map(|e| i + e)
        } else {
            None
        };
        // For `**/`: whether some `/` at or after j is followed by a match of what comes after.
        let mut slash_then_after = false;
        for j in (0..=t.len()).rev() {
            let next = t.get(j).copied();
            row[j] = match p[i] {
                '*' if path && p.get(i + 1) == Some(&'*') => {
                    if p.get(i + 2) == Some(&'/') {
                        // `**/` matches zero or more directories.
                        if next == Some('/') && at(i + 3, j + 1) {
                            slash_then_after = true;
                        }
                        at(i + 3, j) || slash_then_after
                    } else {
                        // A bare `**` matches anything.
                        at(i + 2, j) || (next.is_some() && row[j + 1])
                    }
                }
                '*' => at(i + 1, j) || (next.is_some_and(takes) && row[j + 1]),
                '?' => next.is_some_and(takes) && at(i + 1, j + 1),
                '[' => match (class, next) {
                    (Some(end), Some(x)) => takes(x) && class_matches(&p[i + 1..end], x) && at(end + 1, j + 1),
                    _ => false,
                },
                '\\' if i + 1 < p.len() => next == Some(p[i + 1]) && at(i + 2, j + 1),
                c => next == Some(c) && at(i + 1, j + 1),
            };
        }
    }
    ok[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backtracking matcher `m` replaced: the reference its table must agree with.
    fn slow(p: &[char], t: &[char], path: bool) -> bool {
        let Some(&c) = p.first() else {
            return t.is_empty();
        };
        match c {
            '*' if path && p.get(1) == Some(&'*') => {
                // `**/` matches zero or more directories; a bare `**` matches anything.
                let rest = &p[2..];
                if rest.first() == Some(&'/') {
                    let after = &rest[1..];
                    if slow(after, t, path) {
                        return true;
                    }
                    (0..t.len()).any(|i| t[i] == '/' && slow(after, &t[i + 1..], path))
                } else {
                    (0..=t.len()).any(|i| slow(rest, &t[i..], path))
                }
            }
            '*' => {
                let rest = &p[1..];
                for i in 0..=t.len() {
                    if slow(rest, &t[i..], path) {
                        return true;
                    }
                    if i < t.len() && path && t[i] == '/' {
                        return false;
                    }
                }
                false
            }
            '?' => match t.first() {
                Some(&x) if !(path && x == '/') => slow(&p[1..], &t[1..], path),
                _ => false,
            },
            '[' => {
                let Some(end) = class_end(p, 0) else {
                    return false;
                };
                match t.first() {
                    Some(&x) if !(path && x == '/') && class_matches(&p[1..end], x) => {
                        slow(&p[end + 1..], &t[1..], path)
                    }
                    _ => false,
                }
            }
            '\\' if p.len() > 1 => t.first() == Some(&p[1]) && slow(&p[2..], &t[1..], path),
            _ => t.first() == Some(&c) && slow(&p[1..], &t[1..], path),
        }
    }

    #[test]
    fn go_filepath_match() {
        assert!(matches_path("*.txt", "a.txt"));
        assert!(!matches_path("*.txt", "d/a.txt"));
        assert!(matches_path("d/*.txt", "d/a.txt"));
        assert!(matches_path("a?c", "abc"));
        assert!(!matches_path("a?c", "a/c"));
        assert!(matches_path("[a-c]x", "bx"));
        assert!(!matches_path("[^a-c]x", "bx"));
        assert!(matches_path("[^a-c]x", "dx"));
        assert!(matches_path("\\*", "*"));
        assert!(!matches_path("\\*", "a"));
        assert!(!is_valid("[abc"));
        assert!(!is_valid("abc\\"));
        assert!(is_valid("a[]]b"));
    }

    #[test]
    fn double_star() {
        assert!(matches_path("**/*.go", "a.go"));
        assert!(matches_path("**/*.go", "x/y/a.go"));
        assert!(matches_path("a/**/b", "a/b"));
        assert!(matches_path("a/**/b", "a/x/y/b"));
        assert!(matches_path("a/**", "a/x/y"));
        assert!(matches_path("**", "anything/at/all"));
        assert!(!matches_path("a/**/b", "c/b"));
    }

    #[test]
    fn text() {
        assert!(matches_text("*/", "/usr/"));
        assert!(matches_text("*.gz", "/a/b.tar.gz"));
    }

    #[test]
    fn many_stars_against_a_long_path_are_fast() {
        // Found by fuzz/fuzz_targets/dockerignore.rs: with backtracking, these took minutes.
        let path = format!("*a/*a/{}/*/y*/bffl/o", "\0".repeat(150));
        for (pattern, hit) in [("****/*\0Y*a/**/y*/b", false), ("****/..a/*", false), ("****/", true)] {
            assert_eq!(matches_path(pattern, &path), hit, "{pattern}");
        }
        let deep = "d/".repeat(200) + "x";
        assert!(matches_path("**/**/**/**/**/**/**/**/x", &deep));
        assert!(!matches_path("**/**/**/**/**/**/**/**/y", &deep));
        let text = "a".repeat(300);
        assert!(!matches_text(&"*a".repeat(30).replace("*a*a", "*a*b"), &text));
        assert!(matches_text(&"*a".repeat(30), &text));
    }

    #[test]
    fn table_agrees_with_backtracking() {
        // Every pattern of up to 4 and text of up to 3 characters over alphabets that exercise
        // `*`, `**`, `**/`, `?`, classes and escapes.
        fn all(alphabet: &[char], max: usize) -> Vec<Vec<char>> {
            let mut out = vec![Vec::new()];
            let mut last = vec![Vec::new()];
            for _ in 0..max {
                last = last
                    .iter()
                    .flat_map(|s: &Vec<char>| {
                        alphabet.iter().map(move |&c| {
                            let mut n = s.clone();
                            n.push(c);
                            n
                        })
                    })
                    .collect();
                out.extend(last.iter().cloned());
            }
            out
        }
        let patterns = all(&['a', '/', '*', '?', '[', ']', '\\', '^'], 4);
        let texts = all(&['a', 'b', '/', ']'], 3);
        for p in &patterns {
            for t in &texts {
                for path in [true, false] {
                    assert_eq!(m(p, t, path), slow(p, t, path), "{p:?} {t:?} path={path}");
                }
            }
        }
    }
}
