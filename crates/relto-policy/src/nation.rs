//! Nations (ISO 3166-1 alpha-3, with the aliases partners still send) and the built-in
//! communities NATO and EU.

/// NATO's 32 members.
pub const NATO_MEMBERS: [&str; 32] = [
    "ALB", "BEL", "BGR", "CAN", "HRV", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN",
    "ISL", "ITA", "LVA", "LTU", "LUX", "MNE", "NLD", "MKD", "NOR", "POL", "PRT", "ROU", "SVK",
    "SVN", "ESP", "SWE", "TUR", "GBR", "USA",
];

/// The EU's 27 member states.
pub const EU_MEMBERS: [&str; 27] = [
    "AUT", "BEL", "BGR", "HRV", "CYP", "CZE", "DNK", "EST", "FIN", "FRA", "DEU", "GRC", "HUN",
    "IRL", "ITA", "LVA", "LTU", "LUX", "MLT", "NLD", "POL", "PRT", "ROU", "SVK", "SVN", "ESP",
    "SWE",
];

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
    use std::collections::HashSet;

    #[test]
    fn aliases_and_shape() {
        assert_eq!(normalize_nation("kor").as_deref(), Some("KOR"));
        assert_eq!(normalize_nation("BLG").as_deref(), Some("BGR"));
        assert_eq!(normalize_nation("FYR").as_deref(), Some("MKD"));
        assert_eq!(normalize_nation("KO"), None);
        assert_eq!(normalize_nation("K0R"), None);
    }

    #[test]
    fn member_tables() {
        let nato: HashSet<_> = NATO_MEMBERS.iter().collect();
        let eu: HashSet<_> = EU_MEMBERS.iter().collect();
        assert_eq!(nato.len(), 32);
        assert_eq!(eu.len(), 27);
        assert_eq!(nato.intersection(&eu).count(), 23);
    }
}
