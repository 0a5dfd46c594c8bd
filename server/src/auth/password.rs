//! Passwords: argon2id hashes computed off the async threads, on a few threads of their own that each
//! reuse one working memory, and a dummy hash checked for unknown users so that timing does not tell
//! whether an account exists.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand_core::OsRng;

/// Hashing failed (should not happen with valid parameters).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

fn err(e: impl std::fmt::Display) -> HashError {
    HashError(e.to_string())
}

/// Argon2's working memory (19 MiB at the default cost), owned by an argon2 thread and reused.
type Memory = Vec<Block>;

/// The argon2 output of `password` and `salt` under `a`'s parameters, computed in `mem` (grown if
/// the parameters need more). The same computation as `argon2`'s `hash_password`, without
/// allocating and freeing the working memory each time.
fn compute(a: &Argon2<'_>, password: &[u8], salt: Salt<'_>, mem: &mut Memory) -> Result<Output, HashError> {
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf).map_err(err)?;
    let blocks = a.params().block_count();
    if mem.len() < blocks {
        mem.resize(blocks, Block::default());
    }
    let len = a.params().output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    Output::init_with(len, |out| {
        a.hash_password_into_with_memory(password, salt, out, &mut mem[..blocks])
            .map_err(Into::into)
    })
    .map_err(err)
}

/// A new argon2id hash of `password` (PHC string, default parameters, random salt).
fn hash_sync(password: &str, mem: &mut Memory) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::default();
    let a = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let output = compute(&a, password.as_bytes(), salt.as_salt(), mem)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(err)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches the PHC string `stored`, under the parameters it names. The outputs
/// are compared in constant time (`Output`'s equality).
fn verify_sync(password: &[u8], stored: &str, mem: &mut Memory) -> bool {
    let Ok(h) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(h.algorithm) else {
        return false;
    };
    let Ok(version) = h.version.map(Version::try_from).transpose() else {
        return false;
    };
    let Ok(params) = Params::try_from(&h) else {
        return false;
    };
    let a = Argon2::new(algorithm, version.unwrap_or_default(), params);
    compute(&a, password, salt, mem).is_ok_and(|out| out == expected)
}

fn dummy_hash(mem: &mut Memory) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_sync("rreg-dummy-password", mem).unwrap_or_default())
}

/// Most threads computing argon2 at once.
const MAX_THREADS: usize = 4;

type Job = Box<dyn FnOnce(&mut Memory) + Send>;

/// The argon2 threads: as many as the cores, at most `MAX_THREADS`, started on first use and kept,
/// each with its working memory.
///
/// A computation keeps a core busy for tens of milliseconds and needs 19 MiB. On tokio's blocking
/// pool, a burst of logins (dozens of clients asking `/token` at once) ran that many computations
/// at once, and each allocated and freed its 19 MiB: the allocator kept the freed memory, so the
/// server grew by hundreds of MiB and stayed there. Here no more computations run at once than the
/// cores, the others wait in the queue, and the memory is the threads' buffers: 19 MiB each.
fn workers() -> Option<&'static mpsc::Sender<Job>> {
    static POOL: OnceLock<Option<mpsc::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let n = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(MAX_THREADS);
        let mut started = 0;
        for i in 0..n {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("rreg-argon2-{i}"))
                .spawn(move || {
                    let mut mem = Memory::new();
                    loop {
                        let job = match rx.lock() {
                            Ok(r) => r.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(&mut mem),
                            Err(_) => break,
                        }
                    }
                });
            if spawned.is_ok() {
                started += 1;
            }
        }
        (started > 0).then_some(tx)
    })
    .as_ref()
}

/// Runs `f` on an argon2 thread (on tokio's blocking pool, with new memory, should none run).
async fn run<T: Send + 'static>(f: impl FnOnce(&mut Memory) -> T + Send + 'static) -> Result<T, HashError> {
    let Some(pool) = workers() else {
        return tokio::task::spawn_blocking(move || f(&mut Memory::new()))
            .await
            .map_err(err);
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    pool.send(Box::new(move |mem: &mut Memory| {
        let _ = tx.send(f(mem));
    }))
    .map_err(err)?;
    rx.await.map_err(err)
}

/// Hashes `password` with argon2id on an argon2 thread.
pub async fn hash(password: String) -> Result<String, HashError> {
    run(move |mem| hash_sync(&password, mem)).await?
}

/// Hashes `password` on tokio's blocking pool in memory freed at once: for the one hash of the
/// `admin` account at first start, so that a server that never checks a password (authentication
/// off) keeps no argon2 memory.
pub async fn hash_once(password: String) -> Result<String, HashError> {
    tokio::task::spawn_blocking(move || hash_sync(&password, &mut Memory::new()))
        .await
        .map_err(err)?
}

/// Checks `password` against `stored` (or against a dummy hash when the user is unknown, then fails).
pub async fn verify(password: String, stored: Option<String>) -> bool {
    run(move |mem| {
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| dummy_hash(mem).to_owned());
        verify_sync(password.as_bytes(), &hash, mem) && known
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[tokio::test]
    async fn hashes_verify() {
        let h = hash("s3cret".into()).await.expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify("s3cret".into(), Some(h.clone())).await);
        assert!(!verify("wrong".into(), Some(h)).await);
        assert!(!verify("rreg-dummy-password".into(), None).await);
        assert!(!verify("x".into(), Some("not a hash".into())).await);
    }

    #[test]
    fn same_as_the_argon2_crate_with_reused_memory() {
        // A buffer larger than needed and full of another computation's state changes nothing.
        let mut mem = vec![Block::default(); 30_000];
        let theirs = Argon2::default()
            .hash_password(b"pw", &SaltString::generate(&mut OsRng))
            .expect("hash")
            .to_string();
        assert!(verify_sync(b"pw", &theirs, &mut mem));
        assert!(!verify_sync(b"pw2", &theirs, &mut mem));
        let ours = hash_sync("pw", &mut mem).expect("hash");
        let parsed = PasswordHash::new(&ours).expect("parses");
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"pw2", &parsed).is_err());
        // Other parameters named in the stored hash are honoured.
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).expect("params"),
        )
        .hash_password(b"pw", &SaltString::generate(&mut OsRng))
        .expect("hash")
        .to_string();
        assert!(verify_sync(b"pw", &small, &mut mem));
        assert!(!verify_sync(b"px", &small, &mut mem));
    }
}
