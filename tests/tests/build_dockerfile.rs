//! `rreg build`: every instruction lands in the image config and history as Docker writes them;
//! COPY/ADD with `--chown`, `--chmod`, `--from`, heredocs and tar auto-extraction; `.dockerignore`
//! with `!` exceptions and `**`; parse errors name the file and line; a failing RUN names its step
//! and exit code. Skipped (printing `skipped: …`) where containers cannot run (not root).

mod build_util;
mod client_util;
mod common;

use build_util::{blob_json, build, build_id, run_in, skip, Ctx, BASE};
use client_util::Rreg;

#[tokio::test]
async fn metadata_instructions_fill_config_and_history() {
    if skip() {
        return;
    }
    let df = format!(
        "ARG TAG=one\n{BASE}MAINTAINER Jane <jane@example.com>\nARG V=1\nENV A=x B=\"two words\" C=${{V}}-$A\nENV LEGACY some value\n\
         LABEL org.example.v=$V \"spaced key\"=y\nWORKDIR /srv\nWORKDIR app\nUSER 1000:1000\nEXPOSE 80 53/udp 8000-8001\n\
         VOLUME [\"/data\"]\nVOLUME /logs\nSTOPSIGNAL SIGQUIT\nHEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost || exit 1\n\
         SHELL [\"/bin/sh\", \"-ec\"]\nONBUILD ENV TRIGGERED=yes\nENTRYPOINT [\"/bin/echo\"]\nCMD hello\n"
    );
    let ctx = Ctx::new(&df);
    let r = Rreg::new();
    let id = build_id(&r, &ctx, &["-t", "meta:1", "--label", "cli=yes"]).await;
    let cfg = blob_json(&r, &id);
    let c = &cfg["config"];
    let env: Vec<&str> = c["Env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(
        env,
        vec!["PATH=/bin", "A=x", "B=two words", "C=1-", "LEGACY=some value"],
        "{cfg}"
    );
    assert_eq!(c["Labels"]["org.example.v"], "1");
    assert_eq!(c["Labels"]["spaced key"], "y");
    assert_eq!(c["Labels"]["cli"], "yes");
    assert_eq!(c["WorkingDir"], "/srv/app");
    assert_eq!(c["User"], "1000:1000");
    for p in ["80/tcp", "53/udp", "8000/tcp", "8001/tcp"] {
        assert!(c["ExposedPorts"].get(p).is_some(), "{p} in {cfg}");
    }
    assert!(c["Volumes"].get("/data").is_some() && c["Volumes"].get("/logs").is_some());
    assert_eq!(c["StopSignal"], "SIGQUIT");
    assert_eq!(c["Healthcheck"]["Test"][0], "CMD-SHELL");
    assert_eq!(c["Healthcheck"]["Interval"], 5_000_000_000i64);
    assert_eq!(c["Healthcheck"]["Retries"], 2);
    assert_eq!(c["Shell"][1], "-ec");
    assert_eq!(c["OnBuild"][0], "ENV TRIGGERED=yes");
    assert_eq!(c["Entrypoint"][0], "/bin/echo");
    assert_eq!(c["Cmd"], serde_json::json!(["/bin/sh", "-ec", "hello"]));
    assert_eq!(cfg["author"], "Jane <jane@example.com>");
    let hist = cfg["history"].as_array().expect("history");
    let layers = hist.iter().filter(|h| h.get("empty_layer").is_none()).count();
    assert_eq!(layers, cfg["rootfs"]["diff_ids"].as_array().expect("ids").len());
    let by: Vec<&str> = hist.iter().map(|h| h["created_by"].as_str().unwrap_or("")).collect();
    assert!(by.contains(&"/bin/sh -c #(nop)  ENV A=x B=two words C=1-"), "{by:?}");
    assert!(by.contains(&"/bin/sh -c #(nop) WORKDIR /srv/app"), "{by:?}");
    assert!(
        by.contains(&"/bin/sh -c #(nop)  CMD [\"/bin/sh\" \"-ec\" \"hello\"]"),
        "{by:?}"
    );
    assert!(
        by.iter().any(|b| b.starts_with("/bin/sh -c #(nop) COPY file:")),
        "{by:?}"
    );

    // ONBUILD triggers run in an image built FROM this one.
    let child = Ctx::new("FROM meta:1\nRUN echo \"trigger saw $TRIGGERED\"\n");
    let o = build(&r, &child, &["-t", "child:1"]).await;
    assert!(o.ok() && o.stdout.contains("trigger saw yes"), "{o}");
    let cid = build_id(&r, &child, &["-t", "child:1"]).await;
    assert!(
        blob_json(&r, &cid)["config"].get("OnBuild").is_none(),
        "triggers are consumed"
    );
    // ENTRYPOINT + CMD as docker combines them.
    assert_eq!(run_in(&r, "meta:1", &[]).await.trim(), "/bin/sh -ec hello");
}

#[tokio::test]
async fn copy_and_add_rules() {
    if skip() {
        return;
    }
    let df = format!(
        "{BASE}COPY --chown=1000:50 --chmod=0640 files/a.txt /dst/\nCOPY files/ /tree/\nCOPY files/*.txt /glob/\n\
         ADD bundle.tar.gz /unpacked/\nADD plain.tar /plain/\nCOPY <<EOF /inline/hello.sh\necho from heredoc $HOME_DIR\nEOF\n\
         ARG WHO=heredoc\nRUN <<EOF\nmkdir -p /made\necho \"by $WHO\" > /made/by\nEOF\n\
         FROM scratch\nCOPY --from=base /bin/busybox /bin/busybox\nCOPY --from=0 /made /made\nCOPY --from=base /dst/a.txt /tree/ /out/\n"
    );
    let ctx = Ctx::new(&df);
    ctx.write("files/a.txt", "A");
    ctx.write("files/b.txt", "B");
    ctx.write("files/sub/c.bin", "C");
    // A gzip tar and a plain tar made with busybox-free Rust: a single file each.
    let tar = client_util::tar(&[("inside/t.txt", b"from tar")], &[]);
    let mut gz = Vec::new();
    {
        use std::io::Write as _;
        let mut e = flate2_lite::Gz::new(&mut gz);
        e.write_all(&tar).expect("gz");
    }
    ctx.write("bundle.tar.gz", &gz);
    ctx.write("plain.tar", &tar);
    let r = Rreg::new();
    build_id(&r, &ctx, &["-t", "copy:1", "--target", "base"]).await;
    let ls = run_in(
        &r,
        "copy:1",
        &["sh", "-c", "stat -c '%u:%g %a %n' /dst/a.txt; ls /tree /tree/sub /glob; cat /unpacked/inside/t.txt /plain/inside/t.txt; echo; cat /inline/hello.sh /made/by"],
    )
    .await;
    assert!(ls.contains("1000:50 640 /dst/a.txt"), "{ls}");
    assert!(
        ls.contains("/glob:\na.txt\nb.txt\n\n/tree:\na.txt\nb.txt\nsub\n\n/tree/sub:\nc.bin\n"),
        "{ls}"
    );
    assert!(ls.contains("from tarfrom tar"), "{ls}");
    assert!(
        ls.contains("echo from heredoc \n"),
        "heredoc expanded with ARGs/ENV only: {ls}"
    );
    assert!(ls.contains("by heredoc"), "{ls}");
    // The final stage copies from the earlier one by name and by index.
    build_id(&r, &ctx, &["-t", "copy:2"]).await;
    let out = run_in(
        &r,
        "copy:2",
        &["/bin/busybox", "sh", "-c", "/bin/busybox ls /out /made"],
    )
    .await;
    assert!(
        out.contains("a.txt") && out.contains("sub") && out.contains("by"),
        "{out}"
    );
}

/// A tiny gzip writer for the test (stored blocks, no compression), so the tests need no crate.
mod flate2_lite {
    pub struct Gz<'a> {
        out: &'a mut Vec<u8>,
        data: Vec<u8>,
    }
    impl<'a> Gz<'a> {
        pub fn new(out: &'a mut Vec<u8>) -> Self {
            Gz { out, data: Vec::new() }
        }
    }
    impl std::io::Write for Gz<'_> {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.data.extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    impl Drop for Gz<'_> {
        fn drop(&mut self) {
            self.out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
            let chunks: Vec<&[u8]> = self.data.chunks(65535).collect();
            for (i, c) in chunks.iter().enumerate() {
                self.out.push(u8::from(i + 1 == chunks.len()));
                let n = c.len() as u16;
                self.out.extend_from_slice(&n.to_le_bytes());
                self.out.extend_from_slice(&(!n).to_le_bytes());
                self.out.extend_from_slice(c);
            }
            self.out.extend_from_slice(&crc32(&self.data).to_le_bytes());
            self.out.extend_from_slice(&(self.data.len() as u32).to_le_bytes());
        }
    }
}

#[tokio::test]
async fn dockerignore_rules() {
    if skip() {
        return;
    }
    let ctx = Ctx::new(&format!("{BASE}COPY . /ctx/\n"));
    ctx.write(
        ".dockerignore",
        "# comment\n*.log\n!keep.log\nsecret/\n**/*.tmp\ndocs\n!docs/README.md\n",
    );
    for f in [
        "a.log",
        "keep.log",
        "secret/key",
        "src/x.tmp",
        "src/deep/y.tmp",
        "src/main.c",
        "docs/guide.md",
        "docs/README.md",
    ] {
        ctx.write(f, f);
    }
    let r = Rreg::new();
    build_id(&r, &ctx, &["-t", "ign:1"]).await;
    let out = run_in(&r, "ign:1", &["sh", "-c", "cd /ctx && find . -type f | sort"]).await;
    let files: Vec<&str> = out.lines().collect();
    assert_eq!(
        files,
        vec![
            "./.dockerignore",
            "./Dockerfile",
            "./busybox",
            "./docs/README.md",
            "./keep.log",
            "./src/main.c"
        ],
        "{out}"
    );
}

#[tokio::test]
async fn errors_name_file_line_and_step() {
    if skip() {
        return;
    }
    let r = Rreg::new();
    let ctx = Ctx::new("FROM scratch\nCOPY busybox /bin/busybox\nFROBNICATE now\n");
    let o = build(&r, &ctx, &[]).await;
    assert!(!o.ok(), "{o}");
    assert!(
        o.stderr.contains("Dockerfile:3: unknown instruction: FROBNICATE"),
        "{o}"
    );
    client_util::assert_one_line_error(&o);

    let ctx = Ctx::new(&format!("{BASE}RUN echo before-failure && exit 3\n"));
    let o = build(&r, &ctx, &[]).await;
    assert!(!o.ok(), "{o}");
    assert!(o.stdout.contains("before-failure"), "RUN output is shown: {o}");
    assert!(
        o.stderr.contains("Dockerfile:5: RUN echo before-failure && exit 3"),
        "{o}"
    );
    assert!(o.stderr.contains("returned a non-zero code: 3"), "{o}");

    let ctx = Ctx::new(&format!("{BASE}COPY missing.txt /x\n"));
    let o = build(&r, &ctx, &[]).await;
    assert!(o.stderr.contains("missing.txt: no such file or directory"), "{o}");
}
