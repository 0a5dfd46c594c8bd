//! The build cache and reproducibility: a rebuild with nothing changed prints CACHED for every
//! step; a changed context file re-runs that COPY and what follows only; `--no-cache` runs
//! everything; a failed build resumes from the last good step; the same context built in two empty
//! stores gives the same image digest, even when RUN writes files with the current time (under
//! SOURCE_DATE_EPOCH). Skipped (printing `skipped: …`) where containers cannot run (not root).

mod build_util;
mod client_util;
mod common;

use build_util::{build, build_id, cached_steps, printed, skip, Ctx, BASE};
use client_util::Rreg;

#[tokio::test]
async fn rebuild_is_cached_and_changes_rerun_only_later_steps() {
    if skip() {
        return;
    }
    let df = format!(
        "{BASE}RUN echo ran-early\nCOPY app /app\nRUN echo ran-late && cat /app/conf\nCMD [\"cat\", \"/app/conf\"]\n"
    );
    let ctx = Ctx::new(&df);
    ctx.write("app/conf", "v1");
    let r = Rreg::new();
    let first = build(&r, &ctx, &["-t", "c:1"]).await;
    assert!(
        first.ok() && printed(&first, "ran-early") && printed(&first, "ran-late"),
        "{first}"
    );
    assert_eq!(cached_steps(&first), 0, "{first}");

    let again = build(&r, &ctx, &["-t", "c:1"]).await;
    assert!(again.ok(), "{again}");
    assert!(
        !printed(&again, "ran-early") && !printed(&again, "ran-late"),
        "nothing runs: {again}"
    );
    assert_eq!(cached_steps(&again), 7, "every step after FROM is CACHED: {again}");

    // mtime alone changes nothing.
    ctx.write("app/conf", "v1");
    let touched = build(&r, &ctx, &["-t", "c:1"]).await;
    assert_eq!(cached_steps(&touched), 7, "{touched}");

    ctx.write("app/conf", "v2");
    let changed = build(&r, &ctx, &["-t", "c:2"]).await;
    assert!(changed.ok(), "{changed}");
    assert!(!printed(&changed, "ran-early"), "{changed}");
    assert!(printed(&changed, "ran-late"), "{changed}");
    assert_eq!(cached_steps(&changed), 4, "{changed}");

    let nocache = build(&r, &ctx, &["--no-cache", "-t", "c:2"]).await;
    assert!(
        printed(&nocache, "ran-early") && printed(&nocache, "ran-late"),
        "{nocache}"
    );
    assert_eq!(cached_steps(&nocache), 0, "{nocache}");
}

#[tokio::test]
async fn failed_build_resumes_from_the_last_good_step() {
    if skip() {
        return;
    }
    let ctx = Ctx::new(&format!(
        "{BASE}RUN echo step-one\nRUN test -f /bin/ok-marker || exit 1\n"
    ));
    let r = Rreg::new();
    let o = build(&r, &ctx, &[]).await;
    assert!(!o.ok() && printed(&o, "step-one"), "{o}");
    // Fix the failing step: the earlier ones come from the cache.
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!("{BASE}RUN echo step-one\nRUN echo fixed\n"),
    )
    .expect("write");
    let o = build(&r, &ctx, &[]).await;
    assert!(o.ok() && !printed(&o, "step-one") && printed(&o, "fixed"), "{o}");
}

#[tokio::test]
async fn same_digest_in_two_empty_stores() {
    if skip() {
        return;
    }
    let df = format!("{BASE}COPY . /src\nRUN date > /stamp-content-fixed-below && touch /touched && echo 'x' > /stamp-content-fixed-below\nCMD [\"ls\"]\n");
    let ctx = Ctx::new(&df);
    ctx.write("data/a", "alpha");
    let a = Rreg::new();
    let b = Rreg::new();
    let ida = build_id(&a, &ctx, &["-t", "repro:1"]).await;
    // Later, with other mtimes: still the same digest.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ctx.write("data/a", "alpha");
    let idb = build_id(&b, &ctx, &["-t", "repro:1"]).await;
    assert_eq!(ida, idb);
    let ma = a.ok(&["inspect", "repro:1"]).await.stdout;
    let mb = b.ok(&["inspect", "repro:1"]).await.stdout;
    let digest = |s: &str| -> String {
        let v: serde_json::Value = serde_json::from_str(s).expect("json");
        v[0]["Descriptor"]["digest"].as_str().expect("digest").to_owned()
    };
    assert_eq!(digest(&ma), digest(&mb), "manifest digests match");

    // Under SOURCE_DATE_EPOCH as well.
    let mut c = Rreg::new();
    c.extra_env.push(("SOURCE_DATE_EPOCH".into(), "1700000000".into()));
    let mut d = Rreg::new();
    d.extra_env.push(("SOURCE_DATE_EPOCH".into(), "1700000000".into()));
    let idc = build_id(&c, &ctx, &["-t", "repro:2"]).await;
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let idd = build_id(&d, &ctx, &["-t", "repro:2"]).await;
    assert_eq!(idc, idd);
    assert_ne!(idc, ida, "the epoch is part of the image");
    let cfg = build_util::blob_json(&c, &idc);
    assert_eq!(cfg["created"], "2023-11-14T22:13:20Z");
}
