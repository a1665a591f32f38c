//! MISP events in (issue 17), for `relto import --format misp`: the realm's default label and
//! organizations handed to `relto_misp`, the events turned into one envelope that then takes
//! the one ingest path like any other.

use relto_misp::{Context, KnownOrganization};
use relto_store::StoreResult;

use crate::release::ReleaseView;

/// Events converted: the envelope of their objects, and per event what the operator should
/// know (the label chosen and why, attributes not converted).
pub struct MispImport {
    pub envelope: String,
    pub notes: Vec<String>,
}

impl crate::Hub {
    /// Converts a MISP export. Err: why it is no MISP export (the message says what to fix).
    pub async fn convert_misp(
        &self,
        view: &ReleaseView,
        bytes: &[u8],
        hub_nation: &str,
    ) -> StoreResult<Result<MispImport, String>> {
        let organizations = self
            .account_organizations()
            .await?
            .into_iter()
            .map(|o| KnownOrganization {
                slug: o.slug.as_str().to_string(),
                name: o.name,
                nation: o.nation.as_str().to_string(),
            })
            .collect();
        let ctx = Context {
            default_label: view.policy.default_label.label().cloned(),
            hub_nation: hub_nation.to_string(),
            organizations,
        };
        let events = match relto_misp::events(bytes) {
            Ok(e) => e,
            Err(e) => return Ok(Err(e.0)),
        };
        let mut objects = Vec::new();
        let mut notes = Vec::new();
        for event in &events {
            let name = event.get("info").and_then(|i| i.as_str()).unwrap_or("?");
            match relto_misp::convert(event, &ctx) {
                Ok(c) => {
                    let label = c
                        .label
                        .as_ref()
                        .map_or_else(|| "no label".into(), |l| l.display_name());
                    notes.push(format!("event '{name}': {label} ({})", c.label_reason));
                    notes.extend(
                        c.skipped
                            .iter()
                            .map(|s| format!("event '{name}': not converted: {s}")),
                    );
                    // A label the hub already holds is not defined again.
                    objects.extend(c.objects.into_iter().filter(|o| {
                        o["type"] != "marking-definition"
                            || o["id"]
                                .as_str()
                                .is_none_or(|id| view.policy.marking(id).is_none())
                    }));
                }
                Err(e) => return Ok(Err(format!("event '{name}': {e}"))),
            }
        }
        let envelope = serde_json::json!({ "objects": objects }).to_string();
        Ok(Ok(MispImport { envelope, notes }))
    }
}
