//! relto-policy's one error type: what it could not read, compile or copy, by kind; the
//! message says what and why.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// A marking-definition that claims to be a relto label but is not a well-formed one.
    Label(String),
    /// Release rules (equivalences between policies' levels) that cannot be compiled.
    Rules(String),
    /// An object whose references cannot be walked (a reference that is not an id's text).
    References(String),
    /// A reader's copy that cannot be made (a required property would go, a bad selector,
    /// text that is not JSON): the object is withheld.
    Copy(String),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (PolicyError::Label(m)
        | PolicyError::Rules(m)
        | PolicyError::References(m)
        | PolicyError::Copy(m)) = self;
        f.write_str(m)
    }
}

impl std::error::Error for PolicyError {}
