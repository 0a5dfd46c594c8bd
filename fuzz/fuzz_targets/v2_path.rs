//! The `/v2` path splitter of the registry's router (`rreg_oci::distribution::endpoint`), fed any
//! path a client can send. Properties: it never panics; an endpoint it finds lives at the path it
//! was found in (up to an optional trailing slash) and is found again there; names and references
//! it hands out are parts of the path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rreg_oci::distribution::{endpoint, Endpoint};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for path in [s.to_owned(), format!("/v2/{s}"), format!("/v2/{s}/tags/list"), format!("/v2/{s}/manifests/x")] {
        let Some(e) = endpoint(&path) else {
            continue;
        };
        let back = e.path();
        assert!(
            back == path || format!("{back}/") == path || back == format!("{path}/"),
            "{path:?} -> {e:?} -> {back:?}"
        );
        assert_eq!(endpoint(&back), Some(e), "{back:?}");
        let parts: &[&str] = match &e {
            Endpoint::Base | Endpoint::Catalog => &[],
            Endpoint::Tags(n) | Endpoint::Uploads(n, None) => &[n],
            Endpoint::Uploads(n, Some(x)) | Endpoint::Blob(n, x) | Endpoint::Manifest(n, x) | Endpoint::Referrers(n, x) => {
                &[n, x]
            }
        };
        for p in parts {
            assert!(path.contains(p), "{p:?} is not in {path:?}");
        }
        if let Some(name) = parts.first() {
            assert!(!name.is_empty(), "{path:?}: an endpoint with an empty name");
        }
    }
});
