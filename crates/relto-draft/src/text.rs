//! The report's words: maximal runs of letters and digits (any script), with their byte
//! ranges, and the sentences they fall in. Everything else separates words.

/// One word of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    /// Index of the sentence it is in.
    pub sentence: usize,
}

/// The words of `text`, in order. A sentence ends at `.`, `!`, `?` or `。` followed by white
/// space, or at a blank line; abbreviations may end one early, which only narrows what a
/// relationship may span.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut sentence = 0;
    let mut start: Option<usize> = None;
    let mut chars = text.char_indices().peekable();
    let mut newlines = 0;
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() {
            start.get_or_insert(i);
            newlines = 0;
            continue;
        }
        if let Some(s) = start.take() {
            out.push(Token {
                start: s,
                end: i,
                sentence,
            });
        }
        let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        if matches!(c, '.' | '!' | '?' | '。') && next_is_space {
            sentence += 1;
        }
        if c == '\n' {
            newlines += 1;
            if newlines == 2 {
                sentence += 1;
            }
        } else if !c.is_whitespace() {
            newlines = 0;
        }
    }
    if let Some(s) = start {
        out.push(Token {
            start: s,
            end: text.len(),
            sentence,
        });
    }
    out
}

/// The form names are compared in: white space runs as one space, typographic apostrophes
/// as `'`.
pub fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.trim().chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(if matches!(c, '’' | '‘') { '\'' } else { c });
    }
    out
}

/// Whether a word is written in Hangul (Korean words carry particles: 북한은, 평양에서).
pub fn is_hangul(word: &str) -> bool {
    word.chars().any(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c))
}

/// Korean particles a name may carry, longest first.
pub const PARTICLES: [&str; 29] = [
    "에서의",
    "으로의",
    "에서는",
    "으로는",
    "에게서",
    "에서",
    "으로",
    "에게",
    "께서",
    "까지",
    "부터",
    "와의",
    "과의",
    "에는",
    "보다",
    "처럼",
    "의",
    "은",
    "는",
    "이",
    "가",
    "을",
    "를",
    "에",
    "로",
    "와",
    "과",
    "도",
    "만",
];

/// Byte offsets to character offsets, for many offsets at once (spans are given in
/// characters, as a reader's tools count them).
pub fn char_offsets(text: &str, mut bytes: Vec<usize>) -> std::collections::HashMap<usize, usize> {
    bytes.sort_unstable();
    bytes.dedup();
    let mut out = std::collections::HashMap::with_capacity(bytes.len());
    let mut chars = 0;
    let mut at = 0;
    for b in bytes {
        chars += text[at..b.min(text.len())].chars().count();
        at = b.min(text.len());
        out.insert(b, chars);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_sentences() {
        let t = "KPA troops moved. They reached 쿠르스크에서 now!\n\nNew para";
        let words: Vec<(&str, usize)> = tokens(t)
            .iter()
            .map(|k| (&t[k.start..k.end], k.sentence))
            .collect();
        assert_eq!(
            words,
            vec![
                ("KPA", 0),
                ("troops", 0),
                ("moved", 0),
                ("They", 1),
                ("reached", 1),
                ("쿠르스크에서", 1),
                ("now", 1),
                ("New", 3),
                ("para", 3)
            ]
        );
        assert_eq!(
            normalize("  Korean\n People’s   Army "),
            "Korean People's Army"
        );
        assert!(is_hangul("북한은") && !is_hangul("Seoul"));
        let offsets = char_offsets("평양 x", vec![7, 0, 6]);
        assert_eq!((offsets[&0], offsets[&6], offsets[&7]), (0, 2, 3));
    }
}
