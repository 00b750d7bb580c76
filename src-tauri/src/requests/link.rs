//! `countersign://approve?scope=…&amount=…&reason=…` links. Every query parameter but `scope`
//! and `reason` is metadata. A link is an untrusted request from anyone who could make the
//! person click: it is checked like any other, collapsed with an identical one already
//! waiting, and rate-limited.

use super::protocol::{Ask, BadRequest};
use std::collections::BTreeMap;

pub const SCHEME: &str = "countersign";
/// A link waits this long for the person; no requester waits on it, and a page that keeps
/// opening links should not hold places for long.
pub const LINK_TIMEOUT_SECS: u64 = 120;

/// The request a link carries.
pub fn parse(text: &str) -> Result<Ask, BadRequest> {
    let url = url::Url::parse(text).map_err(|e| BadRequest(format!("not a link: {e}")))?;
    if url.scheme() != SCHEME {
        return Err(BadRequest(format!("not a {SCHEME}:// link")));
    }
    // `countersign://approve?…` puts `approve` in the host; `countersign:approve?…` in the path.
    // The url crate lowercases the scheme but keeps an opaque host as written; both are
    // case-insensitive (RFC 3986 §3.1, §3.2.2).
    let action = url
        .host_str()
        .unwrap_or_else(|| url.path())
        .trim_matches('/');
    if !action.eq_ignore_ascii_case("approve") {
        return Err(BadRequest(format!(
            "unknown link action {action:?} (only approve)"
        )));
    }
    let mut scope = None;
    let mut reason = None;
    let mut metadata = BTreeMap::new();
    for (k, v) in url.query_pairs() {
        let slot = match k.as_ref() {
            "scope" => &mut scope,
            "reason" => &mut reason,
            _ => {
                if metadata.insert(k.to_string(), v.to_string()).is_some() {
                    return Err(BadRequest(format!("{k:?} is given twice")));
                }
                continue;
            }
        };
        if slot.replace(v.to_string()).is_some() {
            return Err(BadRequest(format!("{k:?} is given twice")));
        }
    }
    let scope = scope.ok_or_else(|| BadRequest("the link names no scope".into()))?;
    Ask::check(
        &scope,
        metadata,
        reason.as_deref(),
        Some(LINK_TIMEOUT_SECS),
        false,
    )
}

/// Whether `text` starts with the `countersign:` scheme, in any case (RFC 3986 §3.1).
pub fn is_link(text: &str) -> bool {
    text.get(..SCHEME.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(SCHEME))
        && text[SCHEME.len()..].starts_with(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_carries_a_checked_request() {
        let a = parse("countersign://approve?scope=transfer:write&amount=500&currency=EUR&reason=Pay%20invoice%202291")
            .unwrap();
        assert_eq!(a.scope, "transfer:write");
        assert_eq!(a.metadata["amount"], "500");
        assert_eq!(a.metadata["currency"], "EUR");
        assert_eq!(a.reason.as_deref(), Some("Pay invoice 2291"));
        assert!(!a.want_token);
        assert!(parse("countersign:approve?scope=s").is_ok());
        // The scheme and the action are matched without regard to case (RFC 3986 §3.1).
        for spelled in [
            "COUNTERSIGN://approve?scope=transfer:write&amount=5",
            "CounterSign://APPROVE?scope=transfer:write&amount=5",
            "cOuNtErSiGn:Approve?scope=transfer:write&amount=5",
            // An empty authority before the action, and the newline a shell or a desktop
            // file may leave at the end.
            "countersign:///approve?scope=transfer:write&amount=5",
            "Countersign:///APPROVE?scope=transfer:write&amount=5",
            "countersign://approve/?scope=transfer:write&amount=5",
            "countersign://approve?scope=transfer:write&amount=5\n",
            "COUNTERSIGN://approve?scope=transfer:write&amount=5\r\n",
        ] {
            let a = parse(spelled).unwrap();
            assert_eq!(
                (a.scope.as_str(), a.metadata["amount"].as_str()),
                ("transfer:write", "5")
            );
        }
        for bad in [
            "https://approve?scope=s",
            "countersign://grant?scope=s",
            "countersign://approve?amount=5",
            "countersign://approve?scope=s&scope=t",
            "countersign://approve?scope=s&a=1&a=2",
            "countersign://approve?scope=s&toolongakey123=1",
            "countersign://approve?scope=bad%20scope",
            // What is shown must be what is signed: no bidi control, separator or blank.
            "countersign://approve?scope=transfer:write&payee=%E2%80%AEdtL%20EMCA",
            "countersign://approve?scope=transfer:write&amount=%E2%80%8B",
            "countersign://approve?scope=transfer:write&reason=Pay%E2%80%A8now",
            "countersign://approve?scope=transfer:write&payee=AC%E2%80%8DME",
            "Countersign:",
            "countersign:",
            "countersign:///",
            "countersign://evil/approve?scope=transfer:write",
            "countersign:approve/x?scope=transfer:write",
            // Percent-encoded bidi isolates and invisible characters are refused like raw ones.
            "countersign://approve?scope=transfer:write&payee=%E2%81%A6ACME%E2%81%A9",
            "countersign://approve?scope=transfer:write&payee=AC%CD%8FME",
            "countersign://approve?scope=transfer:write&reason=%EF%BB%BFPay",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_link_may_not_use_the_reserved_identifier() {
        let long = format!(
            "countersign://approve?scope=transfer:write&amount=5&identifier={}",
            "a".repeat(320)
        );
        let e = parse(&long).unwrap_err().0;
        assert!(e.contains("\"identifier\""), "{e}");
        let e = parse("countersign://approve?scope=transfer:write&payee=%E2%80%AEdtL")
            .unwrap_err()
            .0;
        assert!(e.contains("\"payee\"") && e.contains("U+202E"), "{e}");
    }

    #[test]
    fn a_link_cannot_carry_the_reserved_number_key() {
        // Refused through a link, as through the socket and `--meta`.
        let link = parse("countersign://approve?scope=t&CS:Number=42");
        assert!(link.is_err_and(|e| e.0.contains("reserved")));
    }

    #[test]
    fn a_link_lives_two_minutes() {
        let a = parse("countersign://approve?scope=transfer:write").unwrap();
        assert_eq!(a.timeout_secs, 120);
    }

    #[test]
    fn a_link_is_told_by_its_scheme() {
        for spelled in [
            "countersign://approve?scope=s",
            "COUNTERSIGN://approve?scope=s",
            "Countersign:approve?scope=s",
        ] {
            assert!(is_link(spelled), "{spelled}");
        }
        for not_a_link in [
            "countersignx://approve",
            "countersign",
            "--countersign:x",
            "ç",
        ] {
            assert!(!is_link(not_a_link), "{not_a_link}");
        }
    }
}
