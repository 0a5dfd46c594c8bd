//! End-to-end conformance tests of the OCI Distribution Spec v1.1 (plus rreg's own, stricter
//! contract) against the real `rreg-server` binary, one fresh server per test.
//!
//! Layout: shared helpers at the top (HTTP plumbing, blob and manifest pushers), then one module
//! per area: `base`, `names`, `blobs`, `uploads`, `mounts`, `manifests`, `tags`, `catalog`,
//! `referrers`, `durability`. Every error case asserts both the status and the code of the
//! `{"errors":[…]}` envelope, and every write is checked again through a follow-up GET or HEAD.
//!
//! Media types and digests are spelled out here on purpose rather than taken from `rreg-oci`, so
//! that a wrong constant in the code under test cannot hide from these tests.

mod common;

use std::fmt;

use common::TestServer;
use reqwest::header::HeaderMap;
use reqwest::RequestBuilder;
use serde_json::{json, Value};
use sha2::Digest as _;

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// What a client that understands every stored manifest type sends.
const ACCEPT_ALL_MANIFESTS: &str = "application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json";

/// Digest of the two bytes `{}`, the OCI empty descriptor's blob.
const EMPTY_JSON_DIGEST: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// Digest of zero bytes.
const EMPTY_BLOB_DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// A syntactically valid upload id no server has handed out.
const UNKNOWN_UPLOAD_ID: &str = "0b2d5f61-5b8e-4c3a-9d7e-4f1a2b3c4d5e";

// ---------------------------------------------------------------------------------------------
// Digests
// ---------------------------------------------------------------------------------------------

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

fn sha512(data: &[u8]) -> String {
    format!("sha512:{}", hex::encode(sha2::Sha512::digest(data)))
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing
// ---------------------------------------------------------------------------------------------

/// A response read in full, with what was asked, for readable assertion messages.
struct Resp {
    what: String,
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl fmt::Display for Resp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(2000).collect();
        write!(
            f,
            "\n  request: {}\n  status: {}\n  headers: {:?}\n  body: {}",
            self.what, self.status, self.headers, body
        )
    }
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| {
            v.to_str()
                .unwrap_or_else(|_| panic!("header {name} is not ASCII: {self}"))
        })
    }

    #[track_caller]
    fn must_header(&self, name: &str) -> &str {
        match self.header(name) {
            Some(v) => v,
            None => panic!("header {name} is missing:{self}"),
        }
    }

    #[track_caller]
    fn content_length(&self) -> u64 {
        self.must_header("content-length")
            .parse()
            .unwrap_or_else(|_| panic!("Content-Length is not a number:{self}"))
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}):{self}"))
    }

    #[track_caller]
    fn expect_status(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "unexpected status:{self}");
        self
    }

    /// Asserts `status` and that the body is an error envelope whose first error has `code`.
    #[track_caller]
    fn expect_error(&self, status: u16, code: &str) {
        self.expect_error_in(&[status], &[code]);
    }

    /// Asserts the status is one of `statuses` and the envelope's first code one of `codes`.
    #[track_caller]
    fn expect_error_in(&self, statuses: &[u16], codes: &[&str]) {
        assert!(
            statuses.contains(&self.status),
            "status should be one of {statuses:?}:{self}"
        );
        let v = self.json();
        let errors = v["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no \"errors\" array in the error body:{self}"));
        assert!(!errors.is_empty(), "empty \"errors\" array:{self}");
        for e in errors {
            let code = e["code"]
                .as_str()
                .unwrap_or_else(|| panic!("error without a string code:{self}"));
            assert!(
                !code.is_empty() && code.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "code {code:?} is not upper case with underscores:{self}"
            );
            assert!(e["message"].is_string(), "error without a string message:{self}");
        }
        let first = errors[0]["code"].as_str().unwrap_or_default();
        assert!(
            codes.contains(&first),
            "error code {first:?} should be one of {codes:?}:{self}"
        );
    }
}

/// Sends a request and reads the whole response. Panics on transport errors.
async fn send(rb: RequestBuilder) -> Resp {
    let (client, req) = rb.build_split();
    let req = req.expect("a valid request");
    let what = format!("{} {}", req.method(), req.url());
    let resp = client
        .execute(req)
        .await
        .unwrap_or_else(|e| panic!("{what}: request failed: {e:?}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("{what}: reading the body failed: {e:?}"))
        .to_vec();
    Resp {
        what,
        status,
        headers,
        body,
    }
}

/// An absolute URL for a `Location` that may be absolute or a path starting with `/`.
#[track_caller]
fn abs(s: &TestServer, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else {
        assert!(
            location.starts_with('/'),
            "Location {location:?} is neither absolute nor a /path"
        );
        s.url(location)
    }
}

/// The path (and query) of a `Location` that may be absolute or a path.
#[track_caller]
fn path_of(location: &str) -> String {
    for scheme in ["http://", "https://"] {
        if let Some(rest) = location.strip_prefix(scheme) {
            return match rest.find('/') {
                Some(i) => rest[i..].to_owned(),
                None => "/".to_owned(),
            };
        }
    }
    assert!(
        location.starts_with('/'),
        "Location {location:?} is neither absolute nor a /path"
    );
    location.to_owned()
}

/// Appends `key=value` to a URL that may already carry a query.
fn with_query(url: &str, kv: &str) -> String {
    if url.contains('?') {
        format!("{url}&{kv}")
    } else {
        format!("{url}?{kv}")
    }
}

/// The target of a `Link: <…>; rel="next"` header, if any.
#[track_caller]
fn next_link(r: &Resp) -> Option<String> {
    let v = r.header("link")?;
    let start = v.find('<').unwrap_or_else(|| panic!("Link without <:{r}"));
    let end = v.find('>').unwrap_or_else(|| panic!("Link without >:{r}"));
    assert!(v[end..].contains("rel=\"next\""), "Link is not rel=\"next\":{r}");
    Some(v[start + 1..end].to_owned())
}

/// A client without a pooled connection to a server that was just killed.
fn fresh_client() -> reqwest::Client {
    common::client_with(Some(&common::basic("admin", common::ADMIN_PASSWORD)))
}

// ---------------------------------------------------------------------------------------------
// Blob helpers
// ---------------------------------------------------------------------------------------------

/// `POST /v2/<name>/blobs/uploads/` → 202; returns the response and the absolute upload URL.
async fn start_upload(s: &TestServer, name: &str) -> (Resp, String) {
    let r = send(
        s.client
            .post(s.url(&format!("/v2/{name}/blobs/uploads/")))
            .body(Vec::<u8>::new()),
    )
    .await;
    r.expect_status(202);
    let loc = abs(s, r.must_header("location"));
    (r, loc)
}

/// Uploads `data` with POST then a monolithic PUT; returns its sha256 digest.
async fn push_blob(s: &TestServer, name: &str, data: &[u8]) -> String {
    let (_, loc) = start_upload(s, name).await;
    let d = sha256(data);
    let r = send(
        s.client
            .put(with_query(&loc, &format!("digest={d}")))
            .header("content-type", "application/octet-stream")
            .body(data.to_vec()),
    )
    .await;
    r.expect_status(201);
    assert_eq!(r.header("docker-content-digest"), Some(d.as_str()), "{r}");
    d
}

/// PATCHes one chunk with `Content-Range: start-end`; returns the response.
async fn patch_chunk(s: &TestServer, loc: &str, start: usize, data: &[u8]) -> Resp {
    let end = start + data.len() - 1;
    send(
        s.client
            .patch(loc)
            .header("content-type", "application/octet-stream")
            .header("content-range", format!("{start}-{end}"))
            .body(data.to_vec()),
    )
    .await
}

async fn get_blob(s: &TestServer, name: &str, digest: &str) -> Resp {
    send(s.client.get(s.url(&format!("/v2/{name}/blobs/{digest}")))).await
}

async fn head_blob(s: &TestServer, name: &str, digest: &str) -> Resp {
    send(s.client.head(s.url(&format!("/v2/{name}/blobs/{digest}")))).await
}

/// Asserts GET and HEAD of the blob serve exactly `data`.
async fn assert_blob_served(s: &TestServer, name: &str, digest: &str, data: &[u8]) {
    let r = get_blob(s, name, digest).await;
    r.expect_status(200);
    assert_eq!(r.body, data, "blob content differs:{r}");
    assert_eq!(r.header("docker-content-digest"), Some(digest), "{r}");
    assert_eq!(r.content_length(), data.len() as u64, "{r}");

    let r = head_blob(s, name, digest).await;
    r.expect_status(200);
    assert!(r.body.is_empty(), "HEAD must not have a body:{r}");
    assert_eq!(r.content_length(), data.len() as u64, "{r}");
    assert_eq!(r.header("docker-content-digest"), Some(digest), "{r}");
}

/// Asserts the blob is unknown in the repository (GET 404 BLOB_UNKNOWN, HEAD 404).
async fn assert_blob_unknown(s: &TestServer, name: &str, digest: &str) {
    get_blob(s, name, digest).await.expect_error(404, "BLOB_UNKNOWN");
    head_blob(s, name, digest).await.expect_status(404);
}

// ---------------------------------------------------------------------------------------------
// Manifest helpers
// ---------------------------------------------------------------------------------------------

/// A manifest as bytes, with its media type and digest.
#[derive(Clone)]
struct Manifest {
    body: Vec<u8>,
    digest: String,
    media_type: String,
}

impl Manifest {
    /// Serializes `value` pretty-printed, so a server that re-encodes manifests fails the tests.
    fn new(media_type: &str, value: &Value) -> Manifest {
        let body = serde_json::to_vec_pretty(value).expect("serializes");
        Manifest::raw(media_type, body)
    }

    fn raw(media_type: &str, body: Vec<u8>) -> Manifest {
        Manifest {
            digest: sha256(&body),
            body,
            media_type: media_type.to_owned(),
        }
    }

    fn descriptor(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.body.len()})
    }
}

/// A descriptor of `data` (which must be pushed separately).
fn descriptor(media_type: &str, data: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": sha256(data), "size": data.len()})
}

/// Pushes a config and a layer to `name`; returns an OCI image manifest for them (not pushed).
async fn oci_image(s: &TestServer, name: &str, seed: &str) -> Manifest {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"seed":"{seed}"}}"#
    );
    let layer = format!("layer bytes of {seed}\n").repeat(20);
    push_blob(s, name, config.as_bytes()).await;
    push_blob(s, name, layer.as_bytes()).await;
    Manifest::new(
        OCI_MANIFEST,
        &json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config.as_bytes()),
            "layers": [descriptor(OCI_LAYER, layer.as_bytes())],
            "annotations": {"org.opencontainers.image.title": seed},
        }),
    )
}

/// Pushes a config and two layers to `name`; returns a Docker schema 2 manifest for them.
async fn docker_image(s: &TestServer, name: &str, seed: &str) -> Manifest {
    let config = format!(
        r#"{{"architecture":"arm64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"seed":"{seed}"}}"#
    );
    let layer1 = format!("docker layer one {seed}").repeat(10);
    let layer2 = format!("docker layer two {seed}").repeat(10);
    for data in [&config, &layer1, &layer2] {
        push_blob(s, name, data.as_bytes()).await;
    }
    Manifest::new(
        DOCKER_MANIFEST,
        &json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": descriptor(DOCKER_CONFIG, config.as_bytes()),
            "layers": [descriptor(DOCKER_LAYER, layer1.as_bytes()), descriptor(DOCKER_LAYER, layer2.as_bytes())],
        }),
    )
}

/// Pushes the `{}` blob to `name`; returns the OCI empty descriptor.
async fn empty_config(s: &TestServer, name: &str) -> Value {
    assert_eq!(sha256(b"{}"), EMPTY_JSON_DIGEST);
    push_blob(s, name, b"{}").await;
    json!({"mediaType": OCI_EMPTY, "digest": EMPTY_JSON_DIGEST, "size": 2})
}

async fn put_manifest(s: &TestServer, name: &str, reference: &str, m: &Manifest) -> Resp {
    send(
        s.client
            .put(s.url(&format!("/v2/{name}/manifests/{reference}")))
            .header("content-type", m.media_type.as_str())
            .body(m.body.clone()),
    )
    .await
}

/// PUTs the manifest and asserts 201, `Location` and `Docker-Content-Digest`; returns the response.
async fn push_manifest(s: &TestServer, name: &str, reference: &str, m: &Manifest) -> Resp {
    let r = put_manifest(s, name, reference, m).await;
    r.expect_status(201);
    assert_eq!(r.header("docker-content-digest"), Some(m.digest.as_str()), "{r}");
    r.must_header("location");
    r
}

async fn get_manifest(s: &TestServer, name: &str, reference: &str) -> Resp {
    send(
        s.client
            .get(s.url(&format!("/v2/{name}/manifests/{reference}")))
            .header("accept", ACCEPT_ALL_MANIFESTS),
    )
    .await
}

async fn head_manifest(s: &TestServer, name: &str, reference: &str) -> Resp {
    send(
        s.client
            .head(s.url(&format!("/v2/{name}/manifests/{reference}")))
            .header("accept", ACCEPT_ALL_MANIFESTS),
    )
    .await
}

/// Asserts GET and HEAD of `name:reference` serve exactly `m`.
async fn assert_manifest_served(s: &TestServer, name: &str, reference: &str, m: &Manifest) {
    let r = get_manifest(s, name, reference).await;
    r.expect_status(200);
    assert!(r.body == m.body, "manifest bytes differ from those pushed:{r}");
    assert_eq!(r.header("content-type"), Some(m.media_type.as_str()), "{r}");
    assert_eq!(r.header("docker-content-digest"), Some(m.digest.as_str()), "{r}");
    assert_eq!(r.content_length(), m.body.len() as u64, "{r}");

    let r = head_manifest(s, name, reference).await;
    r.expect_status(200);
    assert!(r.body.is_empty(), "HEAD must not have a body:{r}");
    assert_eq!(r.header("content-type"), Some(m.media_type.as_str()), "{r}");
    assert_eq!(r.header("docker-content-digest"), Some(m.digest.as_str()), "{r}");
    assert_eq!(r.content_length(), m.body.len() as u64, "{r}");
}

/// Pushes an OCI image under `tag`; returns its manifest.
async fn seed_image(s: &TestServer, name: &str, tag: &str) -> Manifest {
    let m = oci_image(s, name, &format!("{name}:{tag}")).await;
    push_manifest(s, name, tag, &m).await;
    m
}

/// `GET /v2/<name>/tags/list<query>`.
async fn tags_list(s: &TestServer, name: &str, query: &str) -> Resp {
    send(s.client.get(s.url(&format!("/v2/{name}/tags/list{query}")))).await
}

/// The `tags` array of a 200 tags list, asserting `name` and the JSON content type.
#[track_caller]
fn tags_of(r: &Resp, name: &str) -> Vec<String> {
    r.expect_status(200);
    let ct = r.must_header("content-type");
    assert!(ct.starts_with("application/json"), "Content-Type {ct}:{r}");
    let v = r.json();
    assert_eq!(v["name"], name, "{r}");
    match &v["tags"] {
        Value::Array(a) => a
            .iter()
            .map(|t| t.as_str().unwrap_or_else(|| panic!("non-string tag:{r}")).to_owned())
            .collect(),
        other => panic!("\"tags\" should be an array, is {other}:{r}"),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

// =============================================================================================
// Base endpoints and error envelope
// =============================================================================================

mod base {
    use super::*;

    #[tokio::test]
    async fn api_version_check() {
        let s = TestServer::start().await;
        let r = send(s.client.get(s.url("/v2/"))).await;
        r.expect_status(200);
        assert_eq!(r.header("docker-distribution-api-version"), Some("registry/2.0"), "{r}");
    }

    #[tokio::test]
    async fn healthz() {
        let s = TestServer::start().await;
        send(s.client.get(s.url("/healthz"))).await.expect_status(200);
    }

    /// A method an endpoint does not have is 405 UNSUPPORTED, and changes nothing.
    #[tokio::test]
    async fn unsupported_methods_are_405() {
        let s = TestServer::start().await;
        let m = seed_image(&s, "app", "v1").await;
        let cases = [
            (reqwest::Method::POST, "/v2/app/manifests/v1".to_owned()),
            (reqwest::Method::PATCH, format!("/v2/app/manifests/{}", m.digest)),
            (reqwest::Method::PUT, "/v2/app/tags/list".to_owned()),
            (reqwest::Method::DELETE, "/v2/app/tags/list".to_owned()),
            (reqwest::Method::POST, "/v2/_catalog".to_owned()),
            (reqwest::Method::PUT, format!("/v2/app/referrers/{}", m.digest)),
        ];
        for (method, path) in cases {
            send(s.client.request(method, s.url(&path)).body(b"{}".to_vec()))
                .await
                .expect_error(405, "UNSUPPORTED");
        }
        assert_manifest_served(&s, "app", "v1", &m).await;
        assert_eq!(tags_of(&tags_list(&s, "app", "").await, "app"), strings(&["v1"]));
    }

    #[tokio::test]
    async fn unknown_repository_is_404_with_envelope() {
        let s = TestServer::start().await;
        let r = get_manifest(&s, "never/existed", "latest").await;
        r.expect_error_in(&[404], &["NAME_UNKNOWN", "MANIFEST_UNKNOWN"]);
        let r = get_manifest(&s, "never/existed", &sha256(b"nothing")).await;
        r.expect_error_in(&[404], &["NAME_UNKNOWN", "MANIFEST_UNKNOWN"]);
        head_manifest(&s, "never/existed", "latest").await.expect_status(404);
        let r = get_blob(&s, "never/existed", &sha256(b"nothing")).await;
        r.expect_error_in(&[404], &["NAME_UNKNOWN", "BLOB_UNKNOWN"]);
    }
}

// =============================================================================================
// Repository names
// =============================================================================================

mod names {
    use super::*;

    #[tokio::test]
    async fn invalid_names_are_name_invalid() {
        let s = TestServer::start().await;
        let d = sha256(b"x");
        let too_long = "a".repeat(256);
        for name in ["UPPER", "Org/app", "a..b", "ab-/c", "a/_b", "a/b.", too_long.as_str()] {
            tags_list(&s, name, "").await.expect_error(400, "NAME_INVALID");
            get_manifest(&s, name, "latest").await.expect_error(400, "NAME_INVALID");
            get_blob(&s, name, &d).await.expect_error(400, "NAME_INVALID");
            send(
                s.client
                    .post(s.url(&format!("/v2/{name}/blobs/uploads/")))
                    .body(Vec::<u8>::new()),
            )
            .await
            .expect_error(400, "NAME_INVALID");
            let m = Manifest::new(OCI_MANIFEST, &json!({"schemaVersion": 2}));
            put_manifest(&s, name, "latest", &m)
                .await
                .expect_error(400, "NAME_INVALID");
        }
    }

    #[tokio::test]
    async fn multi_component_names() {
        let s = TestServer::start().await;
        for name in ["org/team/app", "a/b/c/d/e", "my-org/my_app.v2", "x0/y__z/w---v"] {
            let m = seed_image(&s, name, "v1").await;
            assert_manifest_served(&s, name, "v1", &m).await;
            assert_manifest_served(&s, name, &m.digest, &m).await;
            assert_eq!(tags_of(&tags_list(&s, name, "").await, name), strings(&["v1"]));
            let d = push_blob(&s, name, b"multi component blob").await;
            assert_blob_served(&s, name, &d, b"multi component blob").await;
        }
        // The names are distinct repositories: the last component alone is not one.
        let r = tags_list(&s, "app", "").await;
        r.expect_error(404, "NAME_UNKNOWN");
    }

    /// Components that are also words of the API (`blobs`, `manifests`, `tags`) are valid names.
    #[tokio::test]
    async fn name_components_that_look_like_api_words() {
        let s = TestServer::start().await;
        for name in ["acme/blobs/tool", "team/manifests/app", "proj/tags/x", "u/uploads"] {
            let m = seed_image(&s, name, "v1").await;
            assert_manifest_served(&s, name, "v1", &m).await;
            assert_eq!(tags_of(&tags_list(&s, name, "").await, name), strings(&["v1"]));
            let (_, loc) = start_upload(&s, name).await;
            assert!(
                path_of(&loc).starts_with(&format!("/v2/{name}/blobs/uploads/")),
                "upload location {loc} is not under /v2/{name}/blobs/uploads/"
            );
        }
    }

    #[tokio::test]
    async fn longest_valid_name() {
        let s = TestServer::start().await;
        // 255 characters in all, as several components.
        let name = format!("{}/{}/{}", "a".repeat(100), "b".repeat(100), "c".repeat(53));
        assert_eq!(name.len(), 255);
        let m = seed_image(&s, &name, "v1").await;
        assert_manifest_served(&s, &name, "v1", &m).await;
    }
}

// =============================================================================================
// Blobs: GET, HEAD, ranges, DELETE, repository scoping
// =============================================================================================

mod blobs {
    use super::*;

    const DATA: &[u8] = b"0123456789abcdefghij";

    #[tokio::test]
    async fn get_and_head_a_blob() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "app", DATA).await;
        assert_blob_served(&s, "app", &d, DATA).await;
    }

    #[tokio::test]
    async fn get_a_byte_range() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "app", DATA).await;
        let url = s.url(&format!("/v2/app/blobs/{d}"));

        let r = send(s.client.get(&url).header("range", "bytes=2-5")).await;
        r.expect_status(206);
        assert_eq!(r.body, &DATA[2..=5], "{r}");
        assert_eq!(r.header("content-range"), Some("bytes 2-5/20"), "{r}");
        assert_eq!(r.content_length(), 4, "{r}");

        // Open-ended: from byte 15 to the end.
        let r = send(s.client.get(&url).header("range", "bytes=15-")).await;
        r.expect_status(206);
        assert_eq!(r.body, &DATA[15..], "{r}");
        assert_eq!(r.header("content-range"), Some("bytes 15-19/20"), "{r}");

        // A last position past the end is clamped to the end (RFC 9110).
        let r = send(s.client.get(&url).header("range", "bytes=18-1000")).await;
        r.expect_status(206);
        assert_eq!(r.body, &DATA[18..], "{r}");
        assert_eq!(r.header("content-range"), Some("bytes 18-19/20"), "{r}");

        // A single byte.
        let r = send(s.client.get(&url).header("range", "bytes=0-0")).await;
        r.expect_status(206);
        assert_eq!(r.body, b"0", "{r}");
        assert_eq!(r.header("content-range"), Some("bytes 0-0/20"), "{r}");
    }

    #[tokio::test]
    async fn get_a_suffix_range() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "app", DATA).await;
        let url = s.url(&format!("/v2/app/blobs/{d}"));
        // The last five bytes.
        let r = send(s.client.get(&url).header("range", "bytes=-5")).await;
        r.expect_status(206);
        assert_eq!(r.body, &DATA[15..], "{r}");
        assert_eq!(r.header("content-range"), Some("bytes 15-19/20"), "{r}");
        // A suffix longer than the blob is the whole blob.
        let r = send(s.client.get(&url).header("range", "bytes=-100")).await;
        r.expect_status(206);
        assert_eq!(r.body, DATA, "{r}");
        assert_eq!(r.header("content-range"), Some("bytes 0-19/20"), "{r}");
    }

    #[tokio::test]
    async fn any_range_of_an_empty_blob_is_416() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "app", b"").await;
        let r = send(
            s.client
                .get(s.url(&format!("/v2/app/blobs/{d}")))
                .header("range", "bytes=0-0"),
        )
        .await;
        r.expect_error(416, "RANGE_INVALID");
    }

    #[tokio::test]
    async fn unsatisfiable_range_is_416() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "app", DATA).await;
        let url = s.url(&format!("/v2/app/blobs/{d}"));
        for range in ["bytes=20-25", "bytes=100-200"] {
            let r = send(s.client.get(&url).header("range", range)).await;
            r.expect_error(416, "RANGE_INVALID");
        }
        // The blob itself is unharmed.
        assert_blob_served(&s, "app", &d, DATA).await;
    }

    #[tokio::test]
    async fn unknown_blob_is_blob_unknown() {
        let s = TestServer::start().await;
        push_blob(&s, "app", DATA).await;
        assert_blob_unknown(&s, "app", &sha256(b"never pushed")).await;
        assert_blob_unknown(&s, "app", &sha512(b"never pushed")).await;
    }

    #[tokio::test]
    async fn malformed_digest_in_blob_url_is_rejected() {
        let s = TestServer::start().await;
        push_blob(&s, "app", DATA).await;
        for bad in ["sha256:xyz", "sha256:ABCDEF", "notadigest", "sha256:0123"] {
            let r = get_blob(&s, "app", bad).await;
            r.expect_error_in(&[400, 404], &["DIGEST_INVALID", "BLOB_UNKNOWN"]);
        }
    }

    #[tokio::test]
    async fn blob_is_served_only_from_repositories_that_have_it() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "alpha", DATA).await;
        push_blob(&s, "beta", b"something else").await;
        seed_image(&s, "gamma", "v1").await;
        assert_blob_served(&s, "alpha", &d, DATA).await;
        assert_blob_unknown(&s, "beta", &d).await;
        assert_blob_unknown(&s, "gamma", &d).await;
        // A prefix of the name is a different repository.
        let d2 = push_blob(&s, "org/app", DATA).await;
        assert_eq!(d, d2);
        assert_blob_unknown(&s, "org", &d).await;
    }

    #[tokio::test]
    async fn delete_a_blob() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "app", DATA).await;
        let r = send(s.client.delete(s.url(&format!("/v2/app/blobs/{d}")))).await;
        r.expect_status(202);
        assert_blob_unknown(&s, "app", &d).await;
        // Deleting again: it is gone.
        let r = send(s.client.delete(s.url(&format!("/v2/app/blobs/{d}")))).await;
        r.expect_error(404, "BLOB_UNKNOWN");
        // A manifest can no longer reference it.
        let cfg = empty_config(&s, "app").await;
        let m = Manifest::new(
            OCI_MANIFEST,
            &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg,
                    "layers": [descriptor(OCI_LAYER, DATA)]}),
        );
        put_manifest(&s, "app", "v1", &m)
            .await
            .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
        // Pushing it again brings it back.
        push_blob(&s, "app", DATA).await;
        assert_blob_served(&s, "app", &d, DATA).await;
    }

    #[tokio::test]
    async fn delete_unknown_blob_is_blob_unknown() {
        let s = TestServer::start().await;
        push_blob(&s, "app", DATA).await;
        let r = send(s.client.delete(s.url(&format!("/v2/app/blobs/{}", sha256(b"nope"))))).await;
        r.expect_error(404, "BLOB_UNKNOWN");
    }

    #[tokio::test]
    async fn delete_in_one_repository_leaves_the_others() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "one", DATA).await;
        push_blob(&s, "two", DATA).await;
        send(s.client.delete(s.url(&format!("/v2/one/blobs/{d}"))))
            .await
            .expect_status(202);
        assert_blob_unknown(&s, "one", &d).await;
        assert_blob_served(&s, "two", &d, DATA).await;
    }

    #[tokio::test]
    async fn empty_blob() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "app", b"").await;
        assert_eq!(d, EMPTY_BLOB_DIGEST);
        assert_blob_served(&s, "app", &d, b"").await;
    }

    #[tokio::test]
    async fn large_blob_round_trips() {
        let s = TestServer::start().await;
        // 3 MiB of non-repeating bytes.
        let data: Vec<u8> = (0u32..3 * 1024 * 1024 / 4)
            .flat_map(|i| i.wrapping_mul(2654435761).to_le_bytes())
            .collect();
        let d = push_blob(&s, "big", &data).await;
        assert_blob_served(&s, "big", &d, &data).await;
        let r = send(
            s.client
                .get(s.url(&format!("/v2/big/blobs/{d}")))
                .header("range", "bytes=1048576-1048675"),
        )
        .await;
        r.expect_status(206);
        assert_eq!(r.body, &data[1048576..=1048675], "{r}");
    }
}

// =============================================================================================
// Blob uploads: monolithic, single POST, streamed, chunked, status, cancel, errors
// =============================================================================================

mod uploads {
    use super::*;

    #[tokio::test]
    async fn post_opens_an_upload_session() {
        let s = TestServer::start().await;
        let (r, loc) = start_upload(&s, "app").await;
        assert!(
            path_of(&loc).starts_with("/v2/app/blobs/uploads/"),
            "Location {loc} is not under /v2/app/blobs/uploads/:{r}"
        );
        assert!(!r.must_header("docker-upload-uuid").is_empty(), "{r}");
        assert_eq!(r.header("range"), Some("0-0"), "{r}");
        // The session is live.
        let st = send(s.client.get(&loc)).await;
        st.expect_status(204);
        st.must_header("range");
        st.must_header("location");
    }

    #[tokio::test]
    async fn monolithic_post_then_put() {
        let s = TestServer::start().await;
        let data = b"monolithic upload body";
        let d = sha256(data);
        let (_, loc) = start_upload(&s, "org/app").await;
        let r = send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .header("content-type", "application/octet-stream")
                .body(data.to_vec()),
        )
        .await;
        r.expect_status(201);
        assert_eq!(
            path_of(r.must_header("location")),
            format!("/v2/org/app/blobs/{d}"),
            "{r}"
        );
        assert_eq!(r.header("docker-content-digest"), Some(d.as_str()), "{r}");
        // The Location is pullable.
        let got = send(s.client.get(abs(&s, r.must_header("location")))).await;
        got.expect_status(200);
        assert_eq!(got.body, data, "{got}");
        assert_blob_served(&s, "org/app", &d, data).await;
        // The session is closed.
        send(s.client.get(&loc)).await.expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        let again = patch_chunk(&s, &loc, 0, b"more").await;
        again.expect_error(404, "BLOB_UPLOAD_UNKNOWN");
    }

    #[tokio::test]
    async fn single_post_with_digest() {
        let s = TestServer::start().await;
        let data = b"single post upload";
        let d = sha256(data);
        let r = send(
            s.client
                .post(s.url(&format!("/v2/app/blobs/uploads/?digest={d}")))
                .header("content-type", "application/octet-stream")
                .body(data.to_vec()),
        )
        .await;
        r.expect_status(201);
        assert_eq!(path_of(r.must_header("location")), format!("/v2/app/blobs/{d}"), "{r}");
        assert_eq!(r.header("docker-content-digest"), Some(d.as_str()), "{r}");
        assert_blob_served(&s, "app", &d, data).await;
    }

    #[tokio::test]
    async fn single_post_with_wrong_digest_stores_nothing() {
        let s = TestServer::start().await;
        let data = b"single post upload";
        let wrong = sha256(b"something else");
        let r = send(
            s.client
                .post(s.url(&format!("/v2/app/blobs/uploads/?digest={wrong}")))
                .header("content-type", "application/octet-stream")
                .body(data.to_vec()),
        )
        .await;
        r.expect_error(400, "DIGEST_INVALID");
        push_blob(&s, "app", b"make the repository exist").await;
        assert_blob_unknown(&s, "app", &wrong).await;
        assert_blob_unknown(&s, "app", &sha256(data)).await;
    }

    #[tokio::test]
    async fn streamed_patch_then_empty_put() {
        let s = TestServer::start().await;
        let data = b"streamed upload: one PATCH without Content-Range";
        let d = sha256(data);
        let (_, loc) = start_upload(&s, "app").await;
        let r = send(
            s.client
                .patch(&loc)
                .header("content-type", "application/octet-stream")
                .body(data.to_vec()),
        )
        .await;
        r.expect_status(202);
        assert_eq!(r.header("range"), Some(format!("0-{}", data.len() - 1).as_str()), "{r}");
        r.must_header("docker-upload-uuid");
        let loc = abs(&s, r.must_header("location"));
        let r = send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .body(Vec::<u8>::new()),
        )
        .await;
        r.expect_status(201);
        assert_eq!(path_of(r.must_header("location")), format!("/v2/app/blobs/{d}"), "{r}");
        assert_eq!(r.header("docker-content-digest"), Some(d.as_str()), "{r}");
        assert_blob_served(&s, "app", &d, data).await;
    }

    /// As the Docker daemon does: a PATCH with `Transfer-Encoding: chunked` and no length.
    #[tokio::test]
    async fn streamed_patch_with_chunked_transfer_encoding() {
        let s = TestServer::start().await;
        let parts: Vec<bytes::Bytes> = (0..50)
            .map(|i| bytes::Bytes::from(format!("part {i:03} of the stream;")))
            .collect();
        let data: Vec<u8> = parts.iter().flat_map(|p| p.to_vec()).collect();
        let d = sha256(&data);
        let (_, loc) = start_upload(&s, "app").await;
        let stream = futures::stream::iter(parts.into_iter().map(Ok::<_, std::io::Error>));
        let r = send(
            s.client
                .patch(&loc)
                .header("content-type", "application/octet-stream")
                .body(reqwest::Body::wrap_stream(stream)),
        )
        .await;
        r.expect_status(202);
        assert_eq!(r.header("range"), Some(format!("0-{}", data.len() - 1).as_str()), "{r}");
        let loc = abs(&s, r.must_header("location"));
        let r = send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .body(Vec::<u8>::new()),
        )
        .await;
        r.expect_status(201);
        assert_blob_served(&s, "app", &d, &data).await;
    }

    #[tokio::test]
    async fn chunked_upload_in_order() {
        let s = TestServer::start().await;
        let chunks: [&[u8]; 3] = [b"first chunk--", b"second chunk----", b"third"];
        let whole: Vec<u8> = chunks.concat();
        let d = sha256(&whole);
        let (_, mut loc) = start_upload(&s, "app").await;
        let mut offset = 0;
        for chunk in chunks {
            let r = patch_chunk(&s, &loc, offset, chunk).await;
            r.expect_status(202);
            offset += chunk.len();
            assert_eq!(r.header("range"), Some(format!("0-{}", offset - 1).as_str()), "{r}");
            loc = abs(&s, r.must_header("location"));
            // The status agrees.
            let st = send(s.client.get(&loc)).await;
            st.expect_status(204);
            assert_eq!(st.header("range"), Some(format!("0-{}", offset - 1).as_str()), "{st}");
            loc = abs(&s, st.must_header("location"));
        }
        let r = send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .body(Vec::<u8>::new()),
        )
        .await;
        r.expect_status(201);
        assert_eq!(path_of(r.must_header("location")), format!("/v2/app/blobs/{d}"), "{r}");
        assert_eq!(r.header("docker-content-digest"), Some(d.as_str()), "{r}");
        assert_blob_served(&s, "app", &d, &whole).await;
    }

    #[tokio::test]
    async fn chunked_upload_with_final_chunk_in_put() {
        let s = TestServer::start().await;
        let (a, b) = (
            b"the first part, by PATCH; ".as_slice(),
            b"the last part, in the PUT".as_slice(),
        );
        let whole = [a, b].concat();
        let d = sha256(&whole);
        let (_, loc) = start_upload(&s, "app").await;
        let r = patch_chunk(&s, &loc, 0, a).await;
        r.expect_status(202);
        let loc = abs(&s, r.must_header("location"));
        let r = send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .header("content-type", "application/octet-stream")
                .body(b.to_vec()),
        )
        .await;
        r.expect_status(201);
        assert_blob_served(&s, "app", &d, &whole).await;
    }

    /// The spec lets the closing PUT carry the last chunk with its `Content-Range`.
    #[tokio::test]
    async fn final_chunk_in_put_with_content_range() {
        let s = TestServer::start().await;
        let (a, b) = (b"0123456789".as_slice(), b"abcde".as_slice());
        let whole = [a, b].concat();
        let d = sha256(&whole);
        let (_, loc) = start_upload(&s, "app").await;
        let r = patch_chunk(&s, &loc, 0, a).await;
        r.expect_status(202);
        let loc = abs(&s, r.must_header("location"));
        // A final chunk that does not continue the upload is refused...
        let r = send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .header("content-type", "application/octet-stream")
                .header("content-range", "11-15")
                .body(b.to_vec()),
        )
        .await;
        r.expect_error(416, "RANGE_INVALID");
        assert_blob_unknown(&s, "app", &d).await;
        // ...and one that does is taken.
        let r = send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .header("content-type", "application/octet-stream")
                .header("content-range", "10-14")
                .body(b.to_vec()),
        )
        .await;
        r.expect_status(201);
        assert_eq!(r.header("docker-content-digest"), Some(d.as_str()), "{r}");
        assert_blob_served(&s, "app", &d, &whole).await;
    }

    /// Layer upload de-duplication: the same blob uploaded at the same time by several clients.
    #[tokio::test]
    async fn concurrent_uploads_of_the_same_blob() {
        let s = TestServer::start().await;
        let data = b"a layer everyone pushes at once".repeat(1000);
        let d = sha256(&data);
        let uploads = (0..8).map(|_| async {
            let (_, loc) = start_upload(&s, "shared").await;
            let r = patch_chunk(&s, &loc, 0, &data).await;
            r.expect_status(202);
            let loc = abs(&s, r.must_header("location"));
            send(
                s.client
                    .put(with_query(&loc, &format!("digest={d}")))
                    .body(Vec::<u8>::new()),
            )
            .await
        });
        for r in futures::future::join_all(uploads).await {
            r.expect_status(201);
            assert_eq!(r.header("docker-content-digest"), Some(d.as_str()), "{r}");
        }
        assert_blob_served(&s, "shared", &d, &data).await;
    }

    /// Many first pushes into a repository that does not exist yet, all at once.
    #[tokio::test]
    async fn concurrent_pushes_into_a_new_repository() {
        let s = TestServer::start().await;
        let blobs: Vec<Vec<u8>> = (0..10).map(|i| format!("blob number {i}").into_bytes()).collect();
        let pushes = blobs.iter().map(|b| async {
            let d = sha256(b);
            let r = send(
                s.client
                    .post(s.url(&format!("/v2/fresh/repo/blobs/uploads/?digest={d}")))
                    .header("content-type", "application/octet-stream")
                    .body(b.clone()),
            )
            .await;
            (r, d)
        });
        for (r, d) in futures::future::join_all(pushes).await {
            r.expect_status(201);
            assert_eq!(r.header("docker-content-digest"), Some(d.as_str()), "{r}");
        }
        for b in &blobs {
            assert_blob_served(&s, "fresh/repo", &sha256(b), b).await;
        }
    }

    #[tokio::test]
    async fn out_of_order_and_repeated_chunks_are_416() {
        let s = TestServer::start().await;
        let whole = b"0123456789ABCDEFGHIJ";
        let (_, loc) = start_upload(&s, "app").await;

        // A first chunk that does not start at 0.
        patch_chunk(&s, &loc, 5, &whole[5..10])
            .await
            .expect_error(416, "RANGE_INVALID");

        let r = patch_chunk(&s, &loc, 0, &whole[..10]).await;
        r.expect_status(202);
        let loc = abs(&s, r.must_header("location"));

        // A gap.
        patch_chunk(&s, &loc, 15, &whole[15..])
            .await
            .expect_error(416, "RANGE_INVALID");
        // The same chunk again.
        patch_chunk(&s, &loc, 0, &whole[..10])
            .await
            .expect_error(416, "RANGE_INVALID");
        // An overlap.
        patch_chunk(&s, &loc, 5, &whole[5..15])
            .await
            .expect_error(416, "RANGE_INVALID");

        // The session is unharmed and still at 0-9.
        let st = send(s.client.get(&loc)).await;
        st.expect_status(204);
        assert_eq!(st.header("range"), Some("0-9"), "{st}");
        let loc = abs(&s, st.must_header("location"));

        let r = patch_chunk(&s, &loc, 10, &whole[10..]).await;
        r.expect_status(202);
        assert_eq!(r.header("range"), Some("0-19"), "{r}");
        let loc = abs(&s, r.must_header("location"));
        let d = sha256(whole);
        send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .body(Vec::<u8>::new()),
        )
        .await
        .expect_status(201);
        assert_blob_served(&s, "app", &d, whole).await;
    }

    #[tokio::test]
    async fn content_range_that_disagrees_with_the_body_is_rejected() {
        let s = TestServer::start().await;
        let (_, loc) = start_upload(&s, "app").await;
        // Says ten bytes, sends five.
        let r = send(
            s.client
                .patch(&loc)
                .header("content-type", "application/octet-stream")
                .header("content-range", "0-9")
                .body(b"12345".to_vec()),
        )
        .await;
        r.expect_error_in(&[400, 416], &["SIZE_INVALID", "RANGE_INVALID", "BLOB_UPLOAD_INVALID"]);
        // Malformed Content-Ranges (the server may accept lenient spellings such as `bytes=0-4`,
        // but not these).
        for bad in ["x-y", "4-0", "0-", "-4"] {
            let r = send(
                s.client
                    .patch(&loc)
                    .header("content-type", "application/octet-stream")
                    .header("content-range", bad)
                    .body(b"12345".to_vec()),
            )
            .await;
            r.expect_error_in(&[400, 416], &["RANGE_INVALID", "BLOB_UPLOAD_INVALID", "SIZE_INVALID"]);
        }
        // Nothing was taken in.
        let st = send(s.client.get(&loc)).await;
        st.expect_status(204);
        let r = patch_chunk(&s, &loc, 0, b"12345").await;
        r.expect_status(202);
        assert_eq!(r.header("range"), Some("0-4"), "{r}");
    }

    #[tokio::test]
    async fn cancel_an_upload() {
        let s = TestServer::start().await;
        let (_, loc) = start_upload(&s, "app").await;
        let r = patch_chunk(&s, &loc, 0, b"some bytes").await;
        r.expect_status(202);
        let loc = abs(&s, r.must_header("location"));
        send(s.client.delete(&loc)).await.expect_status(204);
        send(s.client.get(&loc)).await.expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        patch_chunk(&s, &loc, 10, b"more")
            .await
            .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        let d = sha256(b"some bytes");
        send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .body(Vec::<u8>::new()),
        )
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        send(s.client.delete(&loc))
            .await
            .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        assert_blob_unknown(&s, "app", &d).await;
    }

    #[tokio::test]
    async fn put_with_wrong_digest_stores_nothing() {
        let s = TestServer::start().await;
        let data = b"the real content";
        let wrong = sha256(b"not the real content");
        let (_, loc) = start_upload(&s, "app").await;
        let r = send(
            s.client
                .put(with_query(&loc, &format!("digest={wrong}")))
                .header("content-type", "application/octet-stream")
                .body(data.to_vec()),
        )
        .await;
        r.expect_error(400, "DIGEST_INVALID");
        push_blob(&s, "app", b"something so the repository exists").await;
        assert_blob_unknown(&s, "app", &wrong).await;
        assert_blob_unknown(&s, "app", &sha256(data)).await;
    }

    #[tokio::test]
    async fn chunked_put_with_wrong_digest_stores_nothing() {
        let s = TestServer::start().await;
        let data = b"chunked content with a lie at the end";
        let wrong = sha256(b"another content");
        let (_, loc) = start_upload(&s, "app").await;
        let r = patch_chunk(&s, &loc, 0, data).await;
        r.expect_status(202);
        let loc = abs(&s, r.must_header("location"));
        send(
            s.client
                .put(with_query(&loc, &format!("digest={wrong}")))
                .body(Vec::<u8>::new()),
        )
        .await
        .expect_error(400, "DIGEST_INVALID");
        assert_blob_unknown(&s, "app", &wrong).await;
        assert_blob_unknown(&s, "app", &sha256(data)).await;
    }

    #[tokio::test]
    async fn put_with_invalid_digest_string() {
        let s = TestServer::start().await;
        for bad in [
            "sha256:nothex",
            "sha256:0123",
            "justtext",
            "sha256:",
            &format!("sha256:{}", "A".repeat(64)),
        ] {
            let (_, loc) = start_upload(&s, "app").await;
            let r = send(
                s.client
                    .put(with_query(&loc, &format!("digest={bad}")))
                    .header("content-type", "application/octet-stream")
                    .body(b"data".to_vec()),
            )
            .await;
            r.expect_error(400, "DIGEST_INVALID");
        }
        // POST with an invalid digest.
        let r = send(
            s.client
                .post(s.url("/v2/app/blobs/uploads/?digest=sha256:nothex"))
                .header("content-type", "application/octet-stream")
                .body(b"data".to_vec()),
        )
        .await;
        r.expect_error(400, "DIGEST_INVALID");
    }

    #[tokio::test]
    async fn put_without_digest_is_rejected() {
        let s = TestServer::start().await;
        let (_, loc) = start_upload(&s, "app").await;
        let r = send(
            s.client
                .put(&loc)
                .header("content-type", "application/octet-stream")
                .body(b"data".to_vec()),
        )
        .await;
        r.expect_error_in(&[400], &["DIGEST_INVALID", "BLOB_UPLOAD_INVALID"]);
    }

    #[tokio::test]
    async fn unknown_upload_id() {
        let s = TestServer::start().await;
        start_upload(&s, "app").await;
        let loc = s.url(&format!("/v2/app/blobs/uploads/{UNKNOWN_UPLOAD_ID}"));
        send(s.client.get(&loc)).await.expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        patch_chunk(&s, &loc, 0, b"data")
            .await
            .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        let d = sha256(b"data");
        send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .body(b"data".to_vec()),
        )
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        send(s.client.delete(&loc))
            .await
            .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        // An id that is not even a UUID.
        let r = send(s.client.get(s.url("/v2/app/blobs/uploads/not-an-upload"))).await;
        r.expect_error_in(&[404, 400], &["BLOB_UPLOAD_UNKNOWN", "BLOB_UPLOAD_INVALID"]);
    }

    /// An upload session belongs to the repository it was opened for.
    #[tokio::test]
    async fn upload_session_cannot_be_used_from_another_repository() {
        let s = TestServer::start().await;
        start_upload(&s, "other").await;
        let (_, loc) = start_upload(&s, "mine").await;
        let foreign = loc.replacen("/v2/mine/blobs/uploads/", "/v2/other/blobs/uploads/", 1);
        assert_ne!(
            foreign, loc,
            "upload location {loc} is not under /v2/mine/blobs/uploads/"
        );
        let data = b"data for mine";
        let d = sha256(data);
        send(s.client.get(&foreign))
            .await
            .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        patch_chunk(&s, &foreign, 0, data)
            .await
            .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        send(
            s.client
                .put(with_query(&foreign, &format!("digest={d}")))
                .body(data.to_vec()),
        )
        .await
        .expect_error(404, "BLOB_UPLOAD_UNKNOWN");
        assert_blob_unknown(&s, "other", &d).await;
        // The session still works where it belongs.
        send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .body(data.to_vec()),
        )
        .await
        .expect_status(201);
        assert_blob_served(&s, "mine", &d, data).await;
        assert_blob_unknown(&s, "other", &d).await;
    }

    #[tokio::test]
    async fn pushing_the_same_blob_twice() {
        let s = TestServer::start().await;
        let data = b"deduplicated";
        let d1 = push_blob(&s, "app", data).await;
        let d2 = push_blob(&s, "app", data).await;
        assert_eq!(d1, d2);
        assert_blob_served(&s, "app", &d1, data).await;
    }

    #[tokio::test]
    async fn sha512_monolithic_upload() {
        let s = TestServer::start().await;
        let data = b"a blob addressed by sha512";
        let d = sha512(data);
        let (_, loc) = start_upload(&s, "app").await;
        let r = send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .header("content-type", "application/octet-stream")
                .body(data.to_vec()),
        )
        .await;
        r.expect_status(201);
        assert_eq!(path_of(r.must_header("location")), format!("/v2/app/blobs/{d}"), "{r}");
        assert_eq!(r.header("docker-content-digest"), Some(d.as_str()), "{r}");
        assert_blob_served(&s, "app", &d, data).await;
        // And by single POST.
        let data2 = b"another sha512 blob";
        let d2 = sha512(data2);
        let r = send(
            s.client
                .post(s.url(&format!("/v2/app/blobs/uploads/?digest={d2}")))
                .header("content-type", "application/octet-stream")
                .body(data2.to_vec()),
        )
        .await;
        r.expect_status(201);
        assert_blob_served(&s, "app", &d2, data2).await;
    }

    #[tokio::test]
    async fn sha512_chunked_upload() {
        let s = TestServer::start().await;
        let (a, b) = (b"sha512 chunk one / ".as_slice(), b"sha512 chunk two".as_slice());
        let whole = [a, b].concat();
        let d = sha512(&whole);
        let (_, loc) = start_upload(&s, "app").await;
        let r = patch_chunk(&s, &loc, 0, a).await;
        r.expect_status(202);
        let loc = abs(&s, r.must_header("location"));
        let r = patch_chunk(&s, &loc, a.len(), b).await;
        r.expect_status(202);
        let loc = abs(&s, r.must_header("location"));
        let r = send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .body(Vec::<u8>::new()),
        )
        .await;
        r.expect_status(201);
        assert_eq!(r.header("docker-content-digest"), Some(d.as_str()), "{r}");
        assert_blob_served(&s, "app", &d, &whole).await;
    }

    #[tokio::test]
    async fn upload_session_survives_a_restart() {
        let mut s = TestServer::start().await;
        let (a, b) = (b"before the crash; ".as_slice(), b"after the crash".as_slice());
        let whole = [a, b].concat();
        let d = sha256(&whole);
        let (_, loc) = start_upload(&s, "org/app").await;
        let r = patch_chunk(&s, &loc, 0, a).await;
        r.expect_status(202);
        let loc_path = path_of(r.must_header("location"));

        s.restart().await;
        s.client = fresh_client();
        let loc = s.url(&loc_path);

        let st = send(s.client.get(&loc)).await;
        st.expect_status(204);
        assert_eq!(st.header("range"), Some(format!("0-{}", a.len() - 1).as_str()), "{st}");
        let loc = abs(&s, st.must_header("location"));
        let r = patch_chunk(&s, &loc, a.len(), b).await;
        r.expect_status(202);
        assert_eq!(
            r.header("range"),
            Some(format!("0-{}", whole.len() - 1).as_str()),
            "{r}"
        );
        let loc = abs(&s, r.must_header("location"));
        let r = send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .body(Vec::<u8>::new()),
        )
        .await;
        r.expect_status(201);
        assert_blob_served(&s, "org/app", &d, &whole).await;
    }
}

// =============================================================================================
// Cross-repository mounts
// =============================================================================================

mod mounts {
    use super::*;

    const DATA: &[u8] = b"a layer shared between repositories";

    /// Asserts a 202 fallback whose session can complete an ordinary upload into `name`.
    async fn assert_fallback_session(s: &TestServer, r: &Resp, name: &str) {
        r.expect_status(202);
        let loc = abs(s, r.must_header("location"));
        assert!(
            path_of(&loc).starts_with(&format!("/v2/{name}/blobs/uploads/")),
            "fallback location {loc} is not an upload session of {name}:{r}"
        );
        let d = sha256(DATA);
        send(
            s.client
                .put(with_query(&loc, &format!("digest={d}")))
                .body(DATA.to_vec()),
        )
        .await
        .expect_status(201);
        assert_blob_served(s, name, &d, DATA).await;
    }

    #[tokio::test]
    async fn mount_from_a_repository_that_has_the_blob() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "org/source", DATA).await;
        let r = send(
            s.client
                .post(s.url(&format!("/v2/org/target/blobs/uploads/?mount={d}&from=org/source")))
                .body(Vec::<u8>::new()),
        )
        .await;
        r.expect_status(201);
        assert_eq!(
            path_of(r.must_header("location")),
            format!("/v2/org/target/blobs/{d}"),
            "{r}"
        );
        assert_eq!(r.header("docker-content-digest"), Some(d.as_str()), "{r}");
        assert_blob_served(&s, "org/target", &d, DATA).await;
        assert_blob_served(&s, "org/source", &d, DATA).await;

        // The mounted blob can be used by a manifest of the target.
        let cfg = empty_config(&s, "org/target").await;
        let m = Manifest::new(
            OCI_MANIFEST,
            &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg,
                    "layers": [descriptor(OCI_LAYER, DATA)]}),
        );
        push_manifest(&s, "org/target", "v1", &m).await;
        assert_manifest_served(&s, "org/target", "v1", &m).await;
    }

    #[tokio::test]
    async fn mount_of_a_blob_the_source_lacks_opens_an_upload() {
        let s = TestServer::start().await;
        push_blob(&s, "source", b"not the blob asked for").await;
        let d = sha256(DATA);
        let r = send(
            s.client
                .post(s.url(&format!("/v2/target/blobs/uploads/?mount={d}&from=source")))
                .body(Vec::<u8>::new()),
        )
        .await;
        assert_fallback_session(&s, &r, "target").await;
    }

    #[tokio::test]
    async fn mount_without_from_opens_an_upload() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "source", DATA).await;
        let r = send(
            s.client
                .post(s.url(&format!("/v2/target/blobs/uploads/?mount={d}")))
                .body(Vec::<u8>::new()),
        )
        .await;
        assert_fallback_session(&s, &r, "target").await;
    }

    #[tokio::test]
    async fn mount_from_an_invalid_or_unknown_repository_opens_an_upload() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "source", DATA).await;
        for from in ["UPPER", "nosuchrepo"] {
            let r = send(
                s.client
                    .post(s.url(&format!(
                        "/v2/target-{}/blobs/uploads/?mount={d}&from={from}",
                        from.to_lowercase()
                    )))
                    .body(Vec::<u8>::new()),
            )
            .await;
            assert_fallback_session(&s, &r, &format!("target-{}", from.to_lowercase())).await;
        }
    }

    #[tokio::test]
    async fn mount_from_a_repository_that_deleted_the_blob_opens_an_upload() {
        let s = TestServer::start().await;
        let d = push_blob(&s, "source", DATA).await;
        send(s.client.delete(s.url(&format!("/v2/source/blobs/{d}"))))
            .await
            .expect_status(202);
        let r = send(
            s.client
                .post(s.url(&format!("/v2/target/blobs/uploads/?mount={d}&from=source")))
                .body(Vec::<u8>::new()),
        )
        .await;
        assert_fallback_session(&s, &r, "target").await;
    }
}

// =============================================================================================
// Manifests
// =============================================================================================

mod manifests {
    use super::*;

    #[tokio::test]
    async fn oci_image_manifest_by_tag_and_digest() {
        let s = TestServer::start().await;
        let m = oci_image(&s, "app", "oci").await;
        let r = push_manifest(&s, "app", "v1", &m).await;
        assert!(r.header("oci-subject").is_none(), "no subject, no OCI-Subject:{r}");
        // Location is pullable.
        let got = send(
            s.client
                .get(abs(&s, r.must_header("location")))
                .header("accept", ACCEPT_ALL_MANIFESTS),
        )
        .await;
        got.expect_status(200);
        assert!(got.body == m.body, "Location serves other bytes:{got}");
        assert_manifest_served(&s, "app", "v1", &m).await;
        assert_manifest_served(&s, "app", &m.digest, &m).await;
        assert_eq!(tags_of(&tags_list(&s, "app", "").await, "app"), strings(&["v1"]));
    }

    #[tokio::test]
    async fn put_by_digest() {
        let s = TestServer::start().await;
        seed_image(&s, "app", "keep").await;
        let m = oci_image(&s, "app", "by-digest").await;
        let r = push_manifest(&s, "app", &m.digest, &m).await;
        assert_eq!(
            path_of(r.must_header("location")),
            format!("/v2/app/manifests/{}", m.digest),
            "{r}"
        );
        assert_manifest_served(&s, "app", &m.digest, &m).await;
        // Pushed by digest only: no new tag.
        assert_eq!(tags_of(&tags_list(&s, "app", "").await, "app"), strings(&["keep"]));
    }

    #[tokio::test]
    async fn docker_schema2_manifest() {
        let s = TestServer::start().await;
        let m = docker_image(&s, "library/busybox", "docker").await;
        push_manifest(&s, "library/busybox", "latest", &m).await;
        assert_manifest_served(&s, "library/busybox", "latest", &m).await;
        assert_manifest_served(&s, "library/busybox", &m.digest, &m).await;
    }

    #[tokio::test]
    async fn docker_manifest_list() {
        let s = TestServer::start().await;
        let name = "library/multi";
        let amd = docker_image(&s, name, "amd64").await;
        let arm = docker_image(&s, name, "arm64").await;
        push_manifest(&s, name, &amd.digest, &amd).await;
        push_manifest(&s, name, &arm.digest, &arm).await;
        let mut amd_desc = amd.descriptor();
        amd_desc["platform"] = json!({"architecture": "amd64", "os": "linux"});
        let mut arm_desc = arm.descriptor();
        arm_desc["platform"] = json!({"architecture": "arm64", "os": "linux", "variant": "v8"});
        let list = Manifest::new(
            DOCKER_LIST,
            &json!({"schemaVersion": 2, "mediaType": DOCKER_LIST, "manifests": [amd_desc, arm_desc]}),
        );
        push_manifest(&s, name, "latest", &list).await;
        assert_manifest_served(&s, name, "latest", &list).await;
        assert_manifest_served(&s, name, &list.digest, &list).await;
        assert_manifest_served(&s, name, &amd.digest, &amd).await;
        assert_manifest_served(&s, name, &arm.digest, &arm).await;
    }

    #[tokio::test]
    async fn oci_index() {
        let s = TestServer::start().await;
        let name = "org/multi";
        let a = oci_image(&s, name, "linux/amd64").await;
        let b = oci_image(&s, name, "linux/arm64").await;
        // Children pushed by digest only, as buildx does.
        push_manifest(&s, name, &a.digest, &a).await;
        push_manifest(&s, name, &b.digest, &b).await;
        let mut ad = a.descriptor();
        ad["platform"] = json!({"architecture": "amd64", "os": "linux"});
        let mut bd = b.descriptor();
        bd["platform"] = json!({"architecture": "arm64", "os": "linux"});
        let index = Manifest::new(
            OCI_INDEX,
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [ad, bd],
                    "annotations": {"org.opencontainers.image.ref.name": "v1"}}),
        );
        push_manifest(&s, name, "v1", &index).await;
        assert_manifest_served(&s, name, "v1", &index).await;
        assert_manifest_served(&s, name, &index.digest, &index).await;
        assert_manifest_served(&s, name, &a.digest, &a).await;
        // An index of indexes.
        let outer = Manifest::new(
            OCI_INDEX,
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [index.descriptor()]}),
        );
        push_manifest(&s, name, "nested", &outer).await;
        assert_manifest_served(&s, name, "nested", &outer).await;
    }

    #[tokio::test]
    async fn oci_artifact_manifest() {
        let s = TestServer::start().await;
        let name = "charts/app";
        let cfg = empty_config(&s, name).await;
        let payload = b"apiVersion: v2\nname: app\nversion: 1.0.0\n";
        push_blob(&s, name, payload).await;
        let m = Manifest::new(
            OCI_MANIFEST,
            &json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "artifactType": "application/vnd.example.chart.v1",
                "config": cfg,
                "layers": [descriptor("application/vnd.example.chart.content.v1.tar+gzip", payload)],
                "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
            }),
        );
        push_manifest(&s, name, "1.0.0", &m).await;
        assert_manifest_served(&s, name, "1.0.0", &m).await;
        assert_manifest_served(&s, name, &m.digest, &m).await;
        assert_blob_served(&s, name, EMPTY_JSON_DIGEST, b"{}").await;
    }

    #[tokio::test]
    async fn retagging_moves_the_tag() {
        let s = TestServer::start().await;
        let one = oci_image(&s, "app", "one").await;
        let two = oci_image(&s, "app", "two").await;
        push_manifest(&s, "app", "latest", &one).await;
        push_manifest(&s, "app", "v1", &one).await;
        assert_manifest_served(&s, "app", "latest", &one).await;
        push_manifest(&s, "app", "latest", &two).await;
        assert_manifest_served(&s, "app", "latest", &two).await;
        assert_manifest_served(&s, "app", "v1", &one).await;
        assert_manifest_served(&s, "app", &one.digest, &one).await;
        // Pushing the same bytes again is fine.
        push_manifest(&s, "app", "latest", &two).await;
        assert_eq!(
            tags_of(&tags_list(&s, "app", "").await, "app"),
            strings(&["latest", "v1"])
        );
    }

    #[tokio::test]
    async fn put_by_mismatching_digest_is_digest_invalid() {
        let s = TestServer::start().await;
        seed_image(&s, "app", "keep").await;
        let m = oci_image(&s, "app", "mismatch").await;
        let claimed = sha256(b"not this manifest");
        put_manifest(&s, "app", &claimed, &m)
            .await
            .expect_error(400, "DIGEST_INVALID");
        get_manifest(&s, "app", &claimed)
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        get_manifest(&s, "app", &m.digest)
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        // A sha512 reference must match the sha512 of the body.
        let claimed512 = sha512(b"not this manifest either");
        put_manifest(&s, "app", &claimed512, &m)
            .await
            .expect_error(400, "DIGEST_INVALID");
    }

    #[tokio::test]
    async fn missing_layer_or_config_is_manifest_blob_unknown() {
        let s = TestServer::start().await;
        let name = "app";
        seed_image(&s, name, "keep").await;
        let cfg = empty_config(&s, name).await;
        let layer = b"a layer that is here";
        push_blob(&s, name, layer).await;

        let missing_layer = Manifest::new(
            OCI_MANIFEST,
            &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg,
                    "layers": [descriptor(OCI_LAYER, layer), descriptor(OCI_LAYER, b"a layer never pushed")]}),
        );
        put_manifest(&s, name, "broken", &missing_layer)
            .await
            .expect_error(400, "MANIFEST_BLOB_UNKNOWN");

        let missing_config = Manifest::new(
            OCI_MANIFEST,
            &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": descriptor(OCI_CONFIG, b"{\"never\":\"pushed\"}"),
                    "layers": [descriptor(OCI_LAYER, layer)]}),
        );
        put_manifest(&s, name, "broken", &missing_config)
            .await
            .expect_error(400, "MANIFEST_BLOB_UNKNOWN");

        let docker_missing = Manifest::new(
            DOCKER_MANIFEST,
            &json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                    "config": descriptor(DOCKER_CONFIG, b"{\"missing\":true}"),
                    "layers": [descriptor(DOCKER_LAYER, layer)]}),
        );
        put_manifest(&s, name, "broken", &docker_missing)
            .await
            .expect_error(400, "MANIFEST_BLOB_UNKNOWN");

        // Nothing was stored.
        get_manifest(&s, name, "broken")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        get_manifest(&s, name, &missing_layer.digest)
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        assert_eq!(tags_of(&tags_list(&s, name, "").await, name), strings(&["keep"]));
    }

    /// Blobs of another repository do not count: a manifest may only reference its own.
    #[tokio::test]
    async fn blobs_of_another_repository_are_manifest_blob_unknown() {
        let s = TestServer::start().await;
        let m = oci_image(&s, "owner", "cross").await;
        seed_image(&s, "stranger", "keep").await;
        put_manifest(&s, "stranger", "stolen", &m)
            .await
            .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
        get_manifest(&s, "stranger", "stolen")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
    }

    #[tokio::test]
    async fn index_with_missing_child_is_manifest_blob_unknown() {
        let s = TestServer::start().await;
        let name = "app";
        let present = seed_image(&s, name, "present").await;
        let absent = oci_image(&s, name, "never pushed as a manifest").await;
        let index = Manifest::new(
            OCI_INDEX,
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
                    "manifests": [present.descriptor(), absent.descriptor()]}),
        );
        put_manifest(&s, name, "idx", &index)
            .await
            .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
        let list = Manifest::new(
            DOCKER_LIST,
            &json!({"schemaVersion": 2, "mediaType": DOCKER_LIST,
                    "manifests": [{"mediaType": DOCKER_MANIFEST, "digest": sha256(b"no such manifest"), "size": 100,
                                   "platform": {"architecture": "amd64", "os": "linux"}}]}),
        );
        put_manifest(&s, name, "list", &list)
            .await
            .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
        get_manifest(&s, name, "idx")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        get_manifest(&s, name, "list")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        // A child that is a blob but not a manifest is not a manifest.
        let config_blob_digest = push_blob(&s, name, b"just a blob").await;
        let fake = Manifest::new(
            OCI_INDEX,
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
                    "manifests": [{"mediaType": OCI_MANIFEST, "digest": config_blob_digest, "size": 11}]}),
        );
        put_manifest(&s, name, "fake", &fake)
            .await
            .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
    }

    #[tokio::test]
    async fn invalid_manifests_are_manifest_invalid() {
        let s = TestServer::start().await;
        let name = "app";
        seed_image(&s, name, "keep").await;
        let cfg = empty_config(&s, name).await;
        let cases: Vec<Manifest> = vec![
            Manifest::raw(OCI_MANIFEST, b"this is not json".to_vec()),
            Manifest::raw(OCI_MANIFEST, b"{\"schemaVersion\": 2, ".to_vec()),
            Manifest::raw(OCI_MANIFEST, b"[]".to_vec()),
            Manifest::raw(OCI_MANIFEST, Vec::new()),
            // No config.
            Manifest::new(
                OCI_MANIFEST,
                &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}),
            ),
            // Wrong schema version.
            Manifest::new(
                OCI_MANIFEST,
                &json!({"schemaVersion": 1, "mediaType": OCI_MANIFEST, "config": cfg, "layers": []}),
            ),
            // A descriptor with a malformed digest.
            Manifest::new(
                OCI_MANIFEST,
                &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg,
                        "layers": [{"mediaType": OCI_LAYER, "digest": "sha256:nothex", "size": 1}]}),
            ),
            // An index without manifests.
            Manifest::new(OCI_INDEX, &json!({"schemaVersion": 2, "mediaType": OCI_INDEX})),
        ];
        for m in &cases {
            let r = put_manifest(&s, name, "bad", m).await;
            r.expect_error(400, "MANIFEST_INVALID");
        }
        get_manifest(&s, name, "bad")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
    }

    #[tokio::test]
    async fn docker_schema1_is_refused() {
        let s = TestServer::start().await;
        seed_image(&s, "app", "keep").await;
        let m = Manifest::new(
            DOCKER_SCHEMA1_SIGNED,
            &json!({"schemaVersion": 1, "name": "app", "tag": "old", "architecture": "amd64",
                    "fsLayers": [], "history": [], "signatures": []}),
        );
        let r = put_manifest(&s, "app", "old", &m).await;
        r.expect_error_in(&[400, 405, 415], &["MANIFEST_INVALID", "UNSUPPORTED"]);
        get_manifest(&s, "app", "old")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
    }

    /// A manifest just under 4 MiB is accepted and stored byte for byte.
    #[tokio::test]
    async fn manifest_of_almost_4_mib_is_accepted() {
        let s = TestServer::start().await;
        let name = "app";
        let cfg = empty_config(&s, name).await;
        let mut v = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": [cfg],
                           "annotations": {"pad": ""}});
        let base = serde_json::to_vec_pretty(&v).expect("json").len();
        v["annotations"]["pad"] = Value::String("x".repeat(4 * 1024 * 1024 - 4096 - base));
        let m = Manifest::new(OCI_MANIFEST, &v);
        assert!(m.body.len() < 4 * 1024 * 1024);
        push_manifest(&s, name, "big", &m).await;
        assert_manifest_served(&s, name, "big", &m).await;
    }

    #[tokio::test]
    async fn manifest_over_4_mib_is_refused() {
        let s = TestServer::start().await;
        let name = "app";
        seed_image(&s, name, "keep").await;
        let cfg = empty_config(&s, name).await;
        let m = Manifest::new(
            OCI_MANIFEST,
            &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": [cfg],
                    "annotations": {"pad": "x".repeat(4 * 1024 * 1024 + 16)}}),
        );
        let r = put_manifest(&s, name, "huge", &m).await;
        assert!((400..500).contains(&r.status), "{r}");
        r.expect_error_in(&[400, 413], &["SIZE_INVALID", "MANIFEST_INVALID"]);
        get_manifest(&s, name, "huge")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        get_manifest(&s, name, &m.digest)
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
    }

    #[tokio::test]
    async fn invalid_tags_are_tag_invalid() {
        let s = TestServer::start().await;
        let m = oci_image(&s, "app", "tags").await;
        push_manifest(&s, "app", "ok", &m).await;
        let too_long = "t".repeat(129);
        for tag in ["-bad", ".bad", too_long.as_str()] {
            put_manifest(&s, "app", tag, &m).await.expect_error(400, "TAG_INVALID");
            // Reading or deleting a reference that is neither a tag nor a digest answers as for a
            // missing manifest, as the spec answers.
            get_manifest(&s, "app", tag).await.expect_error(404, "MANIFEST_UNKNOWN");
            head_manifest(&s, "app", tag).await.expect_status(404);
        }
        get_manifest(&s, "app", "sha256:abc")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        // A reference with ':' is a digest, and this one is not valid.
        put_manifest(&s, "app", "v1:bad", &m)
            .await
            .expect_error_in(&[400], &["DIGEST_INVALID", "TAG_INVALID"]);
        put_manifest(&s, "app", "sha256:abc", &m)
            .await
            .expect_error(400, "DIGEST_INVALID");
        // The longest valid tag, and the other allowed characters.
        let longest = format!("_{}", "T".repeat(127));
        for tag in [longest.as_str(), "v1.2.3-rc.1_build", "UPPER"] {
            push_manifest(&s, "app", tag, &m).await;
            assert_manifest_served(&s, "app", tag, &m).await;
        }
    }

    #[tokio::test]
    async fn unknown_manifest_is_manifest_unknown() {
        let s = TestServer::start().await;
        seed_image(&s, "app", "v1").await;
        get_manifest(&s, "app", "nope")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        get_manifest(&s, "app", &sha256(b"nope"))
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        head_manifest(&s, "app", "nope").await.expect_status(404);
        head_manifest(&s, "app", &sha256(b"nope")).await.expect_status(404);
        send(
            s.client
                .delete(s.url(&format!("/v2/app/manifests/{}", sha256(b"nope")))),
        )
        .await
        .expect_error(404, "MANIFEST_UNKNOWN");
        send(s.client.delete(s.url("/v2/app/manifests/nope")))
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
    }

    #[tokio::test]
    async fn manifest_is_scoped_to_its_repository() {
        let s = TestServer::start().await;
        let m = seed_image(&s, "one", "v1").await;
        seed_image(&s, "two", "v2").await;
        get_manifest(&s, "two", &m.digest)
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        get_manifest(&s, "two", "v1")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        head_manifest(&s, "two", &m.digest).await.expect_status(404);
    }

    #[tokio::test]
    async fn delete_by_digest() {
        let s = TestServer::start().await;
        let keep = seed_image(&s, "app", "keep").await;
        let m = oci_image(&s, "app", "doomed").await;
        push_manifest(&s, "app", "v1", &m).await;
        push_manifest(&s, "app", "v1-alias", &m).await;
        let r = send(s.client.delete(s.url(&format!("/v2/app/manifests/{}", m.digest)))).await;
        r.expect_status(202);
        get_manifest(&s, "app", &m.digest)
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        head_manifest(&s, "app", &m.digest).await.expect_status(404);
        // Every tag that pointed at it is gone too.
        get_manifest(&s, "app", "v1")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        get_manifest(&s, "app", "v1-alias")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        assert_eq!(tags_of(&tags_list(&s, "app", "").await, "app"), strings(&["keep"]));
        assert_manifest_served(&s, "app", "keep", &keep).await;
        // Deleting again.
        send(s.client.delete(s.url(&format!("/v2/app/manifests/{}", m.digest))))
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        // It can be pushed again.
        push_manifest(&s, "app", "v1", &m).await;
        assert_manifest_served(&s, "app", "v1", &m).await;
    }

    #[tokio::test]
    async fn delete_by_tag_removes_only_the_tag() {
        let s = TestServer::start().await;
        let m = oci_image(&s, "app", "tagged").await;
        push_manifest(&s, "app", "v1", &m).await;
        push_manifest(&s, "app", "latest", &m).await;
        let r = send(s.client.delete(s.url("/v2/app/manifests/v1"))).await;
        r.expect_status(202);
        get_manifest(&s, "app", "v1")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
        head_manifest(&s, "app", "v1").await.expect_status(404);
        assert_manifest_served(&s, "app", &m.digest, &m).await;
        assert_manifest_served(&s, "app", "latest", &m).await;
        assert_eq!(tags_of(&tags_list(&s, "app", "").await, "app"), strings(&["latest"]));
        send(s.client.delete(s.url("/v2/app/manifests/v1")))
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
    }

    #[tokio::test]
    async fn media_type_in_body_must_match_content_type() {
        let s = TestServer::start().await;
        seed_image(&s, "app", "keep").await;
        let m = oci_image(&s, "app", "mismatch").await;
        // The body says OCI image manifest; the header says Docker schema 2.
        let lie = Manifest::raw(DOCKER_MANIFEST, m.body.clone());
        put_manifest(&s, "app", "v1", &lie)
            .await
            .expect_error(400, "MANIFEST_INVALID");
        get_manifest(&s, "app", "v1")
            .await
            .expect_error(404, "MANIFEST_UNKNOWN");
    }

    /// An OCI manifest without the (optional) `mediaType` field takes the type it was sent with.
    #[tokio::test]
    async fn manifest_without_media_type_field() {
        let s = TestServer::start().await;
        let cfg = empty_config(&s, "app").await;
        let m = Manifest::new(
            OCI_MANIFEST,
            &json!({"schemaVersion": 2, "config": cfg, "layers": [cfg]}),
        );
        push_manifest(&s, "app", "v1", &m).await;
        assert_manifest_served(&s, "app", "v1", &m).await;
        let child = m.descriptor();
        let idx = Manifest::new(OCI_INDEX, &json!({"schemaVersion": 2, "manifests": [child]}));
        push_manifest(&s, "app", "idx", &idx).await;
        assert_manifest_served(&s, "app", "idx", &idx).await;
    }

    /// Windows images carry foreign layers that live elsewhere and are never uploaded.
    #[tokio::test]
    async fn foreign_layers_need_not_be_uploaded() {
        let s = TestServer::start().await;
        let config = b"{\"os\":\"windows\",\"architecture\":\"amd64\"}";
        let layer = b"a windows layer that was uploaded";
        push_blob(&s, "win", config).await;
        push_blob(&s, "win", layer).await;
        let m = Manifest::new(
            DOCKER_MANIFEST,
            &json!({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                    "config": descriptor(DOCKER_CONFIG, config),
                    "layers": [
                        {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                         "digest": sha256(b"foreign base layer"), "size": 1234,
                         "urls": ["https://mcr.microsoft.com/v2/windows/blobs/x"]},
                        descriptor(DOCKER_LAYER, layer)]}),
        );
        push_manifest(&s, "win", "ltsc", &m).await;
        assert_manifest_served(&s, "win", "ltsc", &m).await;
    }

    #[tokio::test]
    async fn index_child_from_another_repository_is_manifest_blob_unknown() {
        let s = TestServer::start().await;
        let child = seed_image(&s, "owner", "v1").await;
        seed_image(&s, "stranger", "keep").await;
        let idx = Manifest::new(
            OCI_INDEX,
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child.descriptor()]}),
        );
        put_manifest(&s, "stranger", "idx", &idx)
            .await
            .expect_error(400, "MANIFEST_BLOB_UNKNOWN");
    }

    /// A repository whose manifests have no tags (pushed by digest, or untagged) still exists.
    #[tokio::test]
    async fn repository_without_tags_lists_none() {
        let s = TestServer::start().await;
        let m = oci_image(&s, "app", "untagged").await;
        push_manifest(&s, "app", &m.digest, &m).await;
        assert_eq!(tags_of(&tags_list(&s, "app", "").await, "app"), Vec::<String>::new());
        push_manifest(&s, "app", "v1", &m).await;
        send(s.client.delete(s.url("/v2/app/manifests/v1")))
            .await
            .expect_status(202);
        assert_eq!(tags_of(&tags_list(&s, "app", "").await, "app"), Vec::<String>::new());
        assert_manifest_served(&s, "app", &m.digest, &m).await;
    }

    #[tokio::test]
    async fn concurrent_manifest_pushes() {
        let s = TestServer::start().await;
        let mut images = Vec::new();
        for i in 0..8 {
            images.push(oci_image(&s, "busy", &format!("image {i}")).await);
        }
        let pushes = images.iter().enumerate().map(|(i, m)| {
            let s = &s;
            async move { (i, put_manifest(s, "busy", &format!("t{i}"), m).await) }
        });
        for (i, r) in futures::future::join_all(pushes).await {
            r.expect_status(201);
            assert_eq!(
                r.header("docker-content-digest"),
                Some(images[i].digest.as_str()),
                "{r}"
            );
        }
        // And the same tag raced by all of them: one wins, and it is one of them.
        let race = images.iter().map(|m| put_manifest(&s, "busy", "race", m));
        for r in futures::future::join_all(race).await {
            r.expect_status(201);
        }
        let got = get_manifest(&s, "busy", "race").await;
        got.expect_status(200);
        assert!(images.iter().any(|m| m.body == got.body), "{got}");
        let mut want: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();
        want.insert(0, "race".to_owned());
        want.sort();
        assert_eq!(tags_of(&tags_list(&s, "busy", "").await, "busy"), want);
        for (i, m) in images.iter().enumerate() {
            assert_manifest_served(&s, "busy", &format!("t{i}"), m).await;
        }
    }

    #[tokio::test]
    async fn content_type_parameters_are_ignored() {
        let s = TestServer::start().await;
        let m = oci_image(&s, "app", "params").await;
        let r = send(
            s.client
                .put(s.url("/v2/app/manifests/v1"))
                .header("content-type", format!("{OCI_MANIFEST}; charset=utf-8"))
                .body(m.body.clone()),
        )
        .await;
        r.expect_status(201);
        assert_eq!(r.header("docker-content-digest"), Some(m.digest.as_str()), "{r}");
        let got = get_manifest(&s, "app", "v1").await;
        got.expect_status(200);
        assert!(got.body == m.body, "{got}");
    }
}

// =============================================================================================
// Tags list
// =============================================================================================

mod tags {
    use super::*;

    const TAGS: [&str; 5] = ["latest", "c2", "a", "c10", "b"];
    const SORTED: [&str; 5] = ["a", "b", "c10", "c2", "latest"];

    async fn seeded() -> TestServer {
        let s = TestServer::start().await;
        let m = oci_image(&s, "org/app", "tags").await;
        for t in TAGS {
            push_manifest(&s, "org/app", t, &m).await;
        }
        s
    }

    #[tokio::test]
    async fn list_is_sorted() {
        let s = seeded().await;
        let r = tags_list(&s, "org/app", "").await;
        assert_eq!(tags_of(&r, "org/app"), strings(&SORTED));
        assert!(r.header("link").is_none(), "everything fits, no Link:{r}");
    }

    #[tokio::test]
    async fn paginate_with_n_and_link() {
        let s = seeded().await;
        let r = tags_list(&s, "org/app", "?n=2").await;
        assert_eq!(tags_of(&r, "org/app"), strings(&["a", "b"]));
        assert_eq!(
            r.header("link"),
            Some("</v2/org/app/tags/list?n=2&last=b>; rel=\"next\""),
            "{r}"
        );

        // Follow the links to the end.
        let mut all = tags_of(&r, "org/app");
        let mut next = next_link(&r);
        let mut pages = 1;
        while let Some(link) = next {
            pages += 1;
            assert!(pages <= 10, "too many pages");
            let r = send(s.client.get(abs(&s, &link))).await;
            let page = tags_of(&r, "org/app");
            assert!(!page.is_empty() && page.len() <= 2, "page of {} tags:{r}", page.len());
            all.extend(page);
            next = next_link(&r);
        }
        assert_eq!(pages, 3);
        assert_eq!(all, strings(&SORTED));
    }

    #[tokio::test]
    async fn last_without_n() {
        let s = seeded().await;
        let r = tags_list(&s, "org/app", "?last=b").await;
        assert_eq!(tags_of(&r, "org/app"), strings(&["c10", "c2", "latest"]));
        let r = tags_list(&s, "org/app", "?n=2&last=b").await;
        assert_eq!(tags_of(&r, "org/app"), strings(&["c10", "c2"]));
        let r = tags_list(&s, "org/app", "?n=10&last=c2").await;
        assert_eq!(tags_of(&r, "org/app"), strings(&["latest"]));
        assert!(r.header("link").is_none(), "{r}");
        // `last` need not be an existing tag.
        let r = tags_list(&s, "org/app", "?last=bb").await;
        assert_eq!(tags_of(&r, "org/app"), strings(&["c10", "c2", "latest"]));
        let r = tags_list(&s, "org/app", "?last=zzz").await;
        assert_eq!(tags_of(&r, "org/app"), Vec::<String>::new());
    }

    #[tokio::test]
    async fn n_zero_and_large_n() {
        let s = seeded().await;
        let r = tags_list(&s, "org/app", "?n=0").await;
        assert_eq!(tags_of(&r, "org/app"), Vec::<String>::new());
        assert!(r.header("link").is_none(), "n=0 must not have a Link:{r}");
        let r = tags_list(&s, "org/app", "?n=5").await;
        assert_eq!(tags_of(&r, "org/app"), strings(&SORTED));
        let r = tags_list(&s, "org/app", "?n=1000").await;
        assert_eq!(tags_of(&r, "org/app"), strings(&SORTED));
        assert!(r.header("link").is_none(), "{r}");
    }

    #[tokio::test]
    async fn malformed_n_is_400() {
        let s = seeded().await;
        for q in ["?n=-1", "?n=abc"] {
            let r = tags_list(&s, "org/app", q).await;
            r.expect_error(400, "PAGINATION_NUMBER_INVALID");
        }
    }

    #[tokio::test]
    async fn unknown_repository_is_name_unknown() {
        let s = seeded().await;
        tags_list(&s, "org/nope", "").await.expect_error(404, "NAME_UNKNOWN");
        tags_list(&s, "org", "").await.expect_error(404, "NAME_UNKNOWN");
    }

    #[tokio::test]
    async fn tags_are_per_repository() {
        let s = seeded().await;
        seed_image(&s, "org/other", "only").await;
        assert_eq!(
            tags_of(&tags_list(&s, "org/other", "").await, "org/other"),
            strings(&["only"])
        );
        assert_eq!(
            tags_of(&tags_list(&s, "org/app", "").await, "org/app"),
            strings(&SORTED)
        );
    }
}

// =============================================================================================
// Catalog
// =============================================================================================

mod catalog {
    use super::*;

    const REPOS: [&str; 5] = ["zeta", "alpha", "org/team/app", "mid", "alpha/sub"];
    const SORTED: [&str; 5] = ["alpha", "alpha/sub", "mid", "org/team/app", "zeta"];

    #[track_caller]
    fn repos_of(r: &Resp) -> Vec<String> {
        r.expect_status(200);
        let v = r.json();
        match &v["repositories"] {
            Value::Array(a) => a
                .iter()
                .map(|t| {
                    t.as_str()
                        .unwrap_or_else(|| panic!("non-string repository:{r}"))
                        .to_owned()
                })
                .collect(),
            other => panic!("\"repositories\" should be an array, is {other}:{r}"),
        }
    }

    async fn catalog(s: &TestServer, query: &str) -> Resp {
        send(s.client.get(s.url(&format!("/v2/_catalog{query}")))).await
    }

    async fn seeded() -> TestServer {
        let s = TestServer::start().await;
        for name in REPOS {
            seed_image(&s, name, "v1").await;
        }
        s
    }

    #[tokio::test]
    async fn empty_registry() {
        let s = TestServer::start().await;
        assert_eq!(repos_of(&catalog(&s, "").await), Vec::<String>::new());
    }

    #[tokio::test]
    async fn lists_repositories_sorted() {
        let s = seeded().await;
        let r = catalog(&s, "").await;
        assert!(r.must_header("content-type").starts_with("application/json"), "{r}");
        assert_eq!(repos_of(&r), strings(&SORTED));
        assert!(r.header("link").is_none(), "{r}");
    }

    #[tokio::test]
    async fn paginates_with_n_last_and_link() {
        let s = seeded().await;
        let r = catalog(&s, "?n=2").await;
        assert_eq!(repos_of(&r), strings(&["alpha", "alpha/sub"]));
        let link = next_link(&r).unwrap_or_else(|| panic!("a Link to the next page is expected:{r}"));
        assert!(path_of(&link).starts_with("/v2/_catalog?"), "Link {link}:{r}");
        assert!(link.contains("n=2"), "Link {link} keeps n:{r}");

        let mut all = repos_of(&r);
        let mut next = Some(link);
        let mut pages = 1;
        while let Some(link) = next {
            pages += 1;
            assert!(pages <= 10, "too many pages");
            let r = send(s.client.get(abs(&s, &link))).await;
            let page = repos_of(&r);
            assert!(!page.is_empty() && page.len() <= 2, "page of {}:{r}", page.len());
            all.extend(page);
            next = next_link(&r);
        }
        assert_eq!(pages, 3);
        assert_eq!(all, strings(&SORTED));

        let r = catalog(&s, "?n=2&last=mid").await;
        assert_eq!(repos_of(&r), strings(&["org/team/app", "zeta"]));
        let r = catalog(&s, "?last=alpha").await;
        assert_eq!(repos_of(&r), strings(&["alpha/sub", "mid", "org/team/app", "zeta"]));
        let r = catalog(&s, "?n=0").await;
        assert_eq!(repos_of(&r), Vec::<String>::new());
        assert!(r.header("link").is_none(), "{r}");
        let r = catalog(&s, "?n=100").await;
        assert_eq!(repos_of(&r), strings(&SORTED));
        assert!(r.header("link").is_none(), "{r}");
    }
}

// =============================================================================================
// Referrers
// =============================================================================================

mod referrers {
    use super::*;

    const SBOM: &str = "application/vnd.example.sbom.v1+json";
    const SIG: &str = "application/vnd.example.signature.v1";
    const ATTESTATION_CONFIG: &str = "application/vnd.example.attestation.config.v1+json";
    const BUNDLE: &str = "application/vnd.example.bundle.v1";

    async fn referrers(s: &TestServer, name: &str, digest: &str, artifact_type: Option<&str>) -> Resp {
        let mut url = reqwest::Url::parse(&s.url(&format!("/v2/{name}/referrers/{digest}"))).expect("url");
        if let Some(t) = artifact_type {
            url.query_pairs_mut().append_pair("artifactType", t);
        }
        send(s.client.get(url)).await
    }

    /// The `manifests` of a 200 referrers answer, checking the index envelope.
    #[track_caller]
    fn manifests_of(r: &Resp) -> Vec<Value> {
        r.expect_status(200);
        assert_eq!(r.header("content-type"), Some(OCI_INDEX), "{r}");
        let v = r.json();
        assert_eq!(v["schemaVersion"], 2, "{r}");
        assert_eq!(v["mediaType"], OCI_INDEX, "{r}");
        v["manifests"]
            .as_array()
            .unwrap_or_else(|| panic!("\"manifests\" should be an array:{r}"))
            .clone()
    }

    /// An artifact manifest with the given fields.
    fn artifact(
        artifact_type: Option<&str>,
        config: &Value,
        layer: &Value,
        subject: Option<&Value>,
        annotations: Option<Value>,
    ) -> Manifest {
        let mut v = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]});
        if let Some(t) = artifact_type {
            v["artifactType"] = json!(t);
        }
        if let Some(sub) = subject {
            v["subject"] = sub.clone();
        }
        if let Some(a) = annotations {
            v["annotations"] = a;
        }
        Manifest::new(OCI_MANIFEST, &v)
    }

    /// Asserts `got` is a descriptor of `m` with the artifact type and annotations given.
    #[track_caller]
    fn assert_descriptor(got: &Value, m: &Manifest, artifact_type: Option<&str>, annotations: Option<&Value>) {
        assert_eq!(got["mediaType"], m.media_type.as_str(), "descriptor {got}");
        assert_eq!(got["digest"], m.digest.as_str(), "descriptor {got}");
        assert_eq!(got["size"].as_u64(), Some(m.body.len() as u64), "descriptor {got}");
        match artifact_type {
            Some(t) => assert_eq!(got["artifactType"], t, "descriptor {got}"),
            None => assert!(
                got.get("artifactType").is_none_or(|v| v.is_null() || v == ""),
                "descriptor {got} should have no artifactType"
            ),
        }
        match annotations {
            Some(a) => assert_eq!(&got["annotations"], a, "descriptor {got}"),
            None => assert!(
                got.get("annotations").is_none_or(|v| v.is_null() || v == &json!({})),
                "descriptor {got} should have no annotations"
            ),
        }
    }

    fn find<'a>(list: &'a [Value], digest: &str) -> &'a Value {
        list.iter()
            .find(|d| d["digest"] == digest)
            .unwrap_or_else(|| panic!("{digest} is not among the referrers {list:?}"))
    }

    /// A repository with an image and, pointing at it: an SBOM, a signature, an attestation
    /// without artifactType, and an index; plus a manifest pointing elsewhere.
    struct Fixture {
        s: TestServer,
        image: Manifest,
        sbom: Manifest,
        sbom_annotations: Value,
        sig: Manifest,
        attestation: Manifest,
        bundle: Manifest,
        bundle_annotations: Value,
        elsewhere: Manifest,
    }

    async fn fixture() -> Fixture {
        let s = TestServer::start().await;
        let name = "org/app";
        let image = seed_image(&s, name, "v1").await;
        let subject = image.descriptor();
        let cfg = empty_config(&s, name).await;

        let sbom_data = b"{\"spdxVersion\":\"SPDX-2.3\"}";
        push_blob(&s, name, sbom_data).await;
        let sbom_annotations = json!({"org.opencontainers.image.created": "2024-01-01T00:00:00Z",
                                      "org.example.sbom.format": "spdx"});
        let sbom = artifact(
            Some(SBOM),
            &cfg,
            &descriptor("application/spdx+json", sbom_data),
            Some(&subject),
            Some(sbom_annotations.clone()),
        );
        let r = push_manifest(&s, name, &sbom.digest, &sbom).await;
        assert_eq!(r.header("oci-subject"), Some(image.digest.as_str()), "{r}");

        let sig_data = b"signature bytes";
        push_blob(&s, name, sig_data).await;
        let sig = artifact(
            Some(SIG),
            &cfg,
            &descriptor("application/octet-stream", sig_data),
            Some(&subject),
            None,
        );
        // By tag, as cosign-style tools do.
        let r = push_manifest(&s, name, "sig-tag", &sig).await;
        assert_eq!(r.header("oci-subject"), Some(image.digest.as_str()), "{r}");

        let att_config = b"{\"predicateType\":\"https://slsa.dev/provenance/v1\"}";
        push_blob(&s, name, att_config).await;
        let attestation = artifact(
            None,
            &descriptor(ATTESTATION_CONFIG, att_config),
            &cfg,
            Some(&subject),
            None,
        );
        let r = push_manifest(&s, name, &attestation.digest, &attestation).await;
        assert_eq!(r.header("oci-subject"), Some(image.digest.as_str()), "{r}");

        let bundle_annotations = json!({"org.example.bundle": "yes"});
        let bundle = Manifest::new(
            OCI_INDEX,
            &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "artifactType": BUNDLE,
                    "manifests": [sig.descriptor()], "subject": subject,
                    "annotations": bundle_annotations}),
        );
        let r = push_manifest(&s, name, &bundle.digest, &bundle).await;
        assert_eq!(r.header("oci-subject"), Some(image.digest.as_str()), "{r}");

        // Points at a subject that does not exist: still accepted.
        let ghost = json!({"mediaType": OCI_MANIFEST, "digest": sha256(b"ghost"), "size": 123});
        let elsewhere = artifact(Some(SBOM), &cfg, &cfg, Some(&ghost), None);
        let r = push_manifest(&s, name, &elsewhere.digest, &elsewhere).await;
        assert_eq!(r.header("oci-subject"), Some(sha256(b"ghost").as_str()), "{r}");

        Fixture {
            s,
            image,
            sbom,
            sbom_annotations,
            sig,
            attestation,
            bundle,
            bundle_annotations,
            elsewhere,
        }
    }

    #[tokio::test]
    async fn lists_descriptors_of_manifests_with_that_subject() {
        let f = fixture().await;
        let r = referrers(&f.s, "org/app", &f.image.digest, None).await;
        let list = manifests_of(&r);
        assert_ne!(
            r.header("oci-filters-applied"),
            Some("artifactType"),
            "no filter was asked:{r}"
        );
        assert_eq!(list.len(), 4, "{r}");
        assert_descriptor(
            find(&list, &f.sbom.digest),
            &f.sbom,
            Some(SBOM),
            Some(&f.sbom_annotations),
        );
        assert_descriptor(find(&list, &f.sig.digest), &f.sig, Some(SIG), None);
        // No artifactType: the config's media type stands in.
        assert_descriptor(
            find(&list, &f.attestation.digest),
            &f.attestation,
            Some(ATTESTATION_CONFIG),
            None,
        );
        assert_descriptor(
            find(&list, &f.bundle.digest),
            &f.bundle,
            Some(BUNDLE),
            Some(&f.bundle_annotations),
        );
        assert!(
            !list.iter().any(|d| d["digest"] == f.elsewhere.digest.as_str()),
            "a manifest with another subject is listed:{r}"
        );
    }

    #[tokio::test]
    async fn filter_by_artifact_type() {
        let f = fixture().await;
        let r = referrers(&f.s, "org/app", &f.image.digest, Some(SBOM)).await;
        let list = manifests_of(&r);
        assert_eq!(r.header("oci-filters-applied"), Some("artifactType"), "{r}");
        assert_eq!(list.len(), 1, "{r}");
        assert_descriptor(&list[0], &f.sbom, Some(SBOM), Some(&f.sbom_annotations));

        let r = referrers(&f.s, "org/app", &f.image.digest, Some(ATTESTATION_CONFIG)).await;
        let list = manifests_of(&r);
        assert_eq!(list.len(), 1, "{r}");
        assert_eq!(list[0]["digest"], f.attestation.digest.as_str(), "{r}");

        let r = referrers(&f.s, "org/app", &f.image.digest, Some("application/vnd.example.none")).await;
        assert_eq!(r.header("oci-filters-applied"), Some("artifactType"), "{r}");
        assert!(manifests_of(&r).is_empty(), "{r}");
    }

    #[tokio::test]
    async fn subject_that_does_not_exist() {
        let f = fixture().await;
        let r = referrers(&f.s, "org/app", &sha256(b"ghost"), None).await;
        let list = manifests_of(&r);
        assert_eq!(list.len(), 1, "{r}");
        assert_descriptor(&list[0], &f.elsewhere, Some(SBOM), None);
    }

    #[tokio::test]
    async fn unknown_digest_has_no_referrers() {
        let f = fixture().await;
        let r = referrers(&f.s, "org/app", &sha256(b"nobody points here"), None).await;
        assert!(manifests_of(&r).is_empty(), "{r}");
        // The referrers themselves have none.
        let r = referrers(&f.s, "org/app", &f.sbom.digest, None).await;
        assert!(manifests_of(&r).is_empty(), "{r}");
    }

    #[tokio::test]
    async fn invalid_digest_is_400() {
        let f = fixture().await;
        let r = referrers(&f.s, "org/app", "sha256:nothex", None).await;
        r.expect_error(400, "DIGEST_INVALID");
    }

    #[tokio::test]
    async fn deleted_referrer_is_no_longer_listed() {
        let f = fixture().await;
        send(
            f.s.client
                .delete(f.s.url(&format!("/v2/org/app/manifests/{}", f.sbom.digest))),
        )
        .await
        .expect_status(202);
        let list = manifests_of(&referrers(&f.s, "org/app", &f.image.digest, None).await);
        assert_eq!(list.len(), 3, "{list:?}");
        assert!(!list.iter().any(|d| d["digest"] == f.sbom.digest.as_str()), "{list:?}");
        // Deleting a tag of a referrer does not remove it.
        send(f.s.client.delete(f.s.url("/v2/org/app/manifests/sig-tag")))
            .await
            .expect_status(202);
        let list = manifests_of(&referrers(&f.s, "org/app", &f.image.digest, None).await);
        assert_eq!(list.len(), 3, "{list:?}");
        find(&list, &f.sig.digest);
    }

    /// Referrers outlive their subject: deleting it leaves them listed.
    #[tokio::test]
    async fn referrers_survive_deletion_of_the_subject() {
        let f = fixture().await;
        send(
            f.s.client
                .delete(f.s.url(&format!("/v2/org/app/manifests/{}", f.image.digest))),
        )
        .await
        .expect_status(202);
        let list = manifests_of(&referrers(&f.s, "org/app", &f.image.digest, None).await);
        assert_eq!(list.len(), 4, "{list:?}");
        assert_manifest_served(&f.s, "org/app", &f.sbom.digest, &f.sbom).await;
    }

    #[tokio::test]
    async fn referrers_are_per_repository() {
        let f = fixture().await;
        let s = &f.s;
        // Another repository with a referrer of the same subject digest.
        let cfg = empty_config(s, "other").await;
        let subject = f.image.descriptor();
        let foreign = artifact(Some(SIG), &cfg, &cfg, Some(&subject), None);
        let r = push_manifest(s, "other", "x", &foreign).await;
        assert_eq!(r.header("oci-subject"), Some(f.image.digest.as_str()), "{r}");

        let mine = manifests_of(&referrers(s, "org/app", &f.image.digest, None).await);
        assert_eq!(mine.len(), 4, "{mine:?}");
        assert!(!mine.iter().any(|d| d["digest"] == foreign.digest.as_str()), "{mine:?}");
        let theirs = manifests_of(&referrers(s, "other", &f.image.digest, None).await);
        assert_eq!(theirs.len(), 1, "{theirs:?}");
        assert_descriptor(&theirs[0], &foreign, Some(SIG), None);
    }
}

// =============================================================================================
// Durability across a crash
// =============================================================================================

mod durability {
    use super::*;

    #[tokio::test]
    async fn everything_survives_a_kill_and_restart() {
        let mut s = TestServer::start().await;
        let m = seed_image(&s, "org/app", "v1").await;
        let d = push_blob(&s, "org/app", b"durable blob").await;
        let cfg = empty_config(&s, "org/app").await;
        let referrer = Manifest::new(
            OCI_MANIFEST,
            &json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/x.sig",
                    "config": cfg, "layers": [cfg], "subject": m.descriptor()}),
        );
        push_manifest(&s, "org/app", &referrer.digest, &referrer).await;

        s.restart().await;
        s.client = fresh_client();

        assert_manifest_served(&s, "org/app", "v1", &m).await;
        assert_manifest_served(&s, "org/app", &m.digest, &m).await;
        assert_blob_served(&s, "org/app", &d, b"durable blob").await;
        assert_eq!(
            tags_of(&tags_list(&s, "org/app", "").await, "org/app"),
            strings(&["v1"])
        );
        let r = send(s.client.get(s.url("/v2/_catalog"))).await;
        r.expect_status(200);
        assert_eq!(r.json()["repositories"], json!(["org/app"]), "{r}");
        let r = send(s.client.get(s.url(&format!("/v2/org/app/referrers/{}", m.digest)))).await;
        r.expect_status(200);
        assert_eq!(r.json()["manifests"][0]["digest"], referrer.digest.as_str(), "{r}");
    }
}

mod housekeeping {
    use super::common::{digest, TestServer};

    /// Finished, failed and cancelled uploads leave nothing behind in the data folder.
    #[tokio::test]
    async fn ended_uploads_leave_no_folders() {
        let s = TestServer::start().await;
        let data = b"some layer bytes".to_vec();
        // Finished (streamed PATCH then PUT).
        let r = s
            .client
            .post(s.url("/v2/a/b/blobs/uploads/"))
            .send()
            .await
            .expect("post");
        let loc = r.headers()["location"].to_str().expect("loc").to_owned();
        let r = s
            .client
            .patch(s.url(&loc))
            .body(data.clone())
            .send()
            .await
            .expect("patch");
        let loc = r.headers()["location"].to_str().expect("loc").to_owned();
        let r = s
            .client
            .put(s.url(&format!("{loc}?digest={}", digest(&data))))
            .send()
            .await
            .expect("put");
        assert_eq!(r.status(), 201);
        // Failed (wrong digest) and cancelled.
        for finish in ["wrong", "cancel"] {
            let r = s
                .client
                .post(s.url("/v2/a/b/blobs/uploads/"))
                .send()
                .await
                .expect("post");
            let loc = r.headers()["location"].to_str().expect("loc").to_owned();
            let r = s
                .client
                .patch(s.url(&loc))
                .body(data.clone())
                .send()
                .await
                .expect("patch");
            let loc = r.headers()["location"].to_str().expect("loc").to_owned();
            let r = if finish == "wrong" {
                s.client
                    .put(s.url(&format!("{loc}?digest={}", digest(b"other"))))
                    .send()
                    .await
                    .expect("put")
            } else {
                s.client.delete(s.url(&loc)).send().await.expect("delete")
            };
            assert!(
                r.status().is_client_error() || r.status() == 204,
                "{finish}: {}",
                r.status()
            );
        }
        if !s.storage_is_local() {
            return;
        }
        let uploads = s.data.path().join("uploads");
        let left: Vec<_> = std::fs::read_dir(&uploads)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "left behind: {left:?}");
        // The blob itself is stored content-addressed under the data folder.
        let hex = digest(&data).trim_start_matches("sha256:").to_owned();
        let blob = s.data.path().join("blobs/sha256").join(&hex[..2]).join(&hex);
        assert_eq!(std::fs::read(blob).expect("blob file"), data);
    }
}
