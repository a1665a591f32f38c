//! `relto draft` (issue 17): a prose report to a draft STIX 2.1 bundle an analyst checks,
//! labels and posts. Deterministic — no model, no network, the same text and options give
//! the same bundle — and pure: the caller hands in the text, the names the hub knows (its
//! realm's organizations, the threat actors and intrusion sets in the collection) and the
//! labels, and gets the bundle and what was extracted, each with its character spans.
#![forbid(unsafe_code)]

pub mod dates;
pub mod gazetteer;
pub mod ioc;
pub mod text;

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use gazetteer::{Gazetteer, Named};
use text::{is_hangul, normalize, Token, PARTICLES};

/// The largest report drafted (bytes).
pub const MAX_TEXT: usize = 8 << 20;
/// Ids of what a draft creates are name-based in this namespace, over the report's digest
/// and what was extracted: the same text drafts to the same ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a3e_9d4b_4e8a_b2c7_5d3e_8f9a_0b1c);

/// A threat actor or intrusion set the collection already holds: a mention of its name or an
/// alias refers to it.
#[derive(Debug, Clone)]
pub struct Known {
    pub id: String,
    pub object_type: String,
    pub name: String,
    pub aliases: Vec<String>,
}

/// An organization of the realm: a mention of its name or an alias refers to its identity.
#[derive(Debug, Clone)]
pub struct RealmOrganization {
    pub name: String,
    pub aliases: Vec<String>,
    pub identity: String,
}

/// What a draft is made with besides the text.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The marking-definition ids every object carries (the realm's default label, or the
    /// one the analyst chose).
    pub labels: Vec<String>,
    /// `created`, `modified` and `valid_from` of what the draft creates (STIX timestamp),
    /// and the report's `published` when the text names no date.
    pub now: String,
    pub known: Vec<Known>,
    pub organizations: Vec<RealmOrganization>,
    /// Marking-definitions the bundle carries first (a label the hub does not hold yet).
    pub definitions: Vec<Value>,
}

/// One thing extracted: its key (`country:KP`, `identity:North Atlantic Council`,
/// `ipv4-addr:45.77.12.3`), the STIX object it is, and where the text names it (character
/// offsets, end exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extraction {
    pub key: String,
    pub id: String,
    pub spans: Vec<(usize, usize)>,
}

/// A draft: the bundle, and what is in it.
#[derive(Debug, Clone)]
pub struct Draft {
    pub bundle: Value,
    pub extractions: Vec<Extraction>,
    /// `located-at:KEY->KEY`, `attributed-to:KEY->KEY`, …
    pub relationships: Vec<String>,
    /// The date the text gives (`2026-11-25`), if any.
    pub published: Option<String>,
}

/// Why a text cannot be drafted; each says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftError {
    Empty,
    Binary,
    TooLarge(usize),
    NothingFound,
}

impl std::fmt::Display for DraftError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DraftError::Empty => f.write_str("the report is empty: give the text of a report"),
            DraftError::Binary => f.write_str(
                "the report is not text (it is not UTF-8, or holds control bytes): give a plain-text report",
            ),
            DraftError::TooLarge(n) => write!(
                f,
                "the report is {n} bytes; at most {MAX_TEXT} are drafted: split it"
            ),
            DraftError::NothingFound => f.write_str(
                "nothing in the report names an organization, a place, a known actor or an indicator: write the STIX by hand",
            ),
        }
    }
}

impl std::error::Error for DraftError {}

/// Drafts a report given as bytes: UTF-8 text, at most [`MAX_TEXT`].
pub fn draft_bytes(bytes: &[u8], options: &Options) -> Result<Draft, DraftError> {
    if bytes.len() > MAX_TEXT {
        return Err(DraftError::TooLarge(bytes.len()));
    }
    let text = std::str::from_utf8(bytes).map_err(|_| DraftError::Binary)?;
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}'))
    {
        return Err(DraftError::Binary);
    }
    draft(text, options)
}

/// Drafts a report.
pub fn draft(text: &str, options: &Options) -> Result<Draft, DraftError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(DraftError::Empty);
    }
    let overlay = overlay(options);
    let tokens = text::tokens(text);
    let mut mentions = names(text, &tokens, &overlay);
    let found = ioc::indicators(text);
    // A name inside an indicator (a domain's label) is part of the indicator. Both lists are
    // in text order: one sweep.
    let mut next = 0;
    mentions.retain(|m| {
        while next < found.len() && found[next].end <= m.start {
            next += 1;
        }
        found.get(next).is_none_or(|f| f.start >= m.end)
    });
    let relations = relationships(text, &tokens, &mentions);
    mentions.extend(found.into_iter().map(|f| Mention {
        key: format!("{}:{}", f.kind, f.value),
        start: f.start,
        end: f.end,
        first: 0,
        last: 0,
        what: What::Indicator {
            kind: f.kind,
            value: f.value,
        },
    }));
    mentions.sort_by_key(|m| m.start);
    if mentions.is_empty() {
        return Err(DraftError::NothingFound);
    }
    let published = dates::first_date(text).map(|d| d.iso());
    Ok(build(text, options, &mentions, &relations, published))
}

/// The realm's organizations and the collection's actors, over the built-in names.
fn overlay(options: &Options) -> Gazetteer {
    let mut g = Gazetteer::default();
    for o in &options.organizations {
        let named = Named::Organization {
            name: o.name.clone(),
            identity_class: "organization".into(),
            sector: None,
            identity: Some(o.identity.clone()),
        };
        for n in std::iter::once(&o.name).chain(&o.aliases) {
            g.add(n, named.clone());
        }
    }
    for k in &options.known {
        let named = Named::Known {
            id: k.id.clone(),
            object_type: k.object_type.clone(),
            name: k.name.clone(),
        };
        for n in std::iter::once(&k.name).chain(&k.aliases) {
            g.add(n, named.clone());
        }
    }
    g
}

/// What a mention stands for.
#[derive(Debug, Clone)]
enum What {
    Name(Named),
    Indicator { kind: &'static str, value: String },
}

#[derive(Debug, Clone)]
struct Mention {
    key: String,
    /// Byte range.
    start: usize,
    end: usize,
    /// Its first and last word (names only).
    first: usize,
    last: usize,
    what: What,
}

/// Prepositions after which an ambiguous country name (Chad, Jordan, Georgia) is the
/// country.
const LOCATIVE: &[&str] = &[
    "in", "to", "from", "into", "near", "across", "via", "of", "toward", "towards", "against",
    "with",
];

/// The names of the text: at each word the longest name that starts there, then on after it.
fn names(text: &str, tokens: &[Token], overlay: &Gazetteer) -> Vec<Mention> {
    let builtin = Gazetteer::builtin();
    let lookup = |key: &str| overlay.get(key).or_else(|| builtin.get(key));
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let word = &text[tokens[i].start..tokens[i].end];
        let longest = builtin
            .longest_from(word)
            .max(overlay.longest_from(word))
            .min(tokens.len() - i);
        let mut hit: Option<(&Named, usize, usize)> = None;
        for n in (1..=longest).rev() {
            let j = i + n - 1;
            let key = normalize(&text[tokens[i].start..tokens[j].end]);
            let dotted = text[tokens[j].end..].starts_with('.');
            if let Some(named) = dotted.then(|| lookup(&format!("{key}."))).flatten() {
                hit = Some((named, tokens[j].end + 1, j));
                break;
            }
            if let Some(named) = lookup(&key) {
                hit = Some((named, tokens[j].end, j));
                break;
            }
        }
        if hit.is_none() && is_hangul(word) {
            hit = PARTICLES.iter().find_map(|p| {
                let stem = word.strip_suffix(p)?;
                lookup(stem).map(|named| (named, tokens[i].start + stem.len(), i))
            });
        }
        let Some((named, end, j)) = hit else {
            i += 1;
            continue;
        };
        let ambiguous = matches!(
            named,
            Named::Country {
                ambiguous: true,
                ..
            }
        );
        let after_preposition = i > 0
            && tokens[i - 1].sentence == tokens[i].sentence
            && LOCATIVE.contains(
                &text[tokens[i - 1].start..tokens[i - 1].end]
                    .to_lowercase()
                    .as_str(),
            );
        let possessive = ["'s", "’s"].iter().any(|s| text[end..].starts_with(s));
        if !ambiguous || after_preposition || possessive {
            out.push(Mention {
                key: key_of(named),
                start: tokens[i].start,
                end,
                first: i,
                last: j,
                what: What::Name(named.clone()),
            });
        }
        i = j + 1;
    }
    out
}

fn key_of(named: &Named) -> String {
    match named {
        Named::Country { alpha2, .. } => format!("country:{alpha2}"),
        Named::City { name, .. } => format!("city:{name}"),
        Named::Organization { name, .. } => format!("identity:{name}"),
        Named::Known {
            object_type, name, ..
        } => format!("{object_type}:{name}"),
    }
}

/// Verbs that put an organization or an actor somewhere, and the prepositions after them.
const PLACING: &[&str] = &[
    "based",
    "located",
    "stationed",
    "headquartered",
    "deployed",
    "deploying",
    "deploy",
    "redeployed",
    "moved",
    "garrisoned",
    "positioned",
    "operates",
    "operating",
];
const PLACE_PREPOSITIONS: &[&str] = &["in", "to", "at", "near", "into", "from"];
/// Words a relationship's wording may span after its subject.
const REACH: usize = 8;

/// Relationships the text states plainly within one sentence: an organization or actor
/// placed somewhere (`located-at`; an intrusion set `originates-from`), an intrusion set or
/// actor `attributed to` (or `linked to`) another. A subject's apposition (`Andariel, a
/// subgroup of …, is linked to …`) is passed over, a relative clause (`…, which … have linked
/// to …`) read; a mention of another actor ends the search.
fn relationships(
    text: &str,
    tokens: &[Token],
    mentions: &[Mention],
) -> Vec<(String, String, String)> {
    let word = |k: usize| text[tokens[k].start..tokens[k].end].to_lowercase();
    // Whether a comma separates word `k` from the one before it.
    let comma_before = |k: usize| k > 0 && text[tokens[k - 1].end..tokens[k].start].contains(',');
    let mut out = Vec::new();
    for (n, m) in mentions.iter().enumerate() {
        let source_type = match &m.what {
            What::Name(Named::Organization { .. }) => "identity",
            What::Name(Named::Known { object_type, .. }) => object_type.as_str(),
            _ => continue,
        };
        let sentence = tokens[m.last].sentence;
        let within = |k: usize| k < tokens.len() && tokens[k].sentence == sentence;
        let later = &mentions[n + 1..];
        // The next mention after word `k` in this sentence, if it starts within `reach` words.
        let next_after = |k: usize, reach: usize| {
            later
                .iter()
                .find(|o| o.first > k)
                .filter(|o| o.first <= k + reach && tokens[o.first].sentence == sentence)
        };
        // What something is linked or attributed to is no subject (`linked to the GRU and
        // operates from Moscow` places the first actor), unless a relative clause follows.
        let mut before = (0..m.first)
            .rev()
            .take_while(|&b| tokens[b].sentence == tokens[m.first].sentence)
            .map(word)
            .filter(|w| w != "the");
        let target = matches!(
            (before.next().as_deref(), before.next().as_deref()),
            (Some("to" | "by"), Some("linked" | "attributed"))
        );
        let mut k = m.last + 1;
        let relative = within(k) && matches!(word(k).as_str(), "which" | "who");
        if target && !relative {
            continue;
        }
        if within(k) && comma_before(k) && !relative {
            // An apposition: on after its closing comma, if it closes in this sentence.
            match (k + 1..tokens.len())
                .take_while(|&c| within(c))
                .find(|&c| comma_before(c))
            {
                Some(c) => k = c,
                None => continue,
            }
        }
        let mut budget = REACH;
        while budget > 0 && within(k) {
            let actor_here = later.iter().take_while(|o| o.first <= k).any(|o| {
                o.first == k
                    && !matches!(
                        o.what,
                        What::Name(Named::Country { .. } | Named::City { .. })
                    )
            });
            if actor_here {
                break;
            }
            let w = word(k);
            let next = if within(k + 1) {
                word(k + 1)
            } else {
                String::new()
            };
            let found =
                if PLACING.contains(&w.as_str()) && PLACE_PREPOSITIONS.contains(&next.as_str()) {
                    let kind = if source_type == "intrusion-set" {
                        "originates-from"
                    } else {
                        "located-at"
                    };
                    next_after(k + 1, 5)
                        .filter(|o| {
                            matches!(
                                o.what,
                                What::Name(Named::Country { .. } | Named::City { .. })
                            )
                        })
                        .map(|o| (kind, o))
                } else if (w == "attributed" || w == "linked") && next == "to" {
                    next_after(k + 1, 4)
                        .filter(|o| {
                            matches!(
                                o.what,
                                What::Name(Named::Organization { .. } | Named::Known { .. })
                            )
                        })
                        .map(|o| ("attributed-to", o))
                } else {
                    k += 1;
                    budget -= 1;
                    continue;
                };
            let Some((kind, target)) = found else {
                break;
            };
            out.push((kind.to_string(), m.key.clone(), target.key.clone()));
            k = target.last + 1;
            budget = REACH;
        }
    }
    out.extend(referring(text, tokens, mentions));
    out.sort();
    out.dedup();
    out
}

/// Words that, after `the` or `this` at a sentence's start, stand for the actor named just
/// before (`The activity is linked to the GRU.`).
const ACTIVITY: &[&str] = &[
    "activity",
    "campaign",
    "operation",
    "operations",
    "group",
    "actor",
    "intrusions",
    "attacks",
];
/// How many sentences back such a sentence looks for its actor.
const REFERS_BACK: usize = 2;

/// The one kind of coreference relto reads: a sentence that opens with `The activity` (or
/// campaign, group …) and attributes or links it to someone speaks of the threat actor or
/// intrusion set named last in the two sentences before, if it names none of its own
/// before the verb.
fn referring(text: &str, tokens: &[Token], mentions: &[Mention]) -> Vec<(String, String, String)> {
    let word = |k: usize| text[tokens[k].start..tokens[k].end].to_lowercase();
    let is_actor = |m: &&Mention| {
        matches!(&m.what, What::Name(Named::Known { object_type, .. })
            if object_type == "intrusion-set" || object_type == "threat-actor")
    };
    let mut out = Vec::new();
    for k in 0..tokens.len().saturating_sub(1) {
        let sentence = tokens[k].sentence;
        let opens = k == 0 || tokens[k - 1].sentence != sentence;
        if !opens
            || tokens[k + 1].sentence != sentence
            || !matches!(word(k).as_str(), "the" | "this")
            || !ACTIVITY.contains(&word(k + 1).as_str())
        {
            continue;
        }
        // Mentions are in text order: those before word k, nearest first, back to the
        // sentence limit.
        let before = mentions.partition_point(|m| m.last < k);
        let Some(subject) = mentions[..before]
            .iter()
            .rev()
            .take_while(|m| sentence - tokens[m.last].sentence <= REFERS_BACK)
            .find(is_actor)
        else {
            continue;
        };
        let within = |c: usize| c < tokens.len() && tokens[c].sentence == sentence;
        let Some(verb) = (k + 2..k + 2 + REACH)
            .take_while(|&c| within(c + 1))
            .find(|&c| matches!(word(c).as_str(), "linked" | "attributed") && word(c + 1) == "to")
        else {
            continue;
        };
        let after = &mentions[before..];
        if after
            .iter()
            .take_while(|m| m.first < verb)
            .any(|m| m.first > k)
        {
            continue; // the sentence names its own subject
        }
        let target = after
            .iter()
            .skip_while(|m| m.first <= verb + 1)
            .take_while(|m| m.first <= verb + 5)
            .find(|m| within(m.first))
            .filter(|m| {
                matches!(
                    m.what,
                    What::Name(Named::Organization { .. } | Named::Known { .. })
                )
            });
        if let Some(target) = target {
            out.push((
                "attributed-to".to_string(),
                subject.key.clone(),
                target.key.clone(),
            ));
        }
    }
    out
}

/// The bundle: one object per thing extracted (those the hub already holds are referred to),
/// the relationships, and the report that refers to them all with the spans of each.
fn build(
    text: &str,
    options: &Options,
    mentions: &[Mention],
    relations: &[(String, String, String)],
    published: Option<String>,
) -> Draft {
    let digest: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let id_of = |object_type: &str, key: &str| {
        format!(
            "{object_type}--{}",
            Uuid::new_v5(&NAMESPACE, format!("{digest}\n{key}").as_bytes())
        )
    };
    let offsets = text::char_offsets(
        text,
        mentions.iter().flat_map(|m| [m.start, m.end]).collect(),
    );
    let now = options.now.as_str();
    let common = |object_type: &str, id: &str| {
        let mut o = Map::new();
        o.insert("type".into(), json!(object_type));
        o.insert("spec_version".into(), json!("2.1"));
        o.insert("id".into(), json!(id));
        o.insert("created".into(), json!(now));
        o.insert("modified".into(), json!(now));
        o
    };
    let labelled = |mut o: Map<String, Value>| {
        if !options.labels.is_empty() {
            o.insert("object_marking_refs".into(), json!(options.labels));
        }
        Value::Object(o)
    };
    // In order of first mention: each key once, with all its spans.
    let mut order: Vec<&Mention> = Vec::new();
    let mut spans: HashMap<&str, Vec<(usize, usize)>> = HashMap::new();
    for m in mentions {
        let entry = spans.entry(m.key.as_str()).or_default();
        if entry.is_empty() {
            order.push(m);
        }
        entry.push((offsets[&m.start], offsets[&m.end]));
    }
    let mut objects: Vec<Value> = options.definitions.clone();
    let mut extractions = Vec::new();
    let mut ids: HashMap<&str, String> = HashMap::new();
    for m in &order {
        let (id, object) = match &m.what {
            What::Name(Named::Country { alpha2, name, .. }) => {
                let id = id_of("location", &m.key);
                let mut o = common("location", &id);
                o.insert("name".into(), json!(name));
                o.insert("country".into(), json!(alpha2));
                (id, Some(o))
            }
            What::Name(Named::City { name, alpha2 }) => {
                let id = id_of("location", &m.key);
                let mut o = common("location", &id);
                o.insert("name".into(), json!(name));
                o.insert("city".into(), json!(name));
                o.insert("country".into(), json!(alpha2));
                (id, Some(o))
            }
            What::Name(Named::Organization {
                identity: Some(id), ..
            }) => (id.clone(), None),
            What::Name(Named::Organization {
                name,
                identity_class,
                sector,
                identity: None,
            }) => {
                let id = id_of("identity", &m.key);
                let mut o = common("identity", &id);
                o.insert("name".into(), json!(name));
                o.insert("identity_class".into(), json!(identity_class));
                if let Some(s) = sector {
                    o.insert("sectors".into(), json!([s]));
                }
                (id, Some(o))
            }
            What::Name(Named::Known { id, .. }) => (id.clone(), None),
            What::Indicator { kind, value } => {
                let id = id_of("indicator", &m.key);
                let mut o = common("indicator", &id);
                o.insert("name".into(), json!(value));
                o.insert("indicator_types".into(), json!(["unknown"]));
                o.insert("pattern".into(), json!(pattern(kind, value)));
                o.insert("pattern_type".into(), json!("stix"));
                o.insert("valid_from".into(), json!(now));
                (id, Some(o))
            }
        };
        if let Some(o) = object {
            objects.push(labelled(o));
        }
        extractions.push(Extraction {
            key: m.key.clone(),
            id: id.clone(),
            spans: spans[m.key.as_str()].clone(),
        });
        ids.insert(m.key.as_str(), id);
    }
    let mut relationship_keys = Vec::new();
    for (kind, source, target) in relations {
        let (Some(s), Some(t)) = (ids.get(source.as_str()), ids.get(target.as_str())) else {
            continue;
        };
        let key = format!("{kind}:{source}->{target}");
        let id = id_of("relationship", &key);
        let mut o = common("relationship", &id);
        o.insert("relationship_type".into(), json!(kind));
        o.insert("source_ref".into(), json!(s));
        o.insert("target_ref".into(), json!(t));
        objects.push(labelled(o));
        relationship_keys.push(key);
    }
    let report_id = id_of("report", "report");
    let mut report = common("report", &report_id);
    report.insert("name".into(), json!(title(text)));
    report.insert("description".into(), json!(text));
    report.insert(
        "published".into(),
        json!(published
            .as_ref()
            .map_or_else(|| now.to_string(), |d| format!("{d}T00:00:00Z"))),
    );
    report.insert("report_types".into(), json!(["threat-report"]));
    let mut refs: Vec<&str> = extractions.iter().map(|e| e.id.as_str()).collect();
    refs.extend(
        objects
            .iter()
            .filter(|o| o["type"] == "relationship")
            .filter_map(|o| o["id"].as_str()),
    );
    refs.dedup();
    report.insert("object_refs".into(), json!(refs));
    let by_id: BTreeMap<&str, &Vec<(usize, usize)>> = extractions
        .iter()
        .map(|e| (e.id.as_str(), &e.spans))
        .collect();
    report.insert("x_relto_spans".into(), json!(by_id));
    objects.push(labelled(report));
    let bundle = json!({
        "type": "bundle",
        "id": format!("bundle--{}", Uuid::new_v5(&NAMESPACE, digest.as_bytes())),
        "objects": objects,
    });
    Draft {
        bundle,
        extractions,
        relationships: relationship_keys,
        published,
    }
}

/// The STIX pattern of an indicator's value.
fn pattern(kind: &str, value: &str) -> String {
    let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
    match kind {
        "file:MD5" => format!("[file:hashes.MD5 = '{quoted}']"),
        "file:SHA-1" => format!("[file:hashes.'SHA-1' = '{quoted}']"),
        "file:SHA-256" => format!("[file:hashes.'SHA-256' = '{quoted}']"),
        _ => format!("[{kind}:value = '{quoted}']"),
    }
}

/// The report's title: its first line, at most 200 characters.
fn title(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("Report");
    let mut t: String = line.chars().take(200).collect();
    if line.chars().count() > 200 {
        t.push('…');
    }
    t
}
