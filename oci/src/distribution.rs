//! JSON bodies of the OCI Distribution API that are not manifests: the tag list, the catalog and
//! the referrers index. The server writes them and the client reads them with these types.

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

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

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
