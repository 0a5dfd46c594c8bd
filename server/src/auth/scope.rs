//! Token scopes as Docker's token spec writes them: `repository:<name>:<actions>`,
//! `registry:catalog:*`. Names may hold `host:port`, so the type ends at the first colon and the
//! actions start after the last.

/// One requested scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// `repository`, `registry`, … (a `(class)` suffix such as `repository(plugin)` is dropped).
    pub kind: String,
    /// The resource name.
    pub name: String,
    /// Requested actions (`pull`, `push`, `delete`, `*`).
    pub actions: Vec<String>,
}

impl Scope {
    /// Parses one scope; `None` if it is malformed.
    pub fn parse(s: &str) -> Option<Scope> {
        let (kind, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        let kind = kind.split('(').next().unwrap_or(kind);
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        let actions = actions
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
        Some(Scope {
            kind: kind.to_owned(),
            name: name.to_owned(),
            actions,
        })
    }

    /// Parses every scope in `values` (each may hold several, space-separated); malformed ones are skipped.
    pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Scope> {
        values
            .into_iter()
            .flat_map(|v| v.split(' '))
            .filter(|s| !s.is_empty())
            .filter_map(Scope::parse)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scopes() {
        let s = Scope::parse("repository:org/app:pull,push").expect("scope");
        assert_eq!((s.kind.as_str(), s.name.as_str()), ("repository", "org/app"));
        assert_eq!(s.actions, vec!["pull", "push"]);
        let s = Scope::parse("repository:localhost:5000/a/b:pull").expect("scope");
        assert_eq!(s.name, "localhost:5000/a/b");
        let s = Scope::parse("registry:catalog:*").expect("scope");
        assert_eq!((s.kind.as_str(), s.actions[0].as_str()), ("registry", "*"));
        assert_eq!(
            Scope::parse("repository(plugin):x:pull").map(|s| s.kind),
            Some("repository".into())
        );
        assert_eq!(Scope::parse("nonsense"), None);
        assert_eq!(
            Scope::parse_all(["repository:a:pull repository:b:push", "bad"]).len(),
            2
        );
    }
}
