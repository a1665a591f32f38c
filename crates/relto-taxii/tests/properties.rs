//! Property tests: query strings and cursors from clients never panic the parsers, and a
//! cursor means exactly the position and query it was issued for.

use proptest::prelude::*;
use relto_taxii::query::{parse_query, Endpoint};
use relto_taxii::{Cursor, CursorKey};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn query_parser_never_panics(s in "[a-z_\\[\\]%0-9A-F=&,:.TZ+-]{0,200}") {
        for e in [Endpoint::Objects, Endpoint::Object, Endpoint::DeleteObject, Endpoint::Versions] {
            let _ = parse_query(Some(&s), e);
        }
    }

    #[test]
    fn cursor_decoder_never_panics(s in "\\PC{0,80}") {
        let _ = Cursor::decode(&s, &CursorKey::new([1; 32]), "q");
    }

    #[test]
    fn cursors_round_trip_and_bind(date_added in any::<i64>(), row in any::<i64>(), q in "[a-z|,0-9]{0,30}") {
        let key = CursorKey::new([7; 32]);
        let c = Cursor { date_added, row };
        let text = c.encode(&key, &q);
        prop_assert_eq!(Cursor::decode(&text, &key, &q), Ok(c));
        let other = format!("{q}x");
        prop_assert!(Cursor::decode(&text, &key, &other).is_err());
    }
}
