//! The TAXII 2.1 error message (spec §3.6.1): `title` required, `http_status` a string.

use serde::Serialize;

/// A TAXII error: its HTTP status and the body the client receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaxiiError {
    #[serde(skip)]
    pub status: u16,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    pub http_status: String,
}

impl TaxiiError {
    pub fn new(status: u16, title: &str, description: impl Into<String>) -> Self {
        let description: String = description.into();
        Self {
            status,
            title: title.to_string(),
            description: (!description.is_empty()).then_some(description),
            error_code: None,
            http_status: status.to_string(),
        }
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(400, "Bad request", description)
    }
    pub fn unauthorized(description: impl Into<String>) -> Self {
        Self::new(401, "Unauthorized", description)
    }
    pub fn forbidden(description: impl Into<String>) -> Self {
        Self::new(403, "Forbidden", description)
    }
    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(404, "Not found", description)
    }
    pub fn not_acceptable() -> Self {
        Self::new(
            406,
            "Not acceptable",
            "this server serves application/taxii+json;version=2.1 only",
        )
    }
    pub fn payload_too_large(limit: u64) -> Self {
        Self::new(
            413,
            "Request entity too large",
            format!("the body exceeds this API root's max_content_length of {limit} bytes"),
        )
    }
    pub fn unsupported_media_type() -> Self {
        Self::new(
            415,
            "Unsupported media type",
            "send Content-Type: application/taxii+json;version=2.1",
        )
    }
    pub fn too_many_requests(description: impl Into<String>) -> Self {
        Self::new(429, "Too many requests", description)
    }
    pub fn internal() -> Self {
        Self::new(
            500,
            "Internal server error",
            "the server could not complete the request; it has been logged",
        )
    }
    pub fn unavailable(description: impl Into<String>) -> Self {
        Self::new(503, "Service unavailable", description)
    }

    pub fn with_code(mut self, code: &str) -> Self {
        self.error_code = Some(code.to_string());
        self
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!(
                "{{\"title\":\"error\",\"http_status\":\"{}\"}}",
                self.status
            )
        })
    }
}

impl std::fmt::Display for TaxiiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TaxiiError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_string_status_and_title() {
        let e = TaxiiError::not_found("no such collection");
        let v: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(v["http_status"], "404");
        assert_eq!(v["title"], "Not found");
        assert_eq!(v["description"], "no such collection");
        assert!(v.get("status").is_none());
    }
}
