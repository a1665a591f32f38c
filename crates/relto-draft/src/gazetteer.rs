//! Names the draft recognises: countries (ISO 3166-1, with common and Korean aliases),
//! cities, organizations (NATO and EU bodies, ministries, intelligence services), shipped in
//! the binary; and, per draft, the realm's organizations and the threat actors and intrusion
//! sets already in the collection. Names match case-sensitively, as written in prose.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::text::normalize;

const COUNTRIES: &str = include_str!("../data/countries.tsv");
const CITIES: &str = include_str!("../data/cities.tsv");
const ORGANIZATIONS: &str = include_str!("../data/organizations.tsv");

/// What a name means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// A country: its ISO 3166-1 alpha-2 code and name. An ambiguous one (Chad, Jordan) is
    /// taken only after a locative preposition or before a possessive.
    Country {
        alpha2: String,
        name: String,
        ambiguous: bool,
    },
    City {
        name: String,
        alpha2: String,
    },
    /// An organization (or an office held by one person); `identity` when the realm
    /// already names its STIX identity.
    Organization {
        name: String,
        identity_class: String,
        sector: Option<String>,
        identity: Option<String>,
    },
    /// A threat actor or intrusion set already in the collection.
    Known {
        id: String,
        object_type: String,
        name: String,
    },
}

/// Names by their normalized text, and how many words the longest name starting with a
/// given word has (most words start none, and are passed over with one lookup).
#[derive(Default)]
pub struct Gazetteer {
    names: HashMap<String, Named>,
    longest_from: HashMap<String, usize>,
}

impl Gazetteer {
    /// The names shipped in the binary.
    pub fn builtin() -> &'static Gazetteer {
        static BUILTIN: OnceLock<Gazetteer> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let mut g = Gazetteer::default();
            for row in rows(COUNTRIES) {
                let [alpha2, _, name, aliases, ambiguous] = row[..] else {
                    continue;
                };
                let named = Named::Country {
                    alpha2: alpha2.to_string(),
                    name: name.to_string(),
                    ambiguous: ambiguous == "1",
                };
                g.add_all(name, aliases, &named);
            }
            for row in rows(CITIES) {
                let [name, alpha2, aliases] = row[..] else {
                    continue;
                };
                let named = Named::City {
                    name: name.to_string(),
                    alpha2: alpha2.to_string(),
                };
                g.add_all(name, aliases, &named);
            }
            for row in rows(ORGANIZATIONS) {
                let [name, class, sector, aliases] = row[..] else {
                    continue;
                };
                let named = Named::Organization {
                    name: name.to_string(),
                    identity_class: class.to_string(),
                    sector: (!sector.is_empty()).then(|| sector.to_string()),
                    identity: None,
                };
                g.add_all(name, aliases, &named);
            }
            g
        })
    }

    /// Adds `name` and its `|`-separated aliases.
    fn add_all(&mut self, name: &str, aliases: &str, named: &Named) {
        self.add(name, named.clone());
        for alias in aliases.split('|').filter(|a| !a.trim().is_empty()) {
            self.add(alias, named.clone());
        }
    }

    /// Adds one name (a later one for the same text wins: the realm's over the built-in).
    pub fn add(&mut self, text: &str, named: Named) {
        let key = normalize(text);
        let words = crate::text::tokens(&key);
        let (Some(first), n) = (words.first(), words.len()) else {
            return;
        };
        let longest = self
            .longest_from
            .entry(key[first.start..first.end].to_string())
            .or_default();
        *longest = (*longest).max(n);
        self.names.insert(key, named);
    }

    pub fn get(&self, key: &str) -> Option<&Named> {
        self.names.get(key)
    }

    /// Words in the longest name starting with `word`; 0 when none does.
    pub fn longest_from(&self, word: &str) -> usize {
        self.longest_from.get(word).copied().unwrap_or(0)
    }
}

/// The data rows of a table: tab-separated, `#` lines are comments.
fn rows(table: &str) -> impl Iterator<Item = Vec<&str>> {
    table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').map(str::trim).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_load_whole() {
        let g = Gazetteer::builtin();
        for (table, columns) in [(COUNTRIES, 5), (CITIES, 3), (ORGANIZATIONS, 4)] {
            for row in rows(table) {
                assert_eq!(row.len(), columns, "{row:?}");
            }
        }
        assert!(rows(COUNTRIES).count() >= 249);
        assert!(matches!(g.get("DPRK"), Some(Named::Country { alpha2, .. }) if alpha2 == "KP"));
        assert!(matches!(g.get("북한"), Some(Named::Country { alpha2, .. }) if alpha2 == "KP"));
        assert!(
            matches!(g.get("NAC"), Some(Named::Organization { name, .. }) if name == "North Atlantic Council")
        );
        assert!(matches!(g.get("Vladivostok"), Some(Named::City { alpha2, .. }) if alpha2 == "RU"));
        assert!(g.get("will").is_none() && g.get("May").is_none());
        assert!(g.longest_from("North") >= 3);
    }
}
