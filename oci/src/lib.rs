//! rreg-oci: the types rreg-server and the rreg client share — digests, repository names, references,
//! media types, manifests and the OCI error envelope. Parsing only; no I/O.

#![cfg_attr(not(test), deny(clippy::indexing_slicing, clippy::string_slice))]

pub mod api;
pub mod compare;
pub mod digest;
pub mod distribution;
pub mod error;
pub mod image_config;
pub mod image_ref;
pub mod layers;
pub mod manifest;
pub mod media_types;
pub mod name;
pub mod reference;

pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use error::{ErrorCode, ErrorEnvelope, ErrorInfo};
pub use image_config::{History, ImageConfig, Platform, RootFs};
pub use image_ref::{ImageRef, ImageRefError};
pub use manifest::{Descriptor, Manifest, ManifestError, ManifestKind};
pub use name::{NameError, RepoName, Tag};
pub use reference::{Reference, ReferenceError};
