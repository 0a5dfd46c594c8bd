//! Typed Dockerfile instructions and stages. Arguments are kept as written: variables are
//! substituted when the step runs (they depend on the ARG and ENV values at that point), but every
//! syntax error — unknown instruction or flag, bad JSON, `ENV` without a value, a misplaced
//! instruction — is reported here with the file and line.

use super::parser::{self, json_array, Heredoc, ParseError, Raw};
use super::shell;

/// Shell form or exec (JSON) form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `RUN echo hi`: run by the SHELL.
    Shell(String),
    /// `RUN ["echo", "hi"]`.
    Exec(Vec<String>),
}

/// COPY/ADD arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyArgs {
    /// ADD rather than COPY.
    pub add: bool,
    /// `--from=stage|index|image`.
    pub from: Option<String>,
    /// `--chown=user[:group]`.
    pub chown: Option<String>,
    /// `--chmod=octal`.
    pub chmod: Option<String>,
    /// `--checksum=sha256:…` (ADD of a URL).
    pub checksum: Option<String>,
    /// Sources as written (or heredoc names).
    pub sources: Vec<String>,
    /// Destination as written.
    pub dest: String,
    /// Heredocs used as inline sources.
    pub heredocs: Vec<Heredoc>,
}

/// HEALTHCHECK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// `HEALTHCHECK NONE`.
    None,
    /// `HEALTHCHECK [opts] CMD …`.
    Check {
        /// `--interval` etc. as `(name, value)`.
        options: Vec<(String, String)>,
        /// The test command.
        cmd: Command,
    },
}

/// One instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `ARG name[=default] …`.
    Arg(Vec<(String, Option<String>)>),
    /// `ENV k=v …`.
    Env(Vec<(String, String)>),
    /// `LABEL k=v …`.
    Label(Vec<(String, String)>),
    /// `WORKDIR path`.
    Workdir(String),
    /// COPY or ADD.
    Copy(CopyArgs),
    /// `RUN`, with its `--network` flag and heredocs.
    Run {
        /// The command.
        cmd: Command,
        /// `--network=default|none|host`.
        network: Option<String>,
        /// Heredocs (already folded into a shell command when used as a script).
        heredocs: Vec<Heredoc>,
    },
    /// `CMD`.
    Cmd(Command),
    /// `ENTRYPOINT`.
    Entrypoint(Command),
    /// `EXPOSE port[/proto] …` (unexpanded).
    Expose(String),
    /// `USER user[:group]`.
    User(String),
    /// `VOLUME` paths (JSON or words, unexpanded).
    Volume(Vec<String>),
    /// `STOPSIGNAL`.
    StopSignal(String),
    /// `HEALTHCHECK`.
    Healthcheck(Health),
    /// `SHELL ["exe", "arg"]`.
    Shell(Vec<String>),
    /// `ONBUILD <instruction>` (the instruction text).
    Onbuild(String),
    /// `MAINTAINER name`.
    Maintainer(String),
}

/// An instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// 1-based line.
    pub line: usize,
    /// The instruction as written (one line).
    pub original: String,
    /// What it is.
    pub kind: Kind,
}

/// One `FROM` and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Position among the stages.
    pub index: usize,
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// The base as written (unexpanded).
    pub base: String,
    /// `--platform`.
    pub platform: Option<String>,
    /// Line of the FROM.
    pub line: usize,
    /// The FROM as written.
    pub original: String,
    /// Instructions after FROM.
    pub instructions: Vec<Instruction>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// Parser directives.
    pub directives: parser::Directives,
    /// ARGs before the first FROM.
    pub global_args: Vec<Instruction>,
    /// The stages.
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    /// Parses a Dockerfile; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Dockerfile, ParseError> {
        let lexed = parser::lex(text, file)?;
        let escape = lexed.directives.escape;
        let mut global_args = Vec::new();
        let mut stages: Vec<Stage> = Vec::new();
        for raw in lexed.instructions {
            let err = |m: String| ParseError {
                file: file.to_owned(),
                line: raw.line,
                message: m,
            };
            if raw.keyword == "FROM" {
                check_flags(&raw, &["platform"]).map_err(&err)?;
                let words: Vec<&str> = raw.rest.split_whitespace().collect();
                let (base, name) = match words.as_slice() {
                    [b] => (b.to_string(), None),
                    [b, a, n] if a.eq_ignore_ascii_case("as") => {
                        let n = n.to_ascii_lowercase();
                        if !n
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
                            || !n.starts_with(|c: char| c.is_ascii_alphabetic())
                        {
                            return Err(err(format!("invalid stage name {n:?}")));
                        }
                        if stages.iter().any(|s| s.name.as_deref() == Some(n.as_str())) {
                            return Err(err(format!("duplicate stage name {n:?}")));
                        }
                        (b.to_string(), Some(n))
                    }
                    [] => return Err(err("FROM requires an image (or scratch)".into())),
                    _ => return Err(err("FROM takes an image and an optional `AS name`".into())),
                };
                stages.push(Stage {
                    index: stages.len(),
                    name,
                    base,
                    platform: flag(&raw, "platform"),
                    line: raw.line,
                    original: raw.original.clone(),
                    instructions: Vec::new(),
                });
                continue;
            }
            let ins = typed(&raw, escape, false).map_err(err)?;
            match stages.last_mut() {
                Some(s) => s.instructions.push(ins),
                None if matches!(ins.kind, Kind::Arg(_)) => global_args.push(ins),
                None => {
                    return Err(ParseError {
                        file: file.to_owned(),
                        line: raw.line,
                        message: format!("{} before the first FROM (only ARG may come before FROM)", raw.keyword),
                    })
                }
            }
        }
        if stages.is_empty() {
            return Err(ParseError {
                file: file.to_owned(),
                line: 1,
                message: "the Dockerfile has no FROM instruction".into(),
            });
        }
        Ok(Dockerfile {
            directives: lexed.directives,
            global_args,
            stages,
        })
    }

    /// Finds a stage by name or index (as `--target` and `COPY --from` name them).
    pub fn stage(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        if let Some(s) = self.stages.iter().find(|s| s.name.as_deref() == Some(lower.as_str())) {
            return Some(s.index);
        }
        name.parse::<usize>().ok().filter(|i| *i < self.stages.len())
    }
}

/// Parses one instruction line (used for ONBUILD triggers too).
pub fn parse_one(text: &str, escape: char, file: &str) -> Result<Instruction, ParseError> {
    let lexed = parser::lex(text, file)?;
    let raw = lexed.instructions.into_iter().next().ok_or_else(|| ParseError {
        file: file.to_owned(),
        line: 1,
        message: "empty instruction".into(),
    })?;
    typed(&raw, escape, true).map_err(|m| ParseError {
        file: file.to_owned(),
        line: raw.line,
        message: m,
    })
}

fn flag(raw: &Raw, name: &str) -> Option<String> {
    raw.flags
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.clone())
}

fn check_flags(raw: &Raw, allowed: &[&str]) -> Result<(), String> {
    for (k, v) in &raw.flags {
        if !allowed.contains(&k.as_str()) {
            return Err(format!("unknown flag for {}: --{k}", raw.keyword));
        }
        if v.is_none() && !matches!(k.as_str(), "link" | "parents" | "keep-git-dir") {
            return Err(format!("flag --{k} of {} needs a value (--{k}=…)", raw.keyword));
        }
    }
    Ok(())
}

fn command(rest: &str) -> Command {
    match json_array(rest) {
        Some(v) => Command::Exec(v),
        None => Command::Shell(rest.to_owned()),
    }
}

/// `k=v k2=v2` (or the legacy `k v` form when `legacy`).
fn name_values(rest: &str, escape: char, what: &str, legacy: bool) -> Result<Vec<(String, String)>, String> {
    let words = shell::split_keep_quotes(rest, escape);
    if words.is_empty() {
        return Err(format!("{what} requires at least one argument"));
    }
    if !words[0].contains('=') {
        if !legacy {
            return Err(format!("{what} needs name=value pairs"));
        }
        let (k, v) = rest
            .trim()
            .split_once(char::is_whitespace)
            .ok_or_else(|| format!("{what} {} has no value: use {what} name=value", words[0]))?;
        return Ok(vec![(k.to_owned(), v.trim().to_owned())]);
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some(("", _)) => Err(format!("{what} has an empty name in {w:?}")),
            Some((k, v)) => Ok((k.to_owned(), v.to_owned())),
            None => Err(format!(
                "{what} mixes name=value pairs with the `name value` form ({w:?})"
            )),
        })
        .collect()
}

fn typed(raw: &Raw, escape: char, in_onbuild: bool) -> Result<Instruction, String> {
    let rest = raw.rest.trim();
    let none = |r: &Raw| check_flags(r, &[]);
    let need = |what: &str| -> Result<(), String> {
        if rest.is_empty() {
            Err(format!("{what} requires an argument"))
        } else {
            Ok(())
        }
    };
    let kind = match raw.keyword.as_str() {
        "ARG" => {
            none(raw)?;
            need("ARG")?;
            let mut args = Vec::new();
            for w in shell::split_keep_quotes(rest, escape) {
                let (k, v) = match w.split_once('=') {
                    Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
                    None => (w.clone(), None),
                };
                if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("invalid ARG name {k:?}"));
                }
                args.push((k, v));
            }
            Kind::Arg(args)
        }
        "ENV" => {
            none(raw)?;
            Kind::Env(name_values(rest, escape, "ENV", true)?)
        }
        "LABEL" => {
            none(raw)?;
            Kind::Label(name_values(rest, escape, "LABEL", true)?)
        }
        "WORKDIR" => {
            none(raw)?;
            need("WORKDIR")?;
            Kind::Workdir(rest.to_owned())
        }
        "COPY" | "ADD" => {
            let add = raw.keyword == "ADD";
            let allowed: &[&str] = if add {
                &["chown", "chmod", "checksum", "link", "keep-git-dir", "from", "exclude"]
            } else {
                &["from", "chown", "chmod", "link", "parents", "exclude"]
            };
            check_flags(raw, allowed)?;
            let mut words = match json_array(rest) {
                Some(v) => v,
                None => rest.split_whitespace().map(str::to_owned).collect(),
            };
            if words.len() < 2 {
                return Err(format!(
                    "{} requires at least one source and a destination",
                    raw.keyword
                ));
            }
            let dest = words.pop().unwrap_or_default();
            let heredoc_names: Vec<String> = raw.heredocs.iter().map(|h| h.name.clone()).collect();
            // Heredoc markers as sources: `<<EOF` → the heredoc named EOF.
            let sources = words
                .into_iter()
                .map(|w| {
                    let m = parser::heredoc_markers(&w);
                    match m.first() {
                        Some((n, _, _)) if w.starts_with("<<") && heredoc_names.contains(n) => format!("<<{n}"),
                        _ => w,
                    }
                })
                .collect();
            Kind::Copy(CopyArgs {
                add,
                from: flag(raw, "from"),
                chown: flag(raw, "chown"),
                chmod: match flag(raw, "chmod") {
                    Some(m) if u32::from_str_radix(&m, 8).is_err() || m.is_empty() => {
                        return Err(format!("invalid --chmod={m}: an octal mode such as 0755 is needed"))
                    }
                    other => other,
                },
                checksum: flag(raw, "checksum"),
                sources,
                dest,
                heredocs: raw.heredocs.clone(),
            })
        }
        "RUN" => {
            check_flags(raw, &["network", "mount", "security"])?;
            if raw.flags.iter().any(|(k, _)| k == "mount" || k == "security") {
                return Err("RUN --mount and --security are BuildKit features rreg does not support".into());
            }
            let network = flag(raw, "network");
            if let Some(n) = &network {
                if !matches!(n.as_str(), "default" | "none" | "host") {
                    return Err(format!("invalid RUN --network={n}: use default, none or host"));
                }
            }
            need("RUN")?;
            Kind::Run {
                cmd: run_command(rest, &raw.heredocs),
                network,
                heredocs: raw.heredocs.clone(),
            }
        }
        "CMD" => {
            none(raw)?;
            Kind::Cmd(command(rest))
        }
        "ENTRYPOINT" => {
            none(raw)?;
            Kind::Entrypoint(command(rest))
        }
        "EXPOSE" => {
            none(raw)?;
            need("EXPOSE")?;
            Kind::Expose(rest.to_owned())
        }
        "USER" => {
            none(raw)?;
            need("USER")?;
            Kind::User(rest.to_owned())
        }
        "VOLUME" => {
            none(raw)?;
            need("VOLUME")?;
            let v = match json_array(rest) {
                Some(v) => v,
                None => rest.split_whitespace().map(str::to_owned).collect(),
            };
            if v.iter().any(|p| p.trim().is_empty()) {
                return Err("VOLUME specified can not be an empty string".into());
            }
            Kind::Volume(v)
        }
        "STOPSIGNAL" => {
            none(raw)?;
            need("STOPSIGNAL")?;
            Kind::StopSignal(rest.to_owned())
        }
        "HEALTHCHECK" => {
            check_flags(
                raw,
                &["interval", "timeout", "start-period", "start-interval", "retries"],
            )?;
            let (word, after) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            match word.to_ascii_uppercase().as_str() {
                "NONE" => {
                    if !after.trim().is_empty() || !raw.flags.is_empty() {
                        return Err("HEALTHCHECK NONE takes no other arguments".into());
                    }
                    Kind::Healthcheck(Health::None)
                }
                "CMD" => {
                    let mut options = Vec::new();
                    for (k, v) in &raw.flags {
                        let v = v.clone().unwrap_or_default();
                        if k == "retries" {
                            v.parse::<u32>()
                                .map_err(|_| format!("invalid --retries={v}: a whole number is needed"))?;
                        } else {
                            parse_duration(&v).ok_or_else(|| format!("invalid --{k}={v}: use a duration like 30s"))?;
                        }
                        options.push((k.clone(), v));
                    }
                    if after.trim().is_empty() {
                        return Err("HEALTHCHECK CMD requires a command".into());
                    }
                    Kind::Healthcheck(Health::Check {
                        options,
                        cmd: command(after.trim()),
                    })
                }
                _ => return Err("HEALTHCHECK needs CMD or NONE".into()),
            }
        }
        "SHELL" => {
            none(raw)?;
            match json_array(rest) {
                Some(v) if !v.is_empty() => Kind::Shell(v),
                _ => {
                    return Err(
                        "SHELL requires the arguments to be in JSON form, e.g. SHELL [\"/bin/sh\", \"-c\"]".into(),
                    )
                }
            }
        }
        "ONBUILD" => {
            if in_onbuild {
                return Err("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into());
            }
            need("ONBUILD")?;
            let inner = parser::lex(rest, "ONBUILD").map_err(|e| e.message)?;
            let Some(inner_raw) = inner.instructions.first() else {
                return Err("ONBUILD requires an instruction".into());
            };
            match inner_raw.keyword.as_str() {
                "ONBUILD" => return Err("chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()),
                "FROM" | "MAINTAINER" => {
                    return Err(format!("{} isn't allowed as an ONBUILD trigger", inner_raw.keyword))
                }
                _ => {}
            }
            typed(inner_raw, escape, true)?;
            Kind::Onbuild(rest.to_owned())
        }
        "MAINTAINER" => {
            none(raw)?;
            need("MAINTAINER")?;
            Kind::Maintainer(rest.to_owned())
        }
        "FROM" => return Err("FROM is not allowed here".into()),
        other => return Err(format!("unknown instruction: {other}")),
    };
    Ok(Instruction {
        line: raw.line,
        original: raw.original.clone(),
        kind,
    })
}

/// A RUN's command with its heredocs: `RUN <<EOF` alone runs the body as a script; otherwise
/// the shell gets the line followed by the heredoc bodies (the shell reads them itself).
fn run_command(rest: &str, heredocs: &[Heredoc]) -> Command {
    if heredocs.is_empty() {
        return command(rest);
    }
    let markers = parser::heredoc_markers(rest);
    if heredocs.len() == 1 && markers.len() == 1 {
        let stripped = rest.trim();
        let h = &heredocs[0];
        let alone = [
            format!("<<{}", h.name),
            format!("<<-{}", h.name),
            format!("<<\"{}\"", h.name),
            format!("<<'{}'", h.name),
            format!("<<-\"{}\"", h.name),
            format!("<<-'{}'", h.name),
        ];
        if alone.iter().any(|a| a == stripped) {
            return Command::Shell(h.content.clone());
        }
    }
    let mut script = rest.to_owned();
    script.push('\n');
    for h in heredocs {
        script.push_str(&h.content);
        script.push_str(&h.name);
        script.push('\n');
    }
    Command::Shell(script)
}

/// Go's `time.ParseDuration` for the units a HEALTHCHECK uses; nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    if s == "0" {
        return Some(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += n * mult;
        rest = &rest[unit_end..];
    }
    Some(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn df(s: &str) -> Dockerfile {
        Dockerfile::parse(s, "Dockerfile").expect("parses")
    }

    fn err(s: &str) -> String {
        Dockerfile::parse(s, "Dockerfile").expect_err("fails").to_string()
    }

    #[test]
    fn every_instruction() {
        let d = df(r#"ARG BASE=scratch
FROM --platform=linux/amd64 ${BASE} AS Build
MAINTAINER someone
ARG V=1 W
ENV A=1 B="two words" C=3
ENV LEGACY value with spaces
LABEL a=b "c d"=e
WORKDIR /app
COPY --chown=1:2 --chmod=0644 a b /dst/
ADD --checksum=sha256:00 https://example.com/x /x
RUN echo hi
RUN ["/bin/echo", "exec"]
CMD ["sh"]
ENTRYPOINT /bin/run
EXPOSE 80/tcp 53/udp
USER nobody:nogroup
VOLUME ["/data", "/logs"]
VOLUME /a /b
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://x/ || exit 1
HEALTHCHECK NONE
SHELL ["/bin/bash", "-c"]
ONBUILD RUN echo triggered
FROM build
COPY --from=build /x /y
"#);
        assert_eq!(d.global_args.len(), 1);
        assert_eq!(d.stages.len(), 2);
        let s = &d.stages[0];
        assert_eq!(s.name.as_deref(), Some("build"));
        assert_eq!(s.platform.as_deref(), Some("linux/amd64"));
        assert_eq!(s.base, "${BASE}");
        let k: Vec<&Kind> = s.instructions.iter().map(|i| &i.kind).collect();
        assert_eq!(k[0], &Kind::Maintainer("someone".into()));
        assert_eq!(
            k[1],
            &Kind::Arg(vec![("V".into(), Some("1".into())), ("W".into(), None)])
        );
        assert_eq!(
            k[2],
            &Kind::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "\"two words\"".into()),
                ("C".into(), "3".into())
            ])
        );
        assert_eq!(k[3], &Kind::Env(vec![("LEGACY".into(), "value with spaces".into())]));
        match k[6] {
            Kind::Copy(c) => {
                assert_eq!(c.sources, vec!["a", "b"]);
                assert_eq!(c.dest, "/dst/");
                assert_eq!(c.chown.as_deref(), Some("1:2"));
                assert_eq!(c.chmod.as_deref(), Some("0644"));
                assert!(!c.add);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(k[7], Kind::Copy(c) if c.add && c.checksum.is_some()));
        assert!(matches!(k[8], Kind::Run { cmd: Command::Shell(s), .. } if s == "echo hi"));
        assert!(matches!(k[9], Kind::Run { cmd: Command::Exec(v), .. } if v.len() == 2));
        assert_eq!(k[10], &Kind::Cmd(Command::Exec(vec!["sh".into()])));
        assert_eq!(k[11], &Kind::Entrypoint(Command::Shell("/bin/run".into())));
        assert_eq!(k[14], &Kind::Volume(vec!["/data".into(), "/logs".into()]));
        assert_eq!(k[15], &Kind::Volume(vec!["/a".into(), "/b".into()]));
        assert!(matches!(k[17], Kind::Healthcheck(Health::Check { options, .. }) if options.len() == 2));
        assert_eq!(k[18], &Kind::Healthcheck(Health::None));
        assert_eq!(k[19], &Kind::Shell(vec!["/bin/bash".into(), "-c".into()]));
        assert_eq!(k[20], &Kind::Onbuild("RUN echo triggered".into()));
        assert_eq!(d.stage("BUILD"), Some(0));
        assert_eq!(d.stage("1"), Some(1));
        assert_eq!(d.stage("2"), None);
    }

    #[test]
    fn run_heredocs() {
        let d = df("FROM scratch\nRUN <<EOF\necho a\necho b\nEOF\nRUN cat <<A > /f\nx\nA\n");
        let k: Vec<&Kind> = d.stages[0].instructions.iter().map(|i| &i.kind).collect();
        assert!(matches!(k[0], Kind::Run { cmd: Command::Shell(s), .. } if s == "echo a\necho b\n"));
        assert!(matches!(k[1], Kind::Run { cmd: Command::Shell(s), .. } if s == "cat <<A > /f\nx\nA\n"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            err("RUN x\n"),
            "Dockerfile:1: RUN before the first FROM (only ARG may come before FROM)"
        );
        assert_eq!(
            err("# only a comment\n"),
            "Dockerfile:1: the Dockerfile has no FROM instruction"
        );
        assert_eq!(
            err("FROM a\nFROBNICATE x\n"),
            "Dockerfile:2: unknown instruction: FROBNICATE"
        );
        assert_eq!(
            err("FROM a\nCOPY --nope=1 a b\n"),
            "Dockerfile:2: unknown flag for COPY: --nope"
        );
        assert_eq!(err("FROM a\nENV\n"), "Dockerfile:2: ENV requires at least one argument");
        assert_eq!(
            err("FROM a\nENV ONLYNAME\n"),
            "Dockerfile:2: ENV ONLYNAME has no value: use ENV name=value"
        );
        assert_eq!(
            err("FROM a\nCOPY x\n"),
            "Dockerfile:2: COPY requires at least one source and a destination"
        );
        assert!(
            err("FROM a\nSHELL /bin/sh\n").starts_with("Dockerfile:2: SHELL requires the arguments to be in JSON form")
        );
        assert!(err("FROM a\nONBUILD ONBUILD RUN x\n").contains("chaining ONBUILD"));
        assert!(err("FROM a AS x\nFROM b AS X\n").contains("duplicate stage name"));
        assert!(err("FROM a\nHEALTHCHECK --interval=soon CMD x\n").contains("invalid --interval=soon"));
        assert!(err("FROM a\nCOPY --chmod=9z9 a b\n").contains("invalid --chmod"));
        assert!(err("FROM a\nRUN --mount=type=cache,target=/x true\n").contains("not support"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("1.5s"), Some(1_500_000_000));
        assert_eq!(parse_duration("5x"), None);
    }
}
