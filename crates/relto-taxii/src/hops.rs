//! The hop path between relto hubs (DESIGN §11): the hubs a version passed through before it
//! arrived, its origin first. A push names it in `Relto-Origin` and `Relto-Hops` (signed with
//! the rest of the request); a page served to a peer hub names each object's in one
//! `Relto-Hops` field. A hub never takes back what already passed through it: no loops.
//! Pure: what a peer sends is parsed here, into names that are safe in a log or a column.

/// The origin hub of what a request carries.
pub const ORIGIN_HEADER: &str = "relto-origin";
/// The hop path of what a request carries, or of each object of a page.
pub const HOPS_HEADER: &str = "relto-hops";
/// The longest path taken: a coalition is not a deep tree.
pub const MAX_HOPS: usize = 16;
/// The longest hub name.
const MAX_NAME: usize = 64;

/// The hubs something passed through, its origin first; empty for what began here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct HopPath(Vec<String>);

/// Whether `name` can name a hub on a path: lower-case letters, digits, '-' or '_'.
pub fn is_hub_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl HopPath {
    /// Parses `kor,nato` (spaces after commas allowed). Each hub appears once: a path that
    /// names one twice went round a loop already.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut names: Vec<String> = Vec::new();
        for name in text.split(',').map(str::trim) {
            if !is_hub_name(name) {
                return Err(format!(
                    "the hop path names '{}', which is not a hub name (lower-case letters, digits, '-' or '_', at most {MAX_NAME})",
                    name.chars().take(MAX_NAME).collect::<String>()
                ));
            }
            if names.iter().any(|n| n == name) {
                return Err(format!("the hop path names {name} twice"));
            }
            names.push(name.to_string());
        }
        if names.len() > MAX_HOPS {
            return Err(format!("the hop path is longer than {MAX_HOPS} hubs"));
        }
        Ok(Self(names))
    }

    /// The path as a stored column holds it: None for what began here.
    pub fn from_stored(text: Option<&str>) -> Self {
        text.and_then(|t| Self::parse(t).ok()).unwrap_or_default()
    }

    /// The hub it began at, if not here.
    pub fn origin(&self) -> Option<&str> {
        self.0.first().map(String::as_str)
    }

    pub fn contains(&self, hub: &str) -> bool {
        self.0.iter().any(|n| n == hub)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The path as the next hub receives it: this one added last.
    pub fn then(&self, hub: &str) -> Self {
        let mut names = self.0.clone();
        names.push(hub.to_string());
        Self(names)
    }

    /// `kor,nato`; empty for an empty path.
    pub fn to_text(&self) -> String {
        self.0.join(",")
    }

    /// What a store column keeps: None for what began here.
    pub fn to_stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.to_text())
    }
}

/// The `Relto-Origin` and `Relto-Hops` of a request: both or neither, the origin the path's
/// first hub. None when the request names no path (a client that is not a relto hub).
pub fn request_path(origin: Option<&str>, hops: Option<&str>) -> Result<Option<HopPath>, String> {
    match (origin, hops) {
        (None, None) => Ok(None),
        (Some(origin), Some(hops)) => {
            let path = HopPath::parse(hops)?;
            if path.origin() != Some(origin.trim()) {
                return Err(format!(
                    "Relto-Origin is not the first hub of Relto-Hops ({})",
                    path.to_text()
                ));
            }
            Ok(Some(path))
        }
        _ => Err("Relto-Origin and Relto-Hops come together, or not at all".into()),
    }
}

/// One page's paths, one per object in order, separated by `;`.
pub fn page_paths_text<'a>(paths: impl IntoIterator<Item = &'a HopPath>) -> String {
    paths
        .into_iter()
        .map(HopPath::to_text)
        .collect::<Vec<_>>()
        .join(";")
}

/// Parses a page's `Relto-Hops` for its `count` objects; every entry names at least the hub
/// that served it.
pub fn parse_page_paths(text: &str, count: usize) -> Result<Vec<HopPath>, String> {
    let paths = text
        .split(';')
        .map(HopPath::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if paths.len() != count {
        return Err(format!(
            "the page's Relto-Hops names {} paths for {count} objects",
            paths.len()
        ));
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_round_trips_and_grows_by_one_hub() {
        let p = HopPath::parse("kor, nato").unwrap();
        assert_eq!(p.origin(), Some("kor"));
        assert!(p.contains("nato") && !p.contains("eu"));
        assert_eq!(p.then("eu").to_text(), "kor,nato,eu");
        assert_eq!(HopPath::from_stored(None), HopPath::default());
        assert_eq!(HopPath::default().to_stored(), None);
        assert_eq!(
            HopPath::from_stored(p.to_stored().as_deref()),
            p,
            "what a column keeps reads back"
        );
    }

    #[test]
    fn bad_paths_are_refused_with_the_reason() {
        for (text, why) in [
            ("", "not a hub name"),
            ("kor,,nato", "not a hub name"),
            ("KOR", "not a hub name"),
            ("kor\r\nx-injected: 1", "not a hub name"),
            ("kor,nato,kor", "twice"),
        ] {
            let e = HopPath::parse(text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
        }
        let long: Vec<String> = (0..=MAX_HOPS).map(|i| format!("h{i}")).collect();
        assert!(HopPath::parse(&long.join(","))
            .unwrap_err()
            .contains("longer"));
        assert!(HopPath::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn origin_and_hops_come_together_and_agree() {
        assert_eq!(request_path(None, None), Ok(None));
        assert_eq!(
            request_path(Some("kor"), Some("kor,nato")),
            Ok(Some(HopPath::parse("kor,nato").unwrap()))
        );
        assert!(request_path(Some("eu"), Some("kor,nato"))
            .unwrap_err()
            .contains("first hub"));
        assert!(request_path(None, Some("kor")).is_err());
        assert!(request_path(Some("kor"), None).is_err());
    }

    #[test]
    fn a_page_names_one_path_per_object() {
        let a = HopPath::parse("kor").unwrap();
        let b = HopPath::parse("eu,kor").unwrap();
        let text = page_paths_text([&a, &b, &a]);
        assert_eq!(text, "kor;eu,kor;kor");
        assert_eq!(parse_page_paths(&text, 3).unwrap(), vec![a.clone(), b, a]);
        assert!(parse_page_paths(&text, 2)
            .unwrap_err()
            .contains("3 paths for 2"));
        assert!(
            parse_page_paths("kor;;kor", 3).is_err(),
            "every object names its server at least"
        );
    }
}
