#!/usr/bin/env python3
"""Generates the STIX 2.1 validation corpus in this directory.

    python3 tests/stix-corpus/make_corpus.py

writes valid/*.json (one valid object per file) and invalid/*.json (each a
valid object broken in exactly one way). The files are committed; this
script only exists so the corpus can be reviewed and extended
systematically. It needs nothing beyond the Python standard library.

Running example: a joint Korean team (KOR-NIS, KOR-ARMY, KOR-MOFA) tracks the
deployment of a foreign expeditionary brigade ("FEB-7") near the border and
briefs NATO and the EU.
"""

import copy
import hashlib
import json
import pathlib
import shutil
import uuid

HERE = pathlib.Path(__file__).resolve().parent
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")


def v4(name):
    """A deterministic, RFC 4122 version-4-shaped UUID derived from a name."""
    b = bytearray(hashlib.sha256(name.encode()).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(b)))


def sdo_id(ty, name):
    return f"{ty}--{v4(ty + ':' + name)}"


def sco_id(ty, contributing):
    """UUIDv5 over the ID contributing properties (STIX 2.1 §2.9)."""
    canon = json.dumps(contributing, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{ty}--{uuid.uuid5(SCO_NAMESPACE, canon)}"


T0 = "2024-03-02T09:00:00.000Z"
T1 = "2024-03-05T14:30:00.000Z"
T2 = "2024-03-09T06:15:00.000Z"

NIS = sdo_id("identity", "KOR-NIS")
ARMY = sdo_id("identity", "KOR-ARMY")
MOFA = sdo_id("identity", "KOR-MOFA")
NATO = sdo_id("identity", "NATO-MARCOM")
EU = sdo_id("identity", "EU-INTCEN")

TLP_AMBER = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
TLP2_CLEAR = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"
TLP2_EXT = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
REL_STATEMENT = sdo_id("marking-definition", "rel-to-nato-eu-statement")
REL_MARKING = sdo_id("marking-definition", "kor-releasability")
REL_EXT = sdo_id("extension-definition", "kor-releasability")
DEPLOY_EXT = sdo_id("extension-definition", "x-kor-troop-deployment")
TOPLEVEL_EXT = sdo_id("extension-definition", "kor-assessment-toplevel")

CAMPAIGN = sdo_id("campaign", "NORTHERN SHIFT")
THREAT_ACTOR = sdo_id("threat-actor", "FEB-7 Signals Detachment")
INTRUSION_SET = sdo_id("intrusion-set", "FEB-7 cyber")
MALWARE = sdo_id("malware", "BORDERLINE")
INDICATOR = sdo_id("indicator", "relay ip")
INDICATOR_SIGMA = sdo_id("indicator", "sigma rule")
INFRA = sdo_id("infrastructure", "relay")
LOCATION = sdo_id("location", "staging area")
ATTACK_PATTERN = sdo_id("attack-pattern", "spoofed diplomatic email")
COA = sdo_id("course-of-action", "brief liaison")
GROUPING = sdo_id("grouping", "deployment picture")
INCIDENT = sdo_id("incident", "MOFA phishing")
MALWARE_ANALYSIS = sdo_id("malware-analysis", "BORDERLINE sandbox")
NOTE = sdo_id("note", "army note")
OBSERVED = sdo_id("observed-data", "relay traffic")
OPINION = sdo_id("opinion", "mofa agrees")
REPORT = sdo_id("report", "joint assessment")
TOOL = sdo_id("tool", "plink")
VULN = sdo_id("vulnerability", "CVE-2023-23397")
REL = sdo_id("relationship", "ta uses malware")
SIGHTING = sdo_id("sighting", "relay seen")
LANG_CONTENT = sdo_id("language-content", "report ko")
DEPLOYMENT = sdo_id("x-kor-troop-deployment", "FEB-7 brigade")

IP_VALUE = "203.0.113.47"
IPV4 = sco_id("ipv4-addr", {"value": IP_VALUE})
IPV6 = sco_id("ipv6-addr", {"value": "2001:db8:4f::47"})
MAC = sco_id("mac-addr", {"value": "d2:fb:49:24:37:18"})
DOMAIN = sco_id("domain-name", {"value": "mofa-liaison-update.example"})
URL = sco_id("url", {"value": "https://mofa-liaison-update.example/briefing/nato-eu.docx"})
EMAIL_FROM = sco_id("email-addr", {"value": "protocol.office@mofa-liaison-update.example"})
EMAIL_TO = sco_id("email-addr", {"value": "liaison.officer@mofa.example.kr"})
AS = sco_id("autonomous-system", {"number": 64511})
FILE_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
FILE = sco_id("file", {"hashes": {"SHA-256": FILE_HASH}, "name": "nato-eu-briefing.docm"})
ARCHIVE_FILE = sco_id("file", {"name": "field-reports.zip"})
DIRECTORY = sco_id("directory", {"path": "C:\\Users\\liaison\\AppData\\Local\\Temp"})
ARTIFACT = sco_id("artifact", {"payload_bin": "UEsDBBQAAAAIAA=="})
SOFTWARE = sco_id("software", {"name": "Windows 10 Enterprise", "vendor": "Microsoft", "version": "22H2"})
USER = sco_id("user-account", {"account_login": "liaison01", "account_type": "windows-domain"})
MUTEX = sco_id("mutex", {"name": "Global\\BRDRLN-7f3a"})
REGKEY = sco_id("windows-registry-key", {"key": "HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"})
X509 = sco_id("x509-certificate", {"serial_number": "3a:1f:77:02:9c:5e"})
EMAIL_MSG = sco_id("email-message", {"from_ref": EMAIL_FROM, "subject": "Updated NATO/EU liaison schedule"})
TRAFFIC = sco_id("network-traffic", {"dst_ref": IPV4, "dst_port": 443, "protocols": ["ipv4", "tcp", "https"]})
PROCESS = f"process--{v4('process:winword')}"

def sdo(ty, oid, created_by=NIS, **props):
    obj = {"type": ty, "spec_version": "2.1", "id": oid}
    if created_by:
        obj["created_by_ref"] = created_by
    obj["created"] = T0
    obj["modified"] = T1
    obj.update(props)
    return obj


def sco(ty, oid, **props):
    obj = {"type": ty, "spec_version": "2.1", "id": oid}
    obj.update(props)
    return obj


VALID = {}

# --- Identities -------------------------------------------------------------
VALID["identity-kor-nis"] = sdo(
    "identity", NIS, created_by=None,
    name="KOR-NIS (National Intelligence Service)",
    description="Lead analytic cell of the joint Korean team tracking the FEB-7 deployment.",
    identity_class="organization",
    sectors=["government-national"],
    roles=["intelligence-analysis", "team-lead"],
    contact_information="joint-cell@nis.example.kr",
)
VALID["identity-kor-army"] = sdo(
    "identity", ARMY, created_by=NIS,
    name="KOR-ARMY Ground Intelligence Command",
    identity_class="organization",
    sectors=["defense", "government-national"],
)
VALID["identity-kor-mofa"] = sdo(
    "identity", MOFA, created_by=NIS,
    name="KOR-MOFA Directorate for European Affairs",
    identity_class="organization",
    sectors=["government-national"],
    contact_information="europe.liaison@mofa.example.kr",
    lang="en",
)
VALID["identity-nato-recipient"] = sdo(
    "identity", NATO, created_by=MOFA,
    name="NATO liaison office (briefing recipient)",
    identity_class="organization",
    object_marking_refs=[REL_STATEMENT],
)

# --- Marking definitions --------------------------------------------------
VALID["marking-definition-statement"] = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": REL_STATEMENT,
    "created_by_ref": MOFA,
    "created": T0,
    "name": "REL TO KOR, NATO, EU",
    "definition_type": "statement",
    "definition": {"statement": "Releasable to the Republic of Korea, NATO and the European Union only."},
}
VALID["marking-definition-tlp-amber"] = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": TLP_AMBER,
    "created": "2017-01-20T00:00:00.000Z",
    "definition_type": "tlp",
    "name": "TLP:AMBER",
    "definition": {"tlp": "amber"},
}
VALID["marking-definition-tlp2-clear"] = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": TLP2_CLEAR,
    "created": "2022-10-01T00:00:00.000Z",
    "name": "TLP:CLEAR",
    "extensions": {TLP2_EXT: {"extension_type": "property-extension", "tlp_2_0": "clear"}},
}
VALID["marking-definition-kor-releasability"] = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": REL_MARKING,
    "created_by_ref": NIS,
    "created": T0,
    "name": "KOR RELEASABILITY: NATO, EU",
    "extensions": {
        REL_EXT: {
            "extension_type": "property-extension",
            "releasable_to": ["KOR", "NATO", "EU"],
            "originator": "KOR-NIS",
        }
    },
}

# --- Extension definitions --------------------------------------------------
VALID["extension-definition-releasability"] = sdo(
    "extension-definition", REL_EXT, created_by=NIS,
    name="KOR releasability marking",
    description="Property extension for marking definitions carrying releasability caveats.",
    schema="https://schemas.nis.example.kr/stix/kor-releasability.json",
    version="1.0.0",
    extension_types=["property-extension"],
)
VALID["extension-definition-new-sdo"] = sdo(
    "extension-definition", DEPLOY_EXT, created_by=ARMY,
    name="x-kor-troop-deployment",
    description="New SDO describing an observed foreign troop deployment.",
    schema="https://schemas.army.example.kr/stix/x-kor-troop-deployment.json",
    version="2.3.0",
    extension_types=["new-sdo"],
)
VALID["extension-definition-toplevel"] = sdo(
    "extension-definition", TOPLEVEL_EXT, created_by=NIS,
    name="KOR joint assessment properties",
    schema="https://schemas.nis.example.kr/stix/kor-assessment.json",
    version="1.1.0",
    extension_types=["toplevel-property-extension"],
    extension_properties=["x_kor_assessment_level", "x_kor_source_reliability"],
)

# --- SDOs -------------------------------------------------------------------
VALID["attack-pattern"] = sdo(
    "attack-pattern", ATTACK_PATTERN,
    name="Spoofed diplomatic correspondence",
    description="Spear-phishing e-mails impersonating a foreign ministry protocol office.",
    aliases=["diplomatic lure"],
    kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "initial-access"}],
    external_references=[
        {"source_name": "capec", "external_id": "CAPEC-163", "url": "https://capec.mitre.org/data/definitions/163.html"}
    ],
)
VALID["campaign"] = sdo(
    "campaign", CAMPAIGN,
    name="NORTHERN SHIFT",
    description="Cyber and information operations accompanying the FEB-7 redeployment.",
    aliases=["FEB-7 redeployment support"],
    first_seen="2024-02-20T00:00:00Z",
    last_seen="2024-03-08T23:59:59Z",
    objective="Degrade allied awareness of the brigade's movement.",
    confidence=70,
    object_marking_refs=[TLP_AMBER],
)
VALID["course-of-action"] = sdo(
    "course-of-action", COA, created_by=MOFA,
    name="Brief NATO and EU liaison officers",
    description="Share indicators and the deployment assessment with NATO MARCOM and EU INTCEN within 24 hours.",
)
VALID["grouping"] = sdo(
    "grouping", GROUPING,
    name="FEB-7 deployment picture",
    context="suspicious-activity",
    object_refs=[CAMPAIGN, THREAT_ACTOR, LOCATION, DEPLOYMENT, IPV4],
)
VALID["incident"] = sdo(
    "incident", INCIDENT, created_by=MOFA,
    name="Phishing of KOR-MOFA liaison officer",
    description="A liaison officer opened a macro document sent from a spoofed protocol address.",
    kill_chain_phases=[{"kill_chain_name": "lockheed-martin-cyber-kill-chain", "phase_name": "delivery"}],
)
VALID["indicator"] = sdo(
    "indicator", INDICATOR,
    name="FEB-7 relay address",
    description="Relay used to stage exfiltration from the MOFA liaison network.",
    indicator_types=["malicious-activity"],
    pattern=f"[ipv4-addr:value = '{IP_VALUE}'] OR ([network-traffic:dst_ref.value = '{IP_VALUE}' AND network-traffic:dst_port = 443] REPEATS 3 TIMES WITHIN 600 SECONDS)",
    pattern_type="stix",
    pattern_version="2.1",
    valid_from="2024-03-05T00:00:00Z",
    valid_until="2024-06-05T00:00:00Z",
    kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}],
    object_marking_refs=[TLP_AMBER, REL_STATEMENT],
    granular_markings=[{"marking_ref": REL_MARKING, "selectors": ["description"]}],
    labels=["feb-7"],
)
VALID["indicator-file-hash"] = sdo(
    "indicator", sdo_id("indicator", "briefing doc hash"),
    name="Malicious briefing document",
    indicator_types=["malicious-activity"],
    pattern=f"[file:hashes.'SHA-256' = '{FILE_HASH}' AND file:name LIKE '%briefing%.docm'] START t'2024-03-01T00:00:00Z' STOP t'2024-04-01T00:00:00Z'",
    pattern_type="stix",
    valid_from="2024-03-05T00:00:00.000Z",
)
VALID["indicator-sigma"] = sdo(
    "indicator", INDICATOR_SIGMA,
    name="Macro spawning PowerShell (Sigma)",
    pattern="title: Office macro spawns PowerShell\ndetection:\n  selection:\n    ParentImage|endswith: '\\\\WINWORD.EXE'\n  condition: selection",
    pattern_type="sigma",
    valid_from="2024-03-05T00:00:00Z",
)
VALID["infrastructure"] = sdo(
    "infrastructure", INFRA,
    name="FEB-7 forward relay",
    infrastructure_types=["command-and-control", "exfiltration"],
    aliases=["relay-47"],
    first_seen="2024-03-01T00:00:00Z",
    last_seen="2024-03-09T00:00:00Z",
    kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "exfiltration"}],
)
VALID["intrusion-set"] = sdo(
    "intrusion-set", INTRUSION_SET,
    name="FEB-7 cyber element",
    aliases=["BORDER WATCH"],
    goals=["monitor allied reactions to the deployment"],
    resource_level="government",
    primary_motivation="organizational-gain",
    secondary_motivations=["dominance"],
    first_seen="2023-11-01T00:00:00Z",
)
VALID["location"] = sdo(
    "location", LOCATION, created_by=ARMY,
    name="FEB-7 staging area",
    description="Rail yard used to stage the brigade's armoured vehicles.",
    latitude=38.2461,
    longitude=127.1523,
    precision=1500.0,
    region="eastern-asia",
)
VALID["location-country"] = sdo(
    "location", sdo_id("location", "brussels"), created_by=MOFA,
    name="Brussels (NATO HQ / EU institutions)",
    country="BE",
    city="Brussels",
)
VALID["malware"] = sdo(
    "malware", MALWARE,
    name="BORDERLINE",
    malware_types=["backdoor", "remote-access-trojan"],
    is_family=True,
    aliases=["BRDRLN"],
    first_seen="2024-02-28T00:00:00Z",
    last_seen="2024-03-09T00:00:00Z",
    operating_system_refs=[SOFTWARE],
    architecture_execution_envs=["x86-64"],
    implementation_languages=["c++"],
    capabilities=["communicates-with-c2", "exfiltrates-data"],
    sample_refs=[FILE],
)
VALID["malware-instance"] = sdo(
    "malware", sdo_id("malware", "BORDERLINE sample"),
    is_family=False,
    sample_refs=[ARTIFACT],
)
VALID["malware-analysis"] = sdo(
    "malware-analysis", MALWARE_ANALYSIS, created_by=ARMY,
    product="kor-army-sandbox",
    version="4.2",
    host_vm_ref=SOFTWARE,
    operating_system_ref=SOFTWARE,
    submitted="2024-03-06T01:00:00Z",
    analysis_started="2024-03-06T01:05:00Z",
    analysis_ended="2024-03-06T01:25:00Z",
    result_name="BORDERLINE",
    result="malicious",
    analysis_sco_refs=[IPV4, DOMAIN],
    sample_ref=FILE,
)
VALID["note"] = sdo(
    "note", NOTE, created_by=ARMY,
    abstract="Ground observation matches relay activity",
    content="Vehicle movements at the staging area coincided with each burst of relay traffic.",
    authors=["KOR-ARMY GIC duty officer"],
    object_refs=[OBSERVED, LOCATION],
)
VALID["observed-data"] = sdo(
    "observed-data", OBSERVED,
    first_observed="2024-03-05T14:00:00Z",
    last_observed="2024-03-05T14:20:00Z",
    number_observed=3,
    object_refs=[IPV4, TRAFFIC, DOMAIN],
)
VALID["opinion"] = sdo(
    "opinion", OPINION, created_by=MOFA,
    explanation="Consistent with diplomatic reporting from Brussels.",
    authors=["KOR-MOFA European Affairs"],
    opinion="agree",
    object_refs=[REPORT],
)
VALID["report"] = sdo(
    "report", REPORT,
    name="Joint assessment: FEB-7 redeployment and associated cyber activity",
    description="Joint KOR-NIS/KOR-ARMY/KOR-MOFA assessment prepared for NATO and EU briefings.",
    report_types=["threat-report", "campaign"],
    published="2024-03-09T08:00:00Z",
    object_refs=[CAMPAIGN, THREAT_ACTOR, INTRUSION_SET, MALWARE, INDICATOR, LOCATION, REL, SIGHTING],
    object_marking_refs=[TLP_AMBER, REL_STATEMENT],
    confidence=85,
    lang="en",
    external_references=[{"source_name": "kor-nis", "description": "Internal reference", "external_id": "NIS-2024-0309-07"}],
    x_kor_assessment_level="high",
    x_kor_source_reliability="B",
    extensions={TOPLEVEL_EXT: {"extension_type": "toplevel-property-extension"}},
)
VALID["threat-actor"] = sdo(
    "threat-actor", THREAT_ACTOR,
    name="FEB-7 Signals Detachment",
    description="Signals and cyber unit attached to the foreign expeditionary brigade.",
    threat_actor_types=["nation-state"],
    aliases=["FEB-7 SIGDET"],
    roles=["agent"],
    goals=["collect allied diplomatic reporting"],
    sophistication="advanced",
    resource_level="government",
    primary_motivation="organizational-gain",
    first_seen="2023-11-01T00:00:00Z",
    last_seen="2024-03-09T00:00:00Z",
)
VALID["tool"] = sdo(
    "tool", TOOL,
    name="plink",
    tool_types=["remote-access"],
    tool_version="0.76",
    kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}],
)
VALID["vulnerability"] = sdo(
    "vulnerability", VULN,
    name="CVE-2023-23397",
    description="Outlook elevation of privilege used against the liaison mailbox.",
    external_references=[{"source_name": "cve", "external_id": "CVE-2023-23397"}],
)
VALID["language-granular-marking"] = sdo(
    "campaign", sdo_id("campaign", "NORTHERN SHIFT ko"),
    name="NORTHERN SHIFT",
    description="북부 이동 작전: FEB-7 재배치와 연계된 사이버 활동",
    lang="en",
    granular_markings=[{"lang": "ko", "selectors": ["description"]}],
)

# --- SROs -------------------------------------------------------------------
VALID["relationship"] = sdo(
    "relationship", REL,
    relationship_type="uses",
    description="The signals detachment operates the BORDERLINE backdoor.",
    source_ref=THREAT_ACTOR,
    target_ref=MALWARE,
    start_time="2024-02-28T00:00:00Z",
    stop_time="2024-03-09T00:00:00Z",
)
VALID["relationship-to-sco"] = sdo(
    "relationship", sdo_id("relationship", "infra consists of ip"),
    relationship_type="consists-of",
    source_ref=INFRA,
    target_ref=IPV4,
)
VALID["sighting"] = sdo(
    "sighting", SIGHTING,
    first_seen="2024-03-05T14:00:00Z",
    last_seen="2024-03-05T14:20:00Z",
    count=3,
    sighting_of_ref=INDICATOR,
    observed_data_refs=[OBSERVED],
    where_sighted_refs=[MOFA, LOCATION],
    summary=False,
)

# --- Meta: language content ---------------------------------------------------
VALID["language-content"] = sdo(
    "language-content", LANG_CONTENT,
    object_ref=REPORT,
    object_modified=T1,
    contents={
        "ko": {
            "name": "합동 평가: FEB-7 재배치 및 관련 사이버 활동",
            "description": "NATO 및 EU 브리핑을 위해 작성된 국정원·육군·외교부 합동 평가.",
        },
        "fr": {"name": "Évaluation conjointe : redéploiement de FEB-7"},
    },
)

# --- Custom objects -------------------------------------------------------------
VALID["custom-object-new-sdo"] = sdo(
    "x-kor-troop-deployment", DEPLOYMENT, created_by=ARMY,
    unit_designation="FEB-7 (foreign expeditionary brigade)",
    estimated_strength=4200,
    location_ref=LOCATION,
    observed_equipment=["tracked APC", "self-propelled artillery"],
    extensions={DEPLOY_EXT: {"extension_type": "new-sdo"}},
)
VALID["custom-object-sco-like"] = sco(
    "x-kor-radio-emitter", f"x-kor-radio-emitter--{v4('emitter')}",
    frequency_khz=243000,
    emitter_class="tactical-datalink",
)

# --- SCOs -------------------------------------------------------------------
VALID["artifact"] = sco(
    "artifact", ARTIFACT,
    mime_type="application/zip",
    payload_bin="UEsDBBQAAAAIAA==",
    encryption_algorithm="mime-type-indicated",
    decryption_key="infected",
)
VALID["artifact-url"] = sco(
    "artifact", sco_id("artifact", {"hashes": {"SHA-256": FILE_HASH}}),
    url="https://mofa-liaison-update.example/briefing/nato-eu.docm",
    hashes={"SHA-256": FILE_HASH},
)
VALID["autonomous-system"] = sco("autonomous-system", AS, number=64511, name="FEB-7 transit", rir="APNIC")
VALID["directory"] = sco(
    "directory", DIRECTORY,
    path="C:\\Users\\liaison\\AppData\\Local\\Temp",
    ctime="2024-03-05T14:01:00Z",
    contains_refs=[FILE],
)
VALID["domain-name"] = sco("domain-name", DOMAIN, value="mofa-liaison-update.example", resolves_to_refs=[IPV4, IPV6])
VALID["email-addr"] = sco(
    "email-addr", EMAIL_FROM,
    value="protocol.office@mofa-liaison-update.example",
    display_name="Protocol Office",
)
VALID["email-message"] = sco(
    "email-message", EMAIL_MSG,
    is_multipart=True,
    date="2024-03-05T13:58:00Z",
    content_type="multipart/mixed",
    from_ref=EMAIL_FROM,
    to_refs=[EMAIL_TO],
    subject="Updated NATO/EU liaison schedule",
    received_lines=["from relay.mofa-liaison-update.example by mx.mofa.example.kr"],
    additional_header_fields={"X-Forwarded-For": ["203.0.113.47", "10.20.30.40"]},
    body_multipart=[
        {"content_type": "text/plain; charset=utf-8", "body": "Please review the attached schedule before Friday."},
        {"content_type": "application/vnd.ms-word.document.macroEnabled.12", "content_disposition": "attachment; filename=\"nato-eu-briefing.docm\"", "body_raw_ref": FILE},
    ],
)
VALID["email-message-single-header"] = sco(
    "email-message", sco_id("email-message", {"subject": "FEB-7 convoy timetable"}),
    is_multipart=False,
    subject="FEB-7 convoy timetable",
    body="Timetable attached in the secure portal.",
    additional_header_fields={"X-Mailer": ["Outlook 16.0"]},
)
VALID["email-message-simple"] = sco(
    "email-message", sco_id("email-message", {"subject": "Re: FEB-7 rail movements"}),
    is_multipart=False,
    subject="Re: FEB-7 rail movements",
    body="Confirmed: two trains left the staging area at 06:00.",
)
VALID["file"] = sco(
    "file", FILE,
    hashes={"SHA-256": FILE_HASH, "MD5": "d41d8cd98f00b204e9800998ecf8427e"},
    size=48213,
    name="nato-eu-briefing.docm",
    magic_number_hex="504b0304",
    mime_type="application/vnd.ms-word.document.macroEnabled.12",
    parent_directory_ref=DIRECTORY,
    extensions={
        "windows-pebinary-ext": {
            "pe_type": "dll",
            "time_date_stamp": "2024-02-27T11:04:12Z",
            "number_of_sections": 4,
            "sections": [{"name": ".text", "size": 40960, "entropy": 6.21}],
            "optional_header": {"magic_hex": "020b", "size_of_image": 90112},
        },
        "ntfs-ext": {"alternate_data_streams": [{"name": "Zone.Identifier", "size": 26}]},
    },
)
VALID["file-archive"] = sco(
    "file", ARCHIVE_FILE,
    name="field-reports.zip",
    extensions={"archive-ext": {"contains_refs": [FILE], "comment": "collected from staging area drone feed"}},
)
VALID["ipv4-addr"] = sco("ipv4-addr", IPV4, value=IP_VALUE, belongs_to_refs=[AS], resolves_to_refs=[MAC])
VALID["ipv4-addr-cidr"] = sco("ipv4-addr", sco_id("ipv4-addr", {"value": "198.51.100.0/24"}), value="198.51.100.0/24")
VALID["ipv6-addr"] = sco("ipv6-addr", IPV6, value="2001:db8:4f::47")
VALID["mac-addr"] = sco("mac-addr", MAC, value="d2:fb:49:24:37:18")
VALID["mutex"] = sco("mutex", MUTEX, name="Global\\BRDRLN-7f3a")
VALID["network-traffic"] = sco(
    "network-traffic", TRAFFIC,
    start="2024-03-05T14:00:00Z",
    end="2024-03-05T14:20:00Z",
    is_active=False,
    src_ref=IPV6,
    dst_ref=IPV4,
    dst_port=443,
    protocols=["ipv4", "tcp", "https"],
    src_byte_count=1048576,
    ipfix={"minimumIpTotalLength": 32, "maximumIpTotalLength": 2556},
    extensions={
        "http-request-ext": {
            "request_method": "post",
            "request_value": "/upload",
            "request_version": "http/1.1",
            "request_header": {"Host": ["mofa-liaison-update.example"], "User-Agent": ["Mozilla/5.0"]},
        },
        "tcp-ext": {"src_flags_hex": "00000002"},
    },
)
VALID["network-traffic-socket"] = sco(
    "network-traffic", sco_id("network-traffic", {"src_ref": IPV4, "protocols": ["icmp"]}),
    src_ref=IPV4,
    protocols=["icmp"],
    is_active=True,
    extensions={
        "icmp-ext": {"icmp_type_hex": "08", "icmp_code_hex": "00"},
        "socket-ext": {"address_family": "AF_INET", "socket_type": "SOCK_RAW", "options": {"SO_RCVTIMEO": 100}},
    },
)
VALID["process"] = sco(
    "process", PROCESS,
    pid=4412,
    created_time="2024-03-05T14:01:30Z",
    command_line="WINWORD.EXE /n nato-eu-briefing.docm",
    environment_variables={"USERPROFILE": "C:\\Users\\liaison"},
    creator_user_ref=USER,
    image_ref=FILE,
    extensions={
        "windows-process-ext": {"aslr_enabled": True, "integrity_level": "medium", "owner_sid": "S-1-5-21-1004"},
        "windows-service-ext": {"service_name": "BrdrlnSvc", "start_type": "SERVICE_AUTO_START", "service_dll_refs": [FILE]},
    },
)
VALID["software"] = sco(
    "software", SOFTWARE,
    name="Windows 10 Enterprise",
    cpe="cpe:2.3:o:microsoft:windows_10:22h2:*:*:*:enterprise:*:x64:*",
    languages=["ko", "en"],
    vendor="Microsoft",
    version="22H2",
)
VALID["url"] = sco("url", URL, value="https://mofa-liaison-update.example/briefing/nato-eu.docx")
VALID["user-account"] = sco(
    "user-account", USER,
    user_id="1004",
    account_login="liaison01",
    account_type="windows-domain",
    display_name="KOR-MOFA liaison officer",
    is_privileged=False,
    account_created="2021-06-01T00:00:00Z",
    account_last_login="2024-03-05T13:50:00Z",
)
VALID["user-account-unix"] = sco(
    "user-account", sco_id("user-account", {"account_login": "relayop", "account_type": "unix"}),
    account_login="relayop",
    account_type="unix",
    extensions={"unix-account-ext": {"gid": 1001, "groups": ["wheel"], "home_dir": "/home/relayop", "shell": "/bin/bash"}},
)
VALID["windows-registry-key"] = sco(
    "windows-registry-key", REGKEY,
    key="HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
    values=[{"name": "BrdrlnUpdate", "data": "C:\\Users\\liaison\\AppData\\Local\\Temp\\upd.exe", "data_type": "REG_SZ"}],
    modified_time="2024-03-05T14:02:00Z",
    creator_user_ref=USER,
    number_of_subkeys=0,
)
VALID["x509-certificate"] = sco(
    "x509-certificate", X509,
    is_self_signed=True,
    hashes={"SHA-256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
    version="3",
    serial_number="3a:1f:77:02:9c:5e",
    signature_algorithm="sha256WithRSAEncryption",
    issuer="CN=mofa-liaison-update.example",
    subject="CN=mofa-liaison-update.example",
    validity_not_before="2024-02-01T00:00:00Z",
    validity_not_after="2025-02-01T00:00:00Z",
    subject_public_key_algorithm="rsaEncryption",
    subject_public_key_exponent=65537,
    x509_v3_extensions={"basic_constraints": "critical,CA:FALSE", "key_usage": "digitalSignature"},
)
VALID["sco-without-spec-version"] = {
    "type": "ipv4-addr",
    "id": sco_id("ipv4-addr", {"value": "192.0.2.77"}),
    "value": "192.0.2.77",
    "object_marking_refs": [TLP2_CLEAR],
}


# --- Broken variants -----------------------------------------------------------

INVALID = {}


def bad(name, base, mutate):
    if name in INVALID:
        raise SystemExit(f"duplicate invalid name {name}")
    obj = copy.deepcopy(VALID[base])
    result = mutate(obj)
    INVALID[name] = obj if result is None else result


def drop(*keys):
    def f(o):
        for k in keys:
            del o[k]
    return f


def drop_in(d, key):
    del d[key]


def put(**kv):
    def f(o):
        o.update(kv)
    return f


def put_key(key, value):
    def f(o):
        o[key] = value
    return f


# Missing required properties, one per type.
MISSING = [
    ("attack-pattern", "name"), ("campaign", "name"), ("course-of-action", "name"),
    ("grouping", "context"), ("grouping", "object_refs"), ("identity-kor-army", "name"),
    ("incident", "name"), ("indicator", "pattern"), ("indicator", "pattern_type"),
    ("indicator", "valid_from"), ("infrastructure", "name"), ("intrusion-set", "name"),
    ("malware", "is_family"), ("malware-analysis", "product"), ("note", "content"),
    ("note", "object_refs"), ("observed-data", "first_observed"), ("observed-data", "last_observed"),
    ("observed-data", "number_observed"), ("opinion", "opinion"), ("opinion", "object_refs"),
    ("report", "name"), ("report", "published"), ("report", "object_refs"),
    ("threat-actor", "name"), ("tool", "name"), ("vulnerability", "name"),
    ("relationship", "relationship_type"), ("relationship", "source_ref"), ("relationship", "target_ref"),
    ("sighting", "sighting_of_ref"),
    ("language-content", "object_ref"), ("language-content", "contents"),
    ("extension-definition-new-sdo", "schema"), ("extension-definition-new-sdo", "version"),
    ("extension-definition-new-sdo", "extension_types"), ("extension-definition-new-sdo", "name"),
    ("autonomous-system", "number"), ("directory", "path"), ("domain-name", "value"),
    ("email-addr", "value"), ("email-message", "is_multipart"), ("ipv4-addr", "value"),
    ("ipv6-addr", "value"), ("mac-addr", "value"), ("mutex", "name"), ("network-traffic", "protocols"),
    ("software", "name"), ("url", "value"),
    ("indicator", "created"), ("indicator", "modified"), ("indicator", "spec_version"), ("indicator", "id"),
    ("indicator", "type"), ("marking-definition-statement", "created"),
    ("marking-definition-statement", "spec_version"),
]
for base, prop in MISSING:
    stem = VALID[base]["type"]
    bad(f"{stem}--missing-{prop.replace('_', '-')}", base, drop(prop))

# Identifiers.
bad("indicator--id-wrong-type-prefix", "indicator", put(id=MALWARE))
bad("indicator--id-not-uuid", "indicator", put(id="indicator--feb7-relay-address"))
bad("indicator--id-uuid-bad-variant", "indicator", put(id="indicator--8e2e2d2b-17d4-4cbf-c38f-98ee46b3cd3f"))
bad("indicator--id-uuid-version-0", "indicator", put(id="indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f"))
bad("identity--id-single-hyphen", "identity-kor-nis", put(id=NIS.replace("--", "-")))
bad("ipv4-addr--id-not-string", "ipv4-addr", put(id=12345))
bad("process--id-not-uuidv4", "process", put(id="process--7d6f1b36-9e5a-5c47-8a8a-0d2bd7a5e6f1"))
bad("user-account--no-contributing-props-uuidv5", "user-account",
    lambda o: {"type": "user-account", "spec_version": "2.1",
               "id": "user-account--0d5b424b-93b8-5cd8-ac36-306e1789d63c", "display_name": "unknown relay operator"})

# Types.
bad("custom--type-uppercase", "custom-object-new-sdo",
    lambda o: dict(o, type="X-KOR-Troop-Deployment", id="X-KOR-Troop-Deployment--" + DEPLOYMENT.split("--")[1]))
bad("custom--type-reserved-action", "custom-object-new-sdo",
    lambda o: dict(o, type="action", id="action--" + DEPLOYMENT.split("--")[1]))
bad("custom--type-too-short", "custom-object-sco-like",
    lambda o: dict(o, type="xk", id="xk--" + o["id"].split("--")[1]))

# Timestamps.
bad("identity--created-without-milliseconds", "identity-kor-mofa", put(created="2024-03-02T09:00:00Z"))
bad("identity--created-with-offset", "identity-kor-mofa", put(created="2024-03-02T18:00:00.000+09:00"))
bad("identity--created-february-30", "identity-kor-mofa", put(created="2024-02-30T09:00:00.000Z"))
bad("identity--created-month-13", "identity-kor-mofa", put(created="2024-13-02T09:00:00.000Z"))
bad("identity--created-lowercase-t", "identity-kor-mofa", put(created="2024-03-02t09:00:00.000Z"))
bad("identity--modified-before-created", "identity-kor-mofa", put(modified="2024-03-01T09:00:00.000Z"))
bad("identity--created-not-string", "identity-kor-mofa", put(created=1709370000))
bad("indicator--valid-until-equals-valid-from", "indicator", put(valid_until="2024-03-05T00:00:00Z"))
bad("indicator--valid-until-before-valid-from", "indicator", put(valid_until="2024-03-04T00:00:00Z"))
bad("observed-data--last-before-first", "observed-data", put(last_observed="2024-03-05T13:59:59Z"))
bad("sighting--last-seen-before-first-seen", "sighting", put(last_seen="2024-03-05T13:00:00Z"))
bad("campaign--last-seen-before-first-seen", "campaign", put(last_seen="2024-02-19T00:00:00Z"))
bad("relationship--stop-time-equals-start-time", "relationship", put(stop_time="2024-02-28T00:00:00Z"))
bad("network-traffic--end-before-start", "network-traffic", put(end="2024-03-05T13:00:00Z"))
bad("report--published-not-timestamp", "report", put(published="9 March 2024"))
bad("malware-analysis--submitted-hour-24", "malware-analysis", put(submitted="2024-03-06T24:00:00Z"))
bad("file--pe-time-date-stamp-fractional", "file",
    lambda o: o["extensions"]["windows-pebinary-ext"].update(time_date_stamp="2024-02-27T11:04:12.500Z"))

# spec_version.
bad("indicator--spec-version-2-0", "indicator", put(spec_version="2.0"))
bad("indicator--spec-version-2-2", "indicator", put(spec_version="2.2"))
bad("ipv4-addr--spec-version-number", "ipv4-addr", put(spec_version=2.1))

# References of the wrong type or shape.
bad("indicator--created-by-ref-not-identity", "indicator", put(created_by_ref=ARMY.replace("identity", "threat-actor")))
bad("indicator--object-marking-ref-not-marking", "indicator", put(object_marking_refs=[MOFA]))
bad("indicator--object-marking-ref-not-identifier", "indicator", put(object_marking_refs=["TLP:AMBER"]))
bad("indicator--granular-marking-ref-not-marking", "indicator",
    put(granular_markings=[{"marking_ref": NIS, "selectors": ["description"]}]))
bad("sighting--where-sighted-ref-indicator", "sighting", put(where_sighted_refs=[INDICATOR]))
bad("sighting--observed-data-ref-indicator", "sighting", put(observed_data_refs=[INDICATOR]))
bad("sighting--sighting-of-ref-relationship", "sighting", put(sighting_of_ref=REL))
bad("sighting--sighting-of-ref-sco", "sighting", put(sighting_of_ref=IPV4))
bad("relationship--source-ref-marking-definition", "relationship", put(source_ref=TLP_AMBER))
bad("relationship--target-ref-relationship", "relationship", put(target_ref=REL))
bad("malware--operating-system-ref-not-software", "malware", put(operating_system_refs=[FILE]))
bad("malware-analysis--sample-ref-indicator", "malware-analysis", put(sample_ref=INDICATOR))
bad("report--object-ref-not-identifier", "report",
    lambda o: o["object_refs"].append("FEB-7 campaign"))
bad("email-message--from-ref-not-email-addr", "email-message", put(from_ref=MOFA))
bad("grouping--object-refs-not-list", "grouping", put(object_refs=CAMPAIGN))

# Patterns.
bad("indicator--pattern-syntax-error", "indicator", put(pattern=f"[ipv4-addr:value = '{IP_VALUE}'"))
bad("indicator--pattern-unterminated-string", "indicator", put(pattern="[ipv4-addr:value = '203.0.113.47]"))
bad("indicator--pattern-bad-operator", "indicator", put(pattern=f"[ipv4-addr:value === '{IP_VALUE}']"))
bad("indicator--pattern-bad-sha256", "indicator", put(pattern="[file:hashes.'SHA-256' = 'e3b0c442']"))
bad("indicator--pattern-duplicate-within", "indicator",
    put(pattern=f"[ipv4-addr:value = '{IP_VALUE}'] WITHIN 60 SECONDS WITHIN 30 SECONDS"))
bad("indicator--pattern-repeats-zero", "indicator", put(pattern=f"[ipv4-addr:value = '{IP_VALUE}'] REPEATS 0 TIMES"))
bad("indicator--pattern-lowercase-and", "indicator",
    put(pattern=f"[ipv4-addr:value = '{IP_VALUE}'] and [domain-name:value = 'mofa-liaison-update.example']"))
bad("indicator--pattern-invalid-object-type", "indicator", put(pattern=f"[IPv4_Addr:value = '{IP_VALUE}']"))
bad("indicator--pattern-not-string", "indicator", put(pattern=["[ipv4-addr:value = '203.0.113.47']"]))

# Property names.
bad("report--custom-property-hyphen", "report", put_key("x-kor-assessment-level", "high"))
bad("report--custom-property-too-short", "report", put_key("xk", "high"))
bad("report--custom-property-uppercase-first", "report", put_key("X_kor_level", "high"))
bad("report--custom-property-camel-case", "report", put_key("x_korAssessment", "high"))
bad("report--custom-property-leading-underscore", "report", put_key("_kor_assessment", "high"))
bad("report--reserved-property-severity", "report", put(severity="high"))

# Empty lists, nulls, wrong value types.
bad("report--labels-empty-list", "report", put(labels=[]))
bad("report--object-refs-empty-list", "report", put(object_refs=[]))
bad("campaign--aliases-empty-list", "campaign", put(aliases=[]))
bad("report--external-references-empty-list", "report", put(external_references=[]))
bad("indicator--object-marking-refs-empty-list", "indicator", put(object_marking_refs=[]))
bad("report--custom-property-empty-list", "report", put(x_kor_caveats=[]))
bad("report--description-null", "report", put(description=None))
bad("report--confidence-101", "report", put(confidence=101))
bad("report--confidence-string", "report", put(confidence="high"))
bad("malware--is-family-string", "malware", put(is_family="true"))
bad("campaign--revoked-string", "campaign", put(revoked="false"))
bad("observed-data--number-observed-zero", "observed-data", put(number_observed=0))
bad("sighting--count-negative", "sighting", put(count=-1))
bad("identity--name-not-string", "identity-kor-army", put(name=["KOR-ARMY"]))
bad("report--labels-not-strings", "report", put(labels=["feb-7", 7]))

# External references and kill chain phases.
bad("attack-pattern--external-reference-without-source-name", "attack-pattern",
    put(external_references=[{"external_id": "CAPEC-163"}]))
bad("attack-pattern--external-reference-only-source-name", "attack-pattern",
    put(external_references=[{"source_name": "kor-nis"}]))
bad("vulnerability--cve-external-id-malformed", "vulnerability",
    put(external_references=[{"source_name": "cve", "external_id": "CVE-23397"}]))
bad("attack-pattern--capec-external-id-malformed", "attack-pattern",
    put(external_references=[{"source_name": "capec", "external_id": "163"}]))
bad("attack-pattern--external-reference-bad-url", "attack-pattern",
    put(external_references=[{"source_name": "kor-nis", "url": "not a url"}]))
bad("attack-pattern--kill-chain-phase-without-phase-name", "attack-pattern",
    put(kill_chain_phases=[{"kill_chain_name": "mitre-attack"}]))

# Granular markings.
bad("indicator--granular-marking-empty-selectors", "indicator",
    put(granular_markings=[{"marking_ref": REL_MARKING, "selectors": []}]))
bad("indicator--granular-marking-selector-not-present", "indicator",
    put(granular_markings=[{"marking_ref": REL_MARKING, "selectors": ["x_kor_commander_comment"]}]))
bad("indicator--granular-marking-selector-index-out-of-range", "indicator",
    put(granular_markings=[{"marking_ref": REL_MARKING, "selectors": ["kill_chain_phases.[3].phase_name"]}]))
bad("indicator--granular-marking-without-ref-or-lang", "indicator",
    put(granular_markings=[{"selectors": ["description"]}]))
bad("indicator--granular-marking-ref-and-lang", "indicator",
    put(granular_markings=[{"marking_ref": REL_MARKING, "lang": "ko", "selectors": ["description"]}]))

# Extensions.
bad("report--extensions-empty", "report", put(extensions={}))
bad("report--extension-definition-without-extension-type", "report", put(extensions={TOPLEVEL_EXT: {"x_kor_note": "x"}}))
bad("report--extension-type-unknown", "report", put(extensions={TOPLEVEL_EXT: {"extension_type": "new-property"}}))
bad("report--extension-key-invalid", "report", put(extensions={"kor_assessment": {"level": "high"}}))
bad("file--ntfs-ext-empty", "file", lambda o: o["extensions"].update({"ntfs-ext": {}}))
bad("file--archive-ext-without-contains-refs", "file-archive",
    lambda o: o["extensions"].update({"archive-ext": {"comment": "no contents"}}))
bad("network-traffic--http-request-ext-without-method", "network-traffic",
    lambda o: drop_in(o["extensions"]["http-request-ext"], "request_method"))
bad("network-traffic--socket-ext-bad-address-family", "network-traffic-socket",
    lambda o: o["extensions"]["socket-ext"].update(address_family="AF_KOREA"))
bad("process--windows-process-ext-bad-integrity-level", "process",
    lambda o: o["extensions"]["windows-process-ext"].update(integrity_level="trusted"))

# Type-specific co-constraints.
bad("location--no-region-country-or-coordinates", "location-country", drop("country", "city"))
bad("location--latitude-without-longitude", "location", drop("longitude"))
bad("location--latitude-out-of-range", "location", put(latitude=91.5))
bad("location--precision-without-coordinates", "location-country", put(precision=50.0))
bad("malware--family-without-name", "malware", drop("name"))
bad("malware-analysis--neither-result-nor-analysis-sco-refs", "malware-analysis", drop("result", "analysis_sco_refs"))
bad("observed-data--objects-and-object-refs", "observed-data",
    put(objects={"0": {"type": "ipv4-addr", "value": IP_VALUE}}))
bad("opinion--value-not-in-enumeration", "opinion", put(opinion="partially-agree"))
bad("relationship--type-with-spaces", "relationship", put(relationship_type="Uses Malware"))
bad("artifact--payload-bin-and-url", "artifact", put(url="https://mofa-liaison-update.example/a.zip"))
bad("artifact--url-without-hashes", "artifact-url", drop("hashes"))
bad("artifact--payload-bin-not-base64", "artifact", put(payload_bin="not base64!"))
bad("artifact--decryption-key-without-algorithm", "artifact", drop("encryption_algorithm"))
bad("email-message--multipart-with-body", "email-message", put(body="plain body"))
bad("network-traffic--no-src-or-dst", "network-traffic", drop("src_ref", "dst_ref"))
bad("network-traffic--active-with-end", "network-traffic", put(is_active=True))
bad("network-traffic--port-out-of-range", "network-traffic", put(dst_port=70000))
bad("file--neither-hashes-nor-name", "file-archive", drop("name"))
bad("file--md5-wrong-length", "file", lambda o: o["hashes"].update(MD5="d41d8cd98f00b204e98009"))
bad("file--size-negative", "file", put(size=-1))
bad("file--magic-number-hex-uppercase", "file", put(magic_number_hex="504B0304"))
bad("file--custom-hex-property-not-hex", "file", put(x_kor_signature_hex="zz"))
bad("ipv4-addr--octet-out-of-range", "ipv4-addr", put(value="203.0.113.470"))
bad("ipv6-addr--malformed", "ipv6-addr", put(value="2001:db8:::47"))
bad("mac-addr--uppercase", "mac-addr", put(value="D2:FB:49:24:37:18"))
bad("domain-name--underscore", "domain-name", put(value="mofa_liaison.example"))
bad("user-account--no-properties", "user-account",
    lambda o: {"type": "user-account", "spec_version": "2.1", "id": f"user-account--{v4('empty account')}"})
bad("x509-certificate--no-properties", "x509-certificate",
    lambda o: {"type": "x509-certificate", "spec_version": "2.1", "id": f"x509-certificate--{v4('empty cert')}"})
bad("windows-registry-key--abbreviated-hive", "windows-registry-key",
    put(key="HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run"))
bad("software--cpe-malformed", "software", put(cpe="cpe:/o:microsoft:windows_10"))
bad("software--language-not-rfc5646", "software", put(languages=["ko_KR"]))
bad("identity--lang-not-rfc5646", "identity-kor-mofa", put(lang="ko_KR"))
bad("identity--defanged-on-sdo", "identity-kor-mofa", put(defanged=False))
bad("language-content--contents-key-not-language", "language-content",
    lambda o: o["contents"].update({"ko_KR": {"name": "합동 평가"}}))

# Marking definitions and extension definitions.
bad("marking-definition--tlp-unknown-id", "marking-definition-tlp-amber",
    put(id="marking-definition--2d4c3d4b-5f33-4a4a-9d4a-0a9c9a5b7c11"))
bad("marking-definition--statement-without-statement", "marking-definition-statement",
    put(definition={"text": "REL TO KOR, NATO, EU"}))
bad("marking-definition--no-definition-and-no-extensions", "marking-definition-statement",
    drop("definition_type", "definition"))
bad("marking-definition--self-referencing-marking", "marking-definition-statement",
    put(object_marking_refs=[REL_STATEMENT]))
bad("extension-definition--missing-created-by-ref", "extension-definition-new-sdo", drop("created_by_ref"))
bad("extension-definition--unknown-extension-type", "extension-definition-new-sdo", put(extension_types=["new-sdo", "new-thing"]))
bad("extension-definition--extension-properties-without-toplevel", "extension-definition-new-sdo",
    put(extension_properties=["x_kor_level"]))

# Not an object at all.
NOT_OBJECTS = {
    "not-an-object--json-array": ["indicator", INDICATOR],
    "not-an-object--json-string": "indicator",
}


def write_all():
    for sub in ("valid", "invalid"):
        d = HERE / sub
        if d.exists():
            shutil.rmtree(d)
        d.mkdir()
    for name, obj in VALID.items():
        (HERE / "valid" / f"{name}.json").write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    for name, obj in {**INVALID, **NOT_OBJECTS}.items():
        (HERE / "invalid" / f"{name}.json").write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
    print(f"{len(VALID)} valid, {len(INVALID) + len(NOT_OBJECTS)} invalid files written")


if __name__ == "__main__":
    write_all()
