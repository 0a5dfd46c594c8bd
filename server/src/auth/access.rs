//! Who is calling and what they may do: access levels as an ordered enum, the actions of the
//! distribution API, and the caller as routes identify it.

use super::Claims;

/// An access level on a repository, ordered: each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Nothing; the repository is not even visible.
    None,
    /// Pull.
    Read,
    /// Pull and push.
    Write,
    /// Pull, push, delete, and manage settings.
    Admin,
}

impl Access {
    /// Parses `read`, `write` or `admin` (team permissions), also `repo:read` etc. (token scopes).
    pub fn parse(s: &str) -> Option<Access> {
        match s.strip_prefix("repo:").unwrap_or(s) {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            "admin" => Some(Access::Admin),
            _ => None,
        }
    }

    /// `read`, `write`, `admin` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::None => "none",
            Access::Read => "read",
            Access::Write => "write",
            Access::Admin => "admin",
        }
    }

    /// The token actions this level allows.
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            Access::None => &[],
            Access::Read => &["pull"],
            Access::Write => &["pull", "push"],
            Access::Admin => &["pull", "push", "delete"],
        }
    }
}

/// An operation of the distribution API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read manifests, blobs, tags, referrers.
    Pull,
    /// Upload blobs and manifests.
    Push,
    /// Delete manifests, tags, blobs.
    Delete,
}

impl Action {
    /// The token action name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }

    /// The level needed.
    pub fn needs(self) -> Access {
        match self {
            Action::Pull => Access::Read,
            Action::Push => Access::Write,
            Action::Delete => Access::Admin,
        }
    }

    /// The actions a challenge asks for, as Docker's clients expect them.
    pub fn challenge_actions(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "pull,push",
            Action::Delete => "delete",
        }
    }
}

/// An authenticated account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// User id.
    pub id: i64,
    /// User name.
    pub name: String,
    /// Server administrator.
    pub is_admin: bool,
    /// The most a personal access token allows, when the caller used one.
    pub cap: Option<Access>,
    /// The personal access token the caller used, if any (refresh tokens obtained with it die
    /// with it).
    pub token_id: Option<i64>,
}

/// Who is making a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No credentials.
    Anonymous,
    /// Basic credentials (password or personal access token), checked.
    User(Principal),
    /// A registry token, verified.
    Bearer(Claims),
}

impl Caller {
    /// The account name for logs and the audit trail.
    pub fn name(&self) -> &str {
        match self {
            Caller::Anonymous => "",
            Caller::User(p) => &p.name,
            Caller::Bearer(c) => &c.sub,
        }
    }

    /// For a bearer token: whether it grants `action` on resource `kind`/`name`.
    pub fn token_grants(claims: &Claims, kind: &str, name: &str, action: &str) -> bool {
        claims
            .access
            .iter()
            .any(|g| g.kind == kind && g.name == name && g.actions.iter().any(|a| a == action || a == "*"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_ordered() {
        assert!(Access::Admin > Access::Write && Access::Write > Access::Read && Access::Read > Access::None);
        assert_eq!(Access::parse("repo:write"), Some(Access::Write));
        assert_eq!(Access::parse("owner"), None);
        assert!(Action::Delete.needs() > Action::Push.needs());
    }
}
