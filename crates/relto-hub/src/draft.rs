//! Drafting a report (issue 17), for `relto draft` and `POST /api/v1/drafts`: the names the
//! hub knows — its realm's organizations, the threat actors and intrusion sets of the
//! collection that the caller may read — and the label, handed to `relto_draft`.

use relto_draft::{Draft, DraftError, Known, Options, RealmOrganization};
use relto_policy::label::CARRIED_DEFINITION_CREATED;
use relto_store::{Account, ObjectQuery, StoreError, StoredObject};
use serde_json::Value;

use crate::release::ReleaseView;

/// What to draft.
pub struct DraftRequest<'a> {
    pub text: &'a [u8],
    /// Where known actors are looked up (the collection's pk), if anywhere.
    pub collection: Option<i64>,
    /// Who asks: known actors are those it may read. None: the operator (everything).
    pub reader: Option<&'a Account>,
    /// A marking-definition id the hub knows; None: the realm's default label.
    pub label: Option<&'a str>,
    /// The drafted objects' timestamps (STIX).
    pub now: String,
}

/// Why no draft was made.
#[derive(Debug)]
pub enum DraftFailure {
    Input(DraftError),
    UnknownLabel(String),
    Store(StoreError),
}

impl std::fmt::Display for DraftFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DraftFailure::Input(e) => e.fmt(f),
            DraftFailure::UnknownLabel(id) => write!(
                f,
                "label {id} is not a marking-definition this hub knows: give the id of a label the realm defines (relto labels are listed by the console and GET …/objects/?match[type]=marking-definition)"
            ),
            DraftFailure::Store(e) => e.fmt(f),
        }
    }
}

impl From<StoreError> for DraftFailure {
    fn from(e: StoreError) -> Self {
        DraftFailure::Store(e)
    }
}

/// Actors read per page.
const PAGE: usize = 500;

impl crate::Hub {
    pub async fn draft(
        &self,
        view: &ReleaseView,
        request: DraftRequest<'_>,
    ) -> Result<Draft, DraftFailure> {
        let mut definitions = Vec::new();
        let labels = match request.label {
            Some(id) if view.policy.marking(id).is_some() => vec![id.to_string()],
            Some(id) => return Err(DraftFailure::UnknownLabel(id.to_string())),
            None => match view.policy.default_label.label() {
                Some(l) => {
                    // The realm's default label may not be stored as a definition yet: the
                    // bundle then defines it (always the same bytes, so a second is a
                    // duplicate).
                    if view.policy.marking(&l.id()).is_none() {
                        definitions.push(l.to_marking_definition(CARRIED_DEFINITION_CREATED));
                    }
                    vec![l.id()]
                }
                None => Vec::new(),
            },
        };
        let hub = relto_policy::nation::OrgSlug::hub();
        let organizations: Vec<RealmOrganization> = self
            .account_organizations()
            .await?
            .into_iter()
            .filter(|o| o.slug != hub)
            .map(|o| RealmOrganization {
                aliases: vec![o.slug.as_str().to_ascii_uppercase()],
                name: o.name,
                identity: o.identity,
            })
            .collect();
        let known = match request.collection {
            Some(pk) => self.known_actors(view, pk, request.reader).await?,
            None => Vec::new(),
        };
        let options = Options {
            definitions,
            labels,
            now: request.now,
            known,
            organizations,
        };
        relto_draft::draft_bytes(request.text, &options).map_err(DraftFailure::Input)
    }

    /// The threat actors and intrusion sets of a collection (latest versions) the reader may
    /// read, by name and aliases.
    async fn known_actors(
        &self,
        view: &ReleaseView,
        collection: i64,
        reader: Option<&Account>,
    ) -> Result<Vec<Known>, StoreError> {
        let mut known = Vec::new();
        let mut after = None;
        loop {
            let mut q = ObjectQuery::new(collection, PAGE);
            q.types = vec!["threat-actor".into(), "intrusion-set".into()];
            q.after = after;
            let page = match reader {
                Some(account) => self.read_page(view, account, q).await?.page,
                None => self.store.query_objects(&q).await?,
            };
            after = page.items.last().map(StoredObject::cursor);
            known.extend(page.items.iter().filter_map(known_actor));
            if !page.more || after.is_none() {
                return Ok(known);
            }
        }
    }
}

fn known_actor(o: &StoredObject) -> Option<Known> {
    let v: Value = serde_json::from_str(&o.raw).ok()?;
    let name = v.get("name")?.as_str()?.to_string();
    let aliases = v
        .get("aliases")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    Some(Known {
        id: o.stix_id.clone(),
        object_type: o.object_type().to_string(),
        name,
        aliases,
    })
}
