//! Images built by `rreg build` in the real world: pushed to rreg-server (auth on), pulled by the
//! Docker engine and run with `docker run`, printing what the Dockerfile says; a file deleted in a
//! later layer is gone there too; `docker history` lists each step. Skipped (printing
//! `skipped: …`) unless `RREG_TEST_DOCKER=1` and containers can run here.

mod build_util;
mod client_util;
mod common;

use build_util::{build_id, skip, Ctx, BASE};
use client_util::{docker, docker_ok, Rreg};
use common::{TestServer, ADMIN_PASSWORD};

#[tokio::test]
async fn rreg_built_image_runs_in_docker_with_its_history() {
    if docker().is_none() {
        println!("skipped: RREG_TEST_DOCKER not set");
        return;
    }
    if skip() {
        return;
    }
    let srv = TestServer::start().await;
    let df = format!(
        "{BASE}FROM base\nARG MSG=hello\nLABEL stage=final\nWORKDIR /app\nCOPY msg.txt ./\nRUN echo \"$MSG from rreg\" >> msg.txt && echo temp > /app/deleted && ln msg.txt hard\n\
         RUN rm /app/deleted\nENV SHOWN=yes\nCMD [\"sh\", \"-c\", \"cat /app/msg.txt /app/hard; ls /app/deleted 2>&1; echo env=$SHOWN\"]\n"
    );
    let ctx = Ctx::new(&df);
    ctx.write("msg.txt", "line one\n");
    let r = Rreg::new();
    r.login(&srv.addr, "admin", ADMIN_PASSWORD).await;
    let name = format!("{}/admin/built:1", srv.addr);
    build_id(&r, &ctx, &["-t", &name, "--build-arg", "MSG=hi"]).await;
    let push = r.ok(&["push", &name]).await;
    assert!(push.stdout.contains("digest: sha256:"), "{push}");

    docker_ok(&["login", "-u", "admin", "-p", ADMIN_PASSWORD, &srv.addr]).await;
    docker_ok(&["pull", "-q", &name]).await;
    let run = docker_ok(&["run", "--rm", "--network=none", &name]).await;
    assert_eq!(
        run.stdout,
        "line one\nhi from rreg\nline one\nhi from rreg\nls: /app/deleted: No such file or directory\nenv=yes\n",
        "{run}"
    );
    let hist = docker_ok(&["history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", &name]).await;
    let lines: Vec<&str> = hist.stdout.lines().collect();
    assert!(lines[0].starts_with("/bin/sh -c #(nop)  CMD [\"sh\" \"-c\""), "{hist}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("|1 MSG=hi /bin/sh -c echo \"$MSG from rreg\"")),
        "{hist}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("/bin/sh -c #(nop) WORKDIR /app|0B")),
        "{hist}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("/bin/sh -c #(nop)  LABEL stage=final|0B")),
        "{hist}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with("/bin/sh -c #(nop) COPY file:")),
        "{hist}"
    );
    let _ = docker_ok(&["rmi", &name]).await;
}
