//! Nations (ISO 3166-1 alpha-3, with the aliases partners still send) and the built-in
//! communities NATO and EU, and organization slugs.

use serde::{Deserialize, Serialize};

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

/// Every ISO 3166-1 alpha-3 code assigned to a country (249), sorted: what a partner may
/// name as a nation when relto must know the nation exists (an ACS marking's nationalities).
pub const ISO_3166_ALPHA3: [&str; 249] = [
    "ABW", "AFG", "AGO", "AIA", "ALA", "ALB", "AND", "ARE", "ARG", "ARM", "ASM", "ATA", "ATF",
    "ATG", "AUS", "AUT", "AZE", "BDI", "BEL", "BEN", "BES", "BFA", "BGD", "BGR", "BHR", "BHS",
    "BIH", "BLM", "BLR", "BLZ", "BMU", "BOL", "BRA", "BRB", "BRN", "BTN", "BVT", "BWA", "CAF",
    "CAN", "CCK", "CHE", "CHL", "CHN", "CIV", "CMR", "COD", "COG", "COK", "COL", "COM", "CPV",
    "CRI", "CUB", "CUW", "CXR", "CYM", "CYP", "CZE", "DEU", "DJI", "DMA", "DNK", "DOM", "DZA",
    "ECU", "EGY", "ERI", "ESH", "ESP", "EST", "ETH", "FIN", "FJI", "FLK", "FRA", "FRO", "FSM",
    "GAB", "GBR", "GEO", "GGY", "GHA", "GIB", "GIN", "GLP", "GMB", "GNB", "GNQ", "GRC", "GRD",
    "GRL", "GTM", "GUF", "GUM", "GUY", "HKG", "HMD", "HND", "HRV", "HTI", "HUN", "IDN", "IMN",
    "IND", "IOT", "IRL", "IRN", "IRQ", "ISL", "ISR", "ITA", "JAM", "JEY", "JOR", "JPN", "KAZ",
    "KEN", "KGZ", "KHM", "KIR", "KNA", "KOR", "KWT", "LAO", "LBN", "LBR", "LBY", "LCA", "LIE",
    "LKA", "LSO", "LTU", "LUX", "LVA", "MAC", "MAF", "MAR", "MCO", "MDA", "MDG", "MDV", "MEX",
    "MHL", "MKD", "MLI", "MLT", "MMR", "MNE", "MNG", "MNP", "MOZ", "MRT", "MSR", "MTQ", "MUS",
    "MWI", "MYS", "MYT", "NAM", "NCL", "NER", "NFK", "NGA", "NIC", "NIU", "NLD", "NOR", "NPL",
    "NRU", "NZL", "OMN", "PAK", "PAN", "PCN", "PER", "PHL", "PLW", "PNG", "POL", "PRI", "PRK",
    "PRT", "PRY", "PSE", "PYF", "QAT", "REU", "ROU", "RUS", "RWA", "SAU", "SDN", "SEN", "SGP",
    "SGS", "SHN", "SJM", "SLB", "SLE", "SLV", "SMR", "SOM", "SPM", "SRB", "SSD", "STP", "SUR",
    "SVK", "SVN", "SWE", "SWZ", "SXM", "SYC", "SYR", "TCA", "TCD", "TGO", "THA", "TJK", "TKL",
    "TKM", "TLS", "TON", "TTO", "TUN", "TUR", "TUV", "TWN", "TZA", "UGA", "UKR", "UMI", "URY",
    "USA", "UZB", "VAT", "VCT", "VEN", "VGB", "VIR", "VNM", "VUT", "WLF", "WSM", "YEM", "ZAF",
    "ZMB", "ZWE",
];

/// A nation as relto knows it: an ISO 3166-1 alpha-3 code, upper-case, with the aliases
/// partners still send (`BLG`→`BGR`, `FYR`→`MKD`) resolved. Parsed once where a code enters
/// (the realm file, the hub's configuration, a stored row), so everything past the edge compares
/// canonical codes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Nation(String);

impl Nation {
    /// None when `code` is not three ASCII letters (after trimming).
    pub fn parse(code: &str) -> Option<Nation> {
        let up = code.trim().to_ascii_uppercase();
        if up.len() != 3 || !up.bytes().all(|b| b.is_ascii_uppercase()) {
            return None;
        }
        Some(Nation(match up.as_str() {
            "BLG" => "BGR".to_string(),
            "FYR" => "MKD".to_string(),
            _ => up,
        }))
    }

    /// [`Nation::parse`], and only for a code ISO 3166-1 assigns to a country (or Kosovo's
    /// `XKS`, which NATO and the US GENC standard use).
    pub fn assigned(code: &str) -> Option<Nation> {
        Nation::parse(code)
            .filter(|n| n.0 == "XKS" || ISO_3166_ALPHA3.binary_search(&n.0.as_str()).is_ok())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// No nation: equal to no code (for a reader that stands for a community alone).
    pub(crate) fn nowhere() -> Nation {
        Nation(String::new())
    }
}

impl TryFrom<String> for Nation {
    type Error = NameError;
    fn try_from(code: String) -> Result<Self, NameError> {
        Nation::parse(&code).ok_or(NameError::Nation(code))
    }
}

impl From<Nation> for String {
    fn from(n: Nation) -> String {
        n.0
    }
}

/// An organization's slug: lower-case ASCII letters, digits, `-` or `_`, 1–64 bytes. Account
/// names follow the same rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgSlug(String);

impl OrgSlug {
    pub fn parse(slug: &str) -> Option<OrgSlug> {
        is_slug(slug).then(|| OrgSlug(slug.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hub operator's own organization, owner of the `admin` account.
    pub fn hub() -> OrgSlug {
        OrgSlug("hub".into())
    }

    /// No organization: equal to no slug (for a reader that stands for a community alone).
    pub(crate) fn nobody() -> OrgSlug {
        OrgSlug(String::new())
    }
}

/// Whether `s` has the shape of a slug (organizations and account names).
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl TryFrom<String> for OrgSlug {
    type Error = NameError;
    fn try_from(slug: String) -> Result<Self, NameError> {
        if is_slug(&slug) {
            Ok(OrgSlug(slug))
        } else {
            Err(NameError::Slug(slug))
        }
    }
}

impl From<OrgSlug> for String {
    fn from(s: OrgSlug) -> String {
        s.0
    }
}

macro_rules! text_like {
    ($t:ty) => {
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<String> for $t {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
        impl PartialEq<$t> for str {
            fn eq(&self, other: &$t) -> bool {
                self == other.0
            }
        }
        impl PartialEq<$t> for &str {
            fn eq(&self, other: &$t) -> bool {
                *self == other.0
            }
        }
        impl PartialEq<$t> for String {
            fn eq(&self, other: &$t) -> bool {
                *self == other.0
            }
        }
        impl std::str::FromStr for $t {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, NameError> {
                Self::try_from(s.to_string())
            }
        }
        impl std::borrow::Borrow<str> for $t {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}
text_like!(Nation);
text_like!(OrgSlug);

/// A nation code or slug that does not have the required shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    Nation(String),
    Slug(String),
}

impl std::fmt::Display for NameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameError::Nation(n) => write!(
                f,
                "nation '{n}' is not an ISO 3166-1 alpha-3 code (e.g. KOR)"
            ),
            NameError::Slug(s) => write!(
                f,
                "'{s}' is not a slug: lower-case letters, digits, '-' or '_', at most 64"
            ),
        }
    }
}

impl std::error::Error for NameError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn aliases_and_shape() {
        let code = |c: &str| Nation::parse(c).map(String::from);
        assert_eq!(code("kor").as_deref(), Some("KOR"));
        assert_eq!(code(" BLG ").as_deref(), Some("BGR"));
        assert_eq!(code("FYR").as_deref(), Some("MKD"));
        assert_eq!(code("KO"), None);
        assert_eq!(code("K0R"), None);
    }

    #[test]
    fn names_are_checked_when_read_from_json() {
        let nation: Nation = serde_json::from_str("\"blg\"").unwrap();
        assert_eq!(nation, "BGR");
        assert!(serde_json::from_str::<Nation>("\"KOREA\"").is_err());
        let slug: OrgSlug = serde_json::from_str("\"kor-nis\"").unwrap();
        assert_eq!(slug.as_str(), "kor-nis");
        for bad in ["\"KOR-NIS\"", "\"\"", "\"a b\""] {
            assert!(serde_json::from_str::<OrgSlug>(bad).is_err(), "{bad}");
        }
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
