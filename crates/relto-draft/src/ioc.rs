//! Indicators in the text: IPv4 and IPv6 addresses, domain names, URLs, e-mail addresses and
//! MD5/SHA-1/SHA-256 hashes, defanged forms (`hxxp://`, `1.2.3[.]4`, `user[@]host[.]com`)
//! refanged. Private, reserved and documentation addresses are never indicators.

use std::net::{Ipv4Addr, Ipv6Addr};

/// One indicator: its kind (a STIX cyber-observable type, or `file:MD5` …), its value as a
/// pattern names it, and the byte range of the text it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub kind: &'static str,
    pub value: String,
    pub start: usize,
    pub end: usize,
}

/// Top-level domains taken without a defanged dot: the common generic ones and country codes
/// that are not also file extensions (a report's `notes.md` or `setup.sh` is a file).
const TLDS: &[&str] = &[
    "com", "net", "org", "info", "biz", "io", "xyz", "top", "online", "site", "club", "live",
    "app", "dev", "cloud", "tech", "store", "shop", "space", "website", "icu", "vip", "work",
    "gov", "mil", "edu", "int", "eu", "ru", "su", "kp", "kr", "cn", "jp", "tw", "hk", "ir", "by",
    "ua", "uk", "de", "fr", "nl", "be", "ch", "at", "se", "no", "fi", "dk", "ee", "lv", "lt", "cz",
    "sk", "hu", "ro", "bg", "gr", "tr", "il", "in", "us", "ca", "au", "nz", "br", "mx", "ar", "za",
    "ng", "kz", "uz", "am", "az", "ge", "vn", "th", "my", "sg", "id", "ph", "es", "pt", "ie", "lu",
    "hr", "si", "rs", "ba", "me", "mk", "al", "cy", "mt", "is", "co", "cc", "tk", "ml", "ga", "cf",
    "gq", "ws", "to", "tv", "fm", "cx", "mobi", "name", "pro",
];

/// Words after which a dotted number is a version, not an address.
const VERSION_WORDS: &[&str] = &["version", "v", "ver", "build", "release", "firmware"];

/// The indicators of `text`, in order.
pub fn indicators(text: &str) -> Vec<Found> {
    let mut out = Vec::new();
    let mut previous_word = String::new();
    for (start, chunk) in chunks(text) {
        let (lead, trimmed) = trim(chunk);
        let begin = start + lead;
        let end = begin + trimmed.len();
        let after_version = VERSION_WORDS.contains(&previous_word.as_str());
        previous_word = chunk
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        if trimmed.is_empty() {
            continue;
        }
        let defanged = is_defanged(trimmed);
        let value = refang(trimmed);
        let value = value.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '\'', '"']);
        if let Some((kind, v)) = classify(value, defanged, after_version) {
            out.push(Found {
                kind,
                value: v,
                start: begin,
                end,
            });
        }
    }
    out
}

/// Runs of non-white-space, with their byte offsets.
fn chunks(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive(char::is_whitespace)
        .scan(0, |at, piece| {
            let start = *at;
            *at += piece.len();
            Some((start, piece.trim_end_matches(char::is_whitespace)))
        })
}

/// A chunk without the punctuation around it (quotes, brackets, a sentence's full stop);
/// the number of bytes left out at the front.
fn trim(chunk: &str) -> (usize, &str) {
    let outer = |c: char| {
        matches!(
            c,
            '"' | '\''
                | '('
                | ')'
                | '<'
                | '>'
                | ','
                | ';'
                | '“'
                | '”'
                | '‘'
                | '’'
                | '`'
                | '«'
                | '»'
        )
    };
    let front = chunk.trim_start_matches(outer);
    let lead = chunk.len() - front.len();
    let mut t = front.trim_end_matches(outer);
    // A sentence's full stop, or a closing bracket that is not a defanging one.
    while let Some(stripped) = t
        .strip_suffix('.')
        .or_else(|| t.strip_suffix(':'))
        .or_else(|| {
            t.strip_suffix(']')
                .filter(|s| !s.ends_with("[.") && !s.ends_with('.'))
        })
    {
        t = stripped.trim_end_matches(outer);
    }
    (lead, t)
}

fn is_defanged(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    [
        "[.]", "(.)", "{.}", "[dot]", "(dot)", "[:]", "[@]", "(@)", "[at]", "(at)", "hxxp", "[/]",
    ]
    .iter()
    .any(|d| l.contains(d))
}

/// The defanged forms back to what they stand for.
fn refang(s: &str) -> String {
    let mut out = s.to_string();
    for (from, to) in [
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("[DOT]", "."),
        ("[:]", ":"),
        ("[://]", "://"),
        ("[/]", "/"),
        ("[@]", "@"),
        ("(@)", "@"),
        ("[at]", "@"),
        ("(at)", "@"),
    ] {
        out = out.replace(from, to);
    }
    for (from, to) in [
        ("hxxps", "https"),
        ("hxxp", "http"),
        ("HXXPS", "https"),
        ("HXXP", "http"),
    ] {
        if let Some(rest) = out.strip_prefix(from) {
            out = format!("{to}{rest}");
        }
    }
    out
}

/// What a refanged chunk is, if an indicator.
fn classify(s: &str, defanged: bool, after_version: bool) -> Option<(&'static str, String)> {
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        return url(s).map(|u| ("url", u));
    }
    if let Some((local, domain)) = s.split_once('@') {
        let local_ok = !local.is_empty()
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._%+-".contains(c));
        return (local_ok && is_domain(domain, true)).then_some(("email-addr", lower));
    }
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return (is_public_v4(ip) && !after_version).then(|| ("ipv4-addr", ip.to_string()));
    }
    if let Some((ip, port)) = s.rsplit_once(':') {
        if let (Ok(ip), Ok(_)) = (ip.parse::<Ipv4Addr>(), port.parse::<u16>()) {
            return is_public_v4(ip).then(|| ("ipv4-addr", ip.to_string()));
        }
    }
    if s.matches(':').count() >= 2 {
        if let Ok(ip) = s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<Ipv6Addr>()
        {
            return is_public_v6(ip).then(|| ("ipv6-addr", ip.to_string()));
        }
    }
    if let Some(kind) = hash_kind(s) {
        return Some((kind, lower));
    }
    is_domain(s, defanged).then_some(("domain-name", lower))
}

fn url(s: &str) -> Option<String> {
    let (scheme, rest) = s.split_once("://")?;
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..host_end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => host,
        }
    };
    let host_ok = match (host.parse::<Ipv4Addr>(), host.parse::<Ipv6Addr>()) {
        (Ok(ip), _) => is_public_v4(ip),
        (_, Ok(ip)) => is_public_v6(ip),
        _ => is_domain(host, true),
    };
    host_ok.then(|| format!("{}://{rest}", scheme.to_ascii_lowercase()))
}

/// A domain name: letters, digits and hyphens in at least two labels, under a top-level
/// domain of letters; without a defanged dot, only under one of [`TLDS`].
fn is_domain(s: &str, defanged: bool) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    if labels.len() < 2 || s.len() > 253 {
        return false;
    }
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let tld = labels[labels.len() - 1].to_ascii_lowercase();
    labels.iter().all(label_ok)
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_lowercase())
        && (TLDS.contains(&tld.as_str()) || defanged)
        // Abbreviations and initials (e.g., U.S.) are not names.
        && labels[..labels.len() - 1].iter().any(|l| l.len() > 1)
}

fn hash_kind(s: &str) -> Option<&'static str> {
    if !s.chars().all(|c| c.is_ascii_hexdigit())
        || !s.chars().any(|c| c.is_ascii_digit())
        || !s.chars().any(|c| c.is_ascii_alphabetic())
    {
        return None;
    }
    match s.len() {
        32 => Some("file:MD5"),
        40 => Some("file:SHA-1"),
        64 => Some("file:SHA-256"),
        _ => None,
    }
}

/// An address of the public Internet (not private, shared, loopback, link-local,
/// documentation, benchmarking, multicast, reserved or broadcast).
pub fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (18..20).contains(&b))
        || (a == 192 && b == 0 && c == 0))
}

/// An address of the public IPv6 Internet (2000::/3 outside documentation and the
/// translation and transition ranges).
pub fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    (s[0] & 0xe000) == 0x2000
        && !(s[0] == 0x2001 && s[1] == 0x0db8)
        && !(s[0] == 0x2001 && s[1] < 0x0200)
        && s[0] != 0x2002
        && !(s[0] == 0x3fff && s[1] < 0x1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(String, String)> {
        indicators(text)
            .into_iter()
            .map(|f| (f.kind.to_string(), f.value))
            .collect()
    }

    #[test]
    fn defanged_forms_are_refanged() {
        let got = found(
            "C2 at 45.77.12[.]3 and hxxps://update-check[.]xyz/a?b=1, mail from ops[@]mail[.]example-news[.]ru; beacon evil(.)top.",
        );
        assert_eq!(
            got,
            vec![
                ("ipv4-addr".into(), "45.77.12.3".into()),
                ("url".into(), "https://update-check.xyz/a?b=1".into()),
                ("email-addr".into(), "ops@mail.example-news.ru".into()),
                ("domain-name".into(), "evil.top".into()),
            ]
        );
    }

    #[test]
    fn reserved_addresses_files_and_words_are_not_indicators() {
        let text = "Hosts 10.0.0.5, 192.168.1.1, 127.0.0.1, 172.20.1.1, 169.254.0.9, 100.64.1.1, \
            0.0.0.0, 255.255.255.255, 192.0.2.7, 198.51.100.3, 203.0.113.9, fe80::1, ::1, \
            2001:db8::5, fc00::1 and report.docx, setup.exe, notes.md, e.g. i.e. U.S. at 10:30, \
            version 2.4.1.10 and 1.2.3.";
        assert_eq!(found(text), vec![]);
    }

    #[test]
    fn hashes_and_ipv6_are_read_in_canonical_form() {
        let md5 = "D41D8CD98F00B204E9800998ECF8427E";
        let got = found(&format!("hash {md5} at 2a01:4F8:0:0::1:2."));
        assert_eq!(
            got,
            vec![
                ("file:MD5".into(), md5.to_ascii_lowercase()),
                ("ipv6-addr".into(), "2a01:4f8::1:2".into()),
            ]
        );
    }
}
