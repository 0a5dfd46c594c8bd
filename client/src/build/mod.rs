//! `rreg build`: Dockerfile parsing ([`parser`], [`instruction`], [`shell`]), `.dockerignore`
//! ([`dockerignore`], [`glob`]), the build context ([`context`]), layer writing and extraction
//! ([`layer`]), the step cache ([`cache`]), image assembly ([`image`]) and the executor
//! ([`executor`]) that runs stages step by step, RUN and COPY going through [`crate::runtime`].

pub mod cache;
pub mod copy;
pub mod dockerignore;
pub mod executor;
pub mod glob;
pub mod image;
pub mod instruction;
pub mod layer;
pub mod parser;
pub mod shell;
pub mod unpack;
