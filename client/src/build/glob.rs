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

fn m(p: &[char], t: &[char], path: bool) -> bool {
    let Some(&c) = p.first() else {
        return t.is_empty();
    };
    match c {
        '*' if path && p.get(1) == Some(&'*') => {
            // `**/` matches zero or more directories; a bare `**` matches anything.
            let rest = &p[2..];
            if rest.first() == Some(&'/') {
                let after = &rest[1..];
                if m(after, t, path) {
                    return true;
                }
                (0..t.len()).any(|i| t[i] == '/' && m(after, &t[i + 1..], path))
            } else {
                (0..=t.len()).any(|i| m(rest, &t[i..], path))
            }
        }
        '*' => {
            let rest = &p[1..];
            for i in 0..=t.len() {
                if m(rest, &t[i..], path) {
                    return true;
                }
                if i < t.len() && path && t[i] == '/' {
                    return false;
                }
            }
            false
        }
        '?' => match t.first() {
            Some(&x) if !(path && x == '/') => m(&p[1..], &t[1..], path),
            _ => false,
        },
        '[' => {
            let Some(end) = class_end(p, 0) else {
                return false;
            };
            match t.first() {
                Some(&x) if !(path && x == '/') && class_matches(&p[1..end], x) => m(&p[end + 1..], &t[1..], path),
                _ => false,
            }
        }
        '\\' if p.len() > 1 => t.first() == Some(&p[1]) && m(&p[2..], &t[1..], path),
        _ => t.first() == Some(&c) && m(&p[1..], &t[1..], path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
