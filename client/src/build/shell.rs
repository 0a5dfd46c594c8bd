//! Docker's word processing for Dockerfile arguments (BuildKit `shell.Lex`): quote removal,
//! escapes, and variable substitution — `$V`, `${V}`, `${V:-word}`, `${V-word}`, `${V:+word}`,
//! `${V+word}`, `${V:?msg}`, `${V#pat}`, `${V##pat}`, `${V%pat}`, `${V%%pat}` — plus the
//! whitespace splitting `EXPOSE`/`VOLUME` use and the quote-keeping splitting of `ENV k=v` lists.

use super::glob;

/// Looks a variable up (ENV first, then ARG — the caller decides).
pub trait Vars {
    /// The value of `name`, if set.
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Vars for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// Why a word could not be processed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WordError {
    /// `${` without `}`.
    #[error("missing '}}' in {0:?}")]
    Unclosed(String),
    /// A quote without its pair.
    #[error("unterminated quote in {0:?}")]
    Quote(String),
    /// `${V:?message}` with V unset.
    #[error("{0}")]
    Required(String),
    /// `${` followed by something that is not a name.
    #[error("bad substitution in {0:?}")]
    Bad(String),
}

/// The lexer over one string.
struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    vars: Option<&'a dyn Vars>,
    original: String,
}

/// Words being collected: `split` splits unquoted whitespace (also from expansions).
struct Words {
    split: bool,
    words: Vec<String>,
    cur: String,
    in_word: bool,
}

impl Words {
    fn new(split: bool) -> Self {
        Words {
            split,
            words: Vec::new(),
            cur: String::new(),
            in_word: false,
        }
    }
    /// An unquoted character (splits on whitespace).
    fn push(&mut self, c: char) {
        if self.split && c.is_whitespace() {
            if self.in_word {
                self.words.push(std::mem::take(&mut self.cur));
                self.in_word = false;
            }
            return;
        }
        self.cur.push(c);
        self.in_word = true;
    }
    /// A quoted or escaped character (never splits).
    fn push_raw(&mut self, c: char) {
        self.cur.push(c);
        self.in_word = true;
    }
    fn push_str(&mut self, s: &str) {
        s.chars().for_each(|c| self.push(c));
    }
    fn push_raw_str(&mut self, s: &str) {
        self.cur.push_str(s);
        self.in_word = true;
    }
    /// Marks a word as present even if empty (`""`).
    fn touch(&mut self) {
        self.in_word = true;
    }
    fn finish(mut self) -> Vec<String> {
        if self.in_word {
            self.words.push(self.cur);
        }
        self.words
    }
}

impl<'a> Lexer<'a> {
    fn new(s: &str, escape: char, vars: Option<&'a dyn Vars>) -> Self {
        Lexer {
            chars: s.chars().collect(),
            pos: 0,
            escape,
            vars,
            original: s.to_owned(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    /// Processes until the end (or `stop`, outside quotes), into `w`.
    fn process(&mut self, w: &mut Words, stop: Option<char>) -> Result<(), WordError> {
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                return Ok(());
            }
            self.pos += 1;
            if c == self.escape {
                match self.next() {
                    Some(n) => w.push_raw(n),
                    None => w.push_raw(c),
                }
            } else if c == '\'' {
                w.touch();
                self.single_quoted(w)?;
            } else if c == '"' {
                w.touch();
                self.double_quoted(w)?;
            } else if c == '$' && self.vars.is_some() {
                let v = self.dollar()?;
                w.push_str(&v);
            } else {
                w.push(c);
            }
        }
        Ok(())
    }

    fn single_quoted(&mut self, w: &mut Words) -> Result<(), WordError> {
        loop {
            match self.next() {
                None => return Err(WordError::Quote(self.original.clone())),
                Some('\'') => return Ok(()),
                Some(c) => w.push_raw(c),
            }
        }
    }

    fn double_quoted(&mut self, w: &mut Words) -> Result<(), WordError> {
        loop {
            match self.next() {
                None => return Err(WordError::Quote(self.original.clone())),
                Some('"') => return Ok(()),
                Some('$') if self.vars.is_some() => {
                    let v = self.dollar()?;
                    w.push_raw_str(&v);
                }
                Some(c) if c == self.escape => match self.peek() {
                    Some(n @ ('"' | '$')) => {
                        self.pos += 1;
                        w.push_raw(n);
                    }
                    Some(n) if n == self.escape => {
                        self.pos += 1;
                        w.push_raw(n);
                    }
                    _ => w.push_raw(c),
                },
                Some(c) => w.push_raw(c),
            }
        }
    }

    fn name(&mut self) -> String {
        let mut n = String::new();
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                n.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        n
    }

    fn lookup(&self, name: &str) -> Option<String> {
        self.vars.and_then(|v| v.get(name))
    }

    /// After a `$`: the substituted text.
    fn dollar(&mut self) -> Result<String, WordError> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                self.braced()
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                let n = self.name();
                Ok(self.lookup(&n).unwrap_or_default())
            }
            Some(c) if c.is_ascii_digit() => {
                // Positional parameters are empty in a Dockerfile.
                self.pos += 1;
                Ok(String::new())
            }
            _ => Ok("$".to_owned()),
        }
    }

    /// A word inside `${V…word}` up to the closing brace, itself processed.
    fn inner_word(&mut self) -> Result<String, WordError> {
        let mut w = Words::new(false);
        self.process(&mut w, Some('}'))?;
        if self.next() != Some('}') {
            return Err(WordError::Unclosed(self.original.clone()));
        }
        Ok(w.finish().into_iter().next().unwrap_or_default())
    }

    fn braced(&mut self) -> Result<String, WordError> {
        let name = self.name();
        if name.is_empty() {
            return Err(WordError::Bad(self.original.clone()));
        }
        let value = self.lookup(&name);
        match self.next() {
            Some('}') => Ok(value.unwrap_or_default()),
            Some(':') => {
                let op = self.next();
                let word = self.inner_word()?;
                let set = value.as_deref().is_some_and(|v| !v.is_empty());
                match op {
                    Some('-') => Ok(if set { value.unwrap_or_default() } else { word }),
                    Some('+') => Ok(if set { word } else { String::new() }),
                    Some('?') if !set => Err(WordError::Required(if word.is_empty() {
                        format!("{name}: is not allowed to be unset")
                    } else {
                        format!("{name}: {word}")
                    })),
                    Some('?') => Ok(value.unwrap_or_default()),
                    _ => Err(WordError::Bad(self.original.clone())),
                }
            }
            Some(op @ ('-' | '+' | '?')) => {
                let word = self.inner_word()?;
                match op {
                    '-' => Ok(value.unwrap_or(word)),
                    '+' => Ok(if value.is_some() { word } else { String::new() }),
                    _ => value.ok_or_else(|| WordError::Required(format!("{name}: {word}"))),
                }
            }
            Some(op @ ('#' | '%')) => {
                let longest = self.peek() == Some(op);
                if longest {
                    self.pos += 1;
                }
                let pattern = self.inner_word()?;
                let v = value.unwrap_or_default();
                Ok(trim_pattern(&v, &pattern, op == '#', longest))
            }
            _ => Err(WordError::Bad(self.original.clone())),
        }
    }
}

/// `${v#p}` / `${v##p}` / `${v%p}` / `${v%%p}`.
fn trim_pattern(v: &str, pattern: &str, prefix: bool, longest: bool) -> String {
    let idx: Vec<usize> = v.char_indices().map(|(i, _)| i).chain([v.len()]).collect();
    let candidates: Box<dyn Iterator<Item = &usize>> = match (prefix, longest) {
        (true, false) | (false, true) => Box::new(idx.iter()),
        (true, true) | (false, false) => Box::new(idx.iter().rev()),
    };
    for &i in candidates {
        let (matched, rest) = if prefix { (&v[..i], &v[i..]) } else { (&v[i..], &v[..i]) };
        if glob::matches_text(pattern, matched) {
            return rest.to_owned();
        }
    }
    v.to_owned()
}

/// Processes one word: quotes removed, escapes applied, variables substituted (Docker's
/// `ProcessWord`). Whitespace is kept.
pub fn expand_word(s: &str, escape: char, vars: &dyn Vars) -> Result<String, WordError> {
    let mut lx = Lexer::new(s, escape, Some(vars));
    let mut w = Words::new(false);
    lx.process(&mut w, None)?;
    Ok(w.finish().into_iter().next().unwrap_or_default())
}

/// Processes and splits on unquoted whitespace (Docker's `ProcessWords`).
pub fn expand_words(s: &str, escape: char, vars: &dyn Vars) -> Result<Vec<String>, WordError> {
    let mut lx = Lexer::new(s, escape, Some(vars));
    let mut w = Words::new(true);
    lx.process(&mut w, None)?;
    Ok(w.finish())
}

/// Splits on unquoted whitespace keeping quotes and escapes in the words (Docker's `parseWords`,
/// used for `ENV`/`LABEL`/`ARG` name=value lists before each value is processed).
pub fn split_keep_quotes(s: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                cur.push(c);
            }
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            Some('\'') => cur.push(c),
            _ if c == escape => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Names of the variables `s` refers to (for cache keys and unused-argument warnings).
pub fn referenced_names(s: &str) -> Vec<String> {
    let seen = std::cell::RefCell::new(Vec::<String>::new());
    let record = |n: &str| -> Option<String> {
        seen.borrow_mut().push(n.to_owned());
        None
    };
    let _ = expand_word(s, '\\', &record);
    let mut names = seen.into_inner();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "A" => Some("aaa".into()),
            "EMPTY" => Some(String::new()),
            "SP" => Some("x  y".into()),
            "PATHV" => Some("/usr/local/bin/tool.tar.gz".into()),
            _ => None,
        }
    }

    fn w(s: &str) -> String {
        expand_word(s, '\\', &env).expect("valid")
    }

    #[test]
    fn substitution_forms() {
        assert_eq!(w("$A"), "aaa");
        assert_eq!(w("${A}b"), "aaab");
        assert_eq!(w("$Ab"), "");
        assert_eq!(w("${NOPE:-x}"), "x");
        assert_eq!(w("${EMPTY:-x}"), "x");
        assert_eq!(w("${EMPTY-x}"), "");
        assert_eq!(w("${A:-x}"), "aaa");
        assert_eq!(w("${A:+y}"), "y");
        assert_eq!(w("${NOPE:+y}"), "");
        assert_eq!(w("${EMPTY+y}"), "y");
        assert_eq!(w("${NOPE:-${A}z}"), "aaaz");
        assert_eq!(w("${PATHV##*/}"), "tool.tar.gz");
        assert_eq!(w("${PATHV#*/}"), "usr/local/bin/tool.tar.gz");
        assert_eq!(w("${PATHV%.*}"), "/usr/local/bin/tool.tar");
        assert_eq!(w("${PATHV%%.*}"), "/usr/local/bin/tool");
        assert!(matches!(
            expand_word("${NOPE:?must be set}", '\\', &env),
            Err(WordError::Required(m)) if m == "NOPE: must be set"
        ));
        assert!(expand_word("${A", '\\', &env).is_err());
        assert!(expand_word("${}", '\\', &env).is_err());
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w("'$A'"), "$A");
        assert_eq!(w("\"$A b\""), "aaa b");
        assert_eq!(w("\\$A"), "$A");
        assert_eq!(w("a\\ b"), "a b");
        assert_eq!(w("\"a\\\"b\""), "a\"b");
        assert_eq!(w("\"a\\nb\""), "a\\nb");
        assert_eq!(w("x$"), "x$");
        assert_eq!(expand_word("`$A", '`', &env).expect("ok"), "$A");
        assert!(expand_word("'abc", '\\', &env).is_err());
    }

    #[test]
    fn word_splitting() {
        let ws = |s: &str| expand_words(s, '\\', &env).expect("valid");
        assert_eq!(ws("80/tcp  $A"), vec!["80/tcp", "aaa"]);
        assert_eq!(ws("$SP \"$SP\""), vec!["x", "y", "x  y"]);
        assert_eq!(ws("'' b"), vec!["", "b"]);
        assert_eq!(
            split_keep_quotes("a=1 b=\"x y\" c='p q' d=e\\ f", '\\'),
            vec!["a=1", "b=\"x y\"", "c='p q'", "d=e\\ f"]
        );
    }

    #[test]
    fn references() {
        assert_eq!(referenced_names("$A ${B:-$C} '$D' \\$E"), vec!["A", "B", "C"]);
    }
}
