//! TAXII 2.1 query parameters (spec §3.4): `added_after`, `limit`, `next` and the `match[…]`
//! filters, parsed from the raw query string into [`ObjectFilters`].

use relto_stix::timestamp::parse_timestamp;

/// Most query parameters one request may carry by default; more is hostile or broken input.
pub const MAX_QUERY_PARAMS: usize = 64;
/// Most values one comma-separated `match[…]` list may carry by default.
pub const MAX_MATCH_VALUES: usize = 256;

/// The limits a query string must keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryLimits {
    pub max_params: usize,
    pub max_match_values: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_params: MAX_QUERY_PARAMS,
            max_match_values: MAX_MATCH_VALUES,
        }
    }
}

/// Which endpoint the parameters are for; each admits a subset (spec §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// GET …/objects/ and …/manifest/
    Objects,
    /// GET …/objects/{id}/
    Object,
    /// DELETE …/objects/{id}/
    DeleteObject,
    /// GET …/objects/{id}/versions/
    Versions,
}

/// `match[version]`: a union of `first`, `last`, `all` and exact versions (µs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionFilter {
    pub all: bool,
    pub first: bool,
    pub last: bool,
    pub exact: Vec<i64>,
}

impl VersionFilter {
    pub fn last() -> Self {
        Self {
            last: true,
            ..Self::default()
        }
    }
    pub fn all() -> Self {
        Self {
            all: true,
            ..Self::default()
        }
    }
}

/// The filters of one request, parsed and checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectFilters {
    pub added_after: Option<i64>,
    pub limit: Option<u32>,
    pub next: Option<String>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    /// None: the endpoint's default (`last` for objects, manifest and one object; `all` for
    /// delete and versions).
    pub versions: Option<VersionFilter>,
    pub spec_versions: Vec<String>,
}

impl ObjectFilters {
    /// The version filter in force, with the endpoint's default applied.
    pub fn version_filter(&self, endpoint: Endpoint) -> VersionFilter {
        match (&self.versions, endpoint) {
            (Some(v), _) => v.clone(),
            (None, Endpoint::DeleteObject | Endpoint::Versions) => VersionFilter::all(),
            (None, _) => VersionFilter::last(),
        }
    }

    /// A stable text of every filter but `limit` and `next`, so that a cursor can be bound to
    /// the query it was issued for.
    pub fn fingerprint(&self, scope: &str) -> String {
        let mut s = String::with_capacity(64);
        s.push_str(scope);
        s.push('|');
        if let Some(a) = self.added_after {
            s.push_str(&a.to_string());
        }
        for (tag, list) in [
            ("i", &self.ids),
            ("t", &self.types),
            ("s", &self.spec_versions),
        ] {
            s.push('|');
            s.push_str(tag);
            for v in list {
                s.push(',');
                s.push_str(v);
            }
        }
        if let Some(v) = &self.versions {
            s.push_str(&format!(
                "|v{}{}{}",
                v.all as u8, v.first as u8, v.last as u8
            ));
            for e in &v.exact {
                s.push(',');
                s.push_str(&e.to_string());
            }
        }
        s
    }
}

/// Why a query string was refused (answered with 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for QueryError {}

fn err(msg: impl Into<String>) -> QueryError {
    QueryError(msg.into())
}

/// Parses a raw (percent-encoded) query string for `endpoint`. Parameters the endpoint does
/// not define are ignored, as TAXII servers do for filters they do not support; repeated
/// `match[…]` parameters add to the list.
pub fn parse_query(raw: Option<&str>, endpoint: Endpoint) -> Result<ObjectFilters, QueryError> {
    parse_query_with(raw, endpoint, &QueryLimits::default())
}

/// [`parse_query`] under other limits.
pub fn parse_query_with(
    raw: Option<&str>,
    endpoint: Endpoint,
    limits: &QueryLimits,
) -> Result<ObjectFilters, QueryError> {
    let max_values = limits.max_match_values;
    let mut f = ObjectFilters::default();
    let Some(raw) = raw.filter(|r| !r.is_empty()) else {
        return Ok(f);
    };
    let pairs: Vec<&str> = raw.split('&').filter(|p| !p.is_empty()).collect();
    if pairs.len() > limits.max_params {
        return Err(err(format!(
            "too many query parameters ({}); at most {}",
            pairs.len(),
            limits.max_params
        )));
    }
    let paged = endpoint != Endpoint::DeleteObject;
    for pair in pairs {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key =
            percent_decode(k).ok_or_else(|| err("query parameter name is not valid UTF-8"))?;
        let value =
            percent_decode(v).ok_or_else(|| err(format!("value of '{key}' is not valid UTF-8")))?;
        match key.as_str() {
            "added_after" if paged => {
                // §3.4: each of these parameters at most once.
                if f.added_after.is_some() {
                    return Err(err("added_after may be given only once"));
                }
                let ts = parse_timestamp(&value).map_err(|e| err(format!("added_after: {e}")))?;
                f.added_after = Some(ts.micros);
            }
            "limit" if paged => {
                if f.limit.is_some() {
                    return Err(err("limit may be given only once"));
                }
                let n: u32 = value
                    .parse()
                    .map_err(|_| err(format!("limit must be a positive integer, not '{value}'")))?;
                if n == 0 {
                    return Err(err("limit must be a positive integer, not 0"));
                }
                f.limit = Some(n);
            }
            "next" if paged => {
                if value.is_empty() {
                    return Err(err("next is empty"));
                }
                if f.next.is_some() {
                    return Err(err("next may be given only once"));
                }
                f.next = Some(value);
            }
            "match[id]" if endpoint == Endpoint::Objects => {
                push_list(&mut f.ids, &value, "match[id]", max_values)?
            }
            "match[type]" if endpoint == Endpoint::Objects => {
                push_list(&mut f.types, &value, "match[type]", max_values)?
            }
            "match[spec_version]" => push_list(
                &mut f.spec_versions,
                &value,
                "match[spec_version]",
                max_values,
            )?,
            "match[version]" if endpoint != Endpoint::Versions => {
                let vf = f.versions.get_or_insert_with(VersionFilter::default);
                for item in split_list(&value, "match[version]", max_values)? {
                    match item {
                        "all" => vf.all = true,
                        "first" => vf.first = true,
                        "last" => vf.last = true,
                        ts => {
                            let t = parse_timestamp(ts).map_err(|e| {
                                err(format!(
                                    "match[version] takes first, last, all or a timestamp: {e}"
                                ))
                            })?;
                            vf.exact.push(t.micros);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(f)
}

fn split_list<'a>(value: &'a str, name: &str, max: usize) -> Result<Vec<&'a str>, QueryError> {
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    if items.iter().any(|i| i.is_empty()) {
        return Err(err(format!("{name} has an empty item in '{value}'")));
    }
    if items.len() > max {
        return Err(err(format!(
            "{name} lists {} values; at most {max}",
            items.len()
        )));
    }
    Ok(items)
}

fn push_list(
    list: &mut Vec<String>,
    value: &str,
    name: &str,
    max: usize,
) -> Result<(), QueryError> {
    for item in split_list(value, name, max)? {
        if !list.iter().any(|x| x == item) {
            list.push(item.to_string());
        }
    }
    if list.len() > max {
        return Err(err(format!("{name} lists more than {max} values")));
    }
    Ok(())
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte).
fn percent_decode(s: &str) -> Option<String> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Some(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hi = (bytes[i + 1] as char).to_digit(16);
                let lo = (bytes[i + 2] as char).to_digit(16);
                match (hi, lo) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_filter() {
        let q = "added_after=2024-01-01T00:00:00.5Z&limit=10&next=abc&match%5Bid%5D=indicator--1,report--2\
                 &match[type]=indicator&match[type]=report&match[version]=first,2024-01-02T00:00:00Z\
                 &match[spec_version]=2.1&unknown=1";
        let f = parse_query(Some(q), Endpoint::Objects).unwrap();
        assert_eq!(f.added_after, Some(1_704_067_200_500_000));
        assert_eq!(f.limit, Some(10));
        assert_eq!(f.next.as_deref(), Some("abc"));
        assert_eq!(f.ids, vec!["indicator--1", "report--2"]);
        assert_eq!(f.types, vec!["indicator", "report"]);
        let v = f.versions.unwrap();
        assert!(v.first && !v.last && !v.all);
        assert_eq!(v.exact, vec![1_704_153_600_000_000]);
        assert_eq!(f.spec_versions, vec!["2.1"]);
    }

    #[test]
    fn rejects_bad_values() {
        for q in [
            "limit=0",
            "limit=abc",
            "limit=-1",
            "added_after=yesterday",
            "added_after=2024-01-01T00:00:00",
            "match[version]=newest",
            "match[type]=a,,b",
            "next=",
            "added_after=2024-01-01T00:00:00Z&added_after=2025-01-01T00:00:00Z",
            "limit=1&limit=2",
            "next=a&next=b",
        ] {
            assert!(parse_query(Some(q), Endpoint::Objects).is_err(), "{q}");
        }
        let many = vec!["a=1"; MAX_QUERY_PARAMS + 1].join("&");
        assert!(parse_query(Some(&many), Endpoint::Objects).is_err());
    }

    #[test]
    fn endpoint_defaults_and_scope() {
        let f = parse_query(Some("match[type]=indicator"), Endpoint::Object).unwrap();
        assert!(
            f.types.is_empty(),
            "match[type] is not defined for one object"
        );
        assert_eq!(f.version_filter(Endpoint::Object), VersionFilter::last());
        assert_eq!(
            f.version_filter(Endpoint::DeleteObject),
            VersionFilter::all()
        );
        let d = parse_query(Some("limit=abc"), Endpoint::DeleteObject).unwrap();
        assert_eq!(d.limit, None);
    }

    #[test]
    fn fingerprint_ignores_paging() {
        let a = parse_query(Some("match[type]=x&limit=5"), Endpoint::Objects).unwrap();
        let b = parse_query(Some("match[type]=x&limit=9&next=zz"), Endpoint::Objects).unwrap();
        let c = parse_query(Some("match[type]=y"), Endpoint::Objects).unwrap();
        assert_eq!(a.fingerprint("c1"), b.fingerprint("c1"));
        assert_ne!(a.fingerprint("c1"), c.fingerprint("c1"));
        assert_ne!(a.fingerprint("c1"), a.fingerprint("c2"));
    }

    #[test]
    fn decodes_percent_and_plus() {
        assert_eq!(percent_decode("a%2Bb+c").as_deref(), Some("a+b c"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz").as_deref(), Some("%zz"));
        assert_eq!(percent_decode("%ff"), None);
    }
}
