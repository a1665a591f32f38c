//! Validation of one STIX 2.1 object (MUST-level rules of the STIX 2.1
//! specification, OASIS Standard, with Errata 01).
//!
//! The object is parsed once into a `serde_json::Value` and walked; nothing
//! is allocated on the success path except the returned [`ObjectMeta`].
//! The first problem found is reported.
//!
//! Where the specification and the OASIS `stix2-validator` disagree this
//! module follows the specification; `tests/stix-corpus/EXPECTED.md` lists
//! the cases.

use crate::id::{is_valid_property_name, is_valid_type_name, parse_id, uuid_version, StixId};
use crate::pattern::{hash_value_problem, validate_pattern};
use crate::timestamp::{fraction_digits, parse_micros, parse_timestamp, Timestamp};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// One entry of an object's `granular_markings`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GranularMarking {
    /// The marking definition applied (data marking), if any.
    pub marking_ref: Option<String>,
    /// The language applied (language marking), if any.
    pub lang: Option<String>,
    /// What the marking applies to.
    pub selectors: Vec<String>,
}

/// What the server needs to know about a valid object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ObjectMeta {
    /// The object's `id`.
    pub id: StixId,
    /// The object's `type`.
    pub object_type: String,
    /// The object's `spec_version` (`"2.1"` when an SCO omits it, as the
    /// specification defines).
    pub spec_version: String,
    /// `created`, for objects that have it.
    pub created: Option<Timestamp>,
    /// `modified`, for objects that have it.
    pub modified: Option<Timestamp>,
    /// `created_by_ref`, if present.
    pub created_by_ref: Option<String>,
    /// `object_marking_refs` (empty if absent).
    pub object_marking_refs: Vec<String>,
    /// `granular_markings` (empty if absent).
    pub granular_markings: Vec<GranularMarking>,
    /// What the object stands on: a relationship's `source_ref` and `target_ref`, a
    /// sighting's `sighting_of_ref`, a language-content's `object_ref` (empty for other types).
    pub endpoints: Vec<String>,
    /// `object_refs` of reports, groupings, notes, opinions and observed-data, of which a
    /// reader must see one (empty for other types).
    pub object_refs: Vec<String>,
}

impl ObjectMeta {
    /// The TAXII version of the object: `modified`, else `created`, else None
    /// (SCOs and others without either: the server then uses date_added).
    pub fn version(&self) -> Option<&Timestamp> {
        self.modified.as_ref().or(self.created.as_ref())
    }
}

/// Why an object is not valid STIX 2.1.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ValidationError {
    /// The object's id if it could be read.
    pub id: Option<String>,
    /// Human-readable; names the object type and property, e.g.
    /// "indicator: required property 'pattern' is missing".
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => write!(f, "{id}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ValidationError {}

// ---------------------------------------------------------------------------
// Object types

const SDO_TYPES: &[&str] = &[
    "attack-pattern",
    "campaign",
    "course-of-action",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "location",
    "malware",
    "malware-analysis",
    "note",
    "observed-data",
    "opinion",
    "report",
    "threat-actor",
    "tool",
    "vulnerability",
];

const SRO_TYPES: &[&str] = &["relationship", "sighting"];

const SCO_TYPES: &[&str] = &[
    "artifact",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "file",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "x509-certificate",
];

const META_TYPES: &[&str] = &[
    "marking-definition",
    "language-content",
    "extension-definition",
];

fn is_sdo(t: &str) -> bool {
    SDO_TYPES.contains(&t)
}
fn is_sro(t: &str) -> bool {
    SRO_TYPES.contains(&t)
}
/// Whether `t` is a STIX cyber-observable type: objects without a version of their own
/// (no `created`, no `modified`), whose one version each server dates as it adds them.
pub fn is_sco(t: &str) -> bool {
    SCO_TYPES.contains(&t)
}
fn is_meta(t: &str) -> bool {
    META_TYPES.contains(&t)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Class {
    Sdo,
    Sro,
    Sco,
    Marking,
    LanguageContent,
    ExtensionDefinition,
    /// Custom object with `created`/`modified`: treated like an SDO.
    CustomCore,
    /// Custom object without `created`/`modified`: treated like an SCO.
    CustomSco,
}

impl Class {
    fn sco_like(self) -> bool {
        matches!(self, Class::Sco | Class::CustomSco)
    }
}

// ---------------------------------------------------------------------------
// Property kinds

/// Which object types an identifier may point at.
#[derive(Clone, Copy, Debug)]
enum Target {
    Any,
    Only(&'static [&'static str]),
    NotIn(&'static [&'static str]),
    /// A known SDO type or a custom type.
    Sdo,
    /// A known SCO type or a custom type.
    Sco,
    /// A known SCO type, an SRO or a custom type.
    ScoOrSro,
}

impl Target {
    fn allows(self, t: &str) -> bool {
        match self {
            Target::Any => t != "bundle",
            Target::Only(list) => list.contains(&t),
            Target::NotIn(list) => !list.contains(&t),
            Target::Sdo => !(is_sro(t) || is_sco(t) || is_meta(t) || t == "bundle"),
            Target::Sco => !(is_sro(t) || is_sdo(t) || is_meta(t) || t == "bundle"),
            Target::ScoOrSro => !(is_sdo(t) || is_meta(t) || t == "bundle"),
        }
    }

    fn describe(self) -> String {
        match self {
            Target::Any => "a STIX object".to_owned(),
            Target::Only(list) => list.join(" or "),
            Target::NotIn(list) => format!("an object that is not {}", list.join(", ")),
            Target::Sdo => "an SDO".to_owned(),
            Target::Sco => "an SCO".to_owned(),
            Target::ScoOrSro => "an SCO or SRO".to_owned(),
        }
    }
}

/// What the values of a dictionary property must be.
#[derive(Clone, Copy, Debug)]
enum DictVal {
    Any,
    Str,
    Int,
    IntOrStr,
    StrList,
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Int(i64, i64),
    Num(f64, f64),
    /// Any STIX timestamp.
    Ts,
    /// `created` / `modified`: at least millisecond precision.
    TsMillis,
    /// Precise to the second (no fractional part).
    TsSeconds,
    Ref(Target),
    Refs(Target),
    StrList,
    Enum(&'static [&'static str]),
    Lang,
    LangList,
    /// `hashes`; `true` when keys must come from hash-algorithm-ov.
    Hashes(bool),
    Dict(DictVal),
    KillChainPhases,
    ExternalReferences,
    GranularMarkings,
    Extensions,
    Hex,
    Binary,
    Url,
    Object(&'static Nested),
    ObjectList(&'static Nested),
    /// Any non-null JSON object.
    AnyObject,
    Charset,
    Cpe,
    RelationshipType,
    DomainName,
    EmailAddress,
    Ipv4,
    Ipv6,
    Mac,
    RegistryKey,
    ObservableContainer,
    LanguageContents,
}

/// An embedded (non-top-level) object type: extensions, MIME parts, …
struct Nested {
    name: &'static str,
    props: fn(&str) -> Option<Kind>,
    required: &'static [&'static str],
    /// At least one of these must be present (empty: no such rule).
    at_least_one: &'static [&'static str],
}

const MAX_INT: i64 = (1 << 53) - 1;
const MIN_INT: i64 = -MAX_INT;
const ANY_INT: Kind = Kind::Int(MIN_INT, MAX_INT);
const NON_NEG: Kind = Kind::Int(0, MAX_INT);

const EXTENSION_TYPES: &[&str] = &[
    "new-sdo",
    "new-sco",
    "new-sro",
    "property-extension",
    "toplevel-property-extension",
];

const OPINION_ENUM: &[&str] = &[
    "strongly-disagree",
    "disagree",
    "neutral",
    "agree",
    "strongly-agree",
];

const ENCRYPTION_ALGORITHMS: &[&str] = &["AES-256-GCM", "ChaCha20-Poly1305", "mime-type-indicated"];

const SOCKET_FAMILIES: &[&str] = &[
    "AF_UNSPEC",
    "AF_INET",
    "AF_IPX",
    "AF_APPLETALK",
    "AF_NETBIOS",
    "AF_INET6",
    "AF_IRDA",
    "AF_BTH",
];

const SOCKET_TYPES: &[&str] = &[
    "SOCK_STREAM",
    "SOCK_DGRAM",
    "SOCK_RAW",
    "SOCK_RDM",
    "SOCK_SEQPACKET",
];

const INTEGRITY_LEVELS: &[&str] = &["low", "medium", "high", "system"];

const SERVICE_START_TYPES: &[&str] = &[
    "SERVICE_AUTO_START",
    "SERVICE_BOOT_START",
    "SERVICE_DEMAND_START",
    "SERVICE_DISABLED",
    "SERVICE_SYSTEM_ALERT",
];

const SERVICE_TYPES: &[&str] = &[
    "SERVICE_KERNEL_DRIVER",
    "SERVICE_FILE_SYSTEM_DRIVER",
    "SERVICE_WIN32_OWN_PROCESS",
    "SERVICE_WIN32_SHARE_PROCESS",
];

const SERVICE_STATUSES: &[&str] = &[
    "SERVICE_CONTINUE_PENDING",
    "SERVICE_PAUSE_PENDING",
    "SERVICE_PAUSED",
    "SERVICE_RUNNING",
    "SERVICE_START_PENDING",
    "SERVICE_STOP_PENDING",
    "SERVICE_STOPPED",
];

const REGISTRY_DATATYPES: &[&str] = &[
    "REG_NONE",
    "REG_SZ",
    "REG_EXPAND_SZ",
    "REG_BINARY",
    "REG_DWORD",
    "REG_DWORD_BIG_ENDIAN",
    "REG_DWORD_LITTLE_ENDIAN",
    "REG_LINK",
    "REG_MULTI_SZ",
    "REG_RESOURCE_LIST",
    "REG_FULL_RESOURCE_DESCRIPTION",
    "REG_RESOURCE_REQUIREMENTS_LIST",
    "REG_QWORD",
    "REG_INVALID_TYPE",
];

const HASH_ALGORITHM_OV: &[&str] = &[
    "MD5", "SHA-1", "SHA-256", "SHA-512", "SHA3-256", "SHA3-512", "SSDEEP", "TLSH",
];

/// Reserved property names (§3.8).
const RESERVED_PROPERTIES: &[&str] = &["severity", "username", "phone_number", "action"];

/// The types a relationship endpoint must not be (§5.1.2).
const NOT_RELATIONSHIP_ENDPOINT: &[&str] = &[
    "relationship",
    "sighting",
    "bundle",
    "marking-definition",
    "language-content",
    "extension-definition",
];

/// The TLP 1.0 marking definitions of §7.2.1.4: (id, tlp, name).
const TLP_MARKINGS: &[(&str, &str, &str)] = &[
    (
        "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        "white",
        "TLP:WHITE",
    ),
    (
        "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "green",
        "TLP:GREEN",
    ),
    (
        "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        "amber",
        "TLP:AMBER",
    ),
    (
        "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
        "red",
        "TLP:RED",
    ),
];
const TLP_CREATED: &str = "2017-01-20T00:00:00.000Z";

// ---------------------------------------------------------------------------
// Property tables

/// Common properties of SDOs, SROs, language-content, extension-definition
/// and custom objects with `created`.
fn common_core_prop(name: &str) -> Option<Kind> {
    Some(match name {
        "created_by_ref" => Kind::Ref(Target::Only(&["identity"])),
        "created" | "modified" => Kind::TsMillis,
        "revoked" => Kind::Bool,
        "labels" => Kind::StrList,
        "confidence" => Kind::Int(0, 100),
        "lang" => Kind::Lang,
        "external_references" => Kind::ExternalReferences,
        "object_marking_refs" => Kind::Refs(Target::Only(&["marking-definition"])),
        "granular_markings" => Kind::GranularMarkings,
        "extensions" => Kind::Extensions,
        _ => return None,
    })
}

fn common_sco_prop(name: &str) -> Option<Kind> {
    Some(match name {
        "object_marking_refs" => Kind::Refs(Target::Only(&["marking-definition"])),
        "granular_markings" => Kind::GranularMarkings,
        "defanged" => Kind::Bool,
        "extensions" => Kind::Extensions,
        _ => return None,
    })
}

fn marking_prop(name: &str) -> Option<Kind> {
    Some(match name {
        "created_by_ref" => Kind::Ref(Target::Only(&["identity"])),
        "created" => Kind::TsMillis,
        "external_references" => Kind::ExternalReferences,
        "object_marking_refs" => Kind::Refs(Target::Only(&["marking-definition"])),
        "granular_markings" => Kind::GranularMarkings,
        "extensions" => Kind::Extensions,
        "name" | "definition_type" => Kind::Str,
        "definition" => Kind::AnyObject,
        _ => return None,
    })
}

/// Type-specific properties.
fn type_prop(ty: &str, name: &str) -> Option<Kind> {
    use Kind::*;
    let k = match (ty, name) {
        (_, "description") if is_sdo(ty) || is_sro(ty) || ty == "extension-definition" => Str,
        ("attack-pattern", "name") => Str,
        ("attack-pattern", "aliases") => StrList,
        ("attack-pattern", "kill_chain_phases") => KillChainPhases,

        ("campaign", "name" | "objective") => Str,
        ("campaign", "aliases") => StrList,
        ("campaign", "first_seen" | "last_seen") => Ts,

        ("course-of-action", "name") => Str,

        ("grouping", "name" | "context") => Str,
        ("grouping", "object_refs") => Refs(Target::Any),

        ("identity", "name" | "identity_class" | "contact_information") => Str,
        ("identity", "roles" | "sectors") => StrList,

        ("incident", "name") => Str,
        ("incident", "kill_chain_phases") => KillChainPhases,

        ("indicator", "name" | "pattern" | "pattern_type" | "pattern_version") => Str,
        ("indicator", "indicator_types") => StrList,
        ("indicator", "valid_from" | "valid_until") => Ts,
        ("indicator", "kill_chain_phases") => KillChainPhases,

        ("infrastructure", "name") => Str,
        ("infrastructure", "infrastructure_types" | "aliases") => StrList,
        ("infrastructure", "kill_chain_phases") => KillChainPhases,
        ("infrastructure", "first_seen" | "last_seen") => Ts,

        ("intrusion-set", "name" | "resource_level" | "primary_motivation") => Str,
        ("intrusion-set", "aliases" | "goals" | "secondary_motivations") => StrList,
        ("intrusion-set", "first_seen" | "last_seen") => Ts,

        ("location", "latitude") => Num(-90.0, 90.0),
        ("location", "longitude") => Num(-180.0, 180.0),
        ("location", "precision") => Num(0.0, f64::MAX),
        (
            "location",
            "name"
            | "region"
            | "country"
            | "administrative_area"
            | "city"
            | "street_address"
            | "postal_code",
        ) => Str,

        ("malware", "name") => Str,
        ("malware", "is_family") => Bool,
        (
            "malware",
            "malware_types"
            | "aliases"
            | "architecture_execution_envs"
            | "implementation_languages"
            | "capabilities",
        ) => StrList,
        ("malware", "kill_chain_phases") => KillChainPhases,
        ("malware", "first_seen" | "last_seen") => Ts,
        ("malware", "operating_system_refs") => Refs(Target::Only(&["software"])),
        ("malware", "sample_refs") => Refs(Target::Only(&["artifact", "file"])),

        (
            "malware-analysis",
            "product"
            | "version"
            | "configuration_version"
            | "analysis_engine_version"
            | "analysis_definition_version"
            | "result_name"
            | "result",
        ) => Str,
        ("malware-analysis", "host_vm_ref" | "operating_system_ref") => {
            Ref(Target::Only(&["software"]))
        }
        ("malware-analysis", "installed_software_refs") => Refs(Target::Only(&["software"])),
        ("malware-analysis", "modules") => StrList,
        ("malware-analysis", "submitted" | "analysis_started" | "analysis_ended") => Ts,
        ("malware-analysis", "analysis_sco_refs") => Refs(Target::Sco),
        ("malware-analysis", "sample_ref") => {
            Ref(Target::Only(&["artifact", "file", "network-traffic"]))
        }

        ("note", "abstract" | "content") => Str,
        ("note", "authors") => StrList,
        ("note", "object_refs") => Refs(Target::Any),

        ("observed-data", "first_observed" | "last_observed") => Ts,
        ("observed-data", "number_observed") => Int(1, 999_999_999),
        ("observed-data", "objects") => ObservableContainer,
        ("observed-data", "object_refs") => Refs(Target::ScoOrSro),

        ("opinion", "explanation") => Str,
        ("opinion", "authors") => StrList,
        ("opinion", "opinion") => Enum(OPINION_ENUM),
        ("opinion", "object_refs") => Refs(Target::Any),

        ("report", "name") => Str,
        ("report", "report_types") => StrList,
        ("report", "published") => Ts,
        ("report", "object_refs") => Refs(Target::Any),

        ("threat-actor", "name" | "sophistication" | "resource_level" | "primary_motivation") => {
            Str
        }
        (
            "threat-actor",
            "threat_actor_types"
            | "aliases"
            | "roles"
            | "goals"
            | "secondary_motivations"
            | "personal_motivations",
        ) => StrList,
        ("threat-actor", "first_seen" | "last_seen") => Ts,

        ("tool", "name" | "tool_version") => Str,
        ("tool", "tool_types" | "aliases") => StrList,
        ("tool", "kill_chain_phases") => KillChainPhases,

        ("vulnerability", "name") => Str,

        ("relationship", "relationship_type") => RelationshipType,
        ("relationship", "source_ref" | "target_ref") => {
            Ref(Target::NotIn(NOT_RELATIONSHIP_ENDPOINT))
        }
        ("relationship", "start_time" | "stop_time") => Ts,

        ("sighting", "first_seen" | "last_seen") => Ts,
        ("sighting", "count") => Int(0, 999_999_999),
        ("sighting", "sighting_of_ref") => Ref(Target::Sdo),
        ("sighting", "observed_data_refs") => Refs(Target::Only(&["observed-data"])),
        ("sighting", "where_sighted_refs") => Refs(Target::Only(&["identity", "location"])),
        ("sighting", "summary") => Bool,

        ("language-content", "object_ref") => Ref(Target::NotIn(&["bundle", "language-content"])),
        ("language-content", "object_modified") => Ts,
        ("language-content", "contents") => LanguageContents,

        ("extension-definition", "name" | "schema" | "version") => Str,
        ("extension-definition", "extension_types") => StrList,
        ("extension-definition", "extension_properties") => StrList,

        // SCOs
        ("artifact", "mime_type" | "decryption_key") => Str,
        ("artifact", "payload_bin") => Binary,
        ("artifact", "url") => Url,
        ("artifact", "hashes") => Hashes(false),
        ("artifact", "encryption_algorithm") => Enum(ENCRYPTION_ALGORITHMS),

        ("autonomous-system", "number") => ANY_INT,
        ("autonomous-system", "name" | "rir") => Str,

        ("directory", "path") => Str,
        ("directory", "path_enc") => Charset,
        ("directory", "ctime" | "mtime" | "atime") => Ts,
        ("directory", "contains_refs") => Refs(Target::Only(&["file", "directory"])),

        ("domain-name", "value") => DomainName,
        ("domain-name", "resolves_to_refs") => {
            Refs(Target::Only(&["ipv4-addr", "ipv6-addr", "domain-name"]))
        }

        ("email-addr", "value") => EmailAddress,
        ("email-addr", "display_name") => Str,
        ("email-addr", "belongs_to_ref") => Ref(Target::Only(&["user-account"])),

        ("email-message", "is_multipart") => Bool,
        ("email-message", "date") => Ts,
        ("email-message", "content_type" | "message_id" | "subject" | "body") => Str,
        ("email-message", "from_ref" | "sender_ref") => Ref(Target::Only(&["email-addr"])),
        ("email-message", "to_refs" | "cc_refs" | "bcc_refs") => {
            Refs(Target::Only(&["email-addr"]))
        }
        ("email-message", "received_lines") => StrList,
        ("email-message", "additional_header_fields") => Dict(DictVal::StrList),
        ("email-message", "body_multipart") => ObjectList(&MIME_PART),
        ("email-message", "raw_email_ref") => Ref(Target::Only(&["artifact"])),

        ("file", "hashes") => Hashes(false),
        ("file", "size") => NON_NEG,
        ("file", "name" | "mime_type") => Str,
        ("file", "name_enc") => Charset,
        ("file", "magic_number_hex") => Hex,
        ("file", "ctime" | "mtime" | "atime") => Ts,
        ("file", "parent_directory_ref") => Ref(Target::Only(&["directory"])),
        ("file", "contains_refs") => Refs(Target::Sco),
        ("file", "content_ref") => Ref(Target::Only(&["artifact"])),

        ("ipv4-addr", "value") => Ipv4,
        ("ipv6-addr", "value") => Ipv6,
        ("ipv4-addr" | "ipv6-addr", "resolves_to_refs") => Refs(Target::Only(&["mac-addr"])),
        ("ipv4-addr" | "ipv6-addr", "belongs_to_refs") => {
            Refs(Target::Only(&["autonomous-system"]))
        }

        ("mac-addr", "value") => Mac,

        ("mutex", "name") => Str,

        ("network-traffic", "start" | "end") => Ts,
        ("network-traffic", "is_active") => Bool,
        ("network-traffic", "src_ref" | "dst_ref") => Ref(Target::Only(&[
            "ipv4-addr",
            "ipv6-addr",
            "mac-addr",
            "domain-name",
        ])),
        ("network-traffic", "src_port" | "dst_port") => Int(0, 65_535),
        ("network-traffic", "protocols") => StrList,
        (
            "network-traffic",
            "src_byte_count" | "dst_byte_count" | "src_packets" | "dst_packets",
        ) => NON_NEG,
        ("network-traffic", "ipfix") => Dict(DictVal::IntOrStr),
        ("network-traffic", "src_payload_ref" | "dst_payload_ref") => {
            Ref(Target::Only(&["artifact"]))
        }
        ("network-traffic", "encapsulates_refs") => Refs(Target::Only(&["network-traffic"])),
        ("network-traffic", "encapsulated_by_ref") => Ref(Target::Only(&["network-traffic"])),

        ("process", "is_hidden") => Bool,
        ("process", "pid") => ANY_INT,
        ("process", "created_time") => Ts,
        ("process", "cwd" | "command_line") => Str,
        ("process", "environment_variables") => Dict(DictVal::Str),
        ("process", "opened_connection_refs") => Refs(Target::Only(&["network-traffic"])),
        ("process", "creator_user_ref") => Ref(Target::Only(&["user-account"])),
        ("process", "image_ref") => Ref(Target::Only(&["file"])),
        ("process", "parent_ref") => Ref(Target::Only(&["process"])),
        ("process", "child_refs") => Refs(Target::Only(&["process"])),

        ("software", "name" | "swid" | "vendor" | "version") => Str,
        ("software", "cpe") => Cpe,
        ("software", "languages") => LangList,

        ("url", "value") => Url,

        (
            "user-account",
            "user_id" | "credential" | "account_login" | "account_type" | "display_name",
        ) => Str,
        (
            "user-account",
            "is_service_account" | "is_privileged" | "can_escalate_privs" | "is_disabled",
        ) => Bool,
        (
            "user-account",
            "account_created"
            | "account_expires"
            | "credential_last_changed"
            | "account_first_login"
            | "account_last_login",
        ) => Ts,

        ("windows-registry-key", "key") => RegistryKey,
        ("windows-registry-key", "values") => ObjectList(&REGISTRY_VALUE),
        ("windows-registry-key", "modified_time") => Ts,
        ("windows-registry-key", "creator_user_ref") => Ref(Target::Only(&["user-account"])),
        ("windows-registry-key", "number_of_subkeys") => NON_NEG,

        ("x509-certificate", "is_self_signed") => Bool,
        ("x509-certificate", "hashes") => Hashes(false),
        (
            "x509-certificate",
            "version"
            | "serial_number"
            | "signature_algorithm"
            | "issuer"
            | "subject"
            | "subject_public_key_algorithm"
            | "subject_public_key_modulus",
        ) => Str,
        ("x509-certificate", "validity_not_before" | "validity_not_after") => Ts,
        ("x509-certificate", "subject_public_key_exponent") => ANY_INT,
        ("x509-certificate", "x509_v3_extensions") => Object(&X509_V3_EXTENSIONS),
        _ => return None,
    };
    Some(k)
}

/// Whether STIX 2.1 requires property `name` on objects of type `ty` (common and
/// type-specific properties). Redacting such a property would leave an invalid object.
pub fn is_required_property(ty: &str, name: &str) -> bool {
    let common: &[&str] = if is_sco(ty) {
        &["type", "id"]
    } else {
        &["type", "id", "spec_version", "created", "modified"]
    };
    common.contains(&name) || required_props(ty).contains(&name)
}

/// Whether removing `name` from an object of type `ty` leaves it invalid: a required property,
/// or observed-data's `object_refs` (required where the deprecated `objects` is absent, and
/// relto serves it only that way).
pub fn is_required_for_release(ty: &str, name: &str) -> bool {
    is_required_property(ty, name) || (ty == "observed-data" && name == "object_refs")
}

/// Required type-specific properties (beyond type/id/spec_version/created/modified).
fn required_props(ty: &str) -> &'static [&'static str] {
    match ty {
        "attack-pattern" | "campaign" | "course-of-action" | "identity" | "incident"
        | "infrastructure" | "intrusion-set" | "threat-actor" | "tool" | "vulnerability" => {
            &["name"]
        }
        "grouping" => &["context", "object_refs"],
        "indicator" => &["pattern", "pattern_type", "valid_from"],
        "malware" => &["is_family"],
        "malware-analysis" => &["product"],
        "note" => &["content", "object_refs"],
        "observed-data" => &["first_observed", "last_observed", "number_observed"],
        "opinion" => &["opinion", "object_refs"],
        "report" => &["name", "published", "object_refs"],
        "relationship" => &["relationship_type", "source_ref", "target_ref"],
        "sighting" => &["sighting_of_ref"],
        "language-content" => &["object_ref", "contents"],
        "extension-definition" => &[
            "created_by_ref",
            "name",
            "schema",
            "version",
            "extension_types",
        ],
        "autonomous-system" => &["number"],
        "directory" => &["path"],
        "domain-name" | "email-addr" | "ipv4-addr" | "ipv6-addr" | "mac-addr" | "url" => &["value"],
        "email-message" => &["is_multipart"],
        "mutex" | "software" => &["name"],
        "network-traffic" => &["protocols"],
        _ => &[],
    }
}

/// Objects for which "at least one of" a set of properties is required.
fn at_least_one_props(ty: &str) -> &'static [&'static str] {
    match ty {
        "location" => &["region", "country", "latitude"],
        "malware-analysis" => &["result", "analysis_sco_refs"],
        "file" => &["hashes", "name"],
        "network-traffic" => &["src_ref", "dst_ref"],
        "process" => &[
            "extensions",
            "is_hidden",
            "pid",
            "created_time",
            "cwd",
            "command_line",
            "environment_variables",
            "opened_connection_refs",
            "creator_user_ref",
            "image_ref",
            "parent_ref",
            "child_refs",
        ],
        "user-account" => &[
            "extensions",
            "user_id",
            "credential",
            "account_login",
            "account_type",
            "display_name",
            "is_service_account",
            "is_privileged",
            "can_escalate_privs",
            "is_disabled",
            "account_created",
            "account_expires",
            "credential_last_changed",
            "account_first_login",
            "account_last_login",
        ],
        "windows-registry-key" => &[
            "key",
            "values",
            "modified_time",
            "creator_user_ref",
            "number_of_subkeys",
            "extensions",
        ],
        "x509-certificate" => &[
            "is_self_signed",
            "hashes",
            "version",
            "serial_number",
            "signature_algorithm",
            "issuer",
            "validity_not_before",
            "validity_not_after",
            "subject",
            "subject_public_key_algorithm",
            "subject_public_key_modulus",
            "subject_public_key_exponent",
            "x509_v3_extensions",
        ],
        _ => &[],
    }
}

/// Timestamp ordering rules: (later, strictly_greater, earlier).
fn timestamp_orders(ty: &str) -> &'static [(&'static str, bool, &'static str)] {
    match ty {
        "campaign" | "infrastructure" | "intrusion-set" | "malware" | "threat-actor"
        | "sighting" => &[("last_seen", false, "first_seen")],
        "indicator" => &[("valid_until", true, "valid_from")],
        "observed-data" => &[("last_observed", false, "first_observed")],
        "relationship" => &[("stop_time", true, "start_time")],
        "network-traffic" => &[("end", false, "start")],
        _ => &[],
    }
}

// Embedded object types ------------------------------------------------------

static KILL_CHAIN_PHASE: Nested = Nested {
    name: "kill-chain-phase",
    props: |n| match n {
        "kill_chain_name" | "phase_name" => Some(Kind::Str),
        _ => None,
    },
    required: &["kill_chain_name", "phase_name"],
    at_least_one: &[],
};

static EXTERNAL_REFERENCE: Nested = Nested {
    name: "external-reference",
    props: |n| match n {
        "source_name" | "description" | "external_id" => Some(Kind::Str),
        "url" => Some(Kind::Url),
        "hashes" => Some(Kind::Hashes(true)),
        _ => None,
    },
    required: &["source_name"],
    at_least_one: &["description", "url", "external_id"],
};

static MIME_PART: Nested = Nested {
    name: "email MIME component",
    props: |n| match n {
        "body" | "content_type" | "content_disposition" => Some(Kind::Str),
        "body_raw_ref" => Some(Kind::Ref(Target::Only(&["artifact", "file"]))),
        _ => None,
    },
    required: &[],
    at_least_one: &["body", "body_raw_ref"],
};

static REGISTRY_VALUE: Nested = Nested {
    name: "windows registry value",
    props: |n| match n {
        "name" | "data" => Some(Kind::Str),
        "data_type" => Some(Kind::Enum(REGISTRY_DATATYPES)),
        _ => None,
    },
    required: &[],
    at_least_one: &["name", "data", "data_type"],
};

static X509_V3_EXTENSIONS: Nested = Nested {
    name: "x509 v3 extensions",
    props: |n| match n {
        "basic_constraints"
        | "name_constraints"
        | "policy_constraints"
        | "key_usage"
        | "extended_key_usage"
        | "subject_key_identifier"
        | "authority_key_identifier"
        | "subject_alternative_name"
        | "issuer_alternative_name"
        | "subject_directory_attributes"
        | "crl_distribution_points"
        | "inhibit_any_policy"
        | "certificate_policies"
        | "policy_mappings" => Some(Kind::Str),
        "private_key_usage_period_not_before" | "private_key_usage_period_not_after" => {
            Some(Kind::Ts)
        }
        _ => None,
    },
    required: &[],
    at_least_one: &[
        "basic_constraints",
        "name_constraints",
        "policy_constraints",
        "key_usage",
        "extended_key_usage",
        "subject_key_identifier",
        "authority_key_identifier",
        "subject_alternative_name",
        "issuer_alternative_name",
        "subject_directory_attributes",
        "crl_distribution_points",
        "inhibit_any_policy",
        "private_key_usage_period_not_before",
        "private_key_usage_period_not_after",
        "certificate_policies",
        "policy_mappings",
    ],
};

static ARCHIVE_EXT: Nested = Nested {
    name: "archive-ext",
    props: |n| match n {
        "contains_refs" => Some(Kind::Refs(Target::Only(&["file", "directory"]))),
        "comment" => Some(Kind::Str),
        _ => None,
    },
    required: &["contains_refs"],
    at_least_one: &[],
};

static ALTERNATE_DATA_STREAM: Nested = Nested {
    name: "alternate data stream",
    props: |n| match n {
        "name" => Some(Kind::Str),
        "hashes" => Some(Kind::Hashes(false)),
        "size" => Some(NON_NEG),
        _ => None,
    },
    required: &["name"],
    at_least_one: &[],
};

static NTFS_EXT: Nested = Nested {
    name: "ntfs-ext",
    props: |n| match n {
        "sid" => Some(Kind::Str),
        "alternate_data_streams" => Some(Kind::ObjectList(&ALTERNATE_DATA_STREAM)),
        _ => None,
    },
    required: &[],
    at_least_one: &["sid", "alternate_data_streams"],
};

static PDF_EXT: Nested = Nested {
    name: "pdf-ext",
    props: |n| match n {
        "version" | "pdfid0" | "pdfid1" => Some(Kind::Str),
        "is_optimized" => Some(Kind::Bool),
        "document_info_dict" => Some(Kind::Dict(DictVal::Str)),
        _ => None,
    },
    required: &[],
    at_least_one: &[
        "version",
        "is_optimized",
        "document_info_dict",
        "pdfid0",
        "pdfid1",
    ],
};

static RASTER_IMAGE_EXT: Nested = Nested {
    name: "raster-image-ext",
    props: |n| match n {
        "image_height" | "image_width" | "bits_per_pixel" => Some(ANY_INT),
        "exif_tags" => Some(Kind::Dict(DictVal::IntOrStr)),
        _ => None,
    },
    required: &[],
    at_least_one: &["image_height", "image_width", "bits_per_pixel", "exif_tags"],
};

static PE_OPTIONAL_HEADER: Nested = Nested {
    name: "windows PE optional header",
    props: |n| match n {
        "magic_hex"
        | "win32_version_value_hex"
        | "checksum_hex"
        | "subsystem_hex"
        | "dll_characteristics_hex"
        | "loader_flags_hex" => Some(Kind::Hex),
        "size_of_code"
        | "size_of_initialized_data"
        | "size_of_uninitialized_data"
        | "size_of_image"
        | "size_of_headers"
        | "size_of_stack_reserve"
        | "size_of_stack_commit"
        | "size_of_heap_reserve"
        | "size_of_heap_commit" => Some(NON_NEG),
        "major_linker_version"
        | "minor_linker_version"
        | "address_of_entry_point"
        | "base_of_code"
        | "base_of_data"
        | "image_base"
        | "section_alignment"
        | "file_alignment"
        | "major_os_version"
        | "minor_os_version"
        | "major_image_version"
        | "minor_image_version"
        | "major_subsystem_version"
        | "minor_subsystem_version"
        | "number_of_rva_and_sizes" => Some(ANY_INT),
        "hashes" => Some(Kind::Hashes(false)),
        _ => None,
    },
    required: &[],
    // "at least one property from this type": checked as a non-empty object.
    at_least_one: &[],
};

static PE_SECTION: Nested = Nested {
    name: "windows PE section",
    props: |n| match n {
        "name" => Some(Kind::Str),
        "size" => Some(NON_NEG),
        "entropy" => Some(Kind::Num(f64::MIN, f64::MAX)),
        "hashes" => Some(Kind::Hashes(false)),
        _ => None,
    },
    required: &["name"],
    at_least_one: &[],
};

static PEBINARY_EXT: Nested = Nested {
    name: "windows-pebinary-ext",
    props: |n| match n {
        "pe_type" | "imphash" => Some(Kind::Str),
        "machine_hex" | "pointer_to_symbol_table_hex" | "characteristics_hex" => Some(Kind::Hex),
        "number_of_sections" | "number_of_symbols" | "size_of_optional_header" => Some(NON_NEG),
        "time_date_stamp" => Some(Kind::TsSeconds),
        "file_header_hashes" => Some(Kind::Hashes(false)),
        "optional_header" => Some(Kind::Object(&PE_OPTIONAL_HEADER)),
        "sections" => Some(Kind::ObjectList(&PE_SECTION)),
        _ => None,
    },
    required: &["pe_type"],
    at_least_one: &[
        "imphash",
        "machine_hex",
        "number_of_sections",
        "time_date_stamp",
        "pointer_to_symbol_table_hex",
        "number_of_symbols",
        "size_of_optional_header",
        "characteristics_hex",
        "file_header_hashes",
        "optional_header",
        "sections",
    ],
};

static HTTP_REQUEST_EXT: Nested = Nested {
    name: "http-request-ext",
    props: |n| match n {
        "request_method" | "request_value" | "request_version" => Some(Kind::Str),
        "request_header" => Some(Kind::Dict(DictVal::StrList)),
        "message_body_length" => Some(NON_NEG),
        "message_body_data_ref" => Some(Kind::Ref(Target::Only(&["artifact"]))),
        _ => None,
    },
    required: &["request_method", "request_value"],
    at_least_one: &[],
};

static ICMP_EXT: Nested = Nested {
    name: "icmp-ext",
    props: |n| match n {
        "icmp_type_hex" | "icmp_code_hex" => Some(Kind::Hex),
        _ => None,
    },
    required: &["icmp_type_hex", "icmp_code_hex"],
    at_least_one: &[],
};

static SOCKET_EXT: Nested = Nested {
    name: "socket-ext",
    props: |n| match n {
        "address_family" => Some(Kind::Enum(SOCKET_FAMILIES)),
        "is_blocking" | "is_listening" => Some(Kind::Bool),
        "options" => Some(Kind::Dict(DictVal::Int)),
        "socket_type" => Some(Kind::Enum(SOCKET_TYPES)),
        "socket_descriptor" => Some(NON_NEG),
        "socket_handle" => Some(ANY_INT),
        _ => None,
    },
    required: &["address_family"],
    at_least_one: &[],
};

static TCP_EXT: Nested = Nested {
    name: "tcp-ext",
    props: |n| match n {
        "src_flags_hex" | "dst_flags_hex" => Some(Kind::Hex),
        _ => None,
    },
    required: &[],
    at_least_one: &["src_flags_hex", "dst_flags_hex"],
};

static UNIX_ACCOUNT_EXT: Nested = Nested {
    name: "unix-account-ext",
    props: |n| match n {
        "gid" => Some(ANY_INT),
        "groups" => Some(Kind::StrList),
        "home_dir" | "shell" => Some(Kind::Str),
        _ => None,
    },
    required: &[],
    at_least_one: &["gid", "groups", "home_dir", "shell"],
};

static WINDOWS_PROCESS_EXT: Nested = Nested {
    name: "windows-process-ext",
    props: |n| match n {
        "aslr_enabled" | "dep_enabled" => Some(Kind::Bool),
        "priority" | "owner_sid" | "window_title" => Some(Kind::Str),
        "startup_info" => Some(Kind::Dict(DictVal::Any)),
        "integrity_level" => Some(Kind::Enum(INTEGRITY_LEVELS)),
        _ => None,
    },
    required: &[],
    at_least_one: &[
        "aslr_enabled",
        "dep_enabled",
        "priority",
        "owner_sid",
        "window_title",
        "startup_info",
        "integrity_level",
    ],
};

static WINDOWS_SERVICE_EXT: Nested = Nested {
    name: "windows-service-ext",
    props: |n| match n {
        "service_name" | "display_name" | "group_name" => Some(Kind::Str),
        "descriptions" => Some(Kind::StrList),
        "start_type" => Some(Kind::Enum(SERVICE_START_TYPES)),
        "service_dll_refs" => Some(Kind::Refs(Target::Only(&["file"]))),
        "service_type" => Some(Kind::Enum(SERVICE_TYPES)),
        "service_status" => Some(Kind::Enum(SERVICE_STATUSES)),
        _ => None,
    },
    required: &[],
    at_least_one: &[
        "service_name",
        "descriptions",
        "display_name",
        "group_name",
        "start_type",
        "service_dll_refs",
        "service_type",
        "service_status",
    ],
};

/// Predefined extensions (§3.10, §6): (name, owning SCO type, spec).
static PREDEFINED_EXTENSIONS: &[(&str, &str, &Nested)] = &[
    ("archive-ext", "file", &ARCHIVE_EXT),
    ("ntfs-ext", "file", &NTFS_EXT),
    ("pdf-ext", "file", &PDF_EXT),
    ("raster-image-ext", "file", &RASTER_IMAGE_EXT),
    ("windows-pebinary-ext", "file", &PEBINARY_EXT),
    ("http-request-ext", "network-traffic", &HTTP_REQUEST_EXT),
    ("icmp-ext", "network-traffic", &ICMP_EXT),
    ("socket-ext", "network-traffic", &SOCKET_EXT),
    ("tcp-ext", "network-traffic", &TCP_EXT),
    ("unix-account-ext", "user-account", &UNIX_ACCOUNT_EXT),
    ("windows-process-ext", "process", &WINDOWS_PROCESS_EXT),
    ("windows-service-ext", "process", &WINDOWS_SERVICE_EXT),
];

// ---------------------------------------------------------------------------
// Paths for messages (built only when an error is reported)

#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Seg<'a>,
}

impl<'a> Path<'a> {
    fn key(parent: Option<&'a Path<'a>>, k: &'a str) -> Path<'a> {
        Path {
            parent,
            seg: Seg::Key(k),
        }
    }
    fn index(parent: &'a Path<'a>, i: usize) -> Path<'a> {
        Path {
            parent: Some(parent),
            seg: Seg::Index(i),
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.parent {
            write!(f, "{p}")?;
        }
        match self.seg {
            Seg::Key(k) if self.parent.is_some() => write!(f, ".{k}"),
            Seg::Key(k) => f.write_str(k),
            Seg::Index(i) => write!(f, "[{i}]"),
        }
    }
}

type R = Result<(), String>;

fn fail(p: &Path<'_>, what: impl fmt::Display) -> R {
    Err(format!("property '{p}' {what}"))
}

// ---------------------------------------------------------------------------
// Entry point

/// Validates one STIX 2.1 object given as raw JSON text.
pub fn validate_object(raw: &str) -> Result<ObjectMeta, ValidationError> {
    let value = parse_strict(raw).map_err(|e| ValidationError {
        id: None,
        message: format!("object is not valid JSON: {e}"),
    })?;
    let Value::Object(obj) = &value else {
        return Err(ValidationError {
            id: None,
            message: "a STIX object must be a JSON object".to_owned(),
        });
    };
    let id = obj.get("id").and_then(Value::as_str).map(str::to_owned);
    let ty_label = obj.get("type").and_then(Value::as_str).unwrap_or("object");
    match validate_map(obj) {
        Ok(meta) => Ok(meta),
        Err(msg) => Err(ValidationError {
            id,
            message: format!("{}: {msg}", short(ty_label)),
        }),
    }
}

/// Parses JSON into a `Value`, rejecting objects with duplicate member
/// names anywhere in the document. Duplicates make an object ambiguous
/// (RFC 8259 §4: receivers behave unpredictably; RFC 7493 I-JSON forbids
/// them), and the hub stores the original bytes, so every consumer must see
/// the same object that was validated.
fn parse_strict(raw: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(raw);
    let v = StrictValue::deserialize(&mut de)?;
    de.end()?;
    Ok(v.0)
}

struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = StrictValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Bool(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::from(v)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<StrictValue, E> {
        Ok(StrictValue(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::String(v)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }
    fn visit_none<E: de::Error>(self) -> Result<StrictValue, E> {
        Ok(StrictValue(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<StrictValue, D::Error> {
        StrictValue::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrictValue, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(StrictValue(item)) = seq.next_element()? {
            v.push(item);
        }
        Ok(StrictValue(Value::Array(v)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictValue, A::Error> {
        let mut m = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let StrictValue(v) = map.next_value()?;
            if m.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate member name \"{}\"",
                    short(&key)
                )));
            }
            m.insert(key, v);
        }
        Ok(StrictValue(Value::Object(m)))
    }
}

fn short(s: &str) -> &str {
    if s.len() <= 64 {
        return s;
    }
    let mut end = 64;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn validate_map(obj: &Map<String, Value>) -> Result<ObjectMeta, String> {
    // type
    let ty = match obj.get("type") {
        None => return Err("required property 'type' is missing".to_owned()),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err("property 'type' must be a string".to_owned()),
    };
    if !is_valid_type_name(ty) {
        return Err(format!(
            "'{}' is not a valid type name (3-250 characters of a-z, 0-9 and '-', starting with a letter, without '--')",
            short(ty)
        ));
    }
    if ty == "bundle" {
        return Err("a bundle is not a STIX object and cannot be stored as one".to_owned());
    }
    if ty == "action" {
        return Err("the object type 'action' is reserved".to_owned());
    }
    let class = if is_sdo(ty) {
        Class::Sdo
    } else if is_sro(ty) {
        Class::Sro
    } else if is_sco(ty) {
        Class::Sco
    } else {
        match ty {
            "marking-definition" => Class::Marking,
            "language-content" => Class::LanguageContent,
            "extension-definition" => Class::ExtensionDefinition,
            _ if obj.contains_key("created") || obj.contains_key("modified") => Class::CustomCore,
            _ => Class::CustomSco,
        }
    };

    // id
    let id = match obj.get("id") {
        None => return Err("required property 'id' is missing".to_owned()),
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err("property 'id' must be a string".to_owned()),
    };
    let (id_type, uuid) = parse_id(id).map_err(|e| format!("property 'id': {e}"))?;
    if id_type != ty {
        return Err(format!(
            "property 'id' must start with '{ty}--' (the object's type), not '{}--'",
            short(id_type)
        ));
    }

    // spec_version
    let spec_version = match obj.get("spec_version") {
        None if class.sco_like() => "2.1",
        None => return Err("required property 'spec_version' is missing".to_owned()),
        Some(Value::String(s)) if s == "2.1" => "2.1",
        Some(Value::String(s)) => {
            return Err(format!(
                "property 'spec_version' must be \"2.1\", not \"{}\"",
                short(s)
            ))
        }
        Some(_) => return Err("property 'spec_version' must be the string \"2.1\"".to_owned()),
    };

    // created / modified presence
    match class {
        Class::Sdo
        | Class::Sro
        | Class::LanguageContent
        | Class::ExtensionDefinition
        | Class::CustomCore => {
            for req in ["created", "modified"] {
                if !obj.contains_key(req) {
                    return Err(format!("required property '{req}' is missing"));
                }
            }
        }
        Class::Marking => {
            if !obj.contains_key("created") {
                return Err("required property 'created' is missing".to_owned());
            }
        }
        Class::Sco | Class::CustomSco => {}
    }
    for req in required_props(ty) {
        if !obj.contains_key(*req) {
            return Err(format!("required property '{req}' is missing"));
        }
    }

    // Every property.
    for (name, value) in obj {
        let name = name.as_str();
        if matches!(name, "type" | "id" | "spec_version") {
            continue;
        }
        let p = Path::key(None, name);
        check_property_name(name, &p)?;
        let kind = match class {
            Class::Marking => marking_prop(name),
            Class::Sco | Class::CustomSco => type_prop(ty, name).or_else(|| common_sco_prop(name)),
            _ => type_prop(ty, name).or_else(|| common_core_prop(name)),
        };
        if name == "defanged" && !class.sco_like() {
            return Err(
                "property 'defanged' must not be used on objects other than SCOs".to_owned(),
            );
        }
        match kind {
            Some(Kind::Extensions) => check_extensions(value, &p, ty, class)?,
            Some(Kind::GranularMarkings) => check_granular_markings(value, &p, obj, id)?,
            Some(kind) => check_kind(kind, value, &p)?,
            None => check_custom_value(name, value, &p)?,
        }
    }

    // Co-constraints.
    let at_least = at_least_one_props(ty);
    if !at_least.is_empty() && !at_least.iter().any(|k| obj.contains_key(*k)) {
        return Err(match ty {
            "location" => {
                "at least one of 'region', 'country' or 'latitude'+'longitude' must be present"
                    .to_owned()
            }
            _ => format!(
                "at least one of the properties {} must be present",
                quote_list(at_least)
            ),
        });
    }
    check_timestamp_order(obj, "modified", false, "created")?;
    for (later, strict, earlier) in timestamp_orders(ty) {
        check_timestamp_order(obj, later, *strict, earlier)?;
    }
    type_constraints(ty, class, obj, id, uuid)?;

    // Result.
    let created = ts_of(obj, "created", class);
    let modified = ts_of(obj, "modified", class);
    let created_by_ref = obj
        .get("created_by_ref")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let object_marking_refs = match obj.get("object_marking_refs") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let granular_markings = match obj.get("granular_markings") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_object)
            .map(|gm| GranularMarking {
                marking_ref: gm
                    .get("marking_ref")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                lang: gm.get("lang").and_then(Value::as_str).map(str::to_owned),
                selectors: match gm.get("selectors") {
                    Some(Value::Array(s)) => s
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                    _ => Vec::new(),
                },
            })
            .collect(),
        _ => Vec::new(),
    };
    let ref_of = |name: &str| obj.get(name).and_then(Value::as_str).map(str::to_owned);
    let endpoints: Vec<String> = match ty {
        "relationship" => [ref_of("source_ref"), ref_of("target_ref")]
            .into_iter()
            .flatten()
            .collect(),
        "sighting" => ref_of("sighting_of_ref").into_iter().collect(),
        "language-content" => ref_of("object_ref").into_iter().collect(),
        _ => Vec::new(),
    };
    let object_refs = match (ty, obj.get("object_refs")) {
        (
            "report" | "grouping" | "note" | "opinion" | "observed-data",
            Some(Value::Array(items)),
        ) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Ok(ObjectMeta {
        id: StixId::checked(id),
        object_type: ty.to_owned(),
        spec_version: spec_version.to_owned(),
        created,
        modified,
        created_by_ref,
        object_marking_refs,
        granular_markings,
        endpoints,
        object_refs,
    })
}

fn ts_of(obj: &Map<String, Value>, name: &str, class: Class) -> Option<Timestamp> {
    if class.sco_like() {
        return None;
    }
    obj.get(name)
        .and_then(Value::as_str)
        .and_then(|s| parse_timestamp(s).ok())
}

fn quote_list(list: &[&str]) -> String {
    let mut s = String::new();
    for (i, k) in list.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('\'');
        s.push_str(k);
        s.push('\'');
    }
    s
}

fn check_property_name(name: &str, p: &Path<'_>) -> R {
    if name != "id" && !is_valid_property_name(name) {
        return Err(format!(
            "property name '{}' is invalid: property names must be 3-250 characters of a-z, 0-9 and '_', starting with a letter",
            short(name)
        ));
    }
    if RESERVED_PROPERTIES.contains(&name) {
        return fail(p, "is a reserved property name and must not be used");
    }
    Ok(())
}

/// Rules for properties this module does not know (custom properties and
/// properties of extensions): no nulls, no empty lists, `_hex`/`_bin`
/// suffixes imply the type, `_ref`/`_refs` suffixes imply identifiers.
fn check_custom_value(name: &str, v: &Value, p: &Path<'_>) -> R {
    match v {
        Value::Null => return fail(p, "must not be null"),
        Value::Array(a) if a.is_empty() => return fail(p, "must not be an empty list"),
        _ => {}
    }
    if name.ends_with("_hex") {
        check_kind(Kind::Hex, v, p)
    } else if name.ends_with("_bin") {
        check_kind(Kind::Binary, v, p)
    } else if name.ends_with("_ref") {
        check_kind(Kind::Ref(Target::Any), v, p)
    } else if name.ends_with("_refs") {
        check_kind(Kind::Refs(Target::Any), v, p)
    } else {
        Ok(())
    }
}

fn check_timestamp_order(obj: &Map<String, Value>, later: &str, strict: bool, earlier: &str) -> R {
    let (Some(Value::String(a)), Some(Value::String(b))) = (obj.get(later), obj.get(earlier))
    else {
        return Ok(());
    };
    let (Ok(ta), Ok(tb)) = (parse_micros(a), parse_micros(b)) else {
        return Ok(());
    };
    // Microseconds truncate: digits beyond the sixth order timestamps within one microsecond.
    let (ta, tb) = ((ta, sub_micros(a)), (tb, sub_micros(b)));
    if strict && ta <= tb {
        return Err(format!(
            "property '{later}' ({a}) must be later than '{earlier}' ({b})"
        ));
    }
    if !strict && ta < tb {
        return Err(format!(
            "property '{later}' ({a}) must be later than or equal to '{earlier}' ({b})"
        ));
    }
    Ok(())
}

/// The fractional digits of a timestamp beyond the sixth, right-padded to 12, as a number.
fn sub_micros(ts: &str) -> u64 {
    let frac = ts
        .split_once('.')
        .map(|(_, f)| f.trim_end_matches(['Z', 'z']))
        .unwrap_or("");
    let beyond: String = frac.chars().skip(6).take(12).collect();
    format!("{beyond:0<12}").parse().unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Value checks

fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Some(i)
            } else if n.as_u64().is_some() {
                Some(i64::MAX)
            } else {
                // JSON numbers like 5.0 are integral values too.
                let f = n.as_f64()?;
                (f.fract() == 0.0 && f.abs() < 9.2e18).then_some(f as i64)
            }
        }
        _ => None,
    }
}

fn check_kind(kind: Kind, v: &Value, p: &Path<'_>) -> R {
    match kind {
        Kind::Str => match v {
            Value::String(_) => Ok(()),
            _ => fail(p, "must be a string"),
        },
        Kind::Bool => match v {
            Value::Bool(_) => Ok(()),
            _ => fail(p, "must be a boolean (true or false)"),
        },
        Kind::Int(min, max) => match as_int(v) {
            Some(i) if i >= min && i <= max => Ok(()),
            Some(_) if min == MIN_INT && max == MAX_INT => {
                fail(p, "must be an integer within ±(2^53-1)")
            }
            Some(_) if max == MAX_INT => fail(p, format!("must be an integer >= {min}")),
            Some(_) => fail(p, format!("must be an integer between {min} and {max}")),
            None => fail(p, "must be an integer"),
        },
        Kind::Num(min, max) => match v.as_f64() {
            Some(f) if f >= min && f <= max => Ok(()),
            Some(_) if max == f64::MAX => fail(p, format!("must be a number >= {min}")),
            Some(_) => fail(p, format!("must be a number between {min} and {max}")),
            None => fail(p, "must be a number"),
        },
        Kind::Ts | Kind::TsMillis | Kind::TsSeconds => {
            let Value::String(s) = v else {
                return fail(p, "must be a timestamp string");
            };
            if let Err(e) = parse_micros(s) {
                return fail(p, e);
            }
            if matches!(kind, Kind::TsMillis) && fraction_digits(s) < 3 {
                return fail(
                    p,
                    format!("('{s}') must be precise to at least milliseconds (three fractional digits)"),
                );
            }
            if matches!(kind, Kind::TsSeconds) && fraction_digits(s) > 0 {
                return fail(
                    p,
                    format!("('{s}') must be precise to the second (no fractional part)"),
                );
            }
            Ok(())
        }
        Kind::Ref(target) => check_ref(v, p, target),
        Kind::Refs(target) => {
            let Value::Array(a) = v else {
                return fail(p, "must be a list of identifiers");
            };
            if a.is_empty() {
                return fail(p, "must not be an empty list");
            }
            for (i, item) in a.iter().enumerate() {
                check_ref(item, &Path::index(p, i), target)?;
            }
            Ok(())
        }
        Kind::StrList => {
            let Value::Array(a) = v else {
                return fail(p, "must be a list of strings");
            };
            if a.is_empty() {
                return fail(p, "must not be an empty list");
            }
            for (i, item) in a.iter().enumerate() {
                if !item.is_string() {
                    return fail(&Path::index(p, i), "must be a string");
                }
            }
            Ok(())
        }
        Kind::Enum(values) => match v {
            Value::String(s) if values.contains(&s.as_str()) => Ok(()),
            Value::String(s) => fail(
                p,
                format!(
                    "has value '{}' which is not one of {}",
                    short(s),
                    quote_list(values)
                ),
            ),
            _ => fail(p, "must be a string"),
        },
        Kind::Lang => match v {
            Value::String(s) if is_language_tag(s) => Ok(()),
            Value::String(s) => fail(
                p,
                format!("('{}') must be an RFC 5646 language code", short(s)),
            ),
            _ => fail(p, "must be a string (an RFC 5646 language code)"),
        },
        Kind::LangList => {
            let Value::Array(a) = v else {
                return fail(p, "must be a list of RFC 5646 language codes");
            };
            if a.is_empty() {
                return fail(p, "must not be an empty list");
            }
            for (i, item) in a.iter().enumerate() {
                check_kind(Kind::Lang, item, &Path::index(p, i))?;
            }
            Ok(())
        }
        Kind::Hashes(vocab_only) => check_hashes(v, p, vocab_only),
        Kind::Dict(values) => check_dict(v, p, values),
        Kind::KillChainPhases => check_object_list(v, p, &KILL_CHAIN_PHASE),
        Kind::ExternalReferences => {
            check_object_list(v, p, &EXTERNAL_REFERENCE)?;
            if let Value::Array(a) = v {
                for (i, er) in a.iter().enumerate() {
                    check_external_id(er, &Path::index(p, i))?;
                }
            }
            Ok(())
        }
        Kind::Hex => match v {
            Value::String(s) if is_hex(s) => Ok(()),
            Value::String(_) => fail(
                p,
                "must be hexadecimal: an even number of the characters 0-9 and a-f (lower case)",
            ),
            _ => fail(p, "must be a hexadecimal string"),
        },
        Kind::Binary => match v {
            Value::String(s) if is_base64(s) => Ok(()),
            Value::String(_) => fail(p, "must be base64-encoded binary data"),
            _ => fail(p, "must be a base64 string"),
        },
        Kind::Url => match v {
            Value::String(s) if is_uri(s) => Ok(()),
            Value::String(s) => fail(
                p,
                format!("('{}') must be a URL conforming to RFC 3986", short(s)),
            ),
            _ => fail(p, "must be a string (a URL)"),
        },
        Kind::Object(spec) => check_nested(v, p, spec),
        Kind::ObjectList(spec) => check_object_list(v, p, spec),
        Kind::AnyObject => match v {
            Value::Object(m) if !m.is_empty() => Ok(()),
            Value::Object(_) => fail(p, "must not be an empty object"),
            _ => fail(p, "must be an object"),
        },
        Kind::Charset => match v {
            Value::String(s)
                if (1..=250).contains(&s.len())
                    && s.bytes().all(|c| {
                        c.is_ascii_alphanumeric()
                            || matches!(c, b'-' | b'_' | b'.' | b':' | b'(' | b')' | b'+' | b'/')
                    }) =>
            {
                Ok(())
            }
            _ => fail(
                p,
                "must be the name of a character set from the IANA registry",
            ),
        },
        Kind::Cpe => match v {
            Value::String(s) if is_cpe23(s) => Ok(()),
            _ => fail(
                p,
                "must be a CPE v2.3 formatted name (cpe:2.3:part:vendor:product:…)",
            ),
        },
        Kind::RelationshipType => match v {
            Value::String(s)
                if !s.is_empty()
                    && s.bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-') =>
            {
                Ok(())
            }
            Value::String(_) => fail(p, "must contain only the characters a-z, 0-9 and '-'"),
            _ => fail(p, "must be a string"),
        },
        Kind::DomainName => match v {
            Value::String(s) if is_domain_name(s) => Ok(()),
            Value::String(s) => fail(
                p,
                format!(
                    "('{}') must be a valid domain name (RFC 1034 / RFC 5890)",
                    short(s)
                ),
            ),
            _ => fail(p, "must be a string"),
        },
        Kind::EmailAddress => match v {
            Value::String(s) if is_email_address(s) => Ok(()),
            Value::String(s) => fail(
                p,
                format!(
                    "('{}') must be an email address (addr-spec, without display name)",
                    short(s)
                ),
            ),
            _ => fail(p, "must be a string"),
        },
        Kind::Ipv4 => match v {
            Value::String(s) if is_ipv4_cidr(s) => Ok(()),
            Value::String(s) => fail(
                p,
                format!("('{}') must be an IPv4 address or CIDR block", short(s)),
            ),
            _ => fail(p, "must be a string"),
        },
        Kind::Ipv6 => match v {
            Value::String(s) if is_ipv6_cidr(s) => Ok(()),
            Value::String(s) => fail(
                p,
                format!("('{}') must be an IPv6 address or CIDR block", short(s)),
            ),
            _ => fail(p, "must be a string"),
        },
        Kind::Mac => match v {
            Value::String(s) if is_mac(s) => Ok(()),
            Value::String(s) => fail(
                p,
                format!(
                    "('{}') must be a colon-delimited, lowercase MAC-48 address with leading zeros",
                    short(s)
                ),
            ),
            _ => fail(p, "must be a string"),
        },
        Kind::RegistryKey => {
            match v {
                Value::String(s) => {
                    let hive = s.split('\\').next().unwrap_or("");
                    if ["HKLM", "HKCC", "HKCR", "HKCU", "HKU"]
                        .iter()
                        .any(|a| hive.eq_ignore_ascii_case(a))
                    {
                        fail(p, "must use the fully expanded hive name (e.g. HKEY_LOCAL_MACHINE, not HKLM)")
                    } else {
                        Ok(())
                    }
                }
                _ => fail(p, "must be a string"),
            }
        }
        Kind::ObservableContainer => {
            let Value::Object(m) = v else {
                return fail(p, "must be a dictionary of cyber-observable objects");
            };
            if m.is_empty() {
                return fail(p, "must contain at least one object");
            }
            for (k, o) in m {
                let kp = Path::key(Some(p), k);
                let Value::Object(om) = o else {
                    return fail(&kp, "must be a cyber-observable object");
                };
                match om.get("type") {
                    Some(Value::String(t)) if is_valid_type_name(t) => {}
                    _ => return fail(&kp, "must have a valid 'type'"),
                }
            }
            Ok(())
        }
        Kind::LanguageContents => check_language_contents(v, p),
        Kind::Extensions | Kind::GranularMarkings => Ok(()),
    }
}

fn check_ref(v: &Value, p: &Path<'_>, target: Target) -> R {
    let Value::String(s) = v else {
        return fail(p, "must be an identifier string");
    };
    let (t, _) = match parse_id(s) {
        Ok(x) => x,
        Err(e) => return fail(p, e),
    };
    if !target.allows(t) {
        return fail(
            p,
            format!("must reference {}, not '{t}'", target.describe()),
        );
    }
    Ok(())
}

fn check_object_list(v: &Value, p: &Path<'_>, spec: &Nested) -> R {
    let Value::Array(a) = v else {
        return fail(p, format!("must be a list of {} objects", spec.name));
    };
    if a.is_empty() {
        return fail(p, "must not be an empty list");
    }
    for (i, item) in a.iter().enumerate() {
        check_nested(item, &Path::index(p, i), spec)?;
    }
    Ok(())
}

fn check_nested(v: &Value, p: &Path<'_>, spec: &Nested) -> R {
    let Value::Object(m) = v else {
        return fail(p, format!("must be a {} object", spec.name));
    };
    if m.is_empty() {
        return fail(p, format!("must not be an empty {} object", spec.name));
    }
    check_nested_map(m, p, spec)
}

fn check_nested_map(m: &Map<String, Value>, p: &Path<'_>, spec: &Nested) -> R {
    for req in spec.required {
        if !m.contains_key(*req) {
            return Err(format!(
                "property '{p}': required property '{req}' of the {} is missing",
                spec.name
            ));
        }
    }
    if !spec.at_least_one.is_empty() && !spec.at_least_one.iter().any(|k| m.contains_key(*k)) {
        return Err(format!(
            "property '{p}': the {} must contain at least one of {}",
            spec.name,
            quote_list(spec.at_least_one)
        ));
    }
    for (k, val) in m {
        let kp = Path::key(Some(p), k);
        match (spec.props)(k) {
            Some(kind) => check_kind(kind, val, &kp)?,
            None => {
                if !is_valid_property_name(k) {
                    return Err(format!(
                        "property '{kp}' has an invalid name: property names must be 3-250 characters of a-z, 0-9 and '_', starting with a letter"
                    ));
                }
                check_custom_value(k, val, &kp)?;
            }
        }
    }
    Ok(())
}

fn check_external_id(er: &Value, p: &Path<'_>) -> R {
    let Some(m) = er.as_object() else {
        return Ok(());
    };
    let source = m.get("source_name").and_then(Value::as_str);
    let ext_id = m.get("external_id").and_then(Value::as_str);
    match source {
        Some("cve") => match ext_id {
            Some(x) if is_cve_id(x) => Ok(()),
            _ => fail(
                p,
                "with source_name 'cve' must have an external_id of the form CVE-YYYY-NNNN",
            ),
        },
        Some("capec") => match ext_id {
            Some(x) if is_capec_id(x) => Ok(()),
            _ => fail(
                p,
                "with source_name 'capec' must have an external_id of the form CAPEC-[id]",
            ),
        },
        _ => Ok(()),
    }
}

fn is_cve_id(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, num)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|c| c.is_ascii_digit())
        && num.len() >= 4
        && num.bytes().all(|c| c.is_ascii_digit())
        && !(num.len() > 4 && num.starts_with('0'))
}

fn is_capec_id(s: &str) -> bool {
    s.strip_prefix("CAPEC-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}

fn is_dict_key(k: &str) -> bool {
    k.len() <= 250
        && k.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

fn check_dict(v: &Value, p: &Path<'_>, values: DictVal) -> R {
    let Value::Object(m) = v else {
        return fail(p, "must be a dictionary (JSON object)");
    };
    if m.is_empty() {
        return fail(p, "must not be an empty dictionary");
    }
    for (k, val) in m {
        let kp = Path::key(Some(p), k);
        if !is_dict_key(k) {
            return Err(format!(
                "property '{p}' has an invalid dictionary key '{}': keys must be at most 250 characters of a-z, A-Z, 0-9, '-' and '_'",
                short(k)
            ));
        }
        let ok = match (values, val) {
            (_, Value::Null) => false,
            (DictVal::Any, Value::Array(a)) => !a.is_empty(),
            (DictVal::Any, _) => true,
            (DictVal::Str, Value::String(_)) => true,
            (DictVal::Int, other) => as_int(other).is_some(),
            (DictVal::IntOrStr, Value::String(_)) => true,
            (DictVal::IntOrStr, other) => as_int(other).is_some(),
            (DictVal::StrList, Value::Array(a)) => !a.is_empty() && a.iter().all(Value::is_string),
            _ => false,
        };
        if !ok {
            let what = match values {
                DictVal::Any => "must not be null or an empty list",
                DictVal::Str => "must be a string",
                DictVal::Int => "must be an integer",
                DictVal::IntOrStr => "must be an integer or a string",
                DictVal::StrList => "must be a non-empty list of strings",
            };
            return fail(&kp, what);
        }
    }
    Ok(())
}

fn check_hashes(v: &Value, p: &Path<'_>, vocab_only: bool) -> R {
    let Value::Object(m) = v else {
        return fail(p, "must be a hashes dictionary");
    };
    if m.is_empty() {
        return fail(p, "must not be an empty dictionary");
    }
    for (k, val) in m {
        let kp = Path::key(Some(p), k);
        if vocab_only {
            if !HASH_ALGORITHM_OV.contains(&k.as_str()) {
                return Err(format!(
                    "property '{p}' has hash algorithm '{}' which is not from hash-algorithm-ov",
                    short(k)
                ));
            }
        } else if k.len() < 3 || !is_dict_key(k) {
            return Err(format!(
                "property '{p}' has an invalid hash algorithm name '{}': names must be 3-250 characters of a-z, A-Z, 0-9, '-' and '_'",
                short(k)
            ));
        }
        let Value::String(s) = val else {
            return fail(&kp, "must be a string");
        };
        if let Some(why) = hash_value_problem(k, s, false) {
            return fail(&kp, why);
        }
    }
    Ok(())
}

fn check_language_contents(v: &Value, p: &Path<'_>) -> R {
    let Value::Object(m) = v else {
        return fail(p, "must be a dictionary keyed by language code");
    };
    if m.is_empty() {
        return fail(p, "must not be an empty dictionary");
    }
    for (lang, tr) in m {
        let lp = Path::key(Some(p), lang);
        if !is_language_tag(lang) {
            return Err(format!(
                "property '{p}' has key '{}' which is not an RFC 5646 language code",
                short(lang)
            ));
        }
        let Value::Object(props) = tr else {
            return fail(&lp, "must be an object mirroring the translated properties");
        };
        if props.is_empty() {
            return fail(&lp, "must not be an empty object");
        }
        for (name, val) in props {
            if name != "id" && !is_valid_property_name(name) {
                return Err(format!(
                    "property '{lp}' has key '{}' which is not a valid property name",
                    short(name)
                ));
            }
            if val.is_null() {
                return fail(&Path::key(Some(&lp), name), "must not be null");
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Extensions

fn check_extensions(v: &Value, p: &Path<'_>, ty: &str, class: Class) -> R {
    let Value::Object(m) = v else {
        return fail(p, "must be a dictionary of extensions");
    };
    if m.is_empty() {
        return fail(p, "must not be an empty dictionary");
    }
    for (key, ext) in m {
        let kp = Path::key(Some(p), key);
        let Value::Object(em) = ext else {
            return fail(&kp, "must be an object with the extension's properties");
        };
        if em.is_empty() {
            return fail(&kp, "must not be empty");
        }
        if key.starts_with("extension-definition--") {
            match parse_id(key) {
                Ok(("extension-definition", _)) => {}
                Ok(_) => {
                    return Err(format!(
                    "property '{p}' has key '{}' which is not an extension-definition identifier",
                    short(key)
                ))
                }
                Err(e) => return Err(format!("property '{p}' has an invalid key: {e}")),
            }
            match em.get("extension_type") {
                None => {
                    return Err(format!(
                        "property '{kp}': required property 'extension_type' is missing"
                    ))
                }
                Some(t) => check_kind(
                    Kind::Enum(EXTENSION_TYPES),
                    t,
                    &Path::key(Some(&kp), "extension_type"),
                )?,
            }
            for (k, val) in em {
                if k == "extension_type" {
                    continue;
                }
                let pp = Path::key(Some(&kp), k);
                if !is_valid_property_name(k) {
                    return Err(format!(
                        "property '{pp}' has an invalid name: extension property names must be 3-250 characters of a-z, 0-9 and '_', starting with a letter"
                    ));
                }
                check_custom_value(k, val, &pp)?;
            }
            continue;
        }
        if class == Class::Marking {
            return Err(format!(
                "property '{p}' has key '{}': marking definitions only allow extension-definition extensions",
                short(key)
            ));
        }
        if let Some((_, owner, spec)) = PREDEFINED_EXTENSIONS.iter().find(|(n, _, _)| n == key) {
            if *owner != ty {
                return Err(format!(
                    "property '{p}' has key '{key}', a predefined extension of {owner} objects, not of {ty} objects"
                ));
            }
            if let Some(t) = em.get("extension_type") {
                return fail(
                    &Path::key(Some(&kp), "extension_type"),
                    format!("must not be present on predefined extensions (found {t})"),
                );
            }
            check_nested_map(em, &kp, spec)?;
            continue;
        }
        // Custom (deprecated) extension.
        if !(is_valid_type_name(key) && key.ends_with("-ext")) {
            return Err(format!(
                "property '{p}' has key '{}' which is neither an extension-definition id, a predefined extension nor a custom extension name (a-z, 0-9 and '-', ending in '-ext')",
                short(key)
            ));
        }
        for (k, val) in em {
            let pp = Path::key(Some(&kp), k);
            if !is_valid_property_name(k) {
                return Err(format!(
                    "property '{pp}' has an invalid name: property names must be 3-250 characters of a-z, 0-9 and '_', starting with a letter"
                ));
            }
            check_custom_value(k, val, &pp)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Granular markings

fn check_granular_markings(v: &Value, p: &Path<'_>, obj: &Map<String, Value>, own_id: &str) -> R {
    let Value::Array(a) = v else {
        return fail(p, "must be a list of granular markings");
    };
    if a.is_empty() {
        return fail(p, "must not be an empty list");
    }
    for (i, gm) in a.iter().enumerate() {
        let gp = Path::index(p, i);
        let Value::Object(m) = gm else {
            return fail(&gp, "must be a granular-marking object");
        };
        let Some(selectors) = m.get("selectors") else {
            return Err(format!(
                "property '{gp}': required property 'selectors' is missing"
            ));
        };
        match (m.get("marking_ref"), m.get("lang")) {
            (Some(_), Some(_)) => {
                return fail(&gp, "must have either 'marking_ref' or 'lang', not both")
            }
            (None, None) => return fail(&gp, "must have one of 'marking_ref' or 'lang'"),
            (Some(r), None) => {
                let rp = Path::key(Some(&gp), "marking_ref");
                check_ref(r, &rp, Target::Only(&["marking-definition"]))?;
                if r.as_str() == Some(own_id) {
                    return fail(&rp, "must not reference the marking definition itself");
                }
            }
            (None, Some(l)) => check_kind(Kind::Lang, l, &Path::key(Some(&gp), "lang"))?,
        }
        let sp = Path::key(Some(&gp), "selectors");
        let Value::Array(sel) = selectors else {
            return fail(&sp, "must be a list of selector strings");
        };
        if sel.is_empty() {
            return fail(&sp, "must not be an empty list");
        }
        for (j, s) in sel.iter().enumerate() {
            let Value::String(s) = s else {
                return fail(&Path::index(&sp, j), "must be a string");
            };
            if let Err(why) = resolve_selector(obj, s) {
                return fail(
                    &Path::index(&sp, j),
                    format!("('{}') is not a valid selector: {why}", short(s)),
                );
            }
        }
        for (k, val) in m {
            if matches!(k.as_str(), "selectors" | "marking_ref" | "lang") {
                continue;
            }
            let kp = Path::key(Some(&gp), k);
            if !is_valid_property_name(k) {
                return Err(format!("property '{kp}' has an invalid name"));
            }
            check_custom_value(k, val, &kp)?;
        }
    }
    Ok(())
}

/// Checks that a selector (`a.b.[0].c`) refers to content present in the object.
fn resolve_selector(obj: &Map<String, Value>, selector: &str) -> Result<(), String> {
    let mut parts = selector.split('.');
    let first = parts.next().unwrap_or("");
    let Some(mut cur) = obj.get(first) else {
        return Err(format!("the object has no property '{}'", short(first)));
    };
    for part in parts {
        if let Some(idx) = part.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            if idx.is_empty() || !idx.bytes().all(|c| c.is_ascii_digit()) {
                return Err(format!("'{}' is not a list index", short(part)));
            }
            let Value::Array(a) = cur else {
                return Err(format!(
                    "'[{idx}]' is applied to something that is not a list"
                ));
            };
            let i: usize = idx.parse().map_err(|_| "index too large".to_owned())?;
            cur = a
                .get(i)
                .ok_or_else(|| format!("index {i} is out of range"))?;
        } else {
            let Value::Object(m) = cur else {
                return Err(format!(
                    "'{}' is applied to something that is not an object",
                    short(part)
                ));
            };
            cur = m
                .get(part)
                .ok_or_else(|| format!("there is no property '{}'", short(part)))?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Type-specific co-constraints

fn type_constraints(ty: &str, class: Class, obj: &Map<String, Value>, id: &str, uuid: &str) -> R {
    let has = |k: &str| obj.contains_key(k);
    match ty {
        "indicator" if obj.get("pattern_type").and_then(Value::as_str) == Some("stix") => {
            if let Some(Value::String(pat)) = obj.get("pattern") {
                validate_pattern(pat).map_err(|e| format!("property 'pattern': {e}"))?;
            }
        }
        "location" => {
            if has("latitude") != has("longitude") {
                return Err(
                    "properties 'latitude' and 'longitude' must be present together".to_owned(),
                );
            }
            if has("precision") && !has("latitude") {
                return Err("property 'precision' requires 'latitude' and 'longitude'".to_owned());
            }
        }
        "malware" if obj.get("is_family") == Some(&Value::Bool(true)) && !has("name") => {
            return Err("property 'name' is required when 'is_family' is true".to_owned());
        }
        "observed-data" => match (has("objects"), has("object_refs")) {
            (true, true) => {
                return Err(
                    "properties 'objects' and 'object_refs' must not both be present".to_owned(),
                )
            }
            (false, false) => {
                return Err("one of 'object_refs' or 'objects' must be present".to_owned())
            }
            (false, true) => {
                if let Some(Value::Array(refs)) = obj.get("object_refs") {
                    let any_sco = refs
                        .iter()
                        .filter_map(Value::as_str)
                        .any(|r| parse_id(r).is_ok_and(|(t, _)| !is_sro(t)));
                    if !any_sco {
                        return Err(
                            "property 'object_refs' must contain at least one SCO reference"
                                .to_owned(),
                        );
                    }
                }
            }
            (true, false) => {}
        },
        "marking-definition" => marking_constraints(obj, id)?,
        "extension-definition" => {
            if let Some(Value::Array(types)) = obj.get("extension_types") {
                for (i, t) in types.iter().enumerate() {
                    check_kind(
                        Kind::Enum(EXTENSION_TYPES),
                        t,
                        &Path::index(&Path::key(None, "extension_types"), i),
                    )?;
                }
                if has("extension_properties")
                    && !types
                        .iter()
                        .any(|t| t.as_str() == Some("toplevel-property-extension"))
                {
                    return Err("property 'extension_properties' must only be used when 'extension_types' includes 'toplevel-property-extension'".to_owned());
                }
            }
        }
        "artifact" => {
            match (has("payload_bin"), has("url")) {
                (true, true) => {
                    return Err(
                        "properties 'payload_bin' and 'url' must not both be present".to_owned(),
                    )
                }
                (false, false) => {
                    return Err("one of 'payload_bin' or 'url' must be present".to_owned())
                }
                _ => {}
            }
            if has("url") && !has("hashes") {
                return Err("property 'hashes' must be present when 'url' is present".to_owned());
            }
            if has("decryption_key") && !has("encryption_algorithm") {
                return Err(
                    "property 'decryption_key' must not be present without 'encryption_algorithm'"
                        .to_owned(),
                );
            }
        }
        "email-message" => match obj.get("is_multipart") {
            Some(Value::Bool(true)) if has("body") => {
                return Err(
                    "property 'body' must not be used when 'is_multipart' is true".to_owned(),
                )
            }
            Some(Value::Bool(false)) if has("body_multipart") => {
                return Err(
                    "property 'body_multipart' must not be used when 'is_multipart' is false"
                        .to_owned(),
                )
            }
            _ => {}
        },
        "file" if has("name_enc") && !has("name") => {
            return Err("property 'name_enc' must not be present without 'name'".to_owned());
        }
        "network-traffic" if obj.get("is_active") == Some(&Value::Bool(true)) && has("end") => {
            return Err("property 'end' must not be present when 'is_active' is true".to_owned());
        }
        _ => {}
    }
    // SCOs whose ID contributing properties are all optional and absent
    // MUST use UUIDv4 (§2.9); Process has none at all.
    if class == Class::Sco {
        let contributing: Option<&[&str]> = match ty {
            "artifact" => Some(&["hashes", "payload_bin"]),
            "email-message" => Some(&["from_ref", "subject", "body"]),
            "user-account" => Some(&["account_type", "user_id", "account_login"]),
            "windows-registry-key" => Some(&["key", "values"]),
            "x509-certificate" => Some(&["hashes", "serial_number"]),
            "process" => Some(&[]),
            _ => None,
        };
        if let Some(props) = contributing {
            if !props.iter().any(|k| has(k)) && uuid_version(uuid) != Some(4) {
                return Err(format!(
                    "property 'id' must use a UUIDv4 because none of the ID contributing properties{} is present",
                    if props.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", quote_list(props))
                    }
                ));
            }
        }
    }
    Ok(())
}

fn marking_constraints(obj: &Map<String, Value>, id: &str) -> R {
    if let Some(Value::Array(refs)) = obj.get("object_marking_refs") {
        if refs.iter().any(|r| r.as_str() == Some(id)) {
            return Err(
                "property 'object_marking_refs' must not reference the marking definition itself"
                    .to_owned(),
            );
        }
    }
    let has_ext = obj.contains_key("extensions");
    let def_type = obj.get("definition_type");
    let def = obj.get("definition");
    if !has_ext {
        if def_type.is_none() {
            return Err(
                "required property 'definition_type' is missing (required when 'extensions' is absent)"
                    .to_owned(),
            );
        }
        if def.is_none() {
            return Err(
                "required property 'definition' is missing (required when 'extensions' is absent)"
                    .to_owned(),
            );
        }
    }
    match def_type.and_then(Value::as_str) {
        Some("statement") => {
            let ok = def
                .and_then(Value::as_object)
                .and_then(|d| d.get("statement"))
                .is_some_and(Value::is_string);
            if !ok {
                return Err(
                    "property 'definition' of a statement marking must contain a 'statement' string"
                        .to_owned(),
                );
            }
        }
        Some("tlp") => {
            let Some((_, color, name)) = TLP_MARKINGS.iter().find(|(tid, _, _)| *tid == id) else {
                return Err("only the four TLP marking definitions defined by the specification may use definition_type 'tlp'".to_owned());
            };
            let tlp = def
                .and_then(Value::as_object)
                .and_then(|d| d.get("tlp"))
                .and_then(Value::as_str);
            if tlp != Some(color) {
                return Err(format!(
                    "property 'definition' of this TLP marking definition must be {{\"tlp\": \"{color}\"}}"
                ));
            }
            if obj.get("name").and_then(Value::as_str) != Some(name) {
                return Err(format!(
                    "property 'name' of this TLP marking definition must be '{name}'"
                ));
            }
            if obj.get("created").and_then(Value::as_str) != Some(TLP_CREATED) {
                return Err(format!(
                    "property 'created' of this TLP marking definition must be '{TLP_CREATED}'"
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Small syntax checkers

fn is_hex(s: &str) -> bool {
    s.len() % 2 == 0
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || b.len() % 4 != 0 {
        return false;
    }
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    if pad > 2 {
        return false;
    }
    b[..b.len() - pad]
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/')
}

/// RFC 3986 URI (absolute, with a scheme), ASCII only.
fn is_uri(s: &str) -> bool {
    let b = s.as_bytes();
    let Some(colon) = s.find(':') else {
        return false;
    };
    if colon == 0
        || !b[0].is_ascii_alphabetic()
        || !b[..colon]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return false;
    }
    let rest = &b[colon + 1..];
    let mut i = 0;
    while i < rest.len() {
        let c = rest[i];
        if c == b'%' {
            if !(rest.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && rest.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
            {
                return false;
            }
            i += 3;
            continue;
        }
        let ok = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b':'
                    | b'/'
                    | b'?'
                    | b'#'
                    | b'['
                    | b']'
                    | b'@'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

fn is_domain_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() || s.len() > 253 {
        return false;
    }
    s.split('.').all(|label| {
        let n = label.chars().count();
        (1..=63).contains(&n)
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    })
}

fn is_email_address(s: &str) -> bool {
    let Some(at) = s.rfind('@') else {
        return false;
    };
    let (local, domain) = (&s[..at], &s[at + 1..]);
    !local.is_empty()
        && !domain.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
}

fn is_ipv4(s: &str) -> bool {
    let mut n = 0;
    for part in s.split('.') {
        n += 1;
        if part.is_empty()
            || part.len() > 3
            || !part.bytes().all(|c| c.is_ascii_digit())
            || (part.len() > 1 && part.starts_with('0'))
            || part.parse::<u16>().map_or(true, |v| v > 255)
        {
            return false;
        }
    }
    n == 4
}

fn prefix_ok(p: &str, max: u8) -> bool {
    !p.is_empty()
        && p.len() <= 3
        && p.bytes().all(|c| c.is_ascii_digit())
        && !(p.len() > 1 && p.starts_with('0'))
        && p.parse::<u8>().is_ok_and(|v| v <= max)
}

fn is_ipv4_cidr(s: &str) -> bool {
    match s.split_once('/') {
        Some((a, p)) => is_ipv4(a) && prefix_ok(p, 32),
        None => is_ipv4(s),
    }
}

fn is_ipv6_cidr(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    addr.parse::<std::net::Ipv6Addr>().is_ok() && prefix.is_none_or(|p| prefix_ok(p, 128))
}

fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 17
        && b.iter().enumerate().all(|(i, &c)| {
            if i % 3 == 2 {
                c == b':'
            } else {
                c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
            }
        })
}

/// CPE 2.3 formatted string binding: `cpe:2.3:` followed by 11 components.
fn is_cpe23(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("cpe:2.3:") else {
        return false;
    };
    let mut count = 0;
    let mut comp_len = 0;
    let mut first_comp: Option<u8> = None;
    let mut first_comp_len = 0;
    let mut bytes = rest.bytes();
    let mut ok = true;
    while let Some(c) = bytes.next() {
        match c {
            b':' => {
                if comp_len == 0 {
                    ok = false;
                }
                if count == 0 {
                    first_comp_len = comp_len;
                }
                count += 1;
                comp_len = 0;
            }
            b'\\' => {
                if bytes.next().is_none() {
                    ok = false;
                }
                comp_len += 2;
            }
            c if c.is_ascii_graphic() => {
                if count == 0 && comp_len == 0 {
                    first_comp = Some(c);
                }
                comp_len += 1;
            }
            _ => ok = false,
        }
    }
    if count == 0 {
        first_comp_len = comp_len;
    }
    ok && comp_len > 0
        && count == 10
        && first_comp_len == 1
        && matches!(first_comp, Some(b'a' | b'h' | b'o' | b'*' | b'-'))
}

/// RFC 5646 language tag syntax (well-formedness, not registry membership).
fn is_language_tag(s: &str) -> bool {
    if s.is_empty() || s.len() > 100 {
        return false;
    }
    let subtags: Vec<&str> = s.split('-').collect();
    if subtags
        .iter()
        .any(|t| t.is_empty() || t.len() > 8 || !t.bytes().all(|c| c.is_ascii_alphanumeric()))
    {
        return false;
    }
    let alpha = |t: &str| t.bytes().all(|c| c.is_ascii_alphabetic());
    let digit = |t: &str| t.bytes().all(|c| c.is_ascii_digit());
    let mut i = 0;
    let first = subtags[0];
    if first.eq_ignore_ascii_case("x") {
        // private use only
        return subtags.len() > 1;
    }
    // RFC 5646 §2.2.8: the irregular grandfathered tags are a closed list.
    const IRREGULAR: [&str; 17] = [
        "en-GB-oed",
        "i-ami",
        "i-bnn",
        "i-default",
        "i-enochian",
        "i-hak",
        "i-klingon",
        "i-lux",
        "i-mingo",
        "i-navajo",
        "i-pwn",
        "i-tao",
        "i-tay",
        "i-tsu",
        "sgn-BE-FR",
        "sgn-BE-NL",
        "sgn-CH-DE",
    ];
    if IRREGULAR.iter().any(|g| g.eq_ignore_ascii_case(s)) {
        return true;
    }
    if first.eq_ignore_ascii_case("i") {
        return false;
    }
    if !(alpha(first) && (2..=8).contains(&first.len())) {
        return false;
    }
    i += 1;
    // extlang (only after a 2-3 letter language)
    if first.len() <= 3 {
        let mut ext = 0;
        while i < subtags.len() && ext < 3 && subtags[i].len() == 3 && alpha(subtags[i]) {
            i += 1;
            ext += 1;
        }
    }
    // script
    if i < subtags.len() && subtags[i].len() == 4 && alpha(subtags[i]) {
        i += 1;
    }
    // region
    if i < subtags.len()
        && ((subtags[i].len() == 2 && alpha(subtags[i]))
            || (subtags[i].len() == 3 && digit(subtags[i])))
    {
        i += 1;
    }
    // variants (§2.2.5: none repeated)
    let mut variants: Vec<String> = Vec::new();
    while i < subtags.len() {
        let t = subtags[i];
        let is_variant =
            (5..=8).contains(&t.len()) || (t.len() == 4 && t.as_bytes()[0].is_ascii_digit());
        if !is_variant {
            break;
        }
        if variants.contains(&t.to_ascii_lowercase()) {
            return false;
        }
        variants.push(t.to_ascii_lowercase());
        i += 1;
    }
    // extensions and private use (§2.2.6: no singleton repeated)
    let mut singletons: Vec<String> = Vec::new();
    while i < subtags.len() {
        let t = subtags[i];
        if t.len() != 1 || singletons.contains(&t.to_ascii_lowercase()) {
            return false;
        }
        singletons.push(t.to_ascii_lowercase());
        let private = t.eq_ignore_ascii_case("x");
        i += 1;
        let start = i;
        while i < subtags.len() {
            let u = subtags[i];
            if private {
                i += 1;
                continue;
            }
            if u.len() < 2 {
                break;
            }
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags() {
        for t in [
            "en",
            "ko",
            "en-US",
            "ko-KR",
            "zh-Hant-TW",
            "de-CH-1901",
            "sr-Latn-RS",
            "es-419",
            "x-private",
            "en-x-kor",
            "i-klingon",
            "zh-yue-HK",
            "en-a-bbb-x-a-ccc",
        ] {
            assert!(is_language_tag(t), "{t}");
        }
        for t in [
            "",
            "e",
            "englishlanguage",
            "en_US",
            "en-",
            "-en",
            "12",
            "en-US-",
            "ko KR",
            "x",
            "i-foo",
            "de-1901-1901",
            "en-a-bbb-a-ccc",
        ] {
            assert!(!is_language_tag(t), "{t}");
        }
    }

    #[test]
    fn addresses() {
        for s in [
            "198.51.100.3",
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.0/8",
            "203.0.113.0/24",
        ] {
            assert!(is_ipv4_cidr(s), "{s}");
        }
        for s in [
            "256.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.2.3.4/33",
            "1.2.3.4/",
            "a.b.c.d",
            "",
        ] {
            assert!(!is_ipv4_cidr(s), "{s}");
        }
        for s in ["2001:db8::1", "::1", "2001:db8::/32", "::ffff:192.0.2.1"] {
            assert!(is_ipv6_cidr(s), "{s}");
        }
        for s in ["2001:db8:::1", "2001:db8::/129", "1.2.3.4", "g::1"] {
            assert!(!is_ipv6_cidr(s), "{s}");
        }
        assert!(is_mac("d2:fb:49:24:37:18"));
        assert!(!is_mac("D2:FB:49:24:37:18"));
        assert!(!is_mac("d2-fb-49-24-37-18"));
        assert!(!is_mac("d2:fb:49:24:37:1"));
        assert!(is_domain_name("mnd.go.kr"));
        assert!(is_domain_name("xn--bcher-kva.example"));
        assert!(is_domain_name("bücher.example"));
        assert!(is_domain_name("example.com."));
        assert!(!is_domain_name("ex_ample.com"));
        assert!(!is_domain_name("a..b"));
        assert!(!is_domain_name("-a.com"));
        assert!(!is_domain_name(""));
        assert!(is_email_address("liaison@mofa.go.kr"));
        assert!(!is_email_address("KOR MOFA <liaison@mofa.go.kr>"));
        assert!(!is_email_address("nobody"));
        assert!(!is_email_address("@x"));
    }

    #[test]
    fn uris_and_encodings() {
        for s in [
            "https://www.nato.int/cps/en/natohq/topics.htm",
            "urn:isbn:0451450523",
            "mailto:a@b",
            "http://x/%20y",
        ] {
            assert!(is_uri(s), "{s}");
        }
        for s in [
            "x",
            "://x",
            "http://ex ample.com",
            "http://한국.kr/",
            "http://x/%zz",
            "http://x/%2",
            "1http://x",
        ] {
            assert!(!is_uri(s), "{s}");
        }
        assert!(is_hex("00ff"));
        assert!(is_hex(""));
        assert!(!is_hex("0"));
        assert!(!is_hex("FF"));
        assert!(is_base64("AAAA"));
        assert!(is_base64("AAA="));
        assert!(is_base64("AA=="));
        assert!(!is_base64(""));
        assert!(!is_base64("A==="));
        assert!(!is_base64("AA=A"));
        assert!(!is_base64("AAA"));
        assert!(is_cpe23("cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*"));
        assert!(is_cpe23(
            "cpe:2.3:o:linux:linux_kernel:5.10\\:rc1:*:*:*:*:*:*:*"
        ));
        assert!(!is_cpe23("cpe:/a:microsoft:word:2000"));
        assert!(!is_cpe23("cpe:2.3:a:microsoft:word"));
        assert!(!is_cpe23("cpe:2.3:z:microsoft:word:2000:*:*:*:*:*:*:*"));
        assert!(is_cve_id("CVE-2014-0160"));
        assert!(is_cve_id("CVE-2021-44228"));
        assert!(!is_cve_id("CVE-14-0160"));
        assert!(!is_cve_id("CVE-2014-016"));
        assert!(!is_cve_id("cve-2014-0160"));
        assert!(is_capec_id("CAPEC-550"));
        assert!(!is_capec_id("CAPEC-"));
    }
}
