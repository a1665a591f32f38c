//! relto's realm model and (from the releasability work on) the release decision. Pure: the
//! realm file arrives here as text and leaves as checked values; nothing here reads files,
//! the environment or the clock.
#![forbid(unsafe_code)]

pub mod nation;
pub mod realm;

pub use realm::{parse_realm, Realm, RealmError};
