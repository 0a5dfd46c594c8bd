//! Crash safety and `rreg-server fsck`.
//!
//! `sigkill_during_concurrent_writes` kills the server with SIGKILL at random moments (at least 20
//! times) while workers push (monolithic and chunked), tag and delete and `rreg-server gc
//! --grace-secs 0` runs beside them; after each restart every push whose manifest got its `201`
//! must pull completely with matching digests, chunked uploads cut off by the kill must resume
//! from their reported offset and complete, and `fsck` must report nothing.
//! `fsck_reports_and_repairs` damages storage by hand and checks each finding and its repair.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{digest, TestServer};
use reqwest::StatusCode;
use serde_json::json;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const KILLS: usize = 22;
const MIN_COMPLETED: usize = 20;

/// A small xorshift generator: the tests need variety, not quality.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// A number no other call returns: tags must never collide (a delete of one would hit the other).
fn unique() -> u64 {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7)
}

/// A push whose manifest PUT was answered `201`.
#[derive(Clone, Debug)]
struct Completed {
    repo: String,
    tag: String,
    manifest: String,
    blobs: Vec<(String, u64)>,
    verified: bool,
}

/// A chunked upload cut off by a kill: what was acknowledged, and the whole content.
#[derive(Clone)]
struct Interrupted {
    location: String,
    data: Vec<u8>,
}

#[derive(Default)]
struct Ledger {
    completed: Vec<Completed>,
    interrupted: Vec<Interrupted>,
    /// Tags whose delete was sent: no longer expected either way.
    deleted: u64,
    errors_while_up: u64,
}

struct Ctx {
    base: String,
    client: reqwest::Client,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
}

impl Ctx {
    fn url(&self, p: &str) -> String {
        format!("{}{}", self.base, p)
    }

    async fn monolithic(&self, repo: &str, data: &[u8]) -> Result<String, String> {
        let d = digest(data);
        let r = self
            .client
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
            .body(data.to_vec())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != StatusCode::CREATED {
            return Err(format!("monolithic: {}", r.status()));
        }
        Ok(d)
    }

    /// A chunked upload, pausing between chunks; on a connection error the session is recorded
    /// for resumption.
    async fn chunked(&self, repo: &str, data: &[u8], rng: &mut Rng) -> Result<String, String> {
        let d = digest(data);
        let r = self
            .client
            .post(self.url(&format!("/v2/{repo}/blobs/uploads/")))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != StatusCode::ACCEPTED {
            return Err(format!("start: {}", r.status()));
        }
        let mut location = r.headers()["location"].to_str().map_err(|e| e.to_string())?.to_owned();
        let chunk = 8 * 1024 + rng.below(8 * 1024) as usize;
        let mut at = 0;
        while at < data.len() {
            let end = (at + chunk).min(data.len());
            let sent = self
                .client
                .patch(self.url(&location))
                .header("content-range", format!("{}-{}", at, end - 1))
                .header("content-type", "application/octet-stream")
                .body(data[at..end].to_vec())
                .send()
                .await;
            match sent {
                Ok(r) if r.status() == StatusCode::ACCEPTED => {
                    location = r.headers()["location"].to_str().map_err(|e| e.to_string())?.to_owned();
                }
                Ok(r) => return Err(format!("patch: {}", r.status())),
                Err(e) => {
                    self.ledger.lock().expect("ledger").interrupted.push(Interrupted {
                        location,
                        data: data.to_vec(),
                    });
                    return Err(e.to_string());
                }
            }
            at = end;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let r = self
            .client
            .put(self.url(&format!("{location}?digest={d}")))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != StatusCode::CREATED {
            return Err(format!("finish: {}", r.status()));
        }
        Ok(d)
    }

    async fn push(&self, worker: usize, n: usize, rng: &mut Rng) -> Result<(), String> {
        let repo = format!("admin/crash{}", rng.below(3));
        let tag = format!("w{worker}-{n}-{}", unique());
        let config = serde_json::to_vec(&json!({"architecture": "amd64", "os": "linux", "n": tag}))
            .map_err(|e| e.to_string())?;
        let cd = self.monolithic(&repo, &config).await?;
        let mut blobs = vec![(cd.clone(), config.len() as u64)];
        let mut layers = Vec::new();
        for _ in 0..1 + rng.below(2) {
            let size = 4 * 1024 + rng.below(60 * 1024) as usize;
            let data = rng.bytes(size);
            let ld = if rng.below(2) == 0 {
                self.monolithic(&repo, &data).await?
            } else {
                self.chunked(&repo, &data, rng).await?
            };
            blobs.push((ld.clone(), size as u64));
            layers.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": size}));
        }
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
            "layers": layers,
        }))
        .map_err(|e| e.to_string())?;
        let md = digest(&manifest);
        let r = self
            .client
            .put(self.url(&format!("/v2/{repo}/manifests/{tag}")))
            .header("content-type", OCI_MANIFEST)
            .body(manifest)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != StatusCode::CREATED {
            // With a zero grace period the collector may take blobs of a push in flight.
            return Err(format!("manifest: {}", r.status()));
        }
        self.ledger.lock().expect("ledger").completed.push(Completed {
            repo,
            tag,
            manifest: md,
            blobs,
            verified: false,
        });
        Ok(())
    }

    async fn retag(&self, rng: &mut Rng) -> Result<(), String> {
        let src = {
            let l = self.ledger.lock().expect("ledger");
            if l.completed.is_empty() {
                return Ok(());
            }
            l.completed[rng.below(l.completed.len() as u64) as usize].clone()
        };
        let r = self
            .client
            .get(self.url(&format!("/v2/{}/manifests/{}", src.repo, src.manifest)))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != StatusCode::OK {
            return Err(format!("retag source {}@{}: {}", src.repo, src.manifest, r.status()));
        }
        let body = r.bytes().await.map_err(|e| e.to_string())?;
        let tag = format!("re-{}", unique());
        let r = self
            .client
            .put(self.url(&format!("/v2/{}/manifests/{tag}", src.repo)))
            .header("content-type", OCI_MANIFEST)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() == StatusCode::CREATED {
            let mut c = src;
            c.tag = tag;
            c.verified = false;
            self.ledger.lock().expect("ledger").completed.push(c);
        }
        Ok(())
    }

    async fn delete(&self, rng: &mut Rng) -> Result<(), String> {
        let victim = {
            let mut l = self.ledger.lock().expect("ledger");
            if l.completed.len() < 20 {
                return Ok(());
            }
            let i = rng.below(l.completed.len() as u64) as usize;
            l.deleted += 1;
            // Sent means no longer expected, whether or not the answer arrives.
            l.completed.swap_remove(i)
        };
        let _ = self
            .client
            .delete(self.url(&format!("/v2/{}/manifests/{}", victim.repo, victim.tag)))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

async fn worker(ctx: Arc<Ctx>, id: usize, seed: u64) {
    let mut rng = Rng::new(seed);
    let mut n = 0;
    while !ctx.stop.load(Ordering::Relaxed) {
        n += 1;
        let r = match rng.below(10) {
            0..=5 => ctx.push(id, n, &mut rng).await,
            6..=7 => ctx.retag(&mut rng).await,
            _ => ctx.delete(&mut rng).await,
        };
        if let Err(e) = r {
            if !ctx.stop.load(Ordering::Relaxed) && !e.contains("manifest: 400") {
                ctx.ledger.lock().expect("ledger").errors_while_up += 1;
            }
        }
    }
}

/// Pulls one completed push: the manifest by tag (digest checked) and every blob (digest and size).
async fn verify(s: &TestServer, c: &Completed) -> Result<(), String> {
    let r = s
        .client
        .get(s.url(&format!("/v2/{}/manifests/{}", c.repo, c.tag)))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != StatusCode::OK {
        return Err(format!("{}:{} manifest: {}", c.repo, c.tag, r.status()));
    }
    let body = r.bytes().await.map_err(|e| e.to_string())?;
    if digest(&body) != c.manifest {
        return Err(format!(
            "{}:{} manifest digest {} != {}",
            c.repo,
            c.tag,
            digest(&body),
            c.manifest
        ));
    }
    for (d, size) in &c.blobs {
        let r = s
            .client
            .get(s.url(&format!("/v2/{}/blobs/{d}", c.repo)))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != StatusCode::OK {
            return Err(format!("{}:{} blob {d}: {}", c.repo, c.tag, r.status()));
        }
        let b = r.bytes().await.map_err(|e| e.to_string())?;
        if b.len() as u64 != *size || &digest(&b) != d {
            return Err(format!(
                "{}:{} blob {d}: {} bytes, digest {}",
                c.repo,
                c.tag,
                b.len(),
                digest(&b)
            ));
        }
    }
    Ok(())
}

/// Resumes a chunked upload cut off by a kill: status, then the rest from the reported offset.
/// `Ok(false)` when the session no longer exists (it was finished before the kill).
async fn resume(s: &TestServer, u: &Interrupted) -> Result<bool, String> {
    let r = s
        .client
        .get(s.url(&u.location))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() == StatusCode::NOT_FOUND {
        return Ok(false);
    }
    if r.status() != StatusCode::NO_CONTENT {
        return Err(format!("status {}: {}", u.location, r.status()));
    }
    let range = r.headers()["range"].to_str().map_err(|e| e.to_string())?.to_owned();
    let end: u64 = range
        .split_once('-')
        .and_then(|(_, e)| e.parse().ok())
        .ok_or_else(|| format!("bad Range {range}"))?;
    // Chunks are at least 8 KiB, so "0-0" means nothing was received.
    let offset = if range == "0-0" { 0 } else { end as usize + 1 };
    if offset > u.data.len() {
        return Err(format!("{}: server has {offset} bytes of {}", u.location, u.data.len()));
    }
    let mut location = u.location.clone();
    if offset < u.data.len() {
        let r = s
            .client
            .patch(s.url(&location))
            .header("content-range", format!("{}-{}", offset, u.data.len() - 1))
            .body(u.data[offset..].to_vec())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status() != StatusCode::ACCEPTED {
            return Err(format!("resume patch at {offset}: {}", r.status()));
        }
        location = r.headers()["location"].to_str().map_err(|e| e.to_string())?.to_owned();
    }
    let d = digest(&u.data);
    let r = s
        .client
        .put(s.url(&format!("{location}?digest={d}")))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != StatusCode::CREATED {
        return Err(format!("resume finish: {}", r.status()));
    }
    // And the blob reads back.
    let r = s
        .client
        .get(s.url(&format!(
            "{}/{d}",
            location.split("/uploads/").next().unwrap_or_default()
        )))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let b = r.bytes().await.map_err(|e| e.to_string())?;
    if digest(&b) != d {
        return Err(format!("resumed blob {d} reads back as {}", digest(&b)));
    }
    Ok(true)
}

fn fsck(s: &TestServer, args: &[&str]) -> (bool, String) {
    let out = s.command("fsck").args(args).output().expect("run fsck");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_concurrent_writes() {
    let started = Instant::now();
    let mut s = TestServer::start().await;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut rng = Rng::new(seed());
    let mut resumed = 0;
    let mut verified_total = 0;
    let mut gc_runs = 0;
    // At least KILLS kills, and more (up to three times as many) until enough pushes have completed
    // to mean something: on a slow machine or slow storage fewer complete between kills.
    let mut round = 0;
    while round < KILLS || (ledger.lock().expect("ledger").completed.len() < MIN_COMPLETED && round < 3 * KILLS) {
        let stop = Arc::new(AtomicBool::new(false));
        let ctx = Arc::new(Ctx {
            base: s.base.clone(),
            client: s.client.clone(),
            ledger: ledger.clone(),
            stop: stop.clone(),
        });
        let workers: Vec<_> = (0..4)
            .map(|i| {
                tokio::spawn(worker(
                    ctx.clone(),
                    i,
                    rng.next() ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
                ))
            })
            .collect();
        // A collector with no grace period, beside the writers, on every other round.
        let gc = (round % 2 == 0).then(|| {
            gc_runs += 1;
            let mut c = s.command("gc");
            c.arg("--grace-secs").arg("0");
            tokio::task::spawn_blocking(move || c.output())
        });
        tokio::time::sleep(Duration::from_millis(300 + rng.below(1500))).await;
        // SIGKILL at a random moment of whatever is going on.
        s.child.start_kill().expect("kill");
        let _ = s.child.wait().await;
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            let _ = tokio::time::timeout(Duration::from_secs(30), w).await;
        }
        if let Some(gc) = gc {
            let out = gc.await.expect("gc task").expect("gc ran");
            // A collector cut off by nothing: it finishes, or finds another still holding the lease.
            let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() || text.contains("another collector"),
                "gc failed: {text}"
            );
        }
        s.restart().await;

        // Every completed push not verified yet (and a sample of older ones) pulls completely.
        let pending: Vec<(usize, Completed)> = {
            let l = ledger.lock().expect("ledger");
            let mut v: Vec<(usize, Completed)> = l
                .completed
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.verified)
                .map(|(i, c)| (i, c.clone()))
                .collect();
            for _ in 0..10.min(l.completed.len()) {
                let i = rng.below(l.completed.len() as u64) as usize;
                v.push((i, l.completed[i].clone()));
            }
            v
        };
        for (_, c) in &pending {
            if let Err(e) = verify(&s, c).await {
                let tags = s
                    .client
                    .get(s.url(&format!("/v2/{}/tags/list", c.repo)))
                    .send()
                    .await
                    .expect("tags")
                    .text()
                    .await
                    .unwrap_or_default();
                panic!("round {round}: a completed push is damaged: {e}\n{c:?}\ntags: {tags}");
            }
            verified_total += 1;
        }
        {
            let mut l = ledger.lock().expect("ledger");
            for c in l.completed.iter_mut() {
                c.verified = true;
            }
        }
        // Interrupted chunked uploads resume and complete.
        let cut: Vec<Interrupted> = std::mem::take(&mut ledger.lock().expect("ledger").interrupted);
        for u in &cut {
            match resume(&s, u).await {
                Ok(true) => resumed += 1,
                Ok(false) => {}
                Err(e) => panic!("round {round}: resuming {}: {e}", u.location),
            }
        }
        let (ok, text) = fsck(&s, &[]);
        assert!(ok, "round {round}: fsck found problems:\n{text}");
        round += 1;
    }
    // The end: everything still expected pulls, and fsck is clean even with no grace period once
    // it has removed what the kills left behind.
    let all = ledger.lock().expect("ledger").completed.clone();
    for c in &all {
        verify(&s, c).await.unwrap_or_else(|e| panic!("final check: {e}"));
    }
    let (ok, text) = fsck(&s, &["--verify"]);
    assert!(ok, "final fsck --verify:\n{text}");
    let (_, leftovers) = fsck(&s, &["--grace-secs", "0", "--repair"]);
    let (ok, text) = fsck(&s, &["--grace-secs", "0", "--verify"]);
    assert!(
        ok,
        "fsck --grace-secs 0 after repair:\n{text}\n(repair said:\n{leftovers})"
    );
    let l = ledger.lock().expect("ledger");
    println!(
        "{round} kills, {} completed pushes expected ({} deletes sent), {verified_total} verifications, \
         {resumed} interrupted uploads resumed, {gc_runs} gc runs, {} operations failed (almost all cut off by a kill), {:?}\n\
         leftovers repaired at the end:\n{leftovers}",
        all.len(),
        l.deleted,
        l.errors_while_up,
        started.elapsed()
    );
    assert!(
        all.len() >= MIN_COMPLETED,
        "too few pushes completed to mean anything: {}",
        all.len()
    );
}

#[tokio::test]
async fn fsck_reports_and_repairs() {
    let s = TestServer::start().await;
    if !s.storage_is_local() {
        println!("skipped: fsck damage test edits the blob folder (local storage only)");
        return;
    }
    let (ok, text) = fsck(&s, &["--grace-secs", "0"]);
    assert!(ok, "fresh registry: {text}");
    let push = |data: Vec<u8>| {
        let d = digest(&data);
        let req = s
            .client
            .post(s.url(&format!("/v2/admin/f/blobs/uploads/?digest={d}")))
            .body(data);
        async move {
            let r = req.send().await.expect("push");
            assert_eq!(r.status(), StatusCode::CREATED);
            d
        }
    };
    let used = push(b"layer used by a manifest".to_vec()).await;
    let lost_unused = push(b"blob nobody uses".to_vec()).await;
    let resized = push(b"blob that will shrink".to_vec()).await;
    let corrupt = push(b"blob that will rot".to_vec()).await;
    let config = push(b"{}".to_vec()).await;
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": used, "size": 24}],
    });
    let r = s
        .client
        .put(s.url("/v2/admin/f/manifests/v1"))
        .header("content-type", OCI_MANIFEST)
        .body(serde_json::to_vec(&manifest).expect("json"))
        .send()
        .await
        .expect("manifest");
    assert_eq!(r.status(), StatusCode::CREATED);
    // A chunked session with one part.
    let r = s
        .client
        .post(s.url("/v2/admin/f/blobs/uploads/"))
        .send()
        .await
        .expect("start");
    let loc = r.headers()["location"].to_str().expect("location").to_owned();
    let r = s
        .client
        .patch(s.url(&loc))
        .body("some bytes")
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let session = loc.rsplit('/').next().expect("id").to_owned();

    let root = s.data.path();
    let path_of = |d: &str| {
        let (alg, hex) = d.split_once(':').expect("digest");
        root.join("blobs").join(alg).join(&hex[..2]).join(hex)
    };
    // The damage.
    std::fs::remove_file(path_of(&used)).expect("remove used");
    std::fs::remove_file(path_of(&lost_unused)).expect("remove unused");
    std::fs::write(path_of(&resized), b"short").expect("shrink");
    std::fs::write(path_of(&corrupt), b"blob that will ROT").expect("rot");
    let orphan = digest(b"an orphan");
    std::fs::create_dir_all(path_of(&orphan).parent().expect("parent")).expect("dir");
    std::fs::write(path_of(&orphan), b"an orphan").expect("orphan");
    let trash_dir = root.join("trash/deadmark/sha256");
    std::fs::create_dir_all(&trash_dir).expect("trash dir");
    std::fs::write(trash_dir.join(orphan.trim_start_matches("sha256:")), b"an orphan").expect("trash");
    std::fs::write(root.join(format!("blobs/sha256/{}#3", &orphan[7..9])), b"half").expect("staged");
    for e in std::fs::read_dir(root.join("uploads").join(&session)).expect("session dir") {
        std::fs::remove_file(e.expect("entry").path()).expect("remove part");
    }
    std::fs::create_dir_all(root.join("uploads/nosuchsession")).expect("dir");
    std::fs::write(root.join("uploads/nosuchsession/part"), b"x").expect("orphan part");

    // Read-only: every problem reported on one line, nothing changed, exit 1.
    let (ok, text) = fsck(&s, &["--grace-secs", "0", "--verify"]);
    assert!(!ok, "{text}");
    let line = |kind: &str, subject: &str| {
        text.lines()
            .find(|l| l.starts_with(kind) && l.contains(subject))
            .unwrap_or_else(|| panic!("no `{kind} {subject}` line in:\n{text}"))
            .to_owned()
    };
    assert!(line("missing-blob", &used).contains("not repairable"));
    line("broken-manifest", "admin/f@");
    assert!(line("missing-blob", &lost_unused).contains("--repair would"));
    line("size-mismatch", &resized);
    line("digest-mismatch", &corrupt);
    line("orphan-object", &orphan);
    line("trash", &orphan);
    line("staged-file", "#3");
    line("broken-upload", &session);
    line("orphan-part", "nosuchsession/part");
    assert!(path_of(&orphan).exists(), "read-only fsck changed nothing");

    // A young orphan is in flight, not wrong.
    let (_, text_grace) = fsck(&s, &[]);
    assert!(!text_grace.contains("orphan-object"), "{text_grace}");

    // Repair: what is safe goes; the manifest's missing layer stays reported.
    let (ok, text) = fsck(&s, &["--grace-secs", "0", "--verify", "--repair"]);
    assert!(!ok, "the missing referenced blob cannot be repaired:\n{text}");
    let (ok, text) = fsck(&s, &["--grace-secs", "0", "--verify"]);
    assert!(!ok);
    let remaining: Vec<&str> = text.lines().filter(|l| !l.starts_with("fsck:")).collect();
    assert!(
        remaining
            .iter()
            .all(|l| l.contains(&used) || l.starts_with("broken-manifest")),
        "only the referenced missing blob remains:\n{text}"
    );
    assert!(!path_of(&orphan).exists());
    let r = s.client.get(s.url(&loc)).send().await.expect("status");
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "the broken session was dropped");
    // Pushing the lost layer again (monolithic) heals the last finding.
    push(b"layer used by a manifest".to_vec()).await;
    let (ok, text) = fsck(&s, &["--grace-secs", "0", "--verify"]);
    assert!(ok, "{text}");
    let r = s
        .client
        .get(s.url(&format!("/v2/admin/f/blobs/{used}")))
        .send()
        .await
        .expect("get");
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"layer used by a manifest");
}
