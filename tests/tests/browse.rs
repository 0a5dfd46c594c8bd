//! The browsing API against the real server: repositories with their statistics, tags with paging
//! and ordering, pushers and pull times, private/public filtering, an index with two platforms, a
//! tag's layer history, a layer's file list, and Dive's wasted bytes and efficiency checked
//! against a hand-computed example.

mod client_util;
mod common;

use client_util::tar;
use common::{basic, client_with, digest, TestServer};
use serde_json::{json, Value};

/// Uploads `data` as a blob of `repo` (monolithic POST with `digest`).
async fn blob(srv: &TestServer, c: &reqwest::Client, repo: &str, data: &[u8]) -> String {
    let d = digest(data);
    let r = c
        .post(srv.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
        .header("content-type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    d
}

async fn put_manifest(srv: &TestServer, c: &reqwest::Client, repo: &str, reference: &str, m: &Value) -> String {
    let body = serde_json::to_vec(m).expect("json");
    let mt = m["mediaType"].as_str().expect("mediaType").to_owned();
    let r = c
        .put(srv.url(&format!("/v2/{repo}/manifests/{reference}")))
        .header("content-type", mt)
        .body(body.clone())
        .send()
        .await
        .expect("put manifest");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    digest(&body)
}

/// Pushes an image of uncompressed `layers` with one history entry per layer plus an empty one;
/// returns (manifest digest, manifest JSON, layer digests).
async fn push_image(
    srv: &TestServer,
    c: &reqwest::Client,
    repo: &str,
    tag: Option<&str>,
    layers: &[Vec<u8>],
    arch: &str,
) -> (String, Value, Vec<String>) {
    let mut descs = Vec::new();
    let mut digests = Vec::new();
    let mut history = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let d = blob(srv, c, repo, l).await;
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": l.len()}));
        digests.push(d);
        history.push(json!({"created": "2024-01-02T03:04:05Z", "created_by": format!("RUN step {i}"), "comment": "c"}));
    }
    history.push(json!({"created": "2024-01-02T03:04:06Z", "created_by": "CMD [\"/bin/sh\"]", "empty_layer": true}));
    let config = json!({
        "created": "2024-01-02T03:04:06Z", "architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": digests}, "history": history,
    });
    let cb = serde_json::to_vec(&config).expect("json");
    let cd = blob(srv, c, repo, &cb).await;
    let m = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cb.len()},
        "layers": descs,
    });
    let reference = tag
        .map(str::to_owned)
        .unwrap_or_else(|| digest(&serde_json::to_vec(&m).expect("json")));
    let md = put_manifest(srv, c, repo, &reference, &m).await;
    (md, m, digests)
}

async fn get_json(c: &reqwest::Client, url: &str) -> (u16, Value, Option<String>) {
    let r = c.get(url).send().await.expect("get");
    let status = r.status().as_u16();
    let link = r.headers().get("link").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, body, link)
}

fn names(items: &Value) -> Vec<String> {
    items["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().expect("name").to_owned())
        .collect()
}

async fn create_user(srv: &TestServer, name: &str, password: &str) -> reqwest::Client {
    let r = srv
        .client
        .post(srv.url("/api/v1/users"))
        .json(&json!({"name": name, "password": password}))
        .send()
        .await
        .expect("create user");
    assert_eq!(r.status(), 201);
    client_with(Some(&basic(name, password)))
}

#[tokio::test]
async fn repositories_with_statistics_and_tags_in_both_orders() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let l = tar(&[("etc/motd", b"hello\n")], &[]);
    let (d1, m1, _) = push_image(&srv, c, "admin/app", Some("b"), std::slice::from_ref(&l), "amd64").await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    put_manifest(&srv, c, "admin/app", "a", &m1).await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    put_manifest(&srv, c, "admin/app", "c", &m1).await;

    // Repository statistics.
    let (s, repos, _) = get_json(c, &srv.url("/api/v1/repositories?namespace=admin")).await;
    assert_eq!(s, 200, "{repos}");
    let app = &repos["items"][0];
    assert_eq!(app["name"], "admin/app");
    assert_eq!(app["tag_count"], 3);
    let expected_size = l.len() as u64 + m1["config"]["size"].as_u64().expect("size");
    assert_eq!(app["size"], expected_size, "{app}");
    assert_eq!(app["pull_count"], 0);
    assert!(app["last_pushed"].as_str().expect("time").ends_with('Z'));
    assert!(app["last_pulled"].is_null());
    let (_, one, _) = get_json(c, &srv.url("/api/v1/repositories/admin/app")).await;
    assert_eq!(one["tag_count"], 3);
    assert_eq!(one["access"], "admin");

    // Tags by name, paged.
    let base = srv.url("/api/v1/repositories/admin/app/-/tags");
    let (s, page1, link) = get_json(c, &format!("{base}?n=2")).await;
    assert_eq!(s, 200, "{page1}");
    assert_eq!(names(&page1), ["a", "b"]);
    let t = &page1["items"][0];
    assert_eq!(t["digest"], d1.as_str());
    assert_eq!(t["media_type"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(t["size"], expected_size);
    assert_eq!(t["platforms"], json!([{"os": "linux", "architecture": "amd64"}]));
    assert_eq!(t["pushed_by"], "admin");
    assert!(t["last_pulled"].is_null());
    let link = link.expect("Link to the next page");
    assert_eq!(
        link,
        "</api/v1/repositories/admin/app/-/tags?ordering=name&n=2&last=b>; rel=\"next\""
    );
    let next = link.trim_start_matches('<').split('>').next().expect("url");
    let (_, page2, link2) = get_json(c, &srv.url(next)).await;
    assert_eq!(names(&page2), ["c"]);
    assert!(link2.is_none());

    // Newest push first, paged with the Link cursor.
    let (_, recent, link) = get_json(c, &format!("{base}?ordering=last_pushed&n=2")).await;
    assert_eq!(names(&recent), ["c", "a"], "{recent}");
    let next = link.expect("link");
    let next = next.trim_start_matches('<').split('>').next().expect("url");
    let (_, rest, _) = get_json(c, &srv.url(next)).await;
    assert_eq!(names(&rest), ["b"]);
    let (s, _, _) = get_json(c, &format!("{base}?ordering=size")).await;
    assert_eq!(s, 400);

    // One tag; a missing one.
    let (s, tag, _) = get_json(c, &format!("{base}/a")).await;
    assert_eq!((s, tag["name"].clone()), (200, json!("a")));
    let (s, err, _) = get_json(c, &format!("{base}/nope")).await;
    assert_eq!((s, err["error"]["code"].clone()), (404, json!("NOT_FOUND")));

    // A pull (manifest GET, not HEAD) is counted and dated.
    let r = srv
        .anon
        .head(srv.url("/v2/admin/app/manifests/a"))
        .send()
        .await
        .expect("head");
    assert_eq!(r.status(), 401);
    let r = c.head(srv.url("/v2/admin/app/manifests/a")).send().await.expect("head");
    assert_eq!(r.status(), 200);
    let r = c.get(srv.url("/v2/admin/app/manifests/a")).send().await.expect("get");
    assert_eq!(r.status(), 200);
    let mut pulled = Value::Null;
    for _ in 0..50 {
        let (_, one, _) = get_json(c, &srv.url("/api/v1/repositories/admin/app")).await;
        if one["pull_count"] == 1 {
            pulled = one;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(pulled["pull_count"], 1, "the pull was not counted");
    assert!(pulled["last_pulled"].is_string());
    let (_, tag, _) = get_json(c, &format!("{base}/a")).await;
    assert!(tag["last_pulled"].is_string(), "{tag}");
    let (_, tag, _) = get_json(c, &format!("{base}/b")).await;
    // A pull by tag dates that tag only.
    assert!(tag["last_pulled"].is_null(), "{tag}");
}

#[tokio::test]
async fn private_repositories_are_hidden_from_those_who_may_not_read_them() {
    let srv = TestServer::start().await;
    let bob = create_user(&srv, "bob", "bob-password-1").await;
    let carol = create_user(&srv, "carol", "carol-password-1").await;
    let l = tar(&[("f", b"x")], &[]);
    push_image(&srv, &bob, "bob/secret", Some("1"), std::slice::from_ref(&l), "amd64").await;
    push_image(&srv, &bob, "bob/open", Some("1"), std::slice::from_ref(&l), "amd64").await;
    let r = bob
        .patch(srv.url("/api/v1/repositories/bob/open"))
        .json(&json!({"visibility": "public"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 200);

    for (who, c) in [("anonymous", &srv.anon), ("carol", &carol)] {
        let (_, list, _) = get_json(c, &srv.url("/api/v1/repositories?namespace=bob")).await;
        assert_eq!(names(&list), ["bob/open"], "{who}: {list}");
        for path in ["tags", "tags/1", "history/1", "layers/1"] {
            let (s, body, _) = get_json(c, &srv.url(&format!("/api/v1/repositories/bob/secret/-/{path}"))).await;
            assert_eq!(s, 404, "{who} {path}: {body}");
            // Exactly what a missing repository answers.
            let (s2, body2, _) = get_json(c, &srv.url(&format!("/api/v1/repositories/bob/nothing/-/{path}"))).await;
            assert_eq!(s2, 404);
            assert_eq!(
                body["error"]["message"].as_str().map(|m| m.replace("secret", "X")),
                body2["error"]["message"].as_str().map(|m| m.replace("nothing", "X"))
            );
        }
        let (s, tags, _) = get_json(c, &srv.url("/api/v1/repositories/bob/open/-/tags")).await;
        assert_eq!((s, names(&tags)), (200, vec!["1".to_owned()]), "{who}");
    }
    let (_, list, _) = get_json(&bob, &srv.url("/api/v1/repositories?namespace=bob")).await;
    assert_eq!(names(&list), ["bob/open", "bob/secret"]);
    let (s, _, _) = get_json(&bob, &srv.url("/api/v1/repositories/bob/secret/-/tags")).await;
    assert_eq!(s, 200);
    // Unknown endpoints below /-/ and bad names.
    let (s, _, _) = get_json(&bob, &srv.url("/api/v1/repositories/bob/secret/-/nope")).await;
    assert_eq!(s, 404);
    let (s, _, _) = get_json(&bob, &srv.url("/api/v1/repositories/Bob/x/-/tags")).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn index_with_two_platforms_has_history_per_platform() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let shared = tar(&[("bin/sh", &[7u8; 300])], &[]);
    let amd = tar(&[("lib/amd", &[1u8; 100])], &[]);
    let arm = tar(&[("lib/arm", &[2u8; 200])], &[]);
    let (da, ma, _) = push_image(&srv, c, "admin/multi", None, &[shared.clone(), amd.clone()], "amd64").await;
    let (dr, mr, _) = push_image(&srv, c, "admin/multi", None, &[shared.clone(), arm.clone()], "arm64").await;
    let size_of = |d: &str, m: &Value| {
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d,
        "size": serde_json::to_vec(m).expect("json").len()})
    };
    let mut ea = size_of(&da, &ma);
    ea["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let mut er = size_of(&dr, &mr);
    er["platform"] = json!({"os": "linux", "architecture": "arm64", "variant": "v8"});
    let index =
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [ea, er]});
    let di = put_manifest(&srv, c, "admin/multi", "latest", &index).await;

    let (s, tag, _) = get_json(c, &srv.url("/api/v1/repositories/admin/multi/-/tags/latest")).await;
    assert_eq!(s, 200, "{tag}");
    assert_eq!(tag["digest"], di.as_str());
    assert_eq!(
        tag["platforms"],
        json!([{"os": "linux", "architecture": "amd64"}, {"os": "linux", "architecture": "arm64", "variant": "v8"}])
    );
    let configs = ma["config"]["size"].as_u64().expect("n") + mr["config"]["size"].as_u64().expect("n");
    assert_eq!(tag["size"], (shared.len() + amd.len() + arm.len()) as u64 + configs);

    let base = srv.url("/api/v1/repositories/admin/multi/-/history/latest");
    let (s, h, _) = get_json(c, &base).await;
    assert_eq!(s, 200, "{h}");
    let items = h["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["digest"], da.as_str());
    assert_eq!(items[1]["platform"]["variant"], "v8");
    let hist = items[1]["history"].as_array().expect("history");
    assert_eq!(hist.len(), 3);
    assert_eq!(hist[1]["created_by"], "RUN step 1");
    assert_eq!(hist[1]["layer"]["size"], arm.len());
    assert!(hist[1]["layer"]["diff_size"].is_null(), "not read yet: {}", hist[1]);
    assert_eq!(hist[2]["empty_layer"], true);
    assert!(hist[2]["layer"].is_null());

    let (_, h, _) = get_json(c, &format!("{base}?platform=linux/arm64&sizes=1")).await;
    let items = h["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["digest"], dr.as_str());
    assert_eq!(items[0]["history"][1]["layer"]["diff_size"], 200);
    assert_eq!(items[0]["history"][0]["layer"]["diff_size"], 300);
    let (s, _, _) = get_json(c, &format!("{base}?platform=linux/s390x")).await;
    assert_eq!(s, 404);
    let (s, _, _) = get_json(c, &format!("{base}?platform=linux")).await;
    assert_eq!(s, 400);
    // By digest, too.
    let (s, h, _) = get_json(c, &srv.url(&format!("/api/v1/repositories/admin/multi/-/history/{da}"))).await;
    assert_eq!((s, h["items"].as_array().map(Vec::len)), (200, Some(1)));
}

#[tokio::test]
async fn wasted_bytes_efficiency_and_file_lists() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    // Layer 0 adds /data/a (1000 bytes) and /bin/sh (200) and a symlink; layer 1 deletes /data/a
    // (a whiteout) and adds /etc/x (50).
    let l0 = tar(
        &[("data/a", &[1u8; 1000]), ("bin/sh", &[2u8; 200])],
        &[("bin/ash", "sh")],
    );
    let l1 = tar(&[("data/.wh.a", b""), ("etc/x", &[3u8; 50])], &[]);
    let (_, _, layers) = push_image(&srv, c, "admin/waste", Some("1"), &[l0, l1], "amd64").await;

    let (s, a, _) = get_json(c, &srv.url("/api/v1/repositories/admin/waste/-/layers/1")).await;
    assert_eq!(s, 200, "{a}");
    let img = &a["items"][0];
    // Hand-computed as Dive does: paths seen per layer (leaves), sizes as in the tar headers:
    //   /data/a: 1000 (layer 0), 0 (whiteout of a file, layer 1) → cumulative 1000, smallest 0
    //   /bin/sh: 200; /bin/ash: 0; /etc/x: 50
    // wasted = 1000 (the cumulative size of the one path seen twice)
    // efficiency = (0 + 200 + 0 + 50) / (1000 + 200 + 0 + 50) = 0.2
    // user size (every layer but the first) = 50; wasted / user size = 20
    assert_eq!(img["wasted_bytes"], 1000, "{img}");
    assert_eq!(img["efficiency"].as_f64(), Some(0.2));
    assert_eq!(img["size_bytes"], 1250);
    assert_eq!(img["user_size_bytes"], 50);
    assert_eq!(img["wasted_user_percent"].as_f64(), Some(20.0));
    assert_eq!(
        img["inefficiencies"],
        json!([{"path": "/data/a", "count": 2, "cumulative_size": 1000}])
    );
    let ls = img["layers"].as_array().expect("layers");
    assert_eq!(ls[0]["created_by"], "RUN step 0");
    assert_eq!(ls[0]["added"], json!({"count": 3, "bytes": 1200}));
    assert_eq!(ls[0]["diff_size"], 1202);
    assert_eq!(ls[1]["removed"], json!({"count": 1, "bytes": 1000}));
    assert_eq!(ls[1]["added"], json!({"count": 1, "bytes": 50}));
    assert_eq!(
        ls[1]["changes"],
        json!([{"path": "data/a", "change": "removed", "kind": "file", "size": 1000},
               {"path": "etc/x", "change": "added", "kind": "file", "size": 50}])
    );

    // The file list of layer 0, paged by path.
    let url = srv.url(&format!("/api/v1/repositories/admin/waste/-/files/{}", layers[0]));
    let (s, f, link) = get_json(c, &format!("{url}?n=2")).await;
    assert_eq!(s, 200, "{f}");
    assert_eq!(
        f["items"],
        json!([
            {"path": "/bin/ash", "type": "symlink", "size": 0, "mode": "0777", "uid": 0, "gid": 0, "link": "sh"},
            {"path": "/bin/sh", "type": "file", "size": 200, "mode": "0755", "uid": 0, "gid": 0},
        ])
    );
    let next = link.expect("link");
    let next = next.trim_start_matches('<').split('>').next().expect("url");
    let (_, f2, _) = get_json(c, &srv.url(next)).await;
    assert_eq!(f2["items"][0]["path"], "/data/a");
    let (_, f1, _) = get_json(
        c,
        &srv.url(&format!("/api/v1/repositories/admin/waste/-/files/{}", layers[1])),
    )
    .await;
    assert_eq!(f1["items"][0]["type"], "whiteout");
    // A blob the repository does not hold.
    let (s, _, _) = get_json(
        c,
        &srv.url(&format!(
            "/api/v1/repositories/admin/waste/-/files/{}",
            digest(b"nothing")
        )),
    )
    .await;
    assert_eq!(s, 404);
    // The history now knows the uncompressed sizes without reading again.
    let (_, h, _) = get_json(c, &srv.url("/api/v1/repositories/admin/waste/-/history/1")).await;
    assert_eq!(h["items"][0]["history"][0]["layer"]["diff_size"], 1202);
    assert_eq!(h["items"][0]["history"][0]["layer"]["file_count"], 3);
}

#[tokio::test]
async fn gzip_layers_are_read_once() {
    let srv = TestServer::start().await;
    let c = &srv.client;
    let raw = tar(&[("usr/share/doc", &[9u8; 4000])], &[]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &raw).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let ld = blob(&srv, c, "admin/gz", &gz).await;
    let config = json!({"architecture": "arm", "variant": "v7", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [digest(&raw)]},
        "history": [{"created_by": "ADD doc /"}]});
    let cb = serde_json::to_vec(&config).expect("json");
    let cd = blob(&srv, c, "admin/gz", &cb).await;
    let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cd, "size": cb.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": ld, "size": gz.len()}]});
    put_manifest(&srv, c, "admin/gz", "1", &m).await;
    let (_, t, _) = get_json(c, &srv.url("/api/v1/repositories/admin/gz/-/tags/1")).await;
    assert_eq!(
        t["platforms"],
        json!([{"os": "linux", "architecture": "arm", "variant": "v7"}])
    );
    let (s, a, _) = get_json(c, &srv.url("/api/v1/repositories/admin/gz/-/layers/1")).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["items"][0]["efficiency"].as_f64(), Some(1.0));
    assert_eq!(a["items"][0]["layers"][0]["diff_size"], 4000);
    assert_eq!(a["items"][0]["layers"][0]["size"], gz.len());
    // Stored: a second read answers the same from the kept file list.
    let (_, again, _) = get_json(c, &srv.url("/api/v1/repositories/admin/gz/-/layers/1")).await;
    assert_eq!(again, a);
}

#[tokio::test]
async fn client_tags_history_and_layers_use_the_browsing_api() {
    use client_util::{write_image, Rreg};
    let srv = TestServer::start().await;
    let a = Rreg::new();
    let name = format!("{}/admin/tool:1", srv.addr);
    let l0 = tar(
        &[("data/a", &[1u8; 1000]), ("bin/sh", &[2u8; 200])],
        &[("bin/ash", "sh")],
    );
    let l1 = tar(&[("data/.wh.a", b""), ("etc/x", &[3u8; 50])], &[]);
    let img = write_image(a.home.path(), &name, &[l0, l1]);
    a.login(&srv.addr, "admin", common::ADMIN_PASSWORD).await;
    a.ok(&["push", &name]).await;

    // Tags with the richer columns.
    let tags = a.ok(&["tags", &format!("{}/admin/tool", srv.addr)]).await;
    let lines: Vec<&str> = tags.stdout.lines().collect();
    assert!(lines[0].starts_with("TAG") && lines[0].contains("PUSHED BY"), "{tags}");
    assert!(
        lines[1].starts_with("1 ") && lines[1].contains(&img.manifest_digest) && lines[1].contains("linux/amd64"),
        "{tags}"
    );
    assert!(lines[1].contains("admin") && lines[1].contains("never"), "{tags}");

    // Remote history from the API matches the local one.
    let local = a.ok(&["history", "--no-trunc", "-H=false", &name]).await;
    let remote = a.ok(&["history", "--no-trunc", "-H=false", "--remote", &name]).await;
    assert_eq!(local.stdout, remote.stdout);
    assert!(local.stdout.contains("1202"), "{local}");

    // Layers: local and remote agree; --ci fails on Dive's default thresholds.
    let lj = a.ok(&["layers", "--format", "json", &name]).await;
    let rj = a.ok(&["layers", "--remote", "--format", "json", &name]).await;
    let lv: Value = serde_json::from_str(&lj.stdout).expect("json");
    let rv: Value = serde_json::from_str(&rj.stdout).expect("json");
    assert_eq!(lv["analysis"]["wasted_bytes"], 1000);
    assert_eq!(lv["analysis"]["efficiency"].as_f64(), Some(0.2));
    assert_eq!(lv["analysis"], rv["analysis"]);
    let table = a.ok(&["layers", &name]).await;
    assert!(table.stdout.contains("Efficiency: 20.0000 %"), "{table}");
    assert!(table.stdout.contains("D  /data/a"), "{table}");
    let ci = a.run(&["layers", "--ci", &name]).await;
    assert_eq!(ci.code, Some(1), "{ci}");
    assert!(ci.stdout.contains("FAIL: lowestEfficiency"), "{ci}");
    client_util::assert_one_line_error(&ci);
    let ok = a
        .run(&[
            "layers",
            "--remote",
            "--ci",
            "--lowest-efficiency",
            "0.1",
            "--highest-wasted-bytes",
            "2kB",
            "--highest-user-wasted-percent",
            "disabled",
            &name,
        ])
        .await;
    assert!(ok.ok(), "{ok}");
    assert!(ok.stdout.contains("PASS: highestWastedBytes"), "{ok}");
}
