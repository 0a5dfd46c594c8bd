//! `Manifest::parse`, as the server (`PUT /v2/<name>/manifests/<ref>`) and the client (pull, load,
//! the local store) call it: the first byte picks the Content-Type it was sent with (none, every
//! supported manifest/index type, schema 1, generic JSON, a parameterised type), the rest is the
//! body. Properties: an accepted manifest has a supported media type that agrees with its kind and
//! with a manifest Content-Type, no negative sizes, and parses to the same value again when sent
//! with its own media type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rreg_oci::media_types as mt;
use rreg_oci::{Manifest, ManifestKind};

const CONTENT_TYPES: [Option<&str>; 11] = [
    None,
    Some(""),
    Some(mt::OCI_MANIFEST),
    Some(mt::OCI_INDEX),
    Some(mt::DOCKER_MANIFEST),
    Some(mt::DOCKER_MANIFEST_LIST),
    Some(mt::DOCKER_MANIFEST_V1),
    Some(mt::DOCKER_MANIFEST_V1_SIGNED),
    Some("application/json"),
    Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
    Some(mt::OCI_CONFIG),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let ct = CONTENT_TYPES[usize::from(pick) % CONTENT_TYPES.len()];
    let Ok(m) = Manifest::parse(body, ct) else {
        return;
    };
    assert!(mt::is_manifest(&m.media_type), "accepted media type {:?}", m.media_type);
    let index = mt::is_index(&m.media_type);
    assert_eq!(m.kind == ManifestKind::Index, index);
    if let Some(header) = ct.map(|c| c.split(';').next().unwrap_or(c).trim()) {
        if mt::is_manifest(header) {
            assert_eq!(m.media_type, header, "a manifest Content-Type is never contradicted");
        }
        assert!(header != mt::DOCKER_MANIFEST_V1 && header != mt::DOCKER_MANIFEST_V1_SIGNED);
    }
    if index {
        assert!(m.config.is_none() && m.layers.is_empty());
    } else {
        assert!(m.config.is_some() && m.manifests.is_empty());
    }
    assert!(m.descriptors().all(|d| d.size >= 0));
    assert_eq!(m.blobs().count(), usize::from(m.config.is_some()) + m.layers.len());
    let _ = m.effective_artifact_type();
    let again = Manifest::parse(body, Some(&m.media_type)).expect("parses with its own media type");
    assert_eq!(again, m);
});
