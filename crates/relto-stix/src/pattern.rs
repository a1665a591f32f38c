//! STIX 2.1 Patterning (STIX 2.1 §9) syntax validation.
//!
//! This is a hand-written lexer and recursive-descent parser for the
//! grammar published by OASIS (`STIXPattern.g4` in cti-stix2-json-schemas),
//! with the same tokenisation rules as that ANTLR grammar (longest match,
//! keywords before identifiers, unquoted object types may contain `-`,
//! unquoted property names may not, `/* */` and `//` comments, only `\'`
//! and `\\` escapes in string literals).
//!
//! On top of the grammar the following rules are enforced:
//! * §9.5.1: an observation expression must not have more than one
//!   qualifier of a particular type; `REPEATS x TIMES` needs a positive
//!   integer and `WITHIN x SECONDS` a positive number.
//! * Object types in object paths must be valid STIX type names and the
//!   first property component a valid property name (§3.1) — as the OASIS
//!   validator checks.
//! * `t'…'` literals must be real STIX timestamps (see [`crate::timestamp`]).
//! * A `=`/`!=` comparison of a `hashes.<ALGO>` path against a string
//!   literal must use a digest of the right shape for well-known
//!   algorithms (MD5, SHA-1, SHA-256, …), like the OASIS pattern validator.

use crate::id::{is_valid_property_name, is_valid_type_name};
use crate::timestamp::parse_micros;

/// Why a pattern is not a valid STIX 2.1 pattern: where (line and column, 1-based, in
/// characters) and what went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError(String);

impl std::fmt::Display for PatternError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PatternError {}

/// Validates a STIX 2.1 pattern.
pub fn validate_pattern(s: &str) -> Result<(), PatternError> {
    let toks = lex(s).map_err(|(pos, msg)| PatternError(at(s, pos, &msg)))?;
    let mut p = Parser {
        src: s,
        toks,
        i: 0,
        depth: 0,
    };
    p.pattern().map_err(PatternError)
}

fn at(src: &str, pos: usize, msg: &str) -> String {
    let mut line = 1;
    let mut col = 1;
    for (i, c) in src.char_indices() {
        if i >= pos {
            break;
        }
        if c == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    format!("pattern error at line {line}, column {col}: {msg}")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum K {
    IntPos,
    IntNeg,
    FloatPos,
    FloatNeg,
    Hex,
    Binary,
    Str,
    Bool,
    Timestamp,
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSuperset,
    IsSubset,
    Exists,
    In,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
    IdentNoHyphen,
    IdentHyphen,
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    Colon,
    Dot,
    Comma,
    LParen,
    RParen,
    LBrack,
    RBrack,
    Asterisk,
    Eof,
}

#[derive(Clone, Copy, Debug)]
struct Tok {
    k: K,
    start: usize,
    end: usize,
}

fn describe(k: K) -> &'static str {
    match k {
        K::IntPos | K::IntNeg => "an integer",
        K::FloatPos | K::FloatNeg => "a float",
        K::Hex => "a hex literal",
        K::Binary => "a binary literal",
        K::Str => "a string literal",
        K::Bool => "a boolean",
        K::Timestamp => "a timestamp literal",
        K::And => "AND",
        K::Or => "OR",
        K::Not => "NOT",
        K::FollowedBy => "FOLLOWEDBY",
        K::Like => "LIKE",
        K::Matches => "MATCHES",
        K::IsSuperset => "ISSUPERSET",
        K::IsSubset => "ISSUBSET",
        K::Exists => "EXISTS",
        K::In => "IN",
        K::Start => "START",
        K::Stop => "STOP",
        K::Seconds => "SECONDS",
        K::Within => "WITHIN",
        K::Repeats => "REPEATS",
        K::Times => "TIMES",
        K::IdentNoHyphen | K::IdentHyphen => "an identifier",
        K::Eq => "'='",
        K::Neq => "'!='",
        K::Lt => "'<'",
        K::Le => "'<='",
        K::Gt => "'>'",
        K::Ge => "'>='",
        K::Colon => "':'",
        K::Dot => "'.'",
        K::Comma => "','",
        K::LParen => "'('",
        K::RParen => "')'",
        K::LBrack => "'['",
        K::RBrack => "']'",
        K::Asterisk => "'*'",
        K::Eof => "the end of the pattern",
    }
}

const KEYWORDS: &[(&str, K)] = &[
    ("true", K::Bool),
    ("false", K::Bool),
    ("AND", K::And),
    ("OR", K::Or),
    ("NOT", K::Not),
    ("FOLLOWEDBY", K::FollowedBy),
    ("LIKE", K::Like),
    ("MATCHES", K::Matches),
    ("ISSUPERSET", K::IsSuperset),
    ("ISSUBSET", K::IsSubset),
    ("EXISTS", K::Exists),
    ("IN", K::In),
    ("START", K::Start),
    ("STOP", K::Stop),
    ("SECONDS", K::Seconds),
    ("WITHIN", K::Within),
    ("REPEATS", K::Repeats),
    ("TIMES", K::Times),
];

fn is_ws(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\r'
            | '\n'
            | '\u{000B}'
            | '\u{000C}'
            | '\u{0085}'
            | '\u{00a0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

type LexErr = (usize, String);

/// Length of a string literal starting at `i` (which is a quote), if well formed.
fn string_len(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\'' => return Some(j + 1 - i),
            b'\\' => {
                if j + 1 < b.len() && (b[j + 1] == b'\'' || b[j + 1] == b'\\') {
                    j += 2;
                } else {
                    return None;
                }
            }
            _ => j += 1,
        }
    }
    None
}

/// `h'` (two hex digits)* `'`
fn hex_len(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i + 1) != Some(&b'\'') {
        return None;
    }
    let mut j = i + 2;
    while j + 1 < b.len() && b[j].is_ascii_hexdigit() && b[j + 1].is_ascii_hexdigit() {
        j += 2;
    }
    (b.get(j) == Some(&b'\'')).then_some(j + 1 - i)
}

fn is_b64(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/'
}

/// `b'` base64 (at least one quantum, optional `=`/`==` padding) `'`
fn binary_len(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i + 1) != Some(&b'\'') {
        return None;
    }
    let start = i + 2;
    let mut j = start;
    while j < b.len() && is_b64(b[j]) {
        j += 1;
    }
    let n = j - start;
    let mut pad = 0;
    while j < b.len() && b[j] == b'=' && pad < 2 {
        j += 1;
        pad += 1;
    }
    if b.get(j) != Some(&b'\'') {
        return None;
    }
    let ok = match pad {
        0 => n >= 4 && n % 4 == 0,
        1 => n % 4 == 3,
        _ => n % 4 == 2,
    };
    ok.then_some(j + 1 - i)
}

/// `t'YYYY-MM-DDTHH:MM:SS[.s+]Z'` as the grammar's TimestampLiteral.
fn timestamp_len(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i + 1) != Some(&b'\'') {
        return None;
    }
    let s = i + 2;
    let d = |k: usize| b.get(s + k).is_some_and(u8::is_ascii_digit);
    let c = |k: usize, ch: u8| b.get(s + k) == Some(&ch);
    if !(d(0) && d(1) && d(2) && d(3) && c(4, b'-') && d(5) && d(6) && c(7, b'-') && d(8) && d(9)) {
        return None;
    }
    if !(c(10, b'T') && d(11) && d(12) && c(13, b':') && d(14) && d(15) && c(16, b':'))
        || !(d(17) && d(18))
    {
        return None;
    }
    let mut j = s + 19;
    if b.get(j) == Some(&b'.') {
        let f = j + 1;
        j = f;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j == f {
            return None;
        }
    }
    if b.get(j) == Some(&b'Z') && b.get(j + 1) == Some(&b'\'') {
        Some(j + 2 - i)
    } else {
        None
    }
}

/// Integer / float literal candidates at `i`; returns the longest match.
fn number(b: &[u8], i: usize) -> Option<(K, usize)> {
    let mut best: Option<(K, usize)> = None;
    let mut consider = |k: K, len: usize| {
        if len > 0 && best.is_none_or(|(_, l)| len > l) {
            best = Some((k, len));
        }
    };
    let sign = match b.get(i) {
        Some(b'-') => Some(true),
        Some(b'+') => Some(false),
        _ => None,
    };
    let body = if sign.is_some() { i + 1 } else { i };
    // Integer: '0' | [1-9][0-9]*
    let int_len = match b.get(body) {
        Some(b'0') => 1,
        Some(c) if c.is_ascii_digit() => {
            let mut j = body + 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            j - body
        }
        _ => 0,
    };
    if int_len > 0 {
        let k = if sign == Some(true) {
            K::IntNeg
        } else {
            K::IntPos
        };
        consider(k, body - i + int_len);
    }
    // Float: [0-9]* '.' [0-9]+
    let mut j = body;
    while j < b.len() && b[j].is_ascii_digit() {
        j += 1;
    }
    if b.get(j) == Some(&b'.') {
        let f = j + 1;
        let mut e = f;
        while e < b.len() && b[e].is_ascii_digit() {
            e += 1;
        }
        if e > f {
            let k = if sign == Some(true) {
                K::FloatNeg
            } else {
                K::FloatPos
            };
            consider(k, e - i);
        }
    }
    best
}

fn lex(src: &str) -> Result<Vec<Tok>, LexErr> {
    let b = src.as_bytes();
    let mut toks = Vec::with_capacity(16);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        // Whitespace (including the Unicode spaces of the grammar).
        if c < 0x80 {
            if is_ws(c as char) {
                i += 1;
                continue;
            }
        } else {
            let ch = src[i..].chars().next().unwrap_or('\u{fffd}');
            if is_ws(ch) {
                i += ch.len_utf8();
                continue;
            }
            return Err((i, format!("unexpected character '{ch}'")));
        }
        // Comments.
        if c == b'/' {
            if b.get(i + 1) == Some(&b'*') {
                if let Some(end) = src[i + 2..].find("*/") {
                    i += 2 + end + 2;
                    continue;
                }
                return Err((i, "unterminated /* comment".to_owned()));
            }
            if b.get(i + 1) == Some(&b'/') {
                while i < b.len() && b[i] != b'\n' && b[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            return Err((i, "unexpected character '/'".to_owned()));
        }
        let start = i;
        let single = |k: K| Some((k, 1usize));
        let tok: Option<(K, usize)> = match c {
            b'\'' => match string_len(b, i) {
                Some(n) => Some((K::Str, n)),
                None => return Err((
                    i,
                    "unterminated string literal or invalid escape (only \\' and \\\\ are allowed)"
                        .to_owned(),
                )),
            },
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                let no_hyphen = j - i;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'-')
                {
                    j += 1;
                }
                let hyphen = j - i;
                let lit = match c {
                    b'h' => hex_len(b, i).map(|n| (K::Hex, n)),
                    b'b' => binary_len(b, i).map(|n| (K::Binary, n)),
                    b't' => timestamp_len(b, i).map(|n| (K::Timestamp, n)),
                    _ => None,
                };
                if let Some((k, n)) = lit.filter(|&(_, n)| n >= hyphen) {
                    Some((k, n))
                } else if matches!(c, b'h' | b'b' | b't')
                    && no_hyphen == 1
                    && b.get(i + 1) == Some(&b'\'')
                {
                    let what = match c {
                        b'h' => "hex literal (h'…' with an even number of hex digits)",
                        b'b' => "binary literal (b'…' with base64 content)",
                        _ => "timestamp literal (t'YYYY-MM-DDTHH:MM:SS[.s+]Z')",
                    };
                    return Err((i, format!("malformed {what}")));
                } else if hyphen > no_hyphen {
                    Some((K::IdentHyphen, hyphen))
                } else {
                    let word = &src[i..i + no_hyphen];
                    if word == "LAST" {
                        return Err((i, "the keyword LAST is reserved".to_owned()));
                    }
                    let k = KEYWORDS
                        .iter()
                        .find(|(kw, _)| *kw == word)
                        .map_or(K::IdentNoHyphen, |&(_, k)| k);
                    Some((k, no_hyphen))
                }
            }
            b'0'..=b'9' | b'+' | b'-' | b'.' => match number(b, i) {
                Some(t) => Some(t),
                None if c == b'.' => single(K::Dot),
                None => return Err((i, format!("unexpected character '{}'", c as char))),
            },
            b'=' => Some((K::Eq, if b.get(i + 1) == Some(&b'=') { 2 } else { 1 })),
            b'!' if b.get(i + 1) == Some(&b'=') => Some((K::Neq, 2)),
            b'<' => match b.get(i + 1) {
                Some(b'=') => Some((K::Le, 2)),
                Some(b'>') => Some((K::Neq, 2)),
                _ => single(K::Lt),
            },
            b'>' => match b.get(i + 1) {
                Some(b'=') => Some((K::Ge, 2)),
                _ => single(K::Gt),
            },
            b':' => single(K::Colon),
            b',' => single(K::Comma),
            b'(' => single(K::LParen),
            b')' => single(K::RParen),
            b'[' => single(K::LBrack),
            b']' => single(K::RBrack),
            b'*' => single(K::Asterisk),
            _ => None,
        };
        let Some((k, len)) = tok else {
            let ch = src[i..].chars().next().unwrap_or('\u{fffd}');
            return Err((i, format!("unexpected character '{ch}'")));
        };
        i += len;
        toks.push(Tok { k, start, end: i });
    }
    toks.push(Tok {
        k: K::Eof,
        start: b.len(),
        end: b.len(),
    });
    Ok(toks)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Qual {
    Within,
    Repeats,
    StartStop,
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Tok>,
    i: usize,
    depth: usize,
}

/// Maximum nesting of parentheses/brackets, to bound recursion on hostile input.
const MAX_NESTING: usize = 100;

type PResult<T> = Result<T, String>;

impl<'a> Parser<'a> {
    fn peek(&self) -> Tok {
        self.toks
            .get(self.i)
            .or(self.toks.last())
            .copied()
            .unwrap_or(Tok {
                k: K::Eof,
                start: self.src.len(),
                end: self.src.len(),
            })
    }

    fn next(&mut self) -> Tok {
        let t = self.peek();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn text(&self, t: Tok) -> &'a str {
        &self.src[t.start..t.end]
    }

    fn err_at(&self, t: Tok, msg: &str) -> String {
        at(self.src, t.start, msg)
    }

    fn unexpected(&self, t: Tok, expected: &str) -> String {
        let found = if t.k == K::Eof {
            describe(K::Eof).to_owned()
        } else {
            let txt = self.text(t);
            if txt.chars().count() > 40 {
                format!("{} …", describe(t.k))
            } else {
                format!("'{txt}'")
            }
        };
        self.err_at(t, &format!("expected {expected} but found {found}"))
    }

    fn expect(&mut self, k: K, expected: &str) -> PResult<Tok> {
        let t = self.next();
        if t.k == k {
            Ok(t)
        } else {
            Err(self.unexpected(t, expected))
        }
    }

    fn enter(&mut self, t: Tok) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(self.err_at(
                t,
                &format!("pattern nested more than {MAX_NESTING} levels deep"),
            ));
        }
        Ok(())
    }

    fn pattern(&mut self) -> PResult<()> {
        self.observation_expressions()?;
        let t = self.peek();
        if t.k != K::Eof {
            return Err(self.unexpected(
                t,
                "AND, OR, FOLLOWEDBY, a qualifier or the end of the pattern",
            ));
        }
        Ok(())
    }

    fn observation_expressions(&mut self) -> PResult<()> {
        self.observation_or()?;
        while self.peek().k == K::FollowedBy {
            self.next();
            self.observation_or()?;
        }
        Ok(())
    }

    fn observation_or(&mut self) -> PResult<()> {
        self.observation_and()?;
        while self.peek().k == K::Or {
            self.next();
            self.observation_and()?;
        }
        Ok(())
    }

    fn observation_and(&mut self) -> PResult<()> {
        self.observation_expression()?;
        while self.peek().k == K::And {
            self.next();
            self.observation_expression()?;
        }
        Ok(())
    }

    fn observation_expression(&mut self) -> PResult<()> {
        let t = self.next();
        match t.k {
            K::LBrack => {
                self.enter(t)?;
                self.comparison_expression()?;
                self.expect(K::RBrack, "']' (or AND/OR inside the observation)")?;
                self.depth -= 1;
            }
            K::LParen => {
                self.enter(t)?;
                self.observation_expressions()?;
                self.expect(K::RParen, "')'")?;
                self.depth -= 1;
            }
            _ => return Err(self.unexpected(t, "an observation expression ('[' or '(')")),
        }
        let mut seen: [Option<Qual>; 3] = [None; 3];
        let mut n = 0;
        loop {
            let t = self.peek();
            let q = match t.k {
                K::Within => {
                    self.next();
                    let v = self.next();
                    match v.k {
                        K::IntPos | K::FloatPos => {
                            let num: f64 =
                                self.text(v).trim_start_matches('+').parse().unwrap_or(0.0);
                            if num <= 0.0 {
                                return Err(
                                    self.err_at(v, "WITHIN requires a positive number of seconds")
                                );
                            }
                        }
                        _ => return Err(self.unexpected(v, "a positive number after WITHIN")),
                    }
                    self.expect(K::Seconds, "SECONDS")?;
                    Qual::Within
                }
                K::Repeats => {
                    self.next();
                    let v = self.next();
                    if v.k != K::IntPos {
                        return Err(self.unexpected(v, "a positive integer after REPEATS"));
                    }
                    let txt = self.text(v).trim_start_matches('+');
                    if txt == "0" {
                        return Err(self.err_at(v, "REPEATS requires a positive integer"));
                    }
                    self.expect(K::Times, "TIMES")?;
                    Qual::Repeats
                }
                K::Start => {
                    self.next();
                    let a = self.expect(K::Timestamp, "a timestamp literal t'…' after START")?;
                    self.check_timestamp(a)?;
                    self.expect(K::Stop, "STOP")?;
                    let b = self.expect(K::Timestamp, "a timestamp literal t'…' after STOP")?;
                    self.check_timestamp(b)?;
                    Qual::StartStop
                }
                _ => break,
            };
            if seen[..n].contains(&Some(q)) {
                let name = match q {
                    Qual::Within => "WITHIN",
                    Qual::Repeats => "REPEATS",
                    Qual::StartStop => "START/STOP",
                };
                return Err(self.err_at(
                    t,
                    &format!(
                        "an observation expression must not have more than one {name} qualifier"
                    ),
                ));
            }
            if n < seen.len() {
                seen[n] = Some(q);
                n += 1;
            }
        }
        Ok(())
    }

    fn check_timestamp(&self, t: Tok) -> PResult<()> {
        let txt = self.text(t);
        let inner = &txt[2..txt.len() - 1];
        parse_micros(inner)
            .map(|_| ())
            .map_err(|e| self.err_at(t, &e.to_string()))
    }

    fn comparison_expression(&mut self) -> PResult<()> {
        self.comparison_and()?;
        while self.peek().k == K::Or {
            self.next();
            self.comparison_and()?;
        }
        Ok(())
    }

    fn comparison_and(&mut self) -> PResult<()> {
        self.prop_test()?;
        while self.peek().k == K::And {
            self.next();
            self.prop_test()?;
        }
        Ok(())
    }

    fn prop_test(&mut self) -> PResult<()> {
        let t = self.peek();
        match t.k {
            K::LParen => {
                self.next();
                self.enter(t)?;
                self.comparison_expression()?;
                self.expect(K::RParen, "')'")?;
                self.depth -= 1;
                Ok(())
            }
            K::Not | K::Exists => {
                self.next();
                if t.k == K::Not {
                    self.expect(
                        K::Exists,
                        "EXISTS after NOT (use 'path NOT = value' to negate a comparison)",
                    )?;
                }
                self.object_path()?;
                Ok(())
            }
            K::IdentNoHyphen | K::IdentHyphen => {
                let path = self.object_path()?;
                if self.peek().k == K::Not {
                    self.next();
                }
                let op = self.next();
                match op.k {
                    K::Eq | K::Neq => {
                        let v = self.literal(true)?;
                        if let Some(algo) = path.hash_key {
                            if v.k == K::Str {
                                self.check_hash(algo, v)?;
                            }
                        }
                    }
                    K::Lt | K::Le | K::Gt | K::Ge => {
                        self.literal(false)?;
                    }
                    K::In => {
                        self.expect(K::LParen, "'(' to start the set after IN")?;
                        if self.peek().k == K::RParen {
                            self.next();
                        } else {
                            loop {
                                self.literal(true)?;
                                let t = self.next();
                                match t.k {
                                    K::Comma => continue,
                                    K::RParen => break,
                                    _ => return Err(self.unexpected(t, "',' or ')'")),
                                }
                            }
                        }
                    }
                    K::Like | K::Matches | K::IsSubset | K::IsSuperset => {
                        self.expect(K::Str, "a string literal")?;
                    }
                    _ => {
                        return Err(self.unexpected(
                            op,
                            "a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET)",
                        ))
                    }
                }
                Ok(())
            }
            _ => Err(self.unexpected(t, "an object path, EXISTS, NOT EXISTS or '('")),
        }
    }

    fn literal(&mut self, allow_bool: bool) -> PResult<Tok> {
        let t = self.next();
        match t.k {
            K::IntPos | K::IntNeg | K::FloatPos | K::FloatNeg | K::Str | K::Binary | K::Hex => {
                Ok(t)
            }
            K::Timestamp => {
                self.check_timestamp(t)?;
                Ok(t)
            }
            K::Bool if allow_bool => Ok(t),
            K::Bool => Err(self.err_at(t, "booleans cannot be compared with <, <=, > or >=")),
            _ => Err(self.unexpected(t, "a literal (string, number, boolean, t'…', h'…' or b'…')")),
        }
    }

    fn object_path(&mut self) -> PResult<PathInfo<'a>> {
        let ty = self.next();
        if !matches!(ty.k, K::IdentNoHyphen | K::IdentHyphen) {
            return Err(self.unexpected(ty, "an object type"));
        }
        let ty_text = self.text(ty);
        if !is_valid_type_name(ty_text) {
            return Err(self.err_at(
                ty,
                &format!(
                    "'{ty_text}' is not a valid object type name (3-250 characters of a-z, 0-9 and '-', starting with a letter)"
                ),
            ));
        }
        self.expect(K::Colon, "':' after the object type")?;
        let first = self.next();
        let name = match first.k {
            K::IdentNoHyphen => self.text(first),
            K::Str => unquote(self.text(first)),
            K::IdentHyphen => {
                return Err(self.err_at(first, "property names cannot contain '-' unless quoted"))
            }
            _ => return Err(self.unexpected(first, "a property name")),
        };
        if name != "id" && !is_valid_property_name(name) {
            return Err(self.err_at(
                first,
                &format!(
                    "'{name}' is not a valid property name (3-250 characters of a-z, 0-9 and '_', starting with a letter)"
                ),
            ));
        }
        // The last two components, to recognise `….hashes.<ALGO>`.
        let mut prev: Option<&'a str> = None;
        let mut last: Option<&'a str> = Some(name);
        loop {
            match self.peek().k {
                K::Dot => {
                    self.next();
                    let c = self.next();
                    let key = match c.k {
                        K::IdentNoHyphen => self.text(c),
                        K::Str => unquote(self.text(c)),
                        K::IdentHyphen => {
                            return Err(
                                self.err_at(c, "property names cannot contain '-' unless quoted")
                            )
                        }
                        _ => {
                            return Err(
                                self.unexpected(c, "a property name or quoted key after '.'")
                            )
                        }
                    };
                    prev = last;
                    last = Some(key);
                }
                K::LBrack => {
                    self.next();
                    let c = self.next();
                    if !matches!(c.k, K::IntPos | K::IntNeg | K::Asterisk) {
                        return Err(self.unexpected(c, "a list index or '*'"));
                    }
                    self.expect(K::RBrack, "']' to close the list index")?;
                    prev = last;
                    last = None;
                }
                _ => break,
            }
        }
        let hash_key = if prev == Some("hashes") { last } else { None };
        Ok(PathInfo { hash_key })
    }

    fn check_hash(&self, algo: &str, v: Tok) -> PResult<()> {
        let value = unquote(self.text(v));
        if let Some(why) = hash_value_problem(algo, value, true) {
            return Err(self.err_at(v, &why));
        }
        Ok(())
    }
}

struct PathInfo<'a> {
    /// The final dictionary key when the path goes through a `hashes` property.
    hash_key: Option<&'a str>,
}

fn unquote(s: &str) -> &str {
    if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// Checks a digest against the shape required by its algorithm. With
/// `lenient_names`, algorithm names are matched ignoring case, `-` and `_`
/// (patterns write `hashes.MD5`, `hashes.'SHA-256'`, `hashes.sha256`, …);
/// otherwise only the exact hash-algorithm-ov spellings are recognised.
/// Returns a description of the problem, or `None` if the value is acceptable
/// (unknown algorithms are always acceptable).
pub(crate) fn hash_value_problem(algo: &str, value: &str, lenient_names: bool) -> Option<String> {
    let norm: String;
    let key: &str = if lenient_names {
        norm = algo
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        &norm
    } else {
        match algo {
            "MD5" => "MD5",
            "SHA-1" => "SHA1",
            "SHA-256" => "SHA256",
            "SHA-512" => "SHA512",
            "SHA3-256" => "SHA3256",
            "SHA3-512" => "SHA3512",
            "SSDEEP" => "SSDEEP",
            "TLSH" => "TLSH",
            _ => return None,
        }
    };
    let hex_of = |lens: &[usize]| {
        lens.contains(&value.len()) && value.bytes().all(|c| c.is_ascii_hexdigit())
    };
    let ok = match key {
        "MD5" => hex_of(&[32]),
        "MD6" => hex_of(&[32, 40, 56, 64, 96, 128]),
        "RIPEMD160" | "SHA1" => hex_of(&[40]),
        "SHA224" | "SHA3224" => hex_of(&[56]),
        "SHA256" | "SHA3256" => hex_of(&[64]),
        "SHA384" | "SHA3384" => hex_of(&[96]),
        "SHA512" | "SHA3512" | "WHIRLPOOL" => hex_of(&[128]),
        "SSDEEP" => {
            (1..=128).contains(&value.len())
                && value
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'+' | b':' | b'.'))
        }
        "TLSH" => hex_of(&[70]),
        _ => return None,
    };
    if ok {
        None
    } else {
        Some(format!(
            "'{}' is not a valid {algo} hash",
            truncate(value, 140)
        ))
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: &str) {
        if let Err(e) = validate_pattern(p) {
            panic!("{p:?} should be valid: {e}");
        }
    }

    fn bad(p: &str) -> String {
        match validate_pattern(p) {
            Ok(()) => panic!("{p:?} should be invalid"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn valid_patterns() {
        for p in [
            "[ipv4-addr:value = '198.51.100.1']",
            "[ipv4-addr:value = '198.51.100.1/32']",
            "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
            "[file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4']",
            "[file:hashes.sha256 = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
            "[file:name = 'foo.dll' AND file:size > 1024]",
            "[file:name = 'x' OR (file:size = 1 AND file:name = 'z')]",
            "[email-message:from_ref.value MATCHES '.+\\\\@example\\\\.com$' AND email-message:body_multipart[*].body_raw_ref.name LIKE '%.exe']",
            "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value ISSUBSET '203.0.113.0/24']",
            "[ipv4-addr:value ISSUPERSET '198.51.100.0/24']",
            "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\SOFTWARE\\\\x'] WITHIN 120 SECONDS",
            "[windows-registry-key:values[*].name = 'x']",
            "[process:extensions.'windows-process-ext'.aslr_enabled = true]",
            "[x509-certificate:issuer = 'CN=x' AND x509-certificate:serial_number = '36:f7']",
            "[file:name = 'a'] AND [file:name = 'b']",
            "[file:name = 'a'] OR [file:name = 'b'] FOLLOWEDBY [file:name = 'c']",
            "([file:name = 'a'] AND [file:name = 'b']) WITHIN 5 SECONDS",
            "[file:name = 'a'] REPEATS 5 TIMES WITHIN 10 SECONDS",
            "[file:name = 'a'] WITHIN 1.5 SECONDS",
            "[file:name = 'a'] WITHIN +5 SECONDS",
            "[file:name = 'a'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00.123Z'",
            "[file:name = 'a'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z' WITHIN 3 SECONDS REPEATS 2 TIMES",
            "(([file:name = 'a']))",
            "[((file:name = 'a'))]",
            "[EXISTS file:name]",
            "[NOT EXISTS file:name]",
            "[file:name NOT = 'a']",
            "[file:name != 'a' AND file:name <> 'b' AND file:name == 'c']",
            "[file:size IN (1, 2, 3)]",
            "[file:name IN ()]",
            "[file:name NOT IN ('a', 'b', true, h'00', b'AAAA', t'2020-01-01T00:00:00Z', -1.5)]",
            "[file:size < +5 AND file:size >= -0 AND file:size <= .5 AND file:size > -.5]",
            "[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']",
            "[artifact:payload_bin = b'dGhpcw==']",
            "[file:magic_number_hex = h'ffd8']",
            "[file:magic_number_hex = h'']",
            "[file:name = 'it\\'s']",
            "[file:name = 'back\\\\slash']",
            "[file:name = 'multi\nline']",
            "[file:name = '한국어']",
            "[file : name = 'spaced' ]",
            "[file:name = 'x'] /* comment */",
            "[file:name = 'x'] // trailing comment",
            "[file:name = 'x']\u{00a0}\u{3000}",
            "[file:xyz.'' = 1]",
            "[x-kor-army-unit:designation = '1st Armoured Brigade']",
            "[x-kor-army-unit:'strength' > 1000]",
            "[file:parent_directory_ref.path = 'C:\\\\Windows']",
            "[file:xyz[*][0].y = 1]",
            "[file:xyz[-1] = 1]",
            "[file:id = 'file--1']",
            "[file:created_time = t'2024-02-29T00:00:00Z']",
        ] {
            ok(p);
        }
    }

    #[test]
    fn invalid_patterns() {
        for p in [
            "",
            "   ",
            "[]",
            "file:name = 'x'",
            "[file:name = 'x'",
            "[file:name = 'x']]",
            "[file:name = 'x' AND ]",
            "[file:name = 'x'] FOLLOWEDBY",
            "[file:name = 'x'] and [file:name = 'y']",
            "[file:name == ]",
            "[file:name = 'a\\nb']",
            "[file:name = 'x\\y']",
            "[file:name = 'unterminated]",
            "[file:name = \"x\"]",
            "[file:size = 007]",
            "[file:size = 1.]",
            "[file:size = 1e5]",
            "[file:name > true]",
            "[file:name LIKE 5]",
            "[file:name IN ('a',)]",
            "[file:name IN 'a']",
            "[NOT file:name = 'x']",
            "[file:name NOT EXISTS]",
            "[file:name = 'x' WITHIN 5 SECONDS]",
            "[file:name = 'x'] WITHIN -1 SECONDS",
            "[file:name = 'x'] WITHIN 0 SECONDS",
            "[file:name = 'x'] WITHIN 0.0 SECONDS",
            "[file:name = 'x'] REPEATS 0 TIMES",
            "[file:name = 'x'] REPEATS 1.5 TIMES",
            "[file:name = 'x'] REPEATS 2",
            "[file:name = 'x'] START t'2020-01-01T00:00:00Z'",
            "[file:name = 'x'] WITHIN 5 SECONDS WITHIN 3 SECONDS",
            "[file:name = 'x'] REPEATS 2 TIMES REPEATS 3 TIMES",
            "[file:name = 'x'] WITHIN 5 SECONDS REPEATS 2 TIMES WITHIN 3 SECONDS",
            "([file:name = 'x']) WITHIN 5 SECONDS WITHIN 3 SECONDS",
            "[file:name = 'x'] START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z' START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'",
            "[file:x = t'2020-01-01t00:00:00Z']",
            "[file:x = t'2020-02-30T00:00:00Z']",
            "[file:x = t'2020-01-01T00:00:00+01:00']",
            "[file:x = b'']",
            "[file:x = b'AA']",
            "[file:x = b'====']",
            "[file:x = h'0']",
            "[file:x = h'zz']",
            "[file:name.foo-bar = 1]",
            "[file:name[01] = 1]",
            "[file:name[a] = 1]",
            "[Foo:name = 'x']",
            "[foo_bar:name = 'x']",
            "[ab:name = 'x']",
            "[file:Name = 'x']",
            "[x-foo:ab = 1]",
            "[file:'' = 1]",
            "[file:'A B' = 1]",
            "[file:LAST = 1]",
            "[file:name = 'x'] /* unterminated",
            "[file:name = 'x'] / 2",
            "[file:name = 'x'] ^",
            "[file:name = 'x'] @",
            "[file:name = 'x'] ；",
            "[file:hashes.MD5 = 'abc']",
            "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019']",
            "[file:hashes.'SHA-1' != 'zz']",
            "[artifact:x = 1] AND",
            "[a:b = 1] OR OR [c:d = 2]",
        ] {
            bad(p);
        }
    }

    #[test]
    fn error_messages_say_where_and_what() {
        let e = bad("[file:name = 'x' AND ]");
        assert!(e.contains("line 1, column 22"), "{e}");
        assert!(e.contains("expected an object path"), "{e}");
        let e = bad("[file:name = 'x']\n  WITHIN 0 SECONDS");
        assert!(e.contains("line 2, column 10"), "{e}");
        assert!(e.contains("positive"), "{e}");
        let e = bad("[file:name = 'x'] REPEATS 2 TIMES REPEATS 3 TIMES");
        assert!(e.contains("more than one REPEATS"), "{e}");
        let e = bad("[file:hashes.MD5 = 'abc']");
        assert!(e.contains("not a valid MD5 hash"), "{e}");
        let e = bad("[file:name = 'a\\nb']");
        assert!(e.contains("escape"), "{e}");
    }

    #[test]
    fn no_panic_on_odd_input() {
        for p in [
            "[",
            "]",
            "(",
            ")",
            "'",
            "t'",
            "h'",
            "b'",
            "t",
            "[t'",
            "[file:x = t'2020-01-01T00:00:00",
            "[file:x = t'",
            "-",
            "+",
            ".",
            "[file:x = -]",
            "[file:x = +]",
            "\u{0}",
            "é",
            "[é:x = 1]",
            "[file:x = 'é",
            "//",
            "/*",
            "/**/",
            "[file:x = 1] START",
            "[file:x = 1] WITHIN",
            "[file:x = 1] REPEATS",
            "[file:x[",
            "[file:x.",
            "[file:x.[0] = 1]",
            "[file:",
            "[file",
        ] {
            let _ = validate_pattern(p);
        }
        // Deeply nested parentheses do not overflow the stack in practice for
        // reasonable depths.
        let deep = format!("{}[file:name = 'x']{}", "(".repeat(99), ")".repeat(99));
        ok(&deep);
        let deeper = format!(
            "{}[file:name = 'x']{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert!(bad(&deeper).contains("nested"));
        let deep_inner = format!(
            "[{}file:name = 'x'{}]",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert!(bad(&deep_inner).contains("nested"));
    }
}
