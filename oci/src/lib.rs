//! rreg-oci: the types rreg-server and the rreg client share — digests, repository names, references,
//! media types, manifests and the OCI error envelope. Parsing only; no I/O.

pub mod digest;
pub mod error;
pub mod manifest;
pub mod media_types;
pub mod name;
pub mod reference;

pub use digest::{Algorithm, Digest, DigestError, Hasher};
pub use error::{ErrorCode, ErrorEnvelope, ErrorInfo};
pub use manifest::{Descriptor, Manifest, ManifestError, ManifestKind};
pub use name::{NameError, RepoName, Tag};
pub use reference::{Reference, ReferenceError};
