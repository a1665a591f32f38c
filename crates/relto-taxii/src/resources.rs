//! The TAXII 2.1 resources relto serves, as types (spec §4.1.1 discovery, §4.2.1 api-root,
//! §4.3.1 status, §5.2.1 collection, §5.3.1 manifest-record). Optional properties are left out
//! when absent, and lists that would be empty are left out (TAXII forbids empty lists where
//! it says so). Objects themselves are never re-serialised: envelopes are written from the
//! stored bytes.

use serde::Serialize;

use crate::{STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE};

/// §4.1.1.
#[derive(Debug, Clone, Serialize)]
pub struct Discovery {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub api_roots: Vec<String>,
}

impl Discovery {
    /// The discovery resource listing `api_roots`; the only one is the default.
    pub fn new(
        title: String,
        description: Option<String>,
        contact: Option<String>,
        api_roots: Vec<String>,
    ) -> Self {
        let default = (api_roots.len() == 1).then(|| api_roots[0].clone());
        Self {
            title,
            description,
            contact,
            default,
            api_roots,
        }
    }
}

/// §4.2.1.
#[derive(Debug, Clone, Serialize)]
pub struct ApiRootInfo {
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub versions: [&'static str; 1],
    pub max_content_length: u64,
}

impl ApiRootInfo {
    pub fn new(title: String, description: Option<String>, max_content_length: u64) -> Self {
        Self {
            title,
            description,
            versions: [TAXII_MEDIA_TYPE],
            max_content_length,
        }
    }
}

/// §5.2.1.
#[derive(Debug, Clone, Serialize)]
pub struct CollectionInfo {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    pub can_read: bool,
    pub can_write: bool,
    pub media_types: [&'static str; 1],
}

impl CollectionInfo {
    pub fn new(
        id: String,
        title: String,
        description: Option<String>,
        alias: Option<String>,
        can_read: bool,
        can_write: bool,
    ) -> Self {
        Self {
            id,
            title,
            description,
            alias,
            can_read,
            can_write,
            media_types: [STIX_MEDIA_TYPE],
        }
    }
}

/// §5.1.1: the collections resource (no `collections` member when there are none).
#[derive(Debug, Clone, Serialize)]
pub struct Collections {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub collections: Vec<CollectionInfo>,
}

/// §5.3.1.
#[derive(Debug, Clone, Serialize)]
pub struct ManifestRecord {
    pub id: String,
    pub date_added: String,
    pub version: String,
    pub media_type: &'static str,
}

impl ManifestRecord {
    pub fn new(id: String, date_added: String, version: String) -> Self {
        Self {
            id,
            date_added,
            version,
            media_type: STIX_MEDIA_TYPE,
        }
    }
}

/// §4.3.1 status-details: one object of a request.
#[derive(Debug, Clone, Serialize)]
pub struct StatusDetails {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// §4.3.1, for a request relto has completed (it never answers before storing).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub id: String,
    pub status: &'static str,
    pub request_timestamp: String,
    pub total_count: usize,
    pub success_count: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub successes: Vec<StatusDetails>,
    pub failure_count: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<StatusDetails>,
    pub pending_count: usize,
}

impl Status {
    /// A completed request's status.
    pub fn complete(
        id: String,
        request_timestamp: String,
        successes: Vec<StatusDetails>,
        failures: Vec<StatusDetails>,
    ) -> Self {
        Self {
            id,
            status: "complete",
            request_timestamp,
            total_count: successes.len() + failures.len(),
            success_count: successes.len(),
            successes,
            failure_count: failures.len(),
            failures,
            pending_count: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_and_empty_members_are_left_out() {
        let d = Discovery::new("relto".into(), None, None, vec![]);
        assert_eq!(serde_json::to_value(&d).unwrap(), json!({"title": "relto"}));
        let d = Discovery::new("relto".into(), None, Some("c".into()), vec!["/a/".into()]);
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            json!({"title": "relto", "contact": "c", "default": "/a/", "api_roots": ["/a/"]})
        );
        let s = Status::complete(
            "s".into(),
            "t".into(),
            vec![StatusDetails {
                id: "x".into(),
                version: Some("v".into()),
                message: None,
            }],
            vec![],
        );
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"id": "s", "status": "complete", "request_timestamp": "t", "total_count": 1,
                "success_count": 1, "successes": [{"id": "x", "version": "v"}],
                "failure_count": 0, "pending_count": 0})
        );
        assert_eq!(
            serde_json::to_value(Collections {
                collections: vec![]
            })
            .unwrap(),
            json!({})
        );
    }
}
