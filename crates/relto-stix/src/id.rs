//! STIX identifiers (`type--UUID`, STIX 2.1 §2.9) and type names (§3.1, §11.2).
//!
//! Rules applied:
//! * A type name is 3–250 characters of `a-z`, `0-9` and `-`, begins with a
//!   letter (§3.1: "Type names and property names MUST begin with a letter
//!   character"), does not contain `--` (§11.2.1, also what makes the
//!   `type--UUID` split unambiguous) and does not end with `-` (an identifier
//!   `x-foo---…` could not be split unambiguously; the OASIS identifier
//!   schema forbids it too).
//! * The UUID must be "RFC 4122-compliant": `8-4-4-4-12` hexadecimal digits
//!   (either case), variant bits `10xx` (first digit of the fourth group is
//!   8, 9, a or b) and a version 1–5 — the versions RFC 4122 defines. The
//!   nil UUID is not RFC 4122 variant and is rejected.

/// Why a text is not a STIX identifier: the message quotes (the start of) the text and
/// names the rule it breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdError(String);

impl std::fmt::Display for IdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for IdError {}

/// A STIX identifier that passed [`parse_id`] (`type--UUID`), parsed where it enters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StixId(String);

impl StixId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        parse_id(s)?;
        Ok(Self(s.to_string()))
    }

    /// An id the caller has just checked with [`parse_id`].
    pub(crate) fn checked(s: &str) -> Self {
        Self(s.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The type part (`indicator` of `indicator--…`).
    pub fn object_type(&self) -> &str {
        self.0.split_once("--").map_or("", |(t, _)| t)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for StixId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::ops::Deref for StixId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<&str> for StixId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for StixId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl serde::Serialize for StixId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl From<StixId> for String {
    fn from(id: StixId) -> String {
        id.0
    }
}

/// Splits and checks a STIX identifier, returning `(type, uuid)`.
pub fn parse_id(s: &str) -> Result<(&str, &str), IdError> {
    split_id(s).map_err(IdError)
}

fn split_id(s: &str) -> Result<(&str, &str), String> {
    let Some(sep) = s.find("--") else {
        return Err(format!(
            "'{}' is not a STIX identifier: expected <type>--<uuid>",
            short(s)
        ));
    };
    let (ty, rest) = s.split_at(sep);
    let uuid = &rest[2..];
    if !is_valid_type_name(ty) {
        return Err(format!(
            "'{}' is not a STIX identifier: '{}' is not a valid type name",
            short(s),
            short(ty)
        ));
    }
    check_uuid(uuid).map_err(|why| {
        format!(
            "'{}' is not a STIX identifier: the UUID part {why}",
            short(s)
        )
    })?;
    Ok((ty, uuid))
}

/// The version nibble of a UUID already accepted by [`parse_id`].
pub fn uuid_version(uuid: &str) -> Option<u8> {
    let c = *uuid.as_bytes().get(14)?;
    (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn check_uuid(u: &str) -> Result<(), &'static str> {
    let b = u.as_bytes();
    if b.len() != 36 {
        return Err("must have the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
    }
    for (i, &c) in b.iter().enumerate() {
        let want_dash = matches!(i, 8 | 13 | 18 | 23);
        if want_dash {
            if c != b'-' {
                return Err("must have the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
            }
        } else if !c.is_ascii_hexdigit() {
            return Err("must contain only hexadecimal digits");
        }
    }
    if !matches!(b[14], b'1'..=b'5') {
        return Err("must be an RFC 4122 UUID (version 1-5)");
    }
    if !matches!(b[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B') {
        return Err("must be an RFC 4122 UUID (variant bits 10xx)");
    }
    Ok(())
}

/// STIX type-name rules: 3–250 chars of `a-z0-9-`, starting with a letter,
/// no `--`, not ending with `-`.
pub fn is_valid_type_name(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 3 || b.len() > 250 {
        return false;
    }
    if !b[0].is_ascii_lowercase() || b[b.len() - 1] == b'-' {
        return false;
    }
    let mut prev_dash = false;
    for &c in b {
        match c {
            b'a'..=b'z' | b'0'..=b'9' => prev_dash = false,
            b'-' => {
                if prev_dash {
                    return false;
                }
                prev_dash = true;
            }
            _ => return false,
        }
    }
    true
}

/// STIX property-name rules (§3.1, §11.1.1): 3–250 chars of `a-z0-9_`,
/// starting with a letter. (`id` is the one specification-defined
/// property shorter than three characters; callers special-case it.)
pub fn is_valid_property_name(s: &str) -> bool {
    let b = s.as_bytes();
    (3..=250).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

fn short(s: &str) -> &str {
    if s.len() <= 120 {
        return s;
    }
    let mut end = 120;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_ids() {
        assert_eq!(
            parse_id("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),
            Ok(("indicator", "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"))
        );
        assert_eq!(
            parse_id("ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd"),
            Ok(("ipv4-addr", "ff26c055-6336-5bc5-b98d-13d6226742dd"))
        );
        // Upper-case hex is accepted.
        assert!(parse_id("malware--8E2E2D2B-17D4-4CBF-A38F-98EE46B3CD3F").is_ok());
        // Versions 1 and 3 are RFC 4122 too.
        assert!(parse_id("x-kor-unit--a8f1e0f2-8a3b-11ee-b9d1-0242ac120002").is_ok());
        assert!(parse_id("x-kor-unit--a8f1e0f2-8a3b-31ee-b9d1-0242ac120002").is_ok());
        assert_eq!(
            uuid_version("8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"),
            Some(4)
        );
    }

    #[test]
    fn bad_ids() {
        for s in [
            "",
            "indicator",
            "indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--",
            "--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "ab--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3",
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f0",
            "indicator--{8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f}",
            "indicator--8e2e2d2g-17d4-4cbf-938f-98ee46b3cd3f",
            // version 0, 6, 7 and f
            "indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-6cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-7cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-fcbf-938f-98ee46b3cd3f",
            // variant 0xxx, 110x, 111x
            "indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-f38f-98ee46b3cd3f",
            // nil UUID
            "indicator--00000000-0000-0000-0000-000000000000",
            "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f ",
            " indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "x--y--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
        ] {
            assert!(parse_id(s).is_err(), "{s:?} should be rejected");
        }
        let id = StixId::parse("x-kor-unit--a8f1e0f2-8a3b-11ee-b9d1-0242ac120002").unwrap();
        assert_eq!(id.object_type(), "x-kor-unit");
        assert!(StixId::parse("indicator--nope").is_err());
        let e = parse_id("indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f").unwrap_err();
        assert!(e.to_string().contains("variant"), "{e}");
    }

    #[test]
    fn type_names() {
        for s in [
            "indicator",
            "x-kor-nis-unit",
            "abc",
            "a12",
            "ipv4-addr",
            &"a".repeat(250),
        ] {
            assert!(is_valid_type_name(s), "{s} should be valid");
        }
        for s in [
            "",
            "ab",
            "x--y",
            "-abc",
            "abc-",
            "1abc",
            "Abc",
            "a_b",
            "a b",
            "가나다",
            &"a".repeat(251),
        ] {
            assert!(!is_valid_type_name(s), "{s} should be invalid");
        }
    }

    #[test]
    fn property_names() {
        for s in ["name", "x_kor_army_unit", "abc", "a12", "pid"] {
            assert!(is_valid_property_name(s), "{s}");
        }
        for s in [
            "id",
            "ab",
            "_abc",
            "1abc",
            "xKor",
            "x-kor",
            "x_korArmy",
            "x kor",
            "",
        ] {
            assert!(!is_valid_property_name(s), "{s}");
        }
        assert!(is_valid_property_name(&"a".repeat(250)));
        assert!(!is_valid_property_name(&"a".repeat(251)));
    }
}
