//! The OCI Distribution API's paths and the JSON bodies that are not manifests: `endpoint` splits a
//! `/v2` path into what it asks for; the tag list, the catalog and the referrers index are the
//! types the server writes and the client reads.

use serde::{Deserialize, Serialize};

use crate::media_types;
use crate::Descriptor;

/// `GET /v2/<name>/tags/list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagList {
    #[serde(default)]
    pub name: String,
    /// Some registries answer `null` for a repository without tags.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tags: Vec<String>,
}

/// `GET /v2/_catalog`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    #[serde(default, deserialize_with = "null_as_empty")]
    pub repositories: Vec<String>,
}

/// `GET /v2/<name>/referrers/<digest>`: an image index of the manifests whose subject is the digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReferrersIndex {
    pub schema_version: u32,
    pub media_type: String,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

impl ReferrersIndex {
    /// The index listing `manifests`.
    pub fn new(manifests: Vec<Descriptor>) -> ReferrersIndex {
        ReferrersIndex {
            schema_version: 2,
            media_type: media_types::OCI_INDEX.to_owned(),
            manifests,
        }
    }
}

/// What a `/v2` path asks for. Names are not validated here (`RepoName::parse` does that); they
/// are the part of the path before the endpoint's fixed segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint<'a> {
    /// `/v2/`: the API version check.
    Base,
    /// `/v2/_catalog`.
    Catalog,
    /// `/v2/<name>/tags/list`.
    Tags(&'a str),
    /// `/v2/<name>/blobs/uploads/` (start) or `/v2/<name>/blobs/uploads/<id>` (a session).
    Uploads(&'a str, Option<&'a str>),
    /// `/v2/<name>/blobs/<digest>`.
    Blob(&'a str, &'a str),
    /// `/v2/<name>/manifests/<reference>`.
    Manifest(&'a str, &'a str),
    /// `/v2/<name>/referrers/<digest>`.
    Referrers(&'a str, &'a str),
}

/// Splits a `/v2` path by its last segments: repository names hold slashes, so no router can place
/// them before a fixed suffix. `None` for a path that is no endpoint (or has no name). Never
/// panics, whatever the input: no slicing by computed lengths.
pub fn endpoint(path: &str) -> Option<Endpoint<'_>> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Endpoint::Base);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Endpoint::Catalog);
    }
    // Up to three trailing segments, last first, then the rest.
    let segs: Vec<&str> = rest.rsplitn(4, '/').collect();
    match segs.as_slice() {
        ["list", "tags", ..] => Some(Endpoint::Tags(non_empty(rest.strip_suffix("/tags/list")?)?)),
        ["uploads", "blobs", ..] | ["", "uploads", "blobs", ..] => {
            let name = rest.strip_suffix('/').unwrap_or(rest).strip_suffix("/blobs/uploads")?;
            Some(Endpoint::Uploads(non_empty(name)?, None))
        }
        [id, "uploads", "blobs", name] => Some(Endpoint::Uploads(non_empty(name)?, Some(id))),
        [digest, "blobs", ..] => Some(Endpoint::Blob(name_before(rest, "blobs", digest)?, digest)),
        [reference, "manifests", ..] => Some(Endpoint::Manifest(
            name_before(rest, "manifests", reference)?,
            reference,
        )),
        [digest, "referrers", ..] => Some(Endpoint::Referrers(name_before(rest, "referrers", digest)?, digest)),
        _ => None,
    }
}

/// `rest` is `NAME/kind/last`: the name, if there is one.
fn name_before<'a>(rest: &'a str, kind: &str, last: &str) -> Option<&'a str> {
    non_empty(
        rest.strip_suffix(last)?
            .strip_suffix('/')?
            .strip_suffix(kind)?
            .strip_suffix('/')?,
    )
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

impl Endpoint<'_> {
    /// The path this endpoint is at (the inverse of [`endpoint`], up to the optional trailing
    /// slash of `/v2/` and of an upload start).
    pub fn path(&self) -> String {
        match self {
            Endpoint::Base => "/v2/".to_owned(),
            Endpoint::Catalog => "/v2/_catalog".to_owned(),
            Endpoint::Tags(n) => format!("/v2/{n}/tags/list"),
            Endpoint::Uploads(n, None) => format!("/v2/{n}/blobs/uploads/"),
            Endpoint::Uploads(n, Some(id)) => format!("/v2/{n}/blobs/uploads/{id}"),
            Endpoint::Blob(n, d) => format!("/v2/{n}/blobs/{d}"),
            Endpoint::Manifest(n, r) => format!("/v2/{n}/manifests/{r}"),
            Endpoint::Referrers(n, d) => format!("/v2/{n}/referrers/{d}"),
        }
    }
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name_of(path: &str) -> String {
        match endpoint(path) {
            Some(Endpoint::Base) => "base".into(),
            Some(Endpoint::Catalog) => "catalog".into(),
            Some(Endpoint::Tags(n)) => format!("tags {n}"),
            Some(Endpoint::Uploads(n, id)) => format!("uploads {n} {id:?}"),
            Some(Endpoint::Blob(n, d)) => format!("blob {n} {d}"),
            Some(Endpoint::Manifest(n, r)) => format!("manifest {n} {r}"),
            Some(Endpoint::Referrers(n, d)) => format!("referrers {n} {d}"),
            None => "none".into(),
        }
    }

    #[test]
    fn splits_paths_by_their_tail() {
        assert_eq!(name_of("/v2/"), "base");
        assert_eq!(name_of("/v2"), "base");
        assert_eq!(name_of("/v2/_catalog"), "catalog");
        assert_eq!(name_of("/v2/a/tags/list"), "tags a");
        assert_eq!(name_of("/v2/org/team/app/tags/list"), "tags org/team/app");
        assert_eq!(name_of("/v2/a/b/blobs/uploads/"), "uploads a/b None");
        assert_eq!(name_of("/v2/a/blobs/uploads"), "uploads a None");
        assert_eq!(name_of("/v2/a/b/blobs/uploads/xyz"), "uploads a/b Some(\"xyz\")");
        assert_eq!(name_of("/v2/a/b/c/blobs/sha256:00"), "blob a/b/c sha256:00");
        assert_eq!(name_of("/v2/a/blobs/x/manifests/latest"), "manifest a/blobs/x latest");
        assert_eq!(name_of("/v2/a/referrers/sha256:00"), "referrers a sha256:00");
        assert_eq!(name_of("/v2/a"), "none");
        assert_eq!(name_of("/v3/a/tags/list"), "none");
        for nameless in [
            "/v2/blobs/x",
            "/v2/manifests/x",
            "/v2/referrers/x",
            "/v2/tags/list",
            "/v2//tags/list",
        ] {
            assert_eq!(name_of(nameless), "none", "{nameless}");
        }
    }

    #[test]
    fn no_path_shape_panics_and_every_endpoint_is_at_its_path() {
        // Every path of 0-5 segments over the words the splitter looks at (and empty segments).
        let words = [
            "",
            "a",
            "blobs",
            "manifests",
            "uploads",
            "tags",
            "list",
            "referrers",
            "_catalog",
            "v2",
        ];
        let mut paths = vec![String::new()];
        for _ in 0..5 {
            let mut next = Vec::new();
            for p in &paths {
                for w in words {
                    next.push(format!("{p}/{w}"));
                }
            }
            for p in &next {
                for path in [format!("/v2{p}"), format!("/v2{p}/")] {
                    if let Some(e) = endpoint(&path) {
                        let back = e.path();
                        assert!(
                            back == path || format!("{back}/") == path || back == format!("{path}/"),
                            "{path:?} -> {e:?} -> {back:?}"
                        );
                        assert_eq!(endpoint(&back), Some(e), "{back:?}");
                    }
                }
            }
            paths = next;
        }
    }

    #[test]
    fn tag_lists_round_trip_and_null_tags_are_empty() {
        let t = TagList {
            name: "a/b".into(),
            tags: vec!["1".into()],
        };
        let s = serde_json::to_string(&t).expect("json");
        assert_eq!(s, r#"{"name":"a/b","tags":["1"]}"#);
        assert_eq!(serde_json::from_str::<TagList>(&s).expect("parse"), t);
        let n: TagList = serde_json::from_str(r#"{"name":"a","tags":null}"#).expect("null");
        assert!(n.tags.is_empty());
        let r = serde_json::to_value(ReferrersIndex::new(Vec::new())).expect("json");
        assert_eq!(r["schemaVersion"], 2);
        assert_eq!(r["mediaType"], media_types::OCI_INDEX);
    }
}
