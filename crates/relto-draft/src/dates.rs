//! The report's date: the first full date the text gives (its dateline, as a rule), in any
//! of `25 November 2026`, `25th Nov. 2026`, `November 25, 2026`, `2026-11-25` or
//! `2026년 11월 25일`.

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: u32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    fn checked(year: u32, month: u32, day: u32) -> Option<Self> {
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days = [
            31,
            if leap { 29 } else { 28 },
            31,
            30,
            31,
            30,
            31,
            31,
            30,
            31,
            30,
            31,
        ];
        ((1900..=2200).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days[month as usize - 1])
            .then_some(Self { year, month, day })
    }

    /// `2026-11-25`.
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// The month a word names: in full, or its first three letters (`Nov`, `Nov.`), or `Sept`.
fn month(word: &str) -> Option<u32> {
    let w = word.trim_end_matches([',', '.']).to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| {
            *m == w || (w.len() == 3 && m.starts_with(&w)) || (w == "sept" && *m == "september")
        })
        .map(|i| i as u32 + 1)
}

fn day(word: &str) -> Option<u32> {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == ',');
    let suffix = &word[digits.len()..].trim_end_matches(',');
    (digits.len() <= 2 && ["", "st", "nd", "rd", "th"].contains(suffix))
        .then(|| digits.parse().ok())
        .flatten()
}

fn year(word: &str) -> Option<u32> {
    let w = word.trim_end_matches([',', '.', ';', ':', ')']);
    (w.len() == 4).then(|| w.parse().ok()).flatten()
}

/// The first full date of the text.
pub fn first_date(text: &str) -> Option<Date> {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == '(' || c == '[')
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        let next = |k: usize| words.get(i + k).copied().unwrap_or("");
        if let Some(d) = iso(w) {
            return Some(d);
        }
        if let (Some(y), Some(m), Some(d)) = (
            korean(w, "년"),
            korean(next(1), "월"),
            korean(next(2), "일"),
        ) {
            if let Some(date) = Date::checked(y, m, d) {
                return Some(date);
            }
        }
        if let (Some(d), Some(m), Some(y)) = (day(w), month(next(1)), year(next(2))) {
            if let Some(date) = Date::checked(y, m, d) {
                return Some(date);
            }
        }
        if let (Some(m), Some(d), Some(y)) = (month(w), day(next(1)), year(next(2))) {
            if let Some(date) = Date::checked(y, m, d) {
                return Some(date);
            }
        }
    }
    None
}

/// `2026-11-25` (with anything after it: a time, a full stop).
fn iso(word: &str) -> Option<Date> {
    let b = word.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' || b.get(10).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| word.get(r)?.parse::<u32>().ok();
    Date::checked(n(0..4)?, n(5..7)?, n(8..10)?)
}

/// `2026년`, `11월`, `25일` (a particle may follow).
fn korean(word: &str, unit: &str) -> Option<u32> {
    let (n, _) = word.split_once(unit)?;
    (!n.is_empty() && n.len() <= 4)
        .then(|| n.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_forms_reports_use() {
        for (text, want) in [
            ("Seoul, 25 November 2026 — the", "2026-11-25"),
            ("on 3rd Dec. 2026, and", "2026-12-03"),
            ("Issued November 25, 2026.", "2026-11-25"),
            ("Date: 2026-11-25T09:00Z", "2026-11-25"),
            ("서울, 2026년 11월 25일 —", "2026-11-25"),
            ("In May 2026 we will; on 7 May 2026 they", "2026-05-07"),
        ] {
            assert_eq!(
                first_date(text).map(|d| d.iso()),
                Some(want.into()),
                "{text}"
            );
        }
        for text in [
            "on the 28th",
            "31 February 2026",
            "May we",
            "version 2026-13-01",
            "12 march",
        ] {
            assert_eq!(first_date(text), None, "{text}");
        }
    }
}
