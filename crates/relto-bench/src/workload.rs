//! A deterministic STIX 2.1 workload: the same (n, seed) gives the same bytes. The mix and
//! sizes follow the shared peer workload (../shared/peers/workload.py): indicators,
//! relationships between earlier objects, notes and reports referring to earlier objects,
//! threat actors, identities, locations; ~1 KB of JSON each, TLP 2.0 markings.

/// xorshift64*: small, fast, and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn uuid4(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        )
    }
}

const WORDS: &[&str] = &[
    "actor",
    "analysis",
    "appliance",
    "backdoor",
    "beacon",
    "campaign",
    "certificate",
    "cluster",
    "command",
    "confidence",
    "control",
    "credential",
    "device",
    "distribution",
    "document",
    "domain",
    "dropper",
    "edge",
    "energy",
    "espionage",
    "exfiltration",
    "exploit",
    "financial",
    "firewall",
    "government",
    "hash",
    "hosting",
    "implant",
    "infrastructure",
    "lateral",
    "loader",
    "macro",
    "malware",
    "movement",
    "network",
    "observed",
    "operator",
    "organisation",
    "overlap",
    "payload",
    "persistence",
    "phishing",
    "provider",
    "ransomware",
    "reconnaissance",
    "region",
    "registry",
    "sample",
    "scanning",
    "sector",
    "server",
    "signature",
    "spearphishing",
    "telecom",
    "tooling",
    "victim",
    "vpn",
    "vulnerability",
    "wave",
    "webshell",
];

const TLP: &[&str] = &[
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
];

fn words(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| WORDS[rng.below(WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

fn sentences(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| {
            let len = 8 + rng.below(12);
            let s = words(rng, len);
            let mut c = s.chars();
            let first = c.next().map(|f| f.to_ascii_uppercase()).unwrap_or('X');
            format!("{first}{}.", c.as_str())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One object: its id, type and JSON text.
pub struct Object {
    pub id: String,
    pub json: String,
}

/// `n` objects. Timestamps advance a second per object from 2024-01-01.
pub fn generate(n: usize, seed: u64) -> Vec<Object> {
    let mut rng = Rng::new(seed);
    let mut out: Vec<Object> = Vec::with_capacity(n);
    let mut nodes: Vec<String> = Vec::new(); // ids relationships and reports may point at
    for i in 0..n {
        let secs = 1_704_067_200 + i as i64;
        let ts = timestamp(secs, (i % 1000) as u32);
        let marking = TLP[rng.below(TLP.len())];
        let roll = rng.below(100);
        let kind = if nodes.len() < 10 {
            ["identity", "threat-actor", "location"][i % 3]
        } else {
            match roll {
                0..=39 => "indicator",
                40..=69 => "relationship",
                70..=77 => "note",
                78..=83 => "report",
                84..=91 => "threat-actor",
                92..=95 => "identity",
                _ => "location",
            }
        };
        let id = format!("{kind}--{}", rng.uuid4());
        let common = format!(
            r#""type":"{kind}","spec_version":"2.1","id":"{id}","created":"{ts}","modified":"{ts}""#
        );
        let body = match kind {
            "indicator" => format!(
                r#"{common},"name":"{}","description":"{}","indicator_types":["malicious-activity"],"pattern":"[ipv4-addr:value = '198.51.{}.{}']","pattern_type":"stix","valid_from":"{ts}""#,
                words(&mut rng, 4),
                sentences(&mut rng, 3),
                rng.below(256),
                rng.below(256)
            ),
            "relationship" => {
                let a = nodes[rng.below(nodes.len())].clone();
                let b = nodes[rng.below(nodes.len())].clone();
                format!(
                    r#"{common},"relationship_type":"related-to","source_ref":"{a}","target_ref":"{b}","description":"{}""#,
                    sentences(&mut rng, 2)
                )
            }
            "note" | "report" => {
                let k = 2 + rng.below(6);
                let refs: Vec<String> = (0..k)
                    .map(|_| format!("\"{}\"", nodes[rng.below(nodes.len())]))
                    .collect();
                if kind == "note" {
                    format!(
                        r#"{common},"content":"{}","object_refs":[{}]"#,
                        sentences(&mut rng, 4),
                        refs.join(",")
                    )
                } else {
                    format!(
                        r#"{common},"name":"Report: {}","description":"{}","report_types":["threat-report"],"published":"{ts}","object_refs":[{}]"#,
                        words(&mut rng, 4),
                        sentences(&mut rng, 4),
                        refs.join(",")
                    )
                }
            }
            "threat-actor" => format!(
                r#"{common},"name":"{}","description":"{}","threat_actor_types":["nation-state"]"#,
                words(&mut rng, 2),
                sentences(&mut rng, 4)
            ),
            "identity" => format!(
                r#"{common},"name":"{}","identity_class":"organization","description":"{}""#,
                words(&mut rng, 3),
                sentences(&mut rng, 3)
            ),
            _ => format!(
                r#"{common},"name":"{}","region":"eastern-asia","description":"{}""#,
                words(&mut rng, 2),
                sentences(&mut rng, 3)
            ),
        };
        if matches!(kind, "identity" | "threat-actor" | "location" | "indicator") {
            nodes.push(id.clone());
        }
        out.push(Object {
            json: format!(r#"{{{body},"object_marking_refs":["{marking}"]}}"#),
            id,
        });
    }
    out
}

/// RFC 3339 with milliseconds, from Unix seconds (days from civil, proleptic Gregorian).
fn timestamp(secs: i64, millis: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_bytes_and_valid_json() {
        let a = generate(500, 7);
        let b = generate(500, 7);
        assert!(a.iter().zip(&b).all(|(x, y)| x.json == y.json));
        let mut total = 0;
        for o in &a {
            let v: serde_json::Value = serde_json::from_str(&o.json).expect("json");
            assert_eq!(v["id"], o.id.as_str());
            total += o.json.len();
        }
        let avg = total / a.len();
        assert!((500..2000).contains(&avg), "average {avg} bytes");
        assert_eq!(timestamp(1_704_067_200, 5), "2024-01-01T00:00:00.005Z");
        assert_eq!(timestamp(1_709_210_096, 0), "2024-02-29T12:34:56.000Z");
    }
}
