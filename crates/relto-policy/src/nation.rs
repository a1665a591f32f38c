//! Nations: ISO 3166-1 alpha-3 codes, with the aliases partners still send.

/// Normalises a nation code: upper-case, aliases (`BLG`→`BGR`, `FYR`→`MKD`) resolved.
/// Returns None when it is not three ASCII letters.
pub fn normalize_nation(code: &str) -> Option<String> {
    let up = code.trim().to_ascii_uppercase();
    if up.len() != 3 || !up.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    Some(
        match up.as_str() {
            "BLG" => "BGR",
            "FYR" => "MKD",
            other => other,
        }
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_shape() {
        assert_eq!(normalize_nation("kor").as_deref(), Some("KOR"));
        assert_eq!(normalize_nation("BLG").as_deref(), Some("BGR"));
        assert_eq!(normalize_nation("FYR").as_deref(), Some("MKD"));
        assert_eq!(normalize_nation("KO"), None);
        assert_eq!(normalize_nation("K0R"), None);
    }
}
