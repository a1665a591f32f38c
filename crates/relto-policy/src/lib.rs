//! relto's realm model and the release decision. Pure: the realm file and labels arrive here
//! as text or JSON and leave as checked values and decisions; nothing here reads files, the
//! environment or the clock.
#![forbid(unsafe_code)]

pub mod acs;
pub mod decide;
mod error;
pub mod label;
pub mod nation;
pub mod plan;
pub mod realm;
pub mod redact;
pub mod refs;
pub mod role;

pub use error::PolicyError;

pub use decide::{
    AcsReading, Clearance, Community, Decision, ObjectFacts, Policy, Reader, ReleasePolicy,
    ReleaseRules,
};
pub use label::{Label, Marking};
pub use realm::{parse_realm, Realm, RealmError};
pub use role::Role;
