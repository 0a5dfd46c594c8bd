//! Image references (`ImageRef`, with Docker's normalisation), manifest references (tag or
//! digest), repository names, tags and digests. Properties: a parsed reference, displayed, parses
//! back to the same value (full form and Docker's familiar form); the registry is kept in canonical
//! form; names, tags and digests display as they were written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rreg_oci::image_ref::{self, DOCKER_HUB};
use rreg_oci::{Digest, ImageRef, Reference, RepoName, Tag};

/// A non-Docker-Hub default registry, as `parse_with_default` gets from the client's settings.
const OTHER_DEFAULT: &str = "reg.example.com:5000";

fn check_image_ref(r: &ImageRef, reparse: impl Fn(&str) -> Result<ImageRef, rreg_oci::ImageRefError>) {
    let shown = r.to_string();
    let again = reparse(&shown).unwrap_or_else(|e| panic!("{shown:?} (displayed {r:?}) does not parse: {e}"));
    assert_eq!(&again, r, "display round trip of {shown:?}");
    assert_eq!(r.name(), format!("{}/{}", r.registry, r.repository));
    assert_eq!(
        image_ref::normalise_host(&r.registry),
        r.registry,
        "the registry is stored canonical"
    );
    let _ = (r.reference(), r.api_host(), r.familiar_name());
    if let Some(t) = &r.tag {
        assert_eq!(r.with_tag(t.clone()).tag.as_ref(), Some(t));
    }
    if let Some(d) = &r.digest {
        assert_eq!(r.with_digest(d.clone()).reference(), Reference::Digest(d.clone()));
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(r) = ImageRef::parse(s) {
        assert!(r.tag.is_some() || r.digest.is_some(), "{s:?}: a tag is defaulted");
        check_image_ref(&r, ImageRef::parse);
        // What Docker shows (`ubuntu:latest`) must name the same image again.
        let familiar = r.familiar();
        let back = ImageRef::parse(&familiar).unwrap_or_else(|e| panic!("familiar {familiar:?} does not parse: {e}"));
        assert_eq!(back, r, "familiar round trip of {s:?} via {familiar:?}");
    }
    if let Ok(r) = ImageRef::parse_with_default(s, OTHER_DEFAULT) {
        check_image_ref(&r, |x| ImageRef::parse_with_default(x, OTHER_DEFAULT));
    }
    if let Ok(r) = ImageRef::parse_repository(s, DOCKER_HUB) {
        check_image_ref(&r, |x| ImageRef::parse_repository(x, DOCKER_HUB));
    }

    let _ = (image_ref::api_host(s), image_ref::normalise_host(s));

    if let Ok(r) = Reference::parse(s) {
        assert_eq!(r.to_string(), s);
        assert_eq!(Reference::parse(&r.to_string()).ok(), Some(r));
    }
    if let Ok(n) = RepoName::parse(s) {
        assert_eq!(n.as_str(), s);
        assert!(s.starts_with(n.namespace()));
    }
    if let Ok(t) = Tag::parse(s) {
        assert_eq!(t.as_str(), s);
    }
    if let Ok(d) = Digest::parse(s) {
        assert_eq!(d.to_string(), s);
        assert_eq!(d.hex().len(), d.algorithm().hex_len());
    }
});
