//! STIX 2.1 parsing and validation for relto: pure, no I/O.
//!
//! * [`timestamp`]: STIX timestamps (`YYYY-MM-DDTHH:mm:ss[.s+]Z`).
//! * [`id`]: identifiers (`type--UUID`) and type/property-name rules.
//! * [`pattern`]: the STIX Patterning language.
//! * [`validate`]: validation of one STIX 2.1 object.
//! * [`envelope`]: splitting TAXII envelopes / STIX bundles into raw objects.
#![forbid(unsafe_code)]

pub mod envelope;
pub mod id;
pub mod pattern;
pub mod timestamp;
pub mod validate;

pub use envelope::{parse_envelope, parse_envelope_with_depth, EnvelopeError};
pub use timestamp::{Timestamp, TimestampError};
pub use validate::{
    is_required_for_release, is_required_property, is_sco, validate_object, GranularMarking,
    ObjectMeta, ValidationError,
};
