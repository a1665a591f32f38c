//! TAXII 2.1 protocol pieces that need no I/O: media types, query filters, cursors and error
//! bodies. Everything a client sends is parsed here into typed values before the server acts.
#![forbid(unsafe_code)]

pub mod cursor;
pub mod error;
pub mod hops;
pub mod media;
pub mod query;
pub mod remote;
pub mod resources;
pub mod signature;
pub mod withdrawal;

pub use cursor::{Cursor, CursorKey};
pub use error::TaxiiError;
pub use query::{ObjectFilters, QueryError, VersionFilter};

/// The TAXII 2.1 media type, used for every TAXII resource in 2.1 (envelopes included).
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// The STIX 2.1 media type, as named in manifests and collection `media_types`.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";
