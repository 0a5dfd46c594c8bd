//! Hostile requests against the real server: invalid digests, names, ranges, UTF-8 and JSON get
//! the right OCI or API error (never a 500, never a dropped connection from a panic); oversized
//! heads and bodies are refused; slow clients are disconnected within a bounded time; the login
//! endpoints are rate limited per address with `429` and `Retry-After`.

mod common;

use std::time::{Duration, Instant};

use common::{basic, digest, TestServer, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Asserts an OCI error envelope with `status` and `code`.
async fn oci_error(resp: reqwest::Response, status: u16, code: &str, what: &str) {
    let got = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "{what}: status (body {body})");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"));
    assert_eq!(v["errors"][0]["code"], code, "{what}: {body}");
}

/// Asserts an `/api/v1` JSON error with `status`.
async fn api_error(resp: reqwest::Response, status: u16, what: &str) {
    let got = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "{what}: status (body {body})");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"));
    assert!(v["error"]["code"].is_string(), "{what}: {body}");
}

/// Pushes a blob monolithically into `repo`; returns its digest.
async fn push_blob(s: &TestServer, repo: &str, data: &[u8]) -> String {
    let d = digest(data);
    let r = s
        .client
        .post(s.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
        .body(data.to_vec())
        .send()
        .await
        .expect("push");
    assert_eq!(r.status(), StatusCode::CREATED);
    d
}

/// Sends raw bytes on a fresh connection and reads the answer until the server closes or `limit`.
async fn raw(addr: &str, request: &[u8], limit: Duration) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 8192];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    // One response is enough.
                    if let Some(head_end) = find(&out, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&out[..head_end]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if out.len() >= head_end + 4 + len {
                            break;
                        }
                    }
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn status_of(raw_response: &str) -> u16 {
    raw_response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {raw_response:?}"))
}

#[tokio::test]
async fn invalid_digests_are_digest_invalid() {
    let s = TestServer::start().await;
    let bad = [
        "sha256:zz",
        "sha256:abc",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "nocolon",
        "sha256:",
        ":e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ];
    for d in bad {
        for m in [Method::GET, Method::HEAD, Method::DELETE] {
            let r = s
                .client
                .request(m.clone(), s.url(&format!("/v2/admin/app/blobs/{d}")))
                .send()
                .await
                .expect("send");
            if m == Method::HEAD {
                assert_eq!(r.status(), StatusCode::BAD_REQUEST, "HEAD blob {d}");
            } else {
                oci_error(r, 400, "DIGEST_INVALID", &format!("{m} blob {d}")).await;
            }
        }
        let r = s
            .client
            .post(s.url(&format!("/v2/admin/app/blobs/uploads/?digest={d}")))
            .body("x")
            .send()
            .await
            .expect("send");
        oci_error(r, 400, "DIGEST_INVALID", &format!("monolithic POST {d}")).await;
        let r = s
            .client
            .post(s.url(&format!("/v2/admin/app/blobs/uploads/?mount={d}&from=admin/other")))
            .send()
            .await
            .expect("send");
        oci_error(r, 400, "DIGEST_INVALID", &format!("mount {d}")).await;
        let r = s
            .client
            .get(s.url(&format!("/v2/admin/app/referrers/{d}")))
            .send()
            .await
            .expect("send");
        oci_error(r, 400, "DIGEST_INVALID", &format!("referrers {d}")).await;
    }
    // The final PUT of an upload: missing and malformed digests.
    let r = s
        .client
        .post(s.url("/v2/admin/app/blobs/uploads/"))
        .send()
        .await
        .expect("start");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let loc = r.headers()["location"].to_str().expect("location").to_owned();
    let r = s.client.put(s.url(&loc)).body("abc").send().await.expect("put");
    oci_error(r, 400, "DIGEST_INVALID", "PUT without digest").await;
    let r = s
        .client
        .put(s.url(&format!("{loc}?digest=sha256:nothex")))
        .body("abc")
        .send()
        .await
        .expect("put");
    oci_error(r, 400, "DIGEST_INVALID", "PUT with a malformed digest").await;
    // A well-formed digest that does not match: the session is discarded.
    let r = s
        .client
        .put(s.url(&format!("{loc}?digest={}", digest(b"something else"))))
        .body("abc")
        .send()
        .await
        .expect("put");
    oci_error(r, 400, "DIGEST_INVALID", "PUT with a wrong digest").await;
    let r = s.client.get(s.url(&loc)).send().await.expect("status");
    oci_error(r, 404, "BLOB_UPLOAD_UNKNOWN", "session after a wrong digest").await;
}

#[tokio::test]
async fn invalid_names_and_tags_are_refused() {
    let s = TestServer::start().await;
    let long = "a".repeat(300);
    let names = [
        "Upper/app",
        "admin/a..b",
        "admin/a%2Fb",
        "admin/-a",
        "admin/a_",
        "admin/%C3%A9",
        "admin/%FF",
        "admin//app",
        "admin/app%00",
        long.as_str(),
    ];
    for n in names {
        for path in [
            format!("/v2/{n}/tags/list"),
            format!("/v2/{n}/manifests/latest"),
            format!("/v2/{n}/blobs/{}", digest(b"x")),
            format!("/v2/{n}/blobs/uploads/"),
        ] {
            let method = if path.ends_with("/uploads/") {
                Method::POST
            } else {
                Method::GET
            };
            let r = s.client.request(method, s.url(&path)).send().await.expect("send");
            let st = r.status().as_u16();
            assert!(
                st == 400 || st == 404,
                "{path}: {st} {}",
                r.text().await.unwrap_or_default()
            );
            let body: Value = r.json().await.expect("OCI envelope");
            let code = body["errors"][0]["code"].as_str().unwrap_or_default().to_owned();
            assert!(code == "NAME_INVALID" || code == "NAME_UNKNOWN", "{path}: {body}");
        }
    }
    // Tags: too long, bad characters.
    let long_tag = "t".repeat(200);
    for t in [long_tag.as_str(), "-lead", ".dot", "a%20b", "%FF"] {
        let r = s
            .client
            .put(s.url(&format!("/v2/admin/app/manifests/{t}")))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body("{}")
            .send()
            .await
            .expect("send");
        oci_error(r, 400, "TAG_INVALID", &format!("tag {t}")).await;
    }
    // The management API: names in the path.
    for n in ["Upper", "a%00b", "%FF", long.as_str()] {
        let r = s
            .client
            .get(s.url(&format!("/api/v1/orgs/{n}")))
            .send()
            .await
            .expect("send");
        let st = r.status().as_u16();
        assert!(st == 400 || st == 404, "org {n}: {st}");
        api_error(r, st, &format!("org {n}")).await;
    }
}

#[tokio::test]
async fn ranges_are_checked() {
    let s = TestServer::start().await;
    let data: Vec<u8> = (0..100u8).collect();
    let d = push_blob(&s, "admin/app", &data).await;
    let url = s.url(&format!("/v2/admin/app/blobs/{d}"));
    let get = |range: &'static str| s.client.get(url.clone()).header("range", range).send();
    let r = get("bytes=200-300").await.expect("send");
    assert_eq!(r.headers()["content-range"], "bytes */100");
    oci_error(r, 416, "RANGE_INVALID", "range past the end").await;
    let r = get("bytes=0-18446744073709551615").await.expect("send");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.expect("body").as_ref(), data.as_slice());
    let r = get("bytes=-18446744073709551615").await.expect("send");
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.expect("body").len(), 100);
    for ignored in [
        "bytes=50-10",
        "bytes=abc",
        "items=0-1",
        "bytes=0-1,5-6",
        "bytes=99999999999999999999999-",
    ] {
        let r = get(ignored).await.expect("send");
        assert_eq!(r.status(), StatusCode::OK, "{ignored} is ignored");
        assert_eq!(r.bytes().await.expect("body").len(), 100, "{ignored}");
    }
    // Chunks: overflowing, reversed and inconsistent Content-Range.
    let r = s
        .client
        .post(s.url("/v2/admin/app/blobs/uploads/"))
        .send()
        .await
        .expect("start");
    let loc = r.headers()["location"].to_str().expect("location").to_owned();
    for (cr, status, code) in [
        ("0-18446744073709551615", 416, "RANGE_INVALID"),
        ("bytes 10-5/*", 416, "RANGE_INVALID"),
        ("18446744073709551615-18446744073709551615", 400, "SIZE_INVALID"),
        ("nonsense", 416, "RANGE_INVALID"),
        ("10-19", 416, "RANGE_INVALID"),
        ("0-3", 400, "SIZE_INVALID"),
    ] {
        let r = s
            .client
            .patch(s.url(&loc))
            .header("content-range", cr)
            .body("0123456789")
            .send()
            .await
            .expect("patch");
        oci_error(r, status, code, &format!("Content-Range {cr}")).await;
    }
    // The session is intact and still takes its first chunk.
    let r = s
        .client
        .patch(s.url(&loc))
        .header("content-range", "0-9")
        .body("0123456789")
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.headers()["range"], "0-9");
}

#[tokio::test]
async fn invalid_utf8_and_json_get_client_errors() {
    let s = TestServer::start().await;
    // Manifests: not JSON, not UTF-8, deeply nested, wrong shape.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bodies: Vec<Vec<u8>> = vec![
        b"{".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x7b],
        b"{\"schemaVersion\":2,\"layers\":[{\"digest\":\"\xff\"}]}".to_vec(),
        deep.into_bytes(),
        b"[]".to_vec(),
        b"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"digest\":\"sha256:nothex\",\"size\":1,\"mediaType\":\"x\"},\"layers\":[]}".to_vec(),
        b"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"digest\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":-1,\"mediaType\":\"x\"},\"layers\":[]}".to_vec(),
    ];
    for (i, b) in bodies.into_iter().enumerate() {
        let r = s
            .client
            .put(s.url("/v2/admin/app/manifests/t"))
            .header("content-type", "application/vnd.oci.image.manifest.v1+json")
            .body(b)
            .send()
            .await
            .expect("send");
        let st = r.status().as_u16();
        let body: Value = r.json().await.expect("envelope");
        let code = body["errors"][0]["code"].as_str().unwrap_or_default().to_owned();
        assert!(
            st == 400 && (code == "MANIFEST_INVALID" || code == "DIGEST_INVALID" || code == "MANIFEST_BLOB_UNKNOWN"),
            "manifest body {i}: {st} {body}"
        );
    }
    // Oversized manifest.
    let r = s
        .client
        .put(s.url("/v2/admin/app/manifests/t"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(vec![b' '; 5 * 1024 * 1024])
        .send()
        .await
        .expect("send");
    oci_error(r, 413, "SIZE_INVALID", "5 MiB manifest").await;

    // The management API: JSON bodies.
    let login = s.url("/api/v1/login");
    for (what, body) in [
        ("not JSON", b"{".to_vec()),
        ("not UTF-8", vec![b'{', 0xff, b'}']),
        ("an array", b"[\"admin\",\"x\"]".to_vec()),
        (
            "unknown field",
            b"{\"username\":\"a\",\"password\":\"b\",\"x\":1}".to_vec(),
        ),
        (
            "escaped NUL",
            b"{\"username\":\"a\\u0000\",\"password\":\"b\"}".to_vec(),
        ),
        ("wrong types", b"{\"username\":1,\"password\":[]}".to_vec()),
    ] {
        let r = s
            .anon
            .post(login.clone())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send");
        api_error(r, 400, what).await;
    }
    let r = s
        .client
        .post(s.url("/api/v1/orgs"))
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await
        .expect("send");
    api_error(r, 413, "2 MiB JSON body").await;

    // /token: a form that is not one, an unknown grant, bad Basic credentials.
    let r = s
        .anon
        .post(s.url("/token"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("send");
    let st = r.status().as_u16();
    assert!((400..500).contains(&st), "JSON to POST /token: {st}");
    let v: Value = r.json().await.expect("OAuth2 error JSON");
    assert_eq!(v["error"], "invalid_request");
    let r = s
        .anon
        .post(s.url("/token"))
        .form(&[("grant_type", "magic")])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    for auth in ["Basic !!!", "Basic /w==", "Bearer not.a.jwt", "Digest x", "Basic"] {
        let r = s
            .anon
            .get(s.url("/v2/"))
            .header("authorization", auth)
            .send()
            .await
            .expect("send");
        oci_error(r, 401, "UNAUTHORIZED", auth).await;
    }
    // Raw bytes that are not UTF-8 in a header and in the path.
    let resp = raw(
        &s.addr,
        b"GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic \xff\xfe\r\nConnection: close\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(status_of(&resp), 401, "{resp}");
    let resp = raw(
        &s.addr,
        b"GET /v2/a\xff/tags/list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(status_of(&resp), 400, "{resp}");
}

#[tokio::test]
async fn oversized_heads_are_refused() {
    let s = TestServer::start().await;
    let big = format!(
        "GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let resp = raw(&s.addr, big.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status_of(&resp), 431, "{resp}");
    let mut many = String::from("GET /v2/ HTTP/1.1\r\nHost: x\r\n");
    for i in 0..500 {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("Connection: close\r\n\r\n");
    let resp = raw(&s.addr, many.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status_of(&resp), 431, "{resp}");
    let long_uri = format!(
        "GET /v2/{}/tags/list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a/".repeat(100 * 1024)
    );
    let resp = raw(&s.addr, long_uri.as_bytes(), Duration::from_secs(10)).await;
    let st = status_of(&resp);
    assert!(st == 414 || st == 431 || st == 400, "{resp}");
    // The server is still fine.
    let r = s.client.get(s.url("/v2/")).send().await.expect("send");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn sigterm_lets_requests_in_flight_finish() {
    let mut s = TestServer::start().await;
    let r = s
        .client
        .post(s.url("/v2/admin/app/blobs/uploads/"))
        .send()
        .await
        .expect("start");
    let loc = r.headers()["location"].to_str().expect("location").to_owned();
    // A chunk whose body arrives over about two seconds.
    let chunks = futures::stream::unfold(0u8, |i| async move {
        if i == 4 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        Some((Ok::<_, std::io::Error>(bytes::Bytes::from(vec![i; 1000])), i + 1))
    });
    let patch = s
        .client
        .patch(s.url(&loc))
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(chunks))
        .send();
    let patch = tokio::spawn(patch);
    tokio::time::sleep(Duration::from_millis(700)).await;
    let pid = s.child.id().expect("the server runs").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    // The request in flight is answered in full…
    let r = patch.await.expect("task").expect("the upload in flight is answered");
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    assert_eq!(r.headers()["range"], "0-3999");
    // …and the server then exits by itself, successfully.
    let status = tokio::time::timeout(Duration::from_secs(40), s.child.wait())
        .await
        .expect("the server stops after its requests finished")
        .expect("wait");
    assert!(status.success(), "exit status {status}");
}

/// The realm of the `WWW-Authenticate` challenge for a raw request with extra headers.
async fn realm_of(addr: &str, extra: &str) -> String {
    let req = format!("GET /v2/ HTTP/1.1\r\n{extra}Connection: close\r\n\r\n");
    let resp = raw(addr, req.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status_of(&resp), 401, "{resp}");
    let line = resp
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("www-authenticate:"))
        .unwrap_or_else(|| panic!("no challenge: {resp}"));
    let realm = line
        .split("realm=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("realm");
    realm.to_owned()
}

#[tokio::test]
async fn the_token_realm_is_never_taken_from_untrusted_headers() {
    let s = TestServer::start().await;
    let port = s.addr.rsplit(':').next().expect("port").to_owned();
    assert_eq!(
        realm_of(&s.addr, &format!("Host: 127.0.0.1:{port}\r\n")).await,
        format!("http://127.0.0.1:{port}/token")
    );
    // A Host that is no host is not echoed into the challenge.
    for bad in ["evil\",scope=\"x", "a b", "x<y>"] {
        assert_eq!(
            realm_of(&s.addr, &format!("Host: {bad}\r\n")).await,
            "http://localhost/token",
            "{bad}"
        );
    }
    // Forwarded headers from a client that is no configured proxy are ignored.
    let forwarded = "Host: reg.internal\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: phish.example\r\n";
    assert_eq!(realm_of(&s.addr, forwarded).await, "http://reg.internal/token");

    // From a configured proxy they are believed (still validated).
    let p = TestServer::start_with_env(&[("RREG__SERVER__TRUSTED_PROXIES", "[\"127.0.0.1\"]")]).await;
    assert_eq!(realm_of(&p.addr, forwarded).await, "https://phish.example/token");
    assert_eq!(
        realm_of(
            &p.addr,
            "Host: reg.internal\r\nX-Forwarded-Proto: gopher\r\nX-Forwarded-Host: a\"b\r\n"
        )
        .await,
        "http://reg.internal/token"
    );
}

#[tokio::test]
async fn the_configured_head_limit_is_enforced() {
    // `server.max_header_bytes` below the HTTP layer's own limits: the server's check answers.
    let s = TestServer::start_with_env(&[("RREG__SERVER__MAX_HEADER_BYTES", "4096")]).await;
    let head = |n: usize| {
        format!(
            "GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
            basic("admin", ADMIN_PASSWORD),
            "a".repeat(n)
        )
    };
    let resp = raw(&s.addr, head(8 * 1024).as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status_of(&resp), 431, "{resp}");
    let resp = raw(&s.addr, head(1024).as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status_of(&resp), 200, "{resp}");
    // Many small headers add up too.
    let mut many = String::from("GET /v2/ HTTP/1.1\r\nHost: x\r\n");
    for i in 0..60 {
        many.push_str(&format!("X-H{i}: {}\r\n", "v".repeat(80)));
    }
    many.push_str("Connection: close\r\n\r\n");
    let resp = raw(&s.addr, many.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status_of(&resp), 431, "{resp}");
}

#[tokio::test]
async fn slow_clients_are_disconnected() {
    let s = TestServer::start_with_env(&[
        ("RREG__SERVER__HEADER_READ_TIMEOUT_SECS", "2"),
        ("RREG__SERVER__BODY_IDLE_TIMEOUT_SECS", "2"),
    ])
    .await;
    let started = Instant::now();
    // Slow loris: a header line every 300 ms, never finishing the head.
    let mut lorises = Vec::new();
    for _ in 0..20 {
        let addr = s.addr.clone();
        lorises.push(tokio::spawn(async move {
            let mut tcp = TcpStream::connect(&addr).await.expect("connect");
            let t0 = Instant::now();
            let _ = tcp.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n").await;
            let mut buf = [0u8; 1024];
            loop {
                tokio::select! {
                    r = tcp.read(&mut buf) => {
                        match r {
                            Ok(0) | Err(_) => return t0.elapsed(),
                            Ok(_) => {}
                        }
                    }
                    _ = tokio::time::sleep(Duration::from_millis(300)) => {
                        if tcp.write_all(b"X-Slow: 1\r\n").await.is_err() {
                            return t0.elapsed();
                        }
                    }
                }
                assert!(
                    t0.elapsed() < Duration::from_secs(20),
                    "slow loris still connected after 20 s"
                );
            }
        }));
    }
    // Idle connections that send nothing at all.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(&s.addr).await.expect("connect"));
    }
    // Meanwhile normal requests are answered at once.
    for _ in 0..10 {
        let t0 = Instant::now();
        let r = s.client.get(s.url("/v2/")).send().await.expect("send");
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "a normal request waited {:?}",
            t0.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for l in lorises {
        let held = l.await.expect("loris task");
        assert!(held < Duration::from_secs(6), "slow loris held its connection {held:?}");
    }
    for mut c in idle {
        let mut buf = [0u8; 64];
        let r = tokio::time::timeout(Duration::from_secs(6), c.read(&mut buf)).await;
        assert!(matches!(r, Ok(Ok(_)) | Ok(Err(_))), "an idle connection was not closed");
    }

    // A body that stalls: the request fails, the session keeps nothing of it.
    let r = s
        .client
        .post(s.url("/v2/admin/app/blobs/uploads/"))
        .send()
        .await
        .expect("start");
    let loc = r.headers()["location"].to_str().expect("location").to_owned();
    let mut tcp = TcpStream::connect(&s.addr).await.expect("connect");
    let head = format!(
        "PATCH {loc} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n0123456789",
        basic("admin", ADMIN_PASSWORD)
    );
    tcp.write_all(head.as_bytes()).await.expect("write");
    let t0 = Instant::now();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(15), async {
        let mut buf = [0u8; 4096];
        loop {
            match tcp.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let held = t0.elapsed();
    assert!(
        held < Duration::from_secs(8),
        "a stalled body held its request {held:?}"
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 400"),
        "stalled body answer: {text}"
    );
    let r = s.client.get(s.url(&loc)).send().await.expect("status");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["range"], "0-0", "nothing of the stalled chunk was kept");
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[tokio::test]
async fn login_endpoints_are_rate_limited() {
    let s = TestServer::start_with_env(&[("RREG__AUTH__LOGIN_RATE_PER_MINUTE", "5")]).await;
    for i in 0..5 {
        let r = s
            .anon
            .get(s.url("/token?service=rreg&scope=repository:admin/app:pull"))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), StatusCode::OK, "request {i}");
    }
    let r = s.anon.get(s.url("/token?service=rreg")).send().await.expect("send");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("retry-after")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    oci_error(r, 429, "TOOMANYREQUESTS", "6th GET /token").await;
    // The same budget covers POST /token and the API login, whatever the credentials.
    let r = s
        .anon
        .post(s.url("/token"))
        .form(&[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
        ])
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let r = s
        .anon
        .post(s.url("/api/v1/login"))
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("send");
    assert!(r.headers().contains_key("retry-after"));
    api_error(r, 429, "API login past the limit").await;
    // Registry requests with Basic credentials are not login-endpoint requests.
    let r = s.client.get(s.url("/v2/")).send().await.expect("send");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn garbage_never_gets_a_server_error() {
    let s = TestServer::start().await;
    let d = push_blob(&s, "admin/app", b"hello").await;
    let paths = [
        "/v2/".to_owned(),
        "/v2/_catalog?n=-1".to_owned(),
        "/v2/_catalog?n=99999999999999999999".to_owned(),
        "/v2/_catalog?last=%FF".to_owned(),
        "/v2/admin/app/tags/list?n=abc&last=%00".to_owned(),
        format!("/v2/admin/app/blobs/{d}"),
        "/v2/admin/app/blobs/uploads/".to_owned(),
        "/v2/admin/app/blobs/uploads/not-a-session".to_owned(),
        "/v2/admin/app/blobs/uploads/..%2F..%2Fetc".to_owned(),
        "/v2/admin/app/blobs/uploads/%00".to_owned(),
        "/v2/admin/app/manifests/latest".to_owned(),
        format!("/v2/admin/app/manifests/{d}"),
        format!("/v2/admin/app/referrers/{d}?artifactType=%FF"),
        "/v2/admin/app/blobs/uploads/?mount=&from=".to_owned(),
        "/v2/admin/app/blobs/uploads/?digest=".to_owned(),
        "/v2/../../etc/passwd".to_owned(),
        "/v2/admin/app/blobs/sha256:../../x".to_owned(),
        "/token?scope=%FF&scope=repository::&scope=a:b:c:d".to_owned(),
        "/api/v1/repositories/%FF".to_owned(),
        "/api/v1/users?n=0".to_owned(),
        "/api/v1/tokens/abc".to_owned(),
        "/api/v1/audit?n=-5".to_owned(),
    ];
    let bodies: [&[u8]; 3] = [b"", b"\xff\xfe garbage", b"{\"a\":"];
    let methods = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    let mut n = 0;
    for p in &paths {
        for m in &methods {
            for b in bodies {
                for client in [&s.client, &s.anon] {
                    let r = client
                        .request(m.clone(), s.url(p))
                        .header("content-type", "application/json")
                        .header("content-range", "bytes=x-y")
                        .header("range", "bytes=--")
                        .body(b.to_vec())
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("{m} {p}: connection failed: {e}"));
                    let st = r.status();
                    assert!(
                        st.as_u16() < 500,
                        "{m} {p}: {st} {}",
                        r.text().await.unwrap_or_default()
                    );
                    n += 1;
                }
            }
        }
    }
    assert!(n > 500);
    // And the server still works (the DELETEs above may have unlinked the blob: push it again).
    push_blob(&s, "admin/app", b"hello").await;
    let r = s
        .client
        .get(s.url(&format!("/v2/admin/app/blobs/{d}")))
        .send()
        .await
        .expect("get");
    assert_eq!(r.bytes().await.expect("body").as_ref(), b"hello");
}

/// Every `/v2` path shape of 0–5 segments over the words the router looks at, with every method,
/// anonymous and as the administrator: a well-formed answer (never a dropped connection, never a
/// 5xx). Shapes of up to four segments get every method from both; five-segment ones an anonymous
/// GET (routing is the same for every method; the router's own unit test covers it exhaustively).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_v2_path_shape_gets_a_client_error() {
    use futures::StreamExt;
    let s = TestServer::start().await;
    push_blob(&s, "admin/app", b"shape").await;
    let words = [
        "",
        "admin",
        "app",
        "blobs",
        "manifests",
        "uploads",
        "tags",
        "list",
        "sha256:0",
    ];
    let mut shapes: Vec<String> = vec![String::new()];
    let mut frontier = vec![String::new()];
    for _ in 0..5 {
        let mut next = Vec::new();
        for p in &frontier {
            for w in words {
                next.push(format!("{p}/{w}"));
            }
        }
        shapes.extend(next.iter().cloned());
        frontier = next;
    }
    let all = [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    let mut requests = Vec::new();
    for p in &shapes {
        let depth = p.matches('/').count();
        if depth >= 5 {
            requests.push((Method::GET, format!("/v2{p}"), s.anon.clone()));
            continue;
        }
        for m in &all {
            for client in [&s.client, &s.anon] {
                requests.push((m.clone(), format!("/v2{p}"), client.clone()));
            }
        }
    }
    let n = requests.len();
    let failures: Vec<String> = futures::stream::iter(requests)
        .map(|(m, p, client)| {
            let url = s.url(&p);
            async move {
                match client.request(m.clone(), url).send().await {
                    Err(e) => Some(format!("{m} {p}: connection failed: {e}")),
                    Ok(r) if r.status().is_server_error() => Some(format!("{m} {p}: {}", r.status())),
                    Ok(_) => None,
                }
            }
        })
        .buffer_unordered(16)
        .filter_map(|f| async move { f })
        .collect()
        .await;
    assert!(
        failures.is_empty(),
        "{} of {n} requests failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
    assert!(n > 100_000, "{n} requests");
}

/// The web surface: security headers on UI, API and blob answers, a Content-Security-Policy that
/// allows no inline script (and pages that need none), and sign-in/sign-out forms refused when a
/// browser says they come from another site (CSRF), accepted from this one.
#[tokio::test]
async fn web_surface_is_hardened() {
    let s = TestServer::start().await;
    let d = push_blob(&s, "admin/web", b"<html><script>alert(1)</script></html>").await;
    for (what, r) in [
        ("ui", s.anon.get(s.url("/ui/")).send().await.expect("ui")),
        (
            "login page",
            s.anon.get(s.url("/ui/login")).send().await.expect("login"),
        ),
        ("api", s.client.get(s.url("/api/v1/user")).send().await.expect("api")),
        (
            "blob",
            s.client
                .get(s.url(&format!("/v2/admin/web/blobs/{d}")))
                .send()
                .await
                .expect("blob"),
        ),
    ] {
        let h = r.headers();
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{what}"
        );
        assert_eq!(
            h.get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"DENY"[..]),
            "{what}"
        );
        assert!(h.get("referrer-policy").is_some(), "{what}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "{what}: no HSTS over plain HTTP"
        );
        if what == "ui" || what == "login page" {
            let csp = h
                .get("content-security-policy")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_else(|| panic!("{what}: no CSP"))
                .to_owned();
            assert!(
                csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
                "{csp}"
            );
            assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
            let html = r.text().await.expect("html");
            for inline in ["onclick=", "onload=", "javascript:", "<script>"] {
                assert!(!html.contains(inline), "{what}: inline script {inline:?}:\n{html}");
            }
        }
    }
    let js = s.anon.get(s.url("/ui/app.js")).send().await.expect("js");
    assert!(js.headers()["content-type"]
        .to_str()
        .expect("type")
        .starts_with("text/javascript"));

    // Sign-in and sign-out from another site are refused and set no cookie.
    let form = [("username", "admin"), ("password", ADMIN_PASSWORD), ("next", "/ui/")];
    for (name, value) in [("origin", "http://evil.example"), ("sec-fetch-site", "cross-site")] {
        let r = s
            .anon
            .post(s.url("/ui/login"))
            .header(name, value)
            .form(&form)
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(r.headers().get("set-cookie").is_none(), "{name}: {value}");
        let r = s
            .anon
            .post(s.url("/ui/logout"))
            .header(name, value)
            .send()
            .await
            .expect("logout");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(r.headers().get("set-cookie").is_none(), "{name}: {value}");
    }
    // From this site they work.
    let origin = format!("http://{}", s.addr);
    let r = s
        .anon
        .post(s.url("/ui/login"))
        .header("origin", &origin)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .expect("login");
    assert_eq!(r.status().as_u16(), 303, "{}", r.text().await.unwrap_or_default());
    let cookie = r.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    assert!(
        cookie.starts_with("rreg_session=") && !cookie.contains("Secure"),
        "{cookie}"
    );
    let r = s
        .anon
        .post(s.url("/ui/logout"))
        .header("origin", &origin)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status().as_u16(), 303);
}
