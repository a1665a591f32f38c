//! `POST /api/v1/withdrawals` between relto hubs (DESIGN §11): versions a hub pushed that its
//! peer must stop holding and serving onward (a stage withdrawn or expired, an object deleted,
//! a copy replaced), many objects in one request. Pure: the body is built and parsed here.

use relto_stix::id::StixId;
use relto_stix::timestamp::{format_micros, parse_micros};
use serde::{Deserialize, Serialize};

/// Most objects one request names (a push withdraws in batches of this many).
pub const MAX_OBJECTS: usize = 500;
/// Most versions named of one object.
pub const MAX_VERSIONS: usize = 1000;
/// The one `versions` entry that names every version.
pub const ALL: &str = "all";

/// The versions of one object withdrawn, as the wire names them: timestamps, or `["all"]`
/// for an object without a version of its own (a cyber-observable: each hub dates it as it
/// adds it, so only the id names the copy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawnObject {
    pub id: String,
    pub versions: Vec<String>,
}

/// The body: the peer's collection (by id) and what is withdrawn from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdrawals {
    pub collection: String,
    pub objects: Vec<WithdrawnObject>,
}

/// One object's withdrawn versions, parsed; None: every version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    pub id: StixId,
    pub versions: Option<Vec<i64>>,
}

impl Withdrawals {
    /// The body for `collection` withdrawing `(id, versions µs)`, None: every version.
    pub fn new(collection: &str, objects: &[(String, Option<Vec<i64>>)]) -> Self {
        Self {
            collection: collection.to_string(),
            objects: objects
                .iter()
                .map(|(id, versions)| WithdrawnObject {
                    id: id.clone(),
                    versions: match versions {
                        Some(vs) => vs.iter().map(|v| format_micros(*v)).collect(),
                        None => vec![ALL.to_string()],
                    },
                })
                .collect(),
        }
    }

    /// Parses a body: the collection id and each object's id and versions, within the limits;
    /// the error says what is wrong.
    pub fn parse(body: &[u8]) -> Result<(String, Vec<Withdrawal>), String> {
        let w: Withdrawals = serde_json::from_slice(body).map_err(|e| {
            format!(
                "the body must be {{\"collection\": ID, \"objects\": [{{\"id\": STIX-ID, \"versions\": [TIMESTAMP, …]}}]}}: {e}"
            )
        })?;
        if w.objects.is_empty() || w.objects.len() > MAX_OBJECTS {
            return Err(format!(
                "name 1 to {MAX_OBJECTS} objects per request ({} named)",
                w.objects.len()
            ));
        }
        let objects = w
            .objects
            .into_iter()
            .map(|o| {
                let id = StixId::parse(&o.id).map_err(|e| format!("objects: {e}"))?;
                if o.versions.is_empty() || o.versions.len() > MAX_VERSIONS {
                    return Err(format!(
                        "{id}: name 1 to {MAX_VERSIONS} versions ({} named)",
                        o.versions.len()
                    ));
                }
                if o.versions == [ALL] {
                    return Ok(Withdrawal { id, versions: None });
                }
                let versions = o
                    .versions
                    .iter()
                    .map(|v| parse_micros(v).map_err(|e| format!("{id}: {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Withdrawal {
                    id,
                    versions: Some(versions),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok((w.collection, objects))
    }
}

/// What the receiving hub answers: versions it no longer holds, by this request or before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawalResult {
    /// Versions removed now.
    pub withdrawn: u64,
    /// Objects the hub did not hold (or the caller could not see): nothing to do.
    pub absent: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    const SCO: &str = "ipv4-addr--ad2e05b4-2f06-44fc-8860-a750f2f8327c";

    #[test]
    fn a_body_round_trips() {
        let body = serde_json::to_vec(&Withdrawals::new(
            "d95d9fbf-6ffc-4dfc-bd9a-3bc1bb34c0d4",
            &[
                (
                    ID.to_string(),
                    Some(vec![1_700_000_000_000_001, 1_700_000_000_500_000]),
                ),
                (SCO.to_string(), None),
            ],
        ))
        .unwrap();
        let (collection, objects) = Withdrawals::parse(&body).unwrap();
        assert_eq!(collection, "d95d9fbf-6ffc-4dfc-bd9a-3bc1bb34c0d4");
        assert_eq!(objects[0].id.as_str(), ID);
        assert_eq!(
            objects[0].versions,
            Some(vec![1_700_000_000_000_001, 1_700_000_000_500_000])
        );
        assert_eq!((objects[1].id.as_str(), &objects[1].versions), (SCO, &None));
    }

    #[test]
    fn bad_bodies_say_what_is_wrong() {
        let case = |body: serde_json::Value| {
            Withdrawals::parse(&serde_json::to_vec(&body).unwrap()).unwrap_err()
        };
        assert!(case(serde_json::json!({"collection": "c"})).contains("the body must be"));
        assert!(case(serde_json::json!({"collection": "c", "objects": []})).contains("1 to 500"));
        assert!(case(serde_json::json!({"collection": "c", "objects": [
            {"id": "not-an-id", "versions": ["2026-01-01T00:00:00Z"]}]}))
        .contains("objects:"));
        assert!(case(serde_json::json!({"collection": "c", "objects": [
            {"id": ID, "versions": []}]}))
        .contains("1 to 1000 versions"));
        assert!(case(serde_json::json!({"collection": "c", "objects": [
            {"id": ID, "versions": ["yesterday"]}]}))
        .contains(ID));
        assert!(case(serde_json::json!({"collection": "c", "objects": [
            {"id": ID, "versions": ["2026-01-01T00:00:00Z"], "extra": 1}]}))
        .contains("the body must be"));
        let many: Vec<_> = (0..=MAX_OBJECTS)
            .map(|_| serde_json::json!({"id": ID, "versions": ["2026-01-01T00:00:00Z"]}))
            .collect();
        assert!(case(serde_json::json!({"collection": "c", "objects": many})).contains("501"));
        assert!(Withdrawals::parse(b"\x00\xff").is_err());
    }
}
