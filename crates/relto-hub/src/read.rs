//! Reading a collection as one reader: the one path of every read endpoint (objects, one
//! object, versions, manifest) and of every export, so that what is served, and whether more
//! is, never differs between them.

use relto_store::{Account, ObjectQuery, Page, StoreResult, StoredObject};

use crate::release::{reader_of, redact_page, Recipient, Redactions, ReleaseView};

/// A page as a reader receives it: the objects served (`page.more`: whether more would be
/// served after the last), and what the redaction removed or withheld (for the audit).
pub struct Served {
    pub page: Page,
    pub redactions: Redactions,
}

impl crate::Hub {
    /// The page `q` (its `limit` objects at most) as `account` receives it: the store's
    /// predicate, then the redaction of the page, refilled when the redaction withholds an
    /// object, so that `more` counts only what is served and a withheld object is
    /// indistinguishable from one that does not exist.
    pub async fn read_page(
        &self,
        view: &ReleaseView,
        account: &Account,
        mut q: ObjectQuery,
    ) -> StoreResult<Served> {
        let filter = self.release.filter(view, account);
        let reader = reader_of(account);
        let to = Recipient {
            account: &account.name,
            reader: &reader,
            filter: &filter,
        };
        let limit = q.limit;
        q.reader = Some((*filter).clone());
        q.with_raw = true;
        // One object beyond the page tells whether there is more to serve.
        let want = limit + 1;
        let mut served: Vec<StoredObject> = Vec::new();
        let mut redactions = Redactions::default();
        loop {
            q.limit = want - served.len();
            let mut page = self.store.query_objects(&q).await?;
            let examined = page.items.last().map(StoredObject::cursor);
            let more = page.more;
            let r = redact_page(
                self.store.as_ref(),
                view,
                &self.release.copies,
                q.collection,
                &to,
                &mut page,
            )
            .await?;
            served.extend(page.items);
            redactions.redacted.extend(r.redacted);
            redactions.admissions.extend(r.admissions);
            redactions.dropped.extend(r.dropped);
            match examined {
                Some(c) if more && served.len() < want => q.after = Some(c),
                _ => break,
            }
        }
        let more = served.len() > limit;
        served.truncate(limit);
        // Objects withheld beyond the last one served were not part of this page.
        if let (true, Some(last)) = (more, served.last().map(StoredObject::cursor)) {
            redactions
                .dropped
                .retain(|(o, _)| (o.date_added, o.row) <= (last.date_added, last.row));
        }
        Ok(Served {
            page: Page {
                items: served,
                more,
                ..Page::default()
            },
            redactions,
        })
    }
}
