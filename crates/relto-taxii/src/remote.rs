//! What a peer's TAXII server answers, parsed: the status of a POST and the paging members of
//! an objects page. A peer is untrusted: every member is checked here, before the federation
//! acts on it, and nothing a peer sends reaches a log or a URL unchecked.

use serde::Deserialize;

/// The status resource a peer answers a POST with (§4.3.1), as far as a push needs it.
#[derive(Debug, Clone, Deserialize)]
pub struct PeerStatus {
    pub id: String,
    pub status: String,
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub success_count: u64,
    #[serde(default)]
    pub failure_count: u64,
    #[serde(default)]
    pub pending_count: u64,
    #[serde(default)]
    pub failures: Vec<PeerStatusDetail>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PeerStatusDetail {
    pub id: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

/// A peer's answer that relto cannot act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAnswerError(pub String);

impl std::fmt::Display for PeerAnswerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PeerStatus {
    /// Parses a status body; its id must be fit to be a URL path segment.
    pub fn parse(body: &[u8]) -> Result<Self, PeerAnswerError> {
        let s: PeerStatus = serde_json::from_slice(body)
            .map_err(|e| PeerAnswerError(format!("the status is not a TAXII status: {e}")))?;
        if s.id.is_empty()
            || s.id.len() > 128
            || !s
                .id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        {
            return Err(PeerAnswerError(format!(
                "the status id {} is not a plain identifier",
                shown(&s.id)
            )));
        }
        Ok(s)
    }

    pub fn is_complete(&self) -> bool {
        self.status == "complete"
    }
}

/// The paging members of an objects page (§5.4): whether more follows, and the token for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct PageMembers {
    #[serde(default)]
    pub more: bool,
    #[serde(default)]
    pub next: Option<String>,
}

impl PageMembers {
    /// Parses a page's body (the objects are read apart, by the envelope parser). A `next`
    /// token must be printable ASCII of reasonable length: it goes back into a query string.
    pub fn parse(body: &[u8]) -> Result<Self, PeerAnswerError> {
        let trimmed = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let p: PageMembers = serde_json::from_slice(trimmed)
            .map_err(|e| PeerAnswerError(format!("the page is not a TAXII envelope: {e}")))?;
        if let Some(n) = &p.next {
            if n.is_empty() || n.len() > 1024 || !n.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(PeerAnswerError(format!(
                    "the page's next token {} is not printable ASCII",
                    shown(n)
                )));
            }
        }
        Ok(p)
    }
}

/// Up to 120 characters of a peer's text, control characters replaced: for logs and errors.
pub fn shown(text: &str) -> String {
    let mut s: String = text
        .chars()
        .take(120)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 120 {
        s.push('…');
    }
    format!("'{s}'")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_pages_from_peers_are_checked() {
        let s = PeerStatus::parse(
            br#"{"id":"2d086da7-4bdc-4f91-900e-d77486753710","status":"complete","total_count":2,
                "success_count":1,"failure_count":1,"pending_count":0,
                "failures":[{"id":"indicator--1","message":"no"}]}"#,
        )
        .unwrap();
        assert!(s.is_complete());
        assert_eq!((s.success_count, s.failures.len()), (1, 1));
        assert!(
            PeerStatus::parse(br#"{"id":"../../x","status":"complete"}"#)
                .unwrap_err()
                .0
                .contains("not a plain identifier")
        );
        assert!(PeerStatus::parse(b"<html>").is_err());

        assert_eq!(
            PageMembers::parse(br#"{"more":true,"next":"abc","objects":[]}"#).unwrap(),
            PageMembers {
                more: true,
                next: Some("abc".into())
            }
        );
        assert_eq!(PageMembers::parse(b"{}").unwrap(), PageMembers::default());
        assert!(PageMembers::parse(br#"{"more":true,"next":"a\nb"}"#).is_err());
        assert!(PageMembers::parse(br#"{"more":"yes"}"#).is_err());
        assert_eq!(shown("a\u{1b}[31m"), "'a?[31m'");
    }
}
