//! Content negotiation for TAXII 2.1 (spec §1.6.8): `Accept` must allow
//! `application/taxii+json;version=2.1`, `Content-Type` of a POST must be it.

/// Whether an `Accept` header value admits the TAXII 2.1 media type.
///
/// A missing header, `*/*` and `application/*` admit it; `application/taxii+json` without a
/// version means the latest (2.1); any other version (2.0) does not. Quality values of 0
/// exclude the range.
pub fn accepts_taxii(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return true };
    if accept.trim().is_empty() {
        return true;
    }
    accept.split(',').any(|range| {
        let (essence, params) = split_media_type(range);
        if params
            .iter()
            .any(|(k, v)| k == "q" && v.parse::<f32>().ok() == Some(0.0))
        {
            return false;
        }
        match essence.as_str() {
            "*/*" | "application/*" => true,
            "application/taxii+json" => version_param_ok(&params),
            _ => false,
        }
    })
}

/// Whether a `Content-Type` header names TAXII 2.1 (the only body type POST accepts).
pub fn is_taxii_content_type(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return false };
    let (essence, params) = split_media_type(ct);
    essence == "application/taxii+json" && version_param_ok(&params)
}

fn version_param_ok(params: &[(String, String)]) -> bool {
    match params.iter().find(|(k, _)| k == "version") {
        None => true,
        Some((_, v)) => v == "2.1",
    }
}

/// Splits `type/subtype; k=v; …` into a lower-cased essence and its parameters.
fn split_media_type(value: &str) -> (String, Vec<(String, String)>) {
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            ))
        })
        .collect();
    (essence, params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_variants() {
        assert!(accepts_taxii(None));
        assert!(accepts_taxii(Some("application/taxii+json;version=2.1")));
        assert!(accepts_taxii(Some("application/taxii+json; version=2.1")));
        assert!(accepts_taxii(Some("application/taxii+json")));
        assert!(accepts_taxii(Some("*/*")));
        assert!(accepts_taxii(Some("text/html, application/*;q=0.8")));
        assert!(!accepts_taxii(Some("application/taxii+json;version=2.0")));
        assert!(!accepts_taxii(Some("application/json")));
        assert!(!accepts_taxii(Some(
            "application/taxii+json;version=2.1;q=0"
        )));
    }

    #[test]
    fn content_type_variants() {
        assert!(is_taxii_content_type(Some(
            "application/taxii+json;version=2.1"
        )));
        assert!(is_taxii_content_type(Some("application/taxii+json")));
        assert!(!is_taxii_content_type(Some(
            "application/taxii+json;version=2.0"
        )));
        assert!(!is_taxii_content_type(Some("application/json")));
        assert!(!is_taxii_content_type(None));
    }
}
