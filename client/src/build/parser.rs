//! Dockerfile text → logical instructions, as BuildKit's parser reads it: parser directives at the
//! top (`# syntax=`, `# escape=`, `# check=`), comments, line continuations with the escape
//! character (comment and blank lines inside a continuation skipped), `--flag` arguments, JSON
//! (exec) form, and heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`, several on one line). Errors name the
//! file and line. Typed instructions are in [`super::instruction`].

use std::fmt;

/// An error with the place it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file, as the user named it.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// One heredoc attached to an instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The delimiter word (`EOF`).
    pub name: String,
    /// The body, each line ending with `\n`.
    pub content: String,
    /// False when the delimiter was quoted: no variable expansion.
    pub expand: bool,
    /// `<<-`: leading tabs were stripped.
    pub chomp_tabs: bool,
}

/// A logical instruction before typing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    /// 1-based line where it starts.
    pub line: usize,
    /// The keyword, upper-cased.
    pub keyword: String,
    /// `--name=value` / `--name` flags, in order.
    pub flags: Vec<(String, Option<String>)>,
    /// The arguments after the flags, continuation lines joined.
    pub rest: String,
    /// Heredocs, in the order their `<<` appeared.
    pub heredocs: Vec<Heredoc>,
    /// The instruction as written (one line; for messages and history).
    pub original: String,
}

/// Parser directives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    /// The escape character (`\` or `` ` ``).
    pub escape: char,
    /// `# syntax=` (recorded, not acted on: there is no frontend to fetch).
    pub syntax: Option<String>,
    /// `# check=` (recorded).
    pub check: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
            check: None,
        }
    }
}

/// A lexed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexed {
    /// Parser directives.
    pub directives: Directives,
    /// Instructions in order.
    pub instructions: Vec<Raw>,
}

/// Instructions whose arguments may carry heredocs.
const HEREDOC_KEYWORDS: [&str; 3] = ["RUN", "COPY", "ADD"];

fn directive(line: &str) -> Option<(String, String)> {
    let body = line.trim().strip_prefix('#')?.trim();
    let (k, v) = body.split_once('=')?;
    let k = k.trim();
    if k.is_empty()
        || !k.chars().all(|c| c.is_ascii_alphanumeric())
        || !k.starts_with(|c: char| c.is_ascii_alphabetic())
    {
        return None;
    }
    Some((k.to_ascii_lowercase(), v.trim().to_owned()))
}

/// Lexes a Dockerfile's text. `file` names it in errors.
pub fn lex(text: &str, file: &str) -> Result<Lexed, ParseError> {
    let err = |line: usize, message: String| ParseError {
        file: file.to_owned(),
        line,
        message,
    };
    let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let mut directives = Directives::default();
    let mut i = 0;
    // Directives: only at the very top, each key at most once.
    let mut seen = Vec::new();
    while i < lines.len() {
        let Some((k, v)) = directive(lines[i]) else { break };
        if seen.contains(&k) {
            return Err(err(i + 1, format!("only one {k} parser directive can be used")));
        }
        match k.as_str() {
            "escape" => {
                directives.escape = match v.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => return Err(err(i + 1, format!("invalid escape token {v:?}: must be ` or \\"))),
                }
            }
            "syntax" => directives.syntax = Some(v),
            "check" => directives.check = Some(v),
            // An unknown directive is a comment and ends the directives.
            _ => break,
        }
        seen.push(k);
        i += 1;
    }
    let escape = directives.escape;
    let mut instructions = Vec::new();
    while i < lines.len() {
        let start = i;
        let first = lines[i].trim_start();
        i += 1;
        if first.trim().is_empty() || first.starts_with('#') {
            continue;
        }
        // Join continuation lines.
        let mut logical = String::new();
        let mut cur = first.to_owned();
        loop {
            let trimmed = cur.trim_end();
            if let Some(body) = trimmed.strip_suffix(escape) {
                logical.push_str(body);
                // Skip comment and empty lines inside the continuation.
                let mut next = None;
                while i < lines.len() {
                    let l = lines[i];
                    i += 1;
                    let t = l.trim_start();
                    if t.starts_with('#') || t.trim().is_empty() {
                        continue;
                    }
                    next = Some(l.to_owned());
                    break;
                }
                match next {
                    Some(n) => cur = n,
                    None => break,
                }
            } else {
                logical.push_str(&cur);
                break;
            }
        }
        let logical = logical.trim().to_owned();
        let (keyword, args) = match logical.find(char::is_whitespace) {
            Some(p) => (logical[..p].to_owned(), logical[p..].trim_start().to_owned()),
            None => (logical.clone(), String::new()),
        };
        if !keyword.chars().all(|c| c.is_ascii_alphabetic()) {
            return Err(err(start + 1, format!("unknown instruction: {keyword}")));
        }
        let keyword = keyword.to_ascii_uppercase();
        let (flags, rest) = split_flags(&args, keyword == "ONBUILD");
        let mut heredocs = Vec::new();
        if HEREDOC_KEYWORDS.contains(&keyword.as_str()) {
            for (name, quoted, chomp) in heredoc_markers(&rest) {
                let mut content = String::new();
                let mut closed = false;
                while i < lines.len() {
                    let l = lines[i];
                    i += 1;
                    let l = if chomp { l.trim_start_matches('\t') } else { l };
                    if l == name {
                        closed = true;
                        break;
                    }
                    content.push_str(l);
                    content.push('\n');
                }
                if !closed {
                    return Err(err(
                        start + 1,
                        format!("unterminated heredoc: no line {name:?} before the end"),
                    ));
                }
                heredocs.push(Heredoc {
                    name,
                    content,
                    expand: !quoted,
                    chomp_tabs: chomp,
                });
            }
        }
        instructions.push(Raw {
            line: start + 1,
            keyword,
            flags,
            rest,
            heredocs,
            original: logical,
        });
    }
    Ok(Lexed {
        directives,
        instructions,
    })
}

/// Leading `--flag[=value]` words (not for ONBUILD, whose argument is an instruction).
fn split_flags(args: &str, none: bool) -> (Vec<(String, Option<String>)>, String) {
    let mut flags = Vec::new();
    let mut rest = args;
    if none {
        return (flags, rest.to_owned());
    }
    loop {
        let r = rest.trim_start();
        let Some(after) = r.strip_prefix("--") else {
            rest = r;
            break;
        };
        let end = after.find(char::is_whitespace).unwrap_or(after.len());
        let word = &after[..end];
        if word.is_empty() {
            rest = r;
            break;
        }
        match word.split_once('=') {
            Some((k, v)) => flags.push((k.to_owned(), Some(v.to_owned()))),
            None => flags.push((word.to_owned(), None)),
        }
        rest = &after[end..];
    }
    (flags, rest.to_owned())
}

/// The `<<WORD` markers in a line: `(word, quoted, chomp)`.
pub fn heredoc_markers(s: &str) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
            i += 1;
            continue;
        }
        if c == '<' && b.get(i + 1) == Some(&'<') && b.get(i + 2) != Some(&'<') {
            let mut j = i + 2;
            let chomp = b.get(j) == Some(&'-');
            if chomp {
                j += 1;
            }
            let q = match b.get(j) {
                Some(&q @ ('"' | '\'')) => {
                    j += 1;
                    Some(q)
                }
                _ => None,
            };
            let st = j;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == '_' || b[j] == '-' || b[j] == '.') {
                j += 1;
            }
            if j > st {
                let name: String = b[st..j].iter().collect();
                if let Some(q) = q {
                    if b.get(j) == Some(&q) {
                        j += 1;
                    }
                }
                out.push((name, q.is_some(), chomp));
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Parses a JSON array of strings (exec form); `None` when `s` is not one.
pub fn json_array(s: &str) -> Option<Vec<String>> {
    let t = s.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lx(s: &str) -> Lexed {
        lex(s, "Dockerfile").expect("lexes")
    }

    #[test]
    fn directives_and_comments() {
        let l = lx("# syntax=docker/dockerfile:1\n# escape=`\n\n# a comment\nFROM x\nRUN a `\n  b\n");
        assert_eq!(l.directives.escape, '`');
        assert_eq!(l.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(l.instructions.len(), 2);
        assert_eq!(l.instructions[1].rest, "a   b");
        assert_eq!(l.instructions[1].line, 6);
        // A directive after an instruction is a comment.
        let l = lx("FROM x\n# escape=`\nRUN a \\\n b\n");
        assert_eq!(l.directives.escape, '\\');
        assert_eq!(l.instructions[1].rest, "a  b");
    }

    #[test]
    fn continuations_skip_comments_and_blank_lines() {
        let l = lx("run echo a \\\n# inside\n\n   b \\\n  c\ncmd [\"x\"]\n");
        assert_eq!(l.instructions[0].keyword, "RUN");
        assert_eq!(l.instructions[0].rest, "echo a    b   c");
        assert_eq!(l.instructions[1].line, 6);
        assert_eq!(json_array(&l.instructions[1].rest), Some(vec!["x".to_owned()]));
    }

    #[test]
    fn flags() {
        let l = lx("COPY --from=build --chown=1:2 --link a b\nONBUILD RUN --x y\n");
        let c = &l.instructions[0];
        assert_eq!(
            c.flags,
            vec![
                ("from".into(), Some("build".into())),
                ("chown".into(), Some("1:2".into())),
                ("link".into(), None)
            ]
        );
        assert_eq!(c.rest, "a b");
        assert!(l.instructions[1].flags.is_empty());
    }

    #[test]
    fn heredocs() {
        let l =
            lx("FROM x\nRUN <<EOF\necho $A\n  two\nEOF\nCOPY <<-\"A\" <<B /dst/\n\tquoted $X\n\tA\nplain\nB\nRUN x\n");
        let r = &l.instructions[1];
        assert_eq!(r.heredocs.len(), 1);
        assert_eq!(r.heredocs[0].content, "echo $A\n  two\n");
        assert!(r.heredocs[0].expand);
        let c = &l.instructions[2];
        assert_eq!(c.heredocs.len(), 2);
        assert_eq!(c.heredocs[0].name, "A");
        assert_eq!(c.heredocs[0].content, "quoted $X\n");
        assert!(!c.heredocs[0].expand);
        assert_eq!(c.heredocs[1].content, "plain\n");
        assert_eq!(l.instructions[3].line, 11);
        // `<<` inside quotes is not a heredoc.
        assert!(heredoc_markers("echo '<<EOF'").is_empty());
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = lex("FROM x\nRUN <<EOF\nnever closed\n", "ctx/Dockerfile").expect_err("bad");
        assert_eq!(e.line, 2);
        assert!(
            e.to_string().starts_with("ctx/Dockerfile:2: unterminated heredoc"),
            "{e}"
        );
        let e = lex("# escape=x\nFROM a\n", "Dockerfile").expect_err("bad");
        assert_eq!(e.line, 1);
        let e = lex("FROM a\n123 b\n", "Dockerfile").expect_err("bad");
        assert_eq!(e.to_string(), "Dockerfile:2: unknown instruction: 123");
    }
}
