//! The protocol between pushes and the garbage collector, with the dangerous interleavings forced
//! by pause points rather than hoped for by timing: the collector stopped while it holds its lock
//! and a push arrives, a push stopped before its commit while the collector arrives, and the scan
//! and the delete split by a whole push. On SQLite always, and on PostgreSQL when the test command
//! has started a cluster (`RREG_TEST_POSTGRES`). After every interleaving: no acknowledged
//! manifest references a blob that is not linked to its repository, recorded and stored.

use std::future::Future;
use std::time::Duration;

use rreg_oci::Digest;
use rreg_server::db::{Db, NewManifest};
use rreg_server::services::{GcOptions, Limits, Registry};
use rreg_server::storage::Storage;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// One backend under test: the registry, and a way to tell that a session is waiting for a lock.
struct Backend {
    name: &'static str,
    registry: Registry,
    storage: Storage,
    /// PostgreSQL: a second pool to watch `pg_stat_activity`; SQLite cannot be watched.
    watch: Option<sqlx::PgPool>,
    _dir: tempfile::TempDir,
}

impl Backend {
    fn db(&self) -> &Db {
        self.registry.db()
    }

    /// Waits until some other session of this database waits for a lock (PostgreSQL), or a moment
    /// (SQLite, whose writers queue on one lock that cannot be observed; the outcome asserted does
    /// not depend on this wait, which only makes the contended order the likely one).
    async fn until_blocked(&self) {
        match &self.watch {
            Some(pool) => {
                for _ in 0..2000 {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM pg_stat_activity
                         WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    )
                    .fetch_one(pool)
                    .await
                    .expect("pg_stat_activity");
                    if n > 0 {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                panic!("{}: no session started waiting for a lock", self.name);
            }
            None => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    }
}

impl Backend {
    /// Starts `first` and lets it run to pause point `point` (where it holds its locks), starts
    /// `second` and waits until it waits for a lock, then lets `first` go on: both results.
    async fn interleave<A, B>(
        &self,
        point: &'static str,
        first: impl Future<Output = A> + Send + 'static,
        second: impl Future<Output = B> + Send + 'static,
    ) -> (A, B)
    where
        A: Send + 'static,
        B: Send + 'static,
    {
        let pause = self.db().pauses().arm(point);
        let first = tokio::spawn(first);
        pause.reached().await;
        let second = tokio::spawn(second);
        self.until_blocked().await;
        pause.release();
        (first.await.expect("first"), second.await.expect("second"))
    }

    /// A manifest PUT, as a task can run it.
    fn put(&self, repo: i64, m: &NewManifest, tag: &str) -> impl Future<Output = Option<String>> + Send + 'static {
        let (db, m, tag) = (self.db().clone(), m.clone(), tag.to_owned());
        async move { db.put_manifest(repo, &m, Some(&tag)).await.expect("put") }
    }

    /// The collector removing a stale link.
    fn drop_link(&self, repo: i64, d: &Digest) -> impl Future<Output = bool> + Send + 'static {
        let (db, d) = (self.db().clone(), d.to_string());
        async move { db.delete_stale_link(repo, &d, far_future()).await.expect("collector") }
    }

    /// The collector removing an untagged manifest.
    fn drop_manifest(&self, repo: i64, m: &NewManifest) -> impl Future<Output = bool> + Send + 'static {
        let (db, d) = (self.db().clone(), m.digest.clone());
        async move { db.delete_untagged_manifest(repo, &d).await.expect("collector") }
    }
}

async fn backends() -> Vec<Backend> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("meta.db").display());
    out.push(backend("sqlite", &url, dir).await);
    if let Ok(base) = std::env::var("RREG_TEST_POSTGRES") {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let url = format!("{base}/rreg_races_{}_{}", std::process::id(), nanos % 1_000_000_000_000);
        let mut b = backend("postgres", &url, tempfile::tempdir().expect("tempdir")).await;
        b.watch = Some(sqlx::PgPool::connect(&url).await.expect("watch pool"));
        out.push(b);
    }
    out
}

async fn backend(name: &'static str, url: &str, dir: tempfile::TempDir) -> Backend {
    let db = Db::connect(url, 16).await.expect("database");
    let storage = Storage::local(&dir.path().join("blobs")).expect("storage");
    Backend {
        name,
        registry: Registry::new(db, storage.clone(), Limits::default()),
        storage,
        watch: None,
        _dir: dir,
    }
}

/// A stored blob of `bytes`, linked to `repo`.
async fn blob(b: &Backend, repo: &str, bytes: &[u8]) -> Digest {
    let name = rreg_oci::RepoName::parse(repo).expect("name");
    let d = Digest::sha256(bytes);
    let chunk: Result<bytes::Bytes, std::io::Error> = Ok(bytes::Bytes::copy_from_slice(bytes));
    b.registry
        .upload_monolithic(&name, &d, Some(bytes.len() as u64), futures::stream::iter([chunk]))
        .await
        .expect("upload");
    d
}

fn manifest(blobs: &[&Digest], children: &[&str], salt: &str) -> NewManifest {
    let content = format!(
        "{{\"salt\":\"{salt}\",\"blobs\":{:?}}}",
        blobs.iter().map(|d| d.to_string()).collect::<Vec<_>>()
    );
    NewManifest {
        digest: Digest::sha256(content.as_bytes()).to_string(),
        media_type: OCI_MANIFEST.into(),
        artifact_type: None,
        subject_digest: None,
        annotations: None,
        content: content.into_bytes(),
        blobs: blobs.iter().map(|d| d.to_string()).collect(),
        children: children.iter().map(|s| s.to_string()).collect(),
    }
}

/// A cutoff that makes everything look old (a grace period of zero, with the clock moved on).
fn far_future() -> i64 {
    i64::MAX / 2
}

/// Every manifest of `repo` that is tagged or listed references only blobs that are linked to the
/// repository, recorded and stored.
async fn assert_intact(b: &Backend, repo: &str, manifests: &[&NewManifest]) {
    let id = b.db().repository_id(repo).await.expect("repo").expect("repo exists");
    for m in manifests {
        if b.db()
            .manifest_by_digest(id, &m.digest)
            .await
            .expect("manifest")
            .is_none()
        {
            continue;
        }
        for d in &m.blobs {
            assert!(
                b.db().linked_blob_size(id, d).await.expect("link").is_some(),
                "{}: manifest {} references {d}, which is no longer linked to {repo}",
                b.name,
                m.digest
            );
            let digest = Digest::parse(d).expect("digest");
            assert!(
                b.storage.blob_exists(&digest).await.expect("exists"),
                "{}: manifest {} references {d}, whose object is gone",
                b.name,
                m.digest
            );
        }
    }
}

/// The reported race: a manifest PUT has touched the link of a layer and stops before its commit;
/// the collector, which found the link stale a moment before, tries to remove it and waits for the
/// PUT's lock; the PUT commits. The link must survive (the collector must see the new reference).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn collector_waiting_on_a_put_sees_its_reference() {
    for b in backends().await {
        let layer = blob(&b, "t/app", b"layer one").await;
        let config = blob(&b, "t/app", b"config one").await;
        let repo = b.db().repository_id("t/app").await.expect("repo").expect("repo");
        let stale = b.db().stale_links(far_future()).await.expect("scan");
        assert_eq!(stale.len(), 2, "{}: both links are candidates", b.name);

        let m = manifest(&[&config, &layer], &[], "1");
        let (put, deleted) = b
            .interleave(
                "put_manifest.before_commit",
                b.put(repo, &m, "v1"),
                b.drop_link(repo, &layer),
            )
            .await;
        assert_eq!(put, None, "{}: the PUT is acknowledged", b.name);
        assert!(
            !deleted,
            "{}: the collector removed a link the acknowledged PUT references",
            b.name
        );
        assert_intact(&b, "t/app", &[&m]).await;
    }
}

/// The collector's scan finds a link stale, then a whole PUT referencing it commits, then the
/// collector deletes: nothing goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scan_then_put_then_delete_keeps_the_link() {
    for b in backends().await {
        let layer = blob(&b, "t/app", b"layer two").await;
        let repo = b.db().repository_id("t/app").await.expect("repo").expect("repo");
        let stale = b.db().stale_links(far_future()).await.expect("scan");
        assert_eq!(stale.len(), 1);
        let m = manifest(&[&layer], &[], "2");
        assert_eq!(b.db().put_manifest(repo, &m, Some("v2")).await.expect("put"), None);
        for (r, d) in stale {
            assert!(!b.db().delete_stale_link(r, &d, far_future()).await.expect("delete"));
        }
        assert_intact(&b, "t/app", &[&m]).await;
    }
}

/// A whole collection with no grace period after a PUT: what the manifest references stays, what
/// nothing references goes (the protocol still collects).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn collection_keeps_referenced_and_removes_unreferenced() {
    for b in backends().await {
        let layer = blob(&b, "t/app", b"layer three").await;
        let loose = blob(&b, "t/app", b"nobody uses me").await;
        let repo = b.db().repository_id("t/app").await.expect("repo").expect("repo");
        let m = manifest(&[&layer], &[], "3");
        assert_eq!(b.db().put_manifest(repo, &m, Some("v3")).await.expect("put"), None);
        let report = b.registry.collect_garbage(&gc_now()).await.expect("gc");
        assert_eq!((report.links, report.blobs), (1, 1), "{}: {report:?}", b.name);
        assert!(!b.storage.blob_exists(&loose).await.expect("exists"), "{}", b.name);
        assert!(
            b.db().blob_size(&loose.to_string()).await.expect("row").is_none(),
            "{}",
            b.name
        );
        assert_intact(&b, "t/app", &[&m]).await;
    }
}

fn gc_now() -> GcOptions {
    GcOptions {
        dry_run: false,
        grace: Duration::ZERO,
        delete_untagged: true,
        upload_expiry: Duration::from_secs(3600),
    }
}

/// The other order: the collector holds the blob's lock and is about to remove the stale link when
/// a PUT referencing it arrives. The PUT waits, then finds the link gone and is refused (blob
/// unknown): nothing is acknowledged that the collector has taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn put_waiting_on_the_collector_is_refused() {
    for b in backends().await {
        let layer = blob(&b, "t/app", b"layer four").await;
        let repo = b.db().repository_id("t/app").await.expect("repo").expect("repo");
        let m = manifest(&[&layer], &[], "4");
        let (deleted, put) = b
            .interleave("gc.link.locked", b.drop_link(repo, &layer), b.put(repo, &m, "v4"))
            .await;
        assert!(deleted, "{}", b.name);
        assert_eq!(put, Some(layer.to_string()), "{}: the PUT must be refused", b.name);
        assert!(
            b.db().manifest_by_tag(repo, "v4").await.expect("tag").is_none(),
            "{}",
            b.name
        );
        assert_intact(&b, "t/app", &[&m]).await;
    }
}

/// An untagged manifest the collector is about to delete, and a PUT that tags it, in both orders:
/// the tag either keeps the manifest or re-creates it, and always ends up pointing at a complete
/// manifest.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn untagged_manifest_and_a_new_tag() {
    for b in backends().await {
        let layer = blob(&b, "t/app", b"layer five").await;
        let repo = b.db().repository_id("t/app").await.expect("repo").expect("repo");
        let m = manifest(&[&layer], &[], "5");
        assert_eq!(b.db().put_manifest(repo, &m, None).await.expect("put"), None);
        assert_eq!(b.db().untagged_manifests(far_future()).await.expect("scan").len(), 1);

        // The PUT first, stopped before its commit; the collector waits for it and keeps the manifest.
        let (put, deleted) = b
            .interleave(
                "put_manifest.before_commit",
                b.put(repo, &m, "v5"),
                b.drop_manifest(repo, &m),
            )
            .await;
        assert_eq!(put, None);
        assert!(!deleted, "{}: a tagged manifest went", b.name);
        assert!(
            b.db().manifest_by_tag(repo, "v5").await.expect("tag").is_some(),
            "{}",
            b.name
        );

        // The collector first (on a manifest untagged again): the PUT waits, then stores it anew.
        assert!(b.db().delete_tag(repo, "v5").await.expect("untag"));
        let (deleted, put) = b
            .interleave("gc.manifest.locked", b.drop_manifest(repo, &m), b.put(repo, &m, "v5b"))
            .await;
        assert!(deleted, "{}", b.name);
        assert_eq!(put, None, "{}", b.name);
        assert!(
            b.db().manifest_by_tag(repo, "v5b").await.expect("tag").is_some(),
            "{}",
            b.name
        );
        assert_intact(&b, "t/app", &[&m]).await;
        // The re-created manifest records its blob again: a collection keeps the link.
        assert_eq!(
            b.registry.collect_garbage(&gc_now()).await.expect("gc").links,
            0,
            "{}",
            b.name
        );
        assert_intact(&b, "t/app", &[&m]).await;
    }
}

/// An index whose child is untagged: the collector deleting the child and the index PUT that lists
/// it, in both orders. Either the child stays (listed) or the index is refused (child unknown).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn index_child_and_the_collector() {
    for b in backends().await {
        let layer = blob(&b, "t/app", b"layer six").await;
        let repo = b.db().repository_id("t/app").await.expect("repo").expect("repo");
        let child = manifest(&[&layer], &[], "6");
        assert_eq!(b.db().put_manifest(repo, &child, None).await.expect("put"), None);

        let index = manifest(&[], &[&child.digest], "6-index");
        let (put, deleted) = b
            .interleave(
                "put_manifest.before_commit",
                b.put(repo, &index, "multi"),
                b.drop_manifest(repo, &child),
            )
            .await;
        assert_eq!(put, None);
        assert!(!deleted, "{}: a listed child went", b.name);
        assert!(b
            .db()
            .manifest_by_digest(repo, &child.digest)
            .await
            .expect("child")
            .is_some());

        // The collector first, on a second child nobody lists yet.
        let child2 = manifest(&[&layer], &[], "6b");
        assert_eq!(b.db().put_manifest(repo, &child2, None).await.expect("put"), None);
        let index2 = manifest(&[], &[&child2.digest], "6b-index");
        let (deleted, put) = b
            .interleave(
                "gc.manifest.locked",
                b.drop_manifest(repo, &child2),
                b.put(repo, &index2, "multi2"),
            )
            .await;
        assert!(deleted, "{}", b.name);
        assert_eq!(put, Some(child2.digest.clone()), "{}", b.name);
        assert!(
            b.db().manifest_by_tag(repo, "multi2").await.expect("tag").is_none(),
            "{}",
            b.name
        );
    }
}

/// A blob pushed again while the collector removes it, at each point of the removal: while it
/// decides (phase one), while it deletes the object (phase two), and as an orphan object without a
/// row. The upload must end with the blob recorded, linked and stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn upload_beside_blob_removal() {
    for point in ["gc.blob.locked", "gc.blob.removing", "gc.orphan.removing"] {
        for b in backends().await {
            let bytes = format!("layer seven at {point}").into_bytes();
            let name = rreg_oci::RepoName::parse("t/app").expect("name");
            let d = blob(&b, "t/app", &bytes).await;
            let repo = b.db().repository_id("t/app").await.expect("repo").expect("repo");
            assert!(b.db().unlink_blob(repo, &d.to_string()).await.expect("unlink"));
            if point == "gc.orphan.removing" {
                // An object without a row: the row goes, the object stays.
                let removal = b
                    .db()
                    .begin_orphan_removal(&d.to_string(), "test")
                    .await
                    .expect("begin");
                assert!(removal.is_none(), "the row is there");
                let mark = b
                    .db()
                    .mark_blob(&d.to_string(), "test", far_future())
                    .await
                    .expect("mark");
                assert!(mark);
                let removal = b.db().begin_blob_removal(&d.to_string(), "test").await.expect("begin");
                removal.expect("marked").finish().await.expect("row removed");
                assert!(b.storage.blob_exists(&d).await.expect("exists"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
            let gc = {
                let r = b.registry.clone();
                async move { r.collect_garbage(&gc_now()).await.expect("gc") }
            };
            let upload = {
                let (r, bytes, d) = (b.registry.clone(), bytes.clone(), d.clone());
                async move {
                    let chunk: Result<bytes::Bytes, std::io::Error> = Ok(bytes::Bytes::from(bytes.clone()));
                    r.upload_monolithic(&name, &d, Some(bytes.len() as u64), futures::stream::iter([chunk]))
                        .await
                        .expect("upload")
                }
            };
            b.interleave(point, gc, upload).await;
            assert_eq!(
                b.db().linked_blob_size(repo, &d.to_string()).await.expect("link"),
                Some(bytes.len() as i64),
                "{} at {point}: the pushed blob is linked",
                b.name
            );
            assert!(
                b.storage.blob_exists(&d).await.expect("exists"),
                "{} at {point}: the pushed blob's object is gone",
                b.name
            );
            let m = manifest(&[&d], &[], point);
            assert_eq!(
                b.db().put_manifest(repo, &m, Some("seven")).await.expect("put"),
                None,
                "{}",
                b.name
            );
        }
    }
}
