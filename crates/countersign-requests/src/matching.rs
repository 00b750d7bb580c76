//! Number matching for requests from programs: `countersign approve` prints a two-digit
//! number on its terminal, and the screen offers it among three; only the right pick leads on
//! to the approval. docs/approval-protocol.md, "Number matching".

use std::collections::BTreeMap;

/// The metadata key under which the matched number is signed into the step-up, as CIBA's
/// `binding_message` is. Requesters may use neither it nor any key under `cs:`, in any case
/// ([`is_reserved_key`], checked in protocol.rs).
pub const MATCH_KEY: &str = "cs:number";
/// Whether requesters may not use the metadata key `key`: anything under `cs:`, in any case
/// (letters' case does not make another key to a person reading the screen).
pub fn is_reserved_key(key: &str) -> bool {
    key.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("cs:"))
}

/// The numbers offered: two digits, so 10 to 99.
pub const NUMBERS: std::ops::RangeInclusive<u8> = 10..=99;
/// How many numbers the screen offers, the right one among them.
pub const CHOICES: usize = 3;

/// A request's number, the numbers offered for it, and whether the person picked right.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matching {
    /// The number the requester's terminal shows.
    pub number: u8,
    /// The numbers offered, in ascending order; `number` is one of them.
    pub choices: [u8; CHOICES],
    /// The person picked `number`.
    pub picked: bool,
}

/// Why no number could be drawn.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error("the system's random source failed: {0}")]
    Random(getrandom::Error),
    /// Fewer than three numbers are free of the waiting requests' (cannot happen with the
    /// queue's 20 places for programs, 3 numbers each, among 90).
    #[error("no three numbers are free of those of the waiting requests")]
    Exhausted,
}

/// What a pick does.
#[derive(Debug, PartialEq, Eq)]
pub enum Pick {
    /// The right number: the approval may go on.
    Right,
    /// One of the other numbers offered: the request is denied.
    Wrong,
    /// Not a number offered (a stale or forged click): nothing changes.
    NotOffered,
}

impl Matching {
    /// A new number and its choices. None of the three is in `taken` (every number, right or
    /// offered, of the requests already waiting), so a request's offered numbers never show
    /// another waiting request's number, and no two waiting requests share one.
    ///
    /// # Errors
    /// [`MatchError::Random`] when the system's random source fails;
    /// [`MatchError::Exhausted`] when fewer than three numbers are free.
    pub fn new(taken: &[u8]) -> Result<Self, MatchError> {
        let mut free: Vec<u8> = NUMBERS.filter(|n| !taken.contains(n)).collect();
        if free.len() < CHOICES {
            return Err(MatchError::Exhausted);
        }
        let mut drawn = [0u8; CHOICES];
        for slot in &mut drawn {
            let mut r = [0u8; 4];
            getrandom::fill(&mut r).map_err(MatchError::Random)?;
            let i = u32::from_le_bytes(r) as usize % free.len();
            *slot = free.swap_remove(i);
        }
        let number = drawn[0];
        drawn.sort_unstable();
        Ok(Self {
            number,
            choices: drawn,
            picked: false,
        })
    }

    /// The person's pick of `n`; a right pick is remembered.
    pub fn pick(&mut self, n: u8) -> Pick {
        if n == self.number {
            self.picked = true;
            Pick::Right
        } else if self.choices.contains(&n) {
            Pick::Wrong
        } else {
            Pick::NotOffered
        }
    }

    /// The metadata to sign: what was asked, and the number under [`MATCH_KEY`].
    pub fn signed(&self, asked: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut m = asked.clone();
        m.insert(MATCH_KEY.to_owned(), format!("{:02}", self.number));
        m
    }
}

/// Whether `metadata` names any detail besides the matched number: an approval without
/// one allows any action of its scope (`labels::broad`).
pub fn has_details(metadata: &BTreeMap<String, String>) -> bool {
    metadata.keys().any(|k| k.as_str() != MATCH_KEY)
}

/// `metadata` without the matched number: what a row, a notification or the history shows.
pub fn shown(metadata: &BTreeMap<String, String>) -> Vec<(String, String)> {
    metadata
        .iter()
        .filter(|(k, _)| k.as_str() != MATCH_KEY)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matched_number_is_no_detail() {
        let mut m = BTreeMap::new();
        assert!(!has_details(&m));
        m.insert(MATCH_KEY.to_owned(), "47".to_owned());
        assert!(
            !has_details(&m),
            "the number alone leaves an approval broad"
        );
        assert!(shown(&m).is_empty());
        m.insert("payee".to_owned(), "ACME Ltd".to_owned());
        assert!(has_details(&m));
        assert_eq!(shown(&m), [("payee".to_owned(), "ACME Ltd".to_owned())]);
    }

    #[test]
    fn three_two_digit_numbers_that_avoid_the_taken_ones() {
        // Everything taken but four numbers: the draw must come from those four.
        let free = [17, 42, 63, 99];
        let taken: Vec<u8> = NUMBERS.filter(|n| !free.contains(n)).collect();
        for _ in 0..50 {
            let m = Matching::new(&taken).unwrap();
            assert!(m.choices.contains(&m.number));
            assert!(m.choices.iter().all(|n| free.contains(n)), "{m:?}");
            assert!(
                m.choices.windows(2).all(|w| w[0] < w[1]),
                "distinct, in order"
            );
            assert!(!m.picked);
        }
        let m = Matching::new(&[]).unwrap();
        assert!(m.choices.iter().all(|n| NUMBERS.contains(n)));
        // Two free numbers cannot make three choices: an error, not a panic.
        let all_but_two: Vec<u8> = NUMBERS.skip(2).collect();
        assert!(matches!(
            Matching::new(&all_but_two),
            Err(MatchError::Exhausted)
        ));
    }

    #[test]
    fn a_pick_is_right_wrong_or_not_offered() {
        let mut m = Matching {
            number: 42,
            choices: [17, 42, 63],
            picked: false,
        };
        assert_eq!(m.pick(17), Pick::Wrong);
        assert!(!m.picked);
        assert_eq!(m.pick(50), Pick::NotOffered);
        assert_eq!(m.pick(42), Pick::Right);
        assert!(m.picked);
        let asked = BTreeMap::from([("amount".to_owned(), "500".to_owned())]);
        let signed = m.signed(&asked);
        assert_eq!(signed[MATCH_KEY], "42");
        assert_eq!(signed.len(), 2);
        assert_eq!(shown(&signed), vec![("amount".into(), "500".into())]);
    }
}
