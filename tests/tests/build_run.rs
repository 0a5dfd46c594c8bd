//! RUN in namespaces over overlayfs: whiteouts (a file deleted in a later step is gone), opaque
//! directories, hard links, the image's USER/WORKDIR/ENV, `--network none`; multi-stage builds with
//! `--target` (stages not needed are not built) and ARG scoping; `rreg run` with Docker's
//! ENTRYPOINT/CMD rules and `rreg commit`. Skipped (printing `skipped: …`) where containers cannot
//! run (not root).

mod build_util;
mod client_util;
mod common;

use build_util::{blob_json, build, build_id, run_in, skip, Ctx, BASE};
use client_util::Rreg;

#[tokio::test]
async fn whiteouts_opaque_dirs_and_hard_links() {
    if skip() {
        return;
    }
    let df = format!(
        "{BASE}RUN mkdir -p /d/old /keep && echo 1 > /d/old/f && echo 2 > /d/x && echo k > /keep/k && echo gone > /gone\n\
         RUN rm /gone && rm -rf /d && mkdir -p /d && echo new > /d/y\n\
         RUN echo shared > /keep/a && ln /keep/a /keep/b\n"
    );
    let ctx = Ctx::new(&df);
    let r = Rreg::new();
    let id = build_id(&r, &ctx, &["-t", "wh:1"]).await;
    let out = run_in(
        &r,
        "wh:1",
        &[
            "sh",
            "-c",
            "ls /gone 2>&1; ls -a /d; stat -c '%h %i' /keep/a /keep/b; cat /keep/k",
        ],
    )
    .await;
    assert!(out.contains("No such file or directory"), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.contains(&"y") && !lines.contains(&"x") && !lines.contains(&"old"),
        "opaque /d: {out}"
    );
    let links: Vec<&str> = lines.iter().filter(|l| l.starts_with("2 ")).copied().collect();
    assert_eq!(links.len(), 2, "{out}");
    assert_eq!(links[0], links[1], "same inode: {out}");
    assert!(out.contains("\nk\n") || out.ends_with("k\n"), "{out}");
    // The layers themselves carry OCI whiteouts.
    let cfg = blob_json(&r, &id);
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().expect("ids").len(), 5);
}

#[tokio::test]
async fn user_workdir_env_and_network_none() {
    if skip() {
        return;
    }
    let df = format!(
        "{BASE}RUN mkdir -p /etc && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd && echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' > /etc/group\n\
         ENV GREETING=hi\nWORKDIR /work\nUSER app\nRUN id -u > /tmp-id 2>/dev/null || (pwd; id -u; echo $GREETING $HOME)\n\
         USER root\nRUN --network=none cat /proc/net/dev | grep -c : > /ifaces && ip link show lo > /lo\n"
    );
    let ctx = Ctx::new(&df);
    let r = Rreg::new();
    let o = build(&r, &ctx, &["-t", "user:1"]).await;
    assert!(o.ok(), "{o}");
    assert!(o.stdout.contains("/work\n1000\nhi /home/app\n"), "{o}");
    let ifaces = run_in(&r, "user:1", &["cat", "/ifaces"]).await;
    assert_eq!(ifaces.trim(), "1", "only lo in a new network namespace: {ifaces}");
    let lo = run_in(&r, "user:1", &["cat", "/lo"]).await;
    assert!(lo.contains(",UP"), "lo is up, as with Docker's --network none: {lo}");
}

#[tokio::test]
async fn multi_stage_target_and_arg_scoping() {
    if skip() {
        return;
    }
    let df = format!(
        "ARG VERSION=1.0\nARG UNUSED_GLOBAL=g\n{BASE}ARG VERSION\nRUN echo \"base sees $VERSION\" > /version\n\
         FROM base AS broken\nRUN echo never-built && exit 7\n\
         FROM base AS build\nARG STAGE_ONLY=s1\nRUN echo \"$STAGE_ONLY ${{VERSION:-unset}}\" > /scoped\n\
         FROM base AS final\nCOPY --from=build /scoped /scoped\nRUN echo \"final ${{STAGE_ONLY:-unset}}\" >> /scoped\n"
    );
    let ctx = Ctx::new(&df);
    let r = Rreg::new();
    let o = build(&r, &ctx, &["-t", "ms:1", "--build-arg", "VERSION=2.0"]).await;
    assert!(o.ok(), "{o}");
    assert!(
        !build_util::printed(&o, "never-built"),
        "unneeded stages are skipped: {o}"
    );
    let out = run_in(&r, "ms:1", &["cat", "/version", "/scoped"]).await;
    assert_eq!(out, "base sees 2.0\ns1 unset\nfinal unset\n");
    // --target stops at a stage.
    let o = build(&r, &ctx, &["-t", "ms:build", "--target", "build"]).await;
    assert!(o.ok(), "{o}");
    assert!(!o.stdout.contains("[final"), "{o}");
    assert_eq!(run_in(&r, "ms:build", &["cat", "/scoped"]).await, "s1 unset\n");
    // The broken stage fails when targeted, naming the step.
    let o = build(&r, &ctx, &["--target", "broken"]).await;
    assert!(!o.ok() && o.stderr.contains("returned a non-zero code: 7"), "{o}");
}

#[tokio::test]
async fn run_and_commit() {
    if skip() {
        return;
    }
    let df =
        format!("{BASE}WORKDIR /home\nENV WHO=image\nENTRYPOINT [\"/bin/sh\", \"-c\"]\nCMD [\"echo default $WHO\"]\n");
    let ctx = Ctx::new(&df);
    let r = Rreg::new();
    build_id(&r, &ctx, &["-t", "runme:1"]).await;
    assert_eq!(run_in(&r, "runme:1", &[]).await, "default image\n");
    assert_eq!(run_in(&r, "runme:1", &["echo args $WHO"]).await, "args image\n");
    let o = r
        .ok(&[
            "run",
            "--rm",
            "-e",
            "WHO=flag",
            "-w",
            "/tmp/x",
            "runme:1",
            "pwd; echo $WHO",
        ])
        .await;
    assert_eq!(o.stdout, "/tmp/x\nflag\n");
    let o = r
        .ok(&["run", "--rm", "--entrypoint", "/bin/echo", "runme:1", "replaced"])
        .await;
    assert_eq!(o.stdout, "replaced\n");
    let o = r.run(&["run", "--rm", "runme:1", "exit 42"]).await;
    assert_eq!(o.code, Some(42), "{o}");
    // A container's changes become an image.
    r.ok(&[
        "run",
        "--name",
        "c1",
        "runme:1",
        "echo committed > /home/file && rm /bin/vi",
    ])
    .await;
    let o = r.ok(&["commit", "-m", "my change", "c1", "committed:1"]).await;
    let id = o.stdout.trim().to_owned();
    let cfg = blob_json(&r, &id);
    let last = cfg["history"]
        .as_array()
        .expect("history")
        .last()
        .cloned()
        .expect("entry");
    assert_eq!(last["comment"], "my change");
    let out = run_in(&r, "committed:1", &["cat /home/file; ls /bin/vi 2>&1; true"]).await;
    assert!(out.starts_with("committed\n") && out.contains("No such file"), "{out}");
}
