//! Accounts and login: the admin bootstrap, password and personal-access-token checks with failed-login
//! rate limits, the access a principal holds on a repository (the Docker Hub model), and registry
//! tokens granting the intersection of what was asked and what is allowed.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rreg_oci::RepoName;

use super::ServiceError;
use crate::auth::{self, jwt, password, Access, Action, Caller, Claims, Grant, Principal, Scope, TokenKeys};
use crate::config::AuthSettings;
use crate::db::{Db, DbError, UserRow};

/// Prefix of personal access tokens, so a token is told from a password at a glance.
pub const PAT_PREFIX: &str = "rreg_pat_";
/// How long a successful password check is remembered (argon2 is deliberately slow).
const LOGIN_CACHE_TTL: Duration = Duration::from_secs(60);

/// A registry token as `/token` answers it.
pub use rreg_oci::api::TokenResponse as IssuedToken;

/// The longest lockout after failed logins, in failed-login windows (a power of two).
const MAX_BACKOFF: u32 = 16;

/// Failed logins of one key (an address, or an address and account).
#[derive(Default)]
struct Failures {
    /// Failures within the window.
    recent: VecDeque<Instant>,
    /// Locked out until then.
    locked_until: Option<Instant>,
    /// Lockouts so far: the next lasts `2^lockouts` windows.
    lockouts: u32,
}

/// Accounts, login and token issuance.
pub struct Accounts {
    pub(crate) db: Db,
    keys: TokenKeys,
    pub(crate) settings: AuthSettings,
    logins: Mutex<HashMap<String, Instant>>,
    /// Password checks in progress, by the same key as `logins`: concurrent logins with the same
    /// credentials wait for one argon2 check and then find it remembered.
    login_gates: Mutex<HashMap<String, std::sync::Arc<tokio::sync::Mutex<()>>>>,
    failures: Mutex<HashMap<String, Failures>>,
    /// Requests to the login endpoints per client address.
    login_rate: super::ratelimit::RateLimiter,
    /// Tokens whose signature was checked, by token text: clients reuse a token for many requests,
    /// and an ES256 verification costs far more than the request it guards.
    verified: Mutex<HashMap<String, std::sync::Arc<Claims>>>,
    /// Whether this server speaks HTTPS itself (the derived token realm then says `https`).
    pub(crate) https: bool,
    /// Addresses of reverse proxies whose `X-Forwarded-Proto` and `X-Forwarded-Host` are believed.
    pub(crate) trusted_proxies: Vec<std::net::IpAddr>,
}

/// Most verified tokens remembered; beyond it the cache starts over.
const MAX_VERIFIED_TOKENS: usize = 10_000;

fn principal(u: &UserRow, cap: Option<Access>) -> Principal {
    Principal {
        id: u.id,
        name: u.name.clone(),
        is_admin: u.is_admin != 0,
        cap,
        token_id: None,
    }
}

/// Checks a user or organization name: one lowercase repository-name component, 2–64 characters.
pub fn valid_account_name(name: &str) -> bool {
    (2..=64).contains(&name.len()) && !name.contains('/') && RepoName::parse(name).is_ok()
}

impl Accounts {
    /// Loads (or creates, once for all instances) the signing key and makes sure an `admin` user exists.
    pub async fn bootstrap(db: Db, settings: &AuthSettings, data_dir: &Path) -> Result<Accounts, ServiceError> {
        let pem = match db.signing_key().await? {
            Some(p) => p,
            None => {
                let pem = jwt::generate_pem().map_err(|e| ServiceError::Internal(e.to_string()))?;
                let keys = TokenKeys::from_pem(&pem, &settings.issuer, settings.token_ttl_secs)
                    .map_err(|e| ServiceError::Internal(e.to_string()))?;
                db.store_signing_key(keys.kid(), &pem).await?;
                // Another instance may have won the race: use whatever is stored.
                db.signing_key().await?.unwrap_or(pem)
            }
        };
        let keys = TokenKeys::from_pem(&pem, &settings.issuer, settings.token_ttl_secs)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let accounts = Accounts {
            db,
            keys,
            settings: settings.clone(),
            logins: Mutex::new(HashMap::new()),
            login_gates: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
            https: false,
            trusted_proxies: Vec::new(),
            login_rate: super::ratelimit::RateLimiter::new(settings.login_rate_per_minute),
        };
        accounts.ensure_admin(data_dir).await?;
        Ok(accounts)
    }

    async fn ensure_admin(&self, data_dir: &Path) -> Result<(), ServiceError> {
        if self.db.user_by_name("admin").await?.is_some() {
            return Ok(());
        }
        let configured = std::env::var("RREG_ADMIN_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty())
            .or_else(|| Some(self.settings.admin_password.clone()).filter(|p| !p.is_empty()));
        let (pw, generated) = match configured {
            Some(p) => (p, false),
            None => (auth::random_secret(18), true),
        };
        let hash = password::hash_once(pw.clone())
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        match self.db.create_user("admin", &hash, true).await {
            Ok(_) => {}
            Err(DbError::Conflict) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        if generated {
            let file = data_dir.join("admin-password");
            write_secret_file(&file, &pw).map_err(|e| ServiceError::Internal(format!("{}: {e}", file.display())))?;
            tracing::warn!(
                password = %pw,
                file = %file.display(),
                "created user `admin` with this password (shown once; also written to the file)"
            );
        } else {
            tracing::info!("created user `admin` with the configured password");
        }
        Ok(())
    }

    /// Whether credentials are required at all.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// The token service name.
    pub fn service(&self) -> &str {
        &self.settings.service
    }

    /// Whether requests from `peer` come through a configured reverse proxy.
    pub fn trusts_proxy(&self, peer: &str) -> bool {
        peer.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| self.trusted_proxies.contains(&ip))
    }

    /// The configured realm, if any.
    pub fn realm(&self) -> Option<&str> {
        Some(self.settings.realm.as_str()).filter(|r| !r.is_empty())
    }

    /// The longest wait any of `keys` is locked out for, in seconds.
    fn throttled(&self, keys: &[String]) -> Option<u64> {
        let map = self.failures.lock().ok()?;
        let now = Instant::now();
        keys.iter()
            .filter_map(|k| map.get(k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until.duration_since(now).as_secs_f64().ceil().max(1.0) as u64)
            .max()
    }

    /// Counts a failed login against `keys`: `auth.max_failed_logins` within the window lock the key
    /// out for the window, and each further lockout of the same key lasts twice as long as the one
    /// before (up to `MAX_BACKOFF` windows); a success forgets it.
    fn record_failure(&self, keys: &[String]) {
        let window = Duration::from_secs(self.settings.failed_login_window_secs.max(1));
        let max = (self.settings.max_failed_logins as usize).max(1);
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        let now = Instant::now();
        if map.len() > 100_000 {
            // Forget keys that are neither locked nor counting.
            map.retain(|_, f| {
                f.locked_until.is_some_and(|u| u > now)
                    || f.recent.back().is_some_and(|t| now.duration_since(*t) < window)
            });
            if map.len() > 100_000 {
                map.clear();
            }
        }
        for k in keys {
            let f = map.entry(k.clone()).or_default();
            while f.recent.front().is_some_and(|t| now.duration_since(*t) > window) {
                f.recent.pop_front();
            }
            f.recent.push_back(now);
            if f.recent.len() >= max {
                // A key quiet for long enough since its last lockout starts over.
                if f.locked_until
                    .is_some_and(|u| now.duration_since(u) > window.saturating_mul(MAX_BACKOFF))
                {
                    f.lockouts = 0;
                }
                let factor = 1u32 << f.lockouts.min(MAX_BACKOFF.trailing_zeros());
                f.lockouts = f.lockouts.saturating_add(1);
                f.locked_until = Some(now + window.saturating_mul(factor));
                f.recent.clear();
            }
        }
    }

    /// A successful login forgets the failures of its keys.
    fn record_success(&self, keys: &[String]) {
        if let Ok(mut map) = self.failures.lock() {
            for k in keys {
                map.remove(k);
            }
        }
    }

    /// Counts one request to a login endpoint (`/token`, `/api/v1/login`) from `addr`, successful or
    /// not; past `auth.login_rate_per_minute` the answer is `RateLimited`.
    pub fn check_login_rate(&self, addr: &str) -> Result<(), ServiceError> {
        self.login_rate
            .check(addr)
            .map_err(|retry_after| ServiceError::RateLimited { retry_after })
    }

    /// Checks a user name and password or personal access token. Failed attempts are counted per
    /// address and per address and account; past the limit the answer is `RateLimited` whatever
    /// the credentials. Never per account alone: an attacker's wrong guesses would then lock the
    /// real user (and CI's tokens) out from everywhere (docs/security.md, "Failed logins").
    pub async fn login(&self, user: &str, secret: &str, addr: &str) -> Result<Principal, ServiceError> {
        let keys = [format!("a:{addr}"), format!("ua:{addr}\0{user}")];
        if let Some(retry_after) = self.throttled(&keys) {
            return Err(ServiceError::RateLimited { retry_after });
        }
        // A name no account can have is refused before it reaches the database.
        if user.is_empty() || user.len() > 64 || user.contains('\0') || secret.contains('\0') {
            self.record_failure(&keys);
            return Err(ServiceError::Unauthorized("invalid username or password".into()));
        }
        let result = if secret.starts_with(PAT_PREFIX) {
            self.login_with_token(user, secret).await?
        } else {
            let row = self.db.user_by_name(user).await?;
            // A verified (user, password, stored hash) triple is remembered, so a changed password
            // (on any instance) invalidates it at once while repeated requests skip argon2.
            let cache_key = row
                .as_ref()
                .map(|r| auth::secret_hash(&format!("{user}\0{secret}\0{}", r.password_hash)));
            let ok = match (&cache_key, &row) {
                (Some(k), Some(r)) => self.check_password(k, secret, &r.password_hash).await,
                _ => password::verify(secret.to_owned(), None).await,
            };
            row.filter(|_| ok).map(|r| principal(&r, None))
        };
        match result {
            Some(p) => {
                self.record_success(&keys);
                Ok(p)
            }
            None => {
                self.record_failure(&keys);
                let _ = self.db.audit(user, "login.failed", user, "", addr).await;
                Err(ServiceError::Unauthorized("invalid username or password".into()))
            }
        }
    }

    fn login_remembered(&self, key: &str) -> bool {
        self.logins
            .lock()
            .ok()
            .and_then(|m| m.get(key).map(|at| at.elapsed() < LOGIN_CACHE_TTL))
            .unwrap_or(false)
    }

    /// Checks `secret` against a user's stored hash, remembering a success under `key`. Concurrent
    /// checks of the same key run one argon2 verification: the others wait for it, then find it
    /// remembered (a wrong password is verified again by each, as every failure must be).
    async fn check_password(&self, key: &str, secret: &str, stored: &str) -> bool {
        if self.login_remembered(key) {
            return true;
        }
        let gate = match self.login_gates.lock() {
            Ok(mut g) => g.entry(key.to_owned()).or_default().clone(),
            Err(_) => std::sync::Arc::default(),
        };
        let held = gate.lock().await;
        let ok = self.login_remembered(key) || password::verify(secret.to_owned(), Some(stored.to_owned())).await;
        if ok {
            if let Ok(mut map) = self.logins.lock() {
                if map.len() > 10_000 {
                    map.clear();
                }
                map.insert(key.to_owned(), Instant::now());
            }
        }
        drop(held);
        // Whoever waits already holds the gate; newcomers find the result remembered.
        if let Ok(mut g) = self.login_gates.lock() {
            g.remove(key);
        }
        ok
    }

    async fn login_with_token(&self, user: &str, secret: &str) -> Result<Option<Principal>, ServiceError> {
        let Some(tok) = self.db.use_token(&auth::secret_hash(secret)).await? else {
            return Ok(None);
        };
        let Some(owner) = self.db.user_by_id(tok.user_id).await? else {
            return Ok(None);
        };
        if owner.name != user {
            return Ok(None);
        }
        let mut p = principal(&owner, Access::parse(&tok.scope));
        p.token_id = Some(tok.id);
        Ok(Some(p))
    }

    /// Forgets remembered logins. Not needed for correctness (a changed password changes the cache
    /// key, tokens are looked up every time) but frees memory after mass changes.
    pub fn forget_logins(&self) {
        if let Ok(mut map) = self.logins.lock() {
            map.clear();
        }
    }

    /// Verifies a registry token issued by any instance.
    pub fn verify_bearer(&self, token: &str) -> Result<Claims, ServiceError> {
        self.verify_cached(token, &self.settings.service)
    }

    /// Verifies a token for audience `aud`, remembering the verified ones: clients reuse a token
    /// for many requests (a browser its session cookie for every page), and an ES256 verification
    /// costs far more than the request it guards.
    fn verify_cached(&self, token: &str, aud: &str) -> Result<Claims, ServiceError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if let Some(c) = self.verified.lock().ok().and_then(|m| m.get(token).cloned()) {
            // The signature and issuer were checked when it was cached; audience and time still count.
            if c.aud == aud && c.exp >= now {
                return Ok((*c).clone());
            }
        }
        let claims = self
            .keys
            .verify(token, aud)
            .map_err(|e| ServiceError::Unauthorized(e.to_string()))?;
        if let Ok(mut m) = self.verified.lock() {
            if m.len() >= MAX_VERIFIED_TOKENS {
                m.retain(|_, c| c.exp >= now);
                if m.len() >= MAX_VERIFIED_TOKENS {
                    m.clear();
                }
            }
            m.insert(token.to_owned(), std::sync::Arc::new(claims.clone()));
        }
        Ok(claims)
    }

    /// The principal of a user name (bearer tokens carry only the name).
    pub async fn principal_by_name(&self, name: &str) -> Result<Option<Principal>, ServiceError> {
        Ok(self.db.user_by_name(name).await?.map(|u| principal(&u, None)))
    }

    /// The access `who` (None = anonymous) holds on repository `repo`, which need not exist.
    pub async fn access(&self, who: Option<&Principal>, repo: &str) -> Result<Access, ServiceError> {
        if !self.settings.enabled {
            return Ok(Access::Admin);
        }
        let public = self.db.repository(repo).await?.is_some_and(|r| r.is_public != 0);
        let floor = if public { Access::Read } else { Access::None };
        let Some(p) = who else {
            return Ok(floor);
        };
        let namespace = repo.split('/').next().unwrap_or(repo);
        // An administrator acts as one only with full credentials: through a personal access
        // token below repo:admin, other users' private repositories are as closed as to anyone.
        let admin = p.is_admin && p.cap.is_none_or(|c| c >= Access::Admin);
        let mut level = if admin || p.name == namespace {
            Access::Admin
        } else if let Some(org) = self.db.org_by_name(namespace).await? {
            match self.db.org_role(org.id, p.id).await?.as_deref() {
                Some("owner") => Access::Admin,
                Some(_) => self
                    .db
                    .team_permissions_for(org.id, p.id, repo)
                    .await?
                    .iter()
                    .filter_map(|s| Access::parse(s))
                    .max()
                    .unwrap_or(Access::None),
                None => Access::None,
            }
        } else {
            Access::None
        };
        level = level.max(floor);
        if let Some(cap) = p.cap {
            level = level.min(cap);
        }
        Ok(level)
    }

    /// Whether `caller` may do `action` on repository `repo`.
    pub async fn can(&self, caller: &Caller, repo: &str, action: Action) -> Result<bool, ServiceError> {
        if !self.settings.enabled {
            return Ok(true);
        }
        match caller {
            Caller::Bearer(c) => Ok(Caller::token_grants(c, "repository", repo, action.as_str())),
            Caller::User(p) => Ok(self.access(Some(p), repo).await? >= action.needs()),
            Caller::Anonymous => Ok(self.access(None, repo).await? >= action.needs()),
        }
    }

    /// The repositories the caller may read, for the catalog: `None` = every one.
    pub async fn catalog_filter(&self, caller: &Caller) -> Result<Option<Option<Principal>>, ServiceError> {
        if !self.settings.enabled {
            return Ok(None);
        }
        let who = match caller {
            Caller::Anonymous => None,
            Caller::User(p) => Some(p.clone()),
            Caller::Bearer(c) if c.sub.is_empty() => None,
            Caller::Bearer(c) => self.principal_by_name(&c.sub).await?.map(|mut p| {
                p.cap = c.cap.as_deref().and_then(Access::parse);
                p
            }),
        };
        match who {
            Some(p) if p.is_admin && p.cap.is_none_or(|c| c >= Access::Admin) => Ok(None),
            other => Ok(Some(other)),
        }
    }

    /// Issues a token for `who` granting, for each requested scope, the actions allowed. Asking for
    /// more than allowed is not an error: the token simply grants less.
    pub async fn issue(
        &self,
        who: Option<&Principal>,
        scopes: &[Scope],
        refresh_token: Option<String>,
    ) -> Result<IssuedToken, ServiceError> {
        let mut grants: Vec<Grant> = Vec::new();
        for s in scopes {
            let granted: Vec<String> = match s.kind.as_str() {
                "repository" => {
                    if RepoName::parse(&s.name).is_err() {
                        continue;
                    }
                    let level = self.access(who, &s.name).await?;
                    let allowed = level.actions();
                    s.actions
                        .iter()
                        .flat_map(|a| {
                            if a == "*" {
                                allowed.iter().map(|x| x.to_string()).collect::<Vec<_>>()
                            } else if allowed.contains(&a.as_str()) {
                                vec![a.clone()]
                            } else {
                                Vec::new()
                            }
                        })
                        .collect()
                }
                "registry" if s.name == "catalog" => s.actions.iter().filter(|a| *a == "*").cloned().collect(),
                _ => Vec::new(),
            };
            let mut granted = granted;
            granted.sort();
            granted.dedup();
            if let Some(g) = grants.iter_mut().find(|g| g.kind == s.kind && g.name == s.name) {
                g.actions.extend(granted);
                g.actions.sort();
                g.actions.dedup();
            } else {
                grants.push(Grant {
                    kind: s.kind.clone(),
                    name: s.name.clone(),
                    actions: granted,
                });
            }
        }
        let sub = who.map(|p| p.name.as_str()).unwrap_or("");
        let cap = who.and_then(|p| p.cap).map(|c| format!("repo:{}", c.as_str()));
        let (token, claims) = self.keys.issue_capped(sub, &self.settings.service, grants, cap);
        Ok(IssuedToken {
            access_token: Some(token.clone()),
            token: Some(token),
            expires_in: u64::try_from(self.keys.ttl()).ok(),
            issued_at: Some(rfc3339(claims.iat)),
            refresh_token,
            scope: None,
        })
    }

    /// Creates a refresh token for `who`.
    pub async fn new_refresh_token(&self, who: &Principal) -> Result<String, ServiceError> {
        let secret = auth::random_secret(32);
        let expires = crate::db::now_ms() + self.settings.refresh_ttl_secs * 1000;
        let cap = who.cap.map(|c| c.as_str());
        self.db
            .create_refresh_token(&auth::secret_hash(&secret), who.id, cap, who.token_id, expires)
            .await?;
        Ok(secret)
    }

    /// The principal a refresh token stands for.
    pub async fn redeem_refresh_token(&self, secret: &str) -> Result<Principal, ServiceError> {
        // The query also ends refresh tokens whose personal access token was revoked, and those
        // obtained with a password before a password change or "sign out everywhere".
        let Some((user, cap, token_id)) = self.db.refresh_token(&auth::secret_hash(secret)).await? else {
            return Err(ServiceError::Unauthorized("invalid or expired refresh token".into()));
        };
        let Some(u) = self.db.user_by_id(user).await? else {
            return Err(ServiceError::Unauthorized("invalid or expired refresh token".into()));
        };
        let mut p = principal(&u, cap.as_deref().and_then(Access::parse));
        p.token_id = token_id;
        Ok(p)
    }

    /// Creates a user (admin CLI, sign-up, admin API).
    pub async fn create_user(&self, name: &str, password: &str, admin: bool) -> Result<i64, ServiceError> {
        if !valid_account_name(name) {
            return Err(ServiceError::BadRequest(format!(
                "invalid user name {name:?}: 2-64 lowercase letters, digits and . _ - separators"
            )));
        }
        if password.len() < 8 {
            return Err(ServiceError::BadRequest(
                "password must have at least 8 characters".into(),
            ));
        }
        let hash = password::hash(password.to_owned())
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        match self.db.create_user(name, &hash, admin).await {
            Ok(id) => Ok(id),
            Err(DbError::Conflict) => Err(ServiceError::Conflict(format!("the name {name:?} is taken"))),
            Err(e) => Err(e.into()),
        }
    }

    /// Sets a user's password.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<(), ServiceError> {
        if password.len() < 8 {
            return Err(ServiceError::BadRequest(
                "password must have at least 8 characters".into(),
            ));
        }
        let u = self
            .db
            .user_by_name(name)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no user {name:?}")))?;
        let hash = password::hash(password.to_owned())
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.db.set_password(u.id, &hash).await?;
        self.forget_logins();
        Ok(())
    }

    /// Creates a personal access token; returns its id and secret (shown once).
    pub async fn create_access_token(
        &self,
        who: &Principal,
        name: &str,
        scope: Access,
    ) -> Result<(i64, String), ServiceError> {
        if scope == Access::None {
            return Err(ServiceError::BadRequest(
                "scope must be repo:read, repo:write or repo:admin".into(),
            ));
        }
        // A token never exceeds the token that created it.
        let scope = who.cap.map_or(scope, |cap| scope.min(cap));
        let secret = format!("{PAT_PREFIX}{}", auth::random_secret(24));
        let id = self
            .db
            .create_token(
                who.id,
                name,
                &auth::secret_hash(&secret),
                &format!("repo:{}", scope.as_str()),
            )
            .await?;
        Ok((id, secret))
    }
}

fn write_secret_file(path: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    writeln!(f, "{secret}")
}

/// Formats Unix seconds as RFC 3339 UTC.
pub fn rfc3339(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

/// Lifetime of management API session tokens (`POST /api/v1/login`), in seconds.
pub const SESSION_TTL_SECS: i64 = 12 * 3600;

/// Management API sessions and settings the API needs.
impl Accounts {
    /// The audience of management API session tokens: `<service>-api`, never the registry's.
    pub fn api_audience(&self) -> String {
        format!("{}-api", self.settings.service)
    }

    /// Whether anyone may create an account (`auth.signup`).
    pub fn signup_open(&self) -> bool {
        self.settings.signup
    }

    /// Issues a management API session token for `who`; returns it with its lifetime in seconds.
    /// A personal access token cannot open a session: the session would lose the token's cap.
    pub fn issue_session(&self, who: &Principal) -> Result<(String, i64), ServiceError> {
        if who.cap.is_some() {
            return Err(ServiceError::Unauthorized(
                "a personal access token cannot open a session; use the password".into(),
            ));
        }
        let (token, _) = self
            .keys
            .issue_session(&who.name, who.id, &self.api_audience(), SESSION_TTL_SECS);
        Ok((token, SESSION_TTL_SECS))
    }

    /// The principal of a management API session token (registry tokens are refused). A session
    /// ends with its account (an account later made with the same name is another), with a
    /// password change or "sign out everywhere" after it was issued, and when signed out.
    pub async fn verify_session(&self, token: &str) -> Result<Principal, ServiceError> {
        let claims = self.verify_cached(token, &self.api_audience())?;
        let ended = || ServiceError::Unauthorized("the session has ended; sign in again".into());
        let u = self.db.user_by_name(&claims.sub).await?.ok_or_else(ended)?;
        // The id, and the account's creation before the session: SQLite may give a new account the
        // id of a deleted one, but never a creation time earlier than a session of the old one.
        let issued = claims.iat_ms.unwrap_or(0);
        if claims.uid != Some(u.id) || issued < u.created_at {
            return Err(ended());
        }
        let (valid_after, revoked) = self.db.session_state(u.id, &claims.jti).await?;
        if revoked || issued < valid_after {
            return Err(ended());
        }
        Ok(principal(&u, None))
    }

    /// Ends one session (signing out of the web UI): it is refused until it would have expired.
    pub async fn end_session(&self, token: &str) -> Result<(), ServiceError> {
        let claims = self.verify_cached(token, &self.api_audience())?;
        self.db
            .revoke_session(&claims.jti, claims.exp.saturating_mul(1000))
            .await?;
        Ok(())
    }

    /// Ends every session of `who` and every refresh token obtained with the password ("sign out
    /// everywhere"); refresh tokens obtained with a personal access token live as long as it does.
    pub async fn end_all_sessions(&self, who: &Principal) -> Result<(), ServiceError> {
        self.db.end_sessions(who.id).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn account_names() {
        assert!(valid_account_name("alice"));
        assert!(valid_account_name("my-org"));
        assert!(!valid_account_name("a"));
        assert!(!valid_account_name("Alice"));
        assert!(!valid_account_name("a/b"));
    }
}
