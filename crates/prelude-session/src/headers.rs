//! What a server says in headers: `WWW-Authenticate` challenges (RFC 9110 §11.6.1) and media
//! types (RFC 9110 §8.3.1). Auth schemes, parameter names and media types are case-insensitive
//! (RFC 9110 §11.1, §11.2, §8.3.1), so every comparison here ignores case.

/// One challenge of a `WWW-Authenticate` field: `DPoP error="use_dpop_nonce"` is the scheme
/// `dpop` with the parameter `error` = `use_dpop_nonce`. The scheme and parameter names are
/// lower-cased; values are kept as sent (quotes and escapes removed).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct AuthChallenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl AuthChallenge {
    /// Whether this challenge is of `scheme`, in any case (`Bearer`, `BEARER`, `bearer`).
    pub fn is(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The value of the parameter `name`, matched in any case.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn skip_spaces(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
        i += 1;
    }
    i
}

/// Reads the challenges of one `WWW-Authenticate` field value, which may hold several
/// (`Bearer realm="x", DPoP algs="ES256", error="use_dpop_nonce"`). A malformed part is
/// skipped, never an error: the caller only looks for the ones it knows.
pub(crate) fn parse_challenges(field: &str) -> Vec<AuthChallenge> {
    let b = field.as_bytes();
    let mut out: Vec<AuthChallenge> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && matches!(b[i], b',' | b' ' | b'\t') {
            i += 1;
        }
        let start = i;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        if i == start {
            // A byte that starts nothing (a stray `=` of token68 padding): step over it.
            i += 1;
            continue;
        }
        let token = &field[start..i];
        let j = skip_spaces(b, i);
        if j < b.len() && b[j] == b'=' {
            // `name = value`: a parameter of the challenge before it.
            let (value, next) = read_value(b, skip_spaces(b, j + 1));
            i = next;
            if let Some(c) = out.last_mut() {
                c.params.push((token.to_ascii_lowercase(), value));
            }
        } else {
            out.push(AuthChallenge {
                scheme: token.to_ascii_lowercase(),
                params: Vec::new(),
            });
            i = j;
        }
    }
    out
}

/// A parameter value at `i`: a quoted-string (with `\` escapes) or a token. Returns it and
/// where reading stopped.
fn read_value(b: &[u8], mut i: usize) -> (String, usize) {
    let mut v = Vec::new();
    if i < b.len() && b[i] == b'"' {
        i += 1;
        while i < b.len() && b[i] != b'"' {
            if b[i] == b'\\' && i + 1 < b.len() {
                i += 1;
            }
            v.push(b[i]);
            i += 1;
        }
        i += 1;
    } else {
        while i < b.len() && is_tchar(b[i]) {
            v.push(b[i]);
            i += 1;
        }
    }
    (String::from_utf8_lossy(&v).into_owned(), i)
}

/// Whether a `Content-Type` value names JSON: `application/json`, or a structured `+json` type
/// such as `application/problem+json`. Case is ignored and parameters (`; charset=utf-8`) are
/// not looked at (RFC 9110 §8.3.1).
pub(crate) fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    match essence.split_once('/') {
        Some((kind, sub)) => {
            let sub = sub.trim().to_ascii_lowercase();
            kind.trim().eq_ignore_ascii_case("application")
                && (sub == "json" || sub.ends_with("+json"))
        }
        None => false,
    }
}

/// At most this many bytes of a server's `DPoP-Nonce`: it is kept and sent back in every
/// proof, and real nonces are a few dozen characters.
pub const MAX_DPOP_NONCE_BYTES: usize = 512;

/// The server's `DPoP-Nonce` (RFC 9449 §8.1: one or more of `%x21 / %x23-5B / %x5D-7E`, no
/// quote, backslash or space), at most [`MAX_DPOP_NONCE_BYTES`]. `None` when absent, repeated
/// or malformed: such a value is never stored or echoed.
pub(crate) fn dpop_nonce(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let mut values = headers.get_all("dpop-nonce").iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let bytes = value.as_bytes();
    let nqchar = |b: &u8| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E);
    ((1..=MAX_DPOP_NONCE_BYTES).contains(&bytes.len()) && bytes.iter().all(nqchar))
        .then(|| String::from_utf8_lossy(bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_and_parameter_names_match_in_any_case() {
        for field in [
            r#"DPoP error="use_dpop_nonce""#,
            r#"dpop error="use_dpop_nonce""#,
            r#"DPOP ERROR="use_dpop_nonce""#,
            r#"dPoP   Error = use_dpop_nonce"#,
        ] {
            let c = parse_challenges(field);
            assert_eq!(c.len(), 1, "{field}");
            assert!(c[0].is("DPoP") && c[0].is("dpop"), "{field}");
            assert_eq!(c[0].param("error"), Some("use_dpop_nonce"), "{field}");
        }
    }

    #[test]
    fn several_challenges_in_one_field() {
        let c = parse_challenges(
            r#"Bearer realm="a, b", BEARER error="insufficient_scope", DPoP algs="ES256 PS256", error="use_dpop_nonce", error_description="say \"n\"""#,
        );
        let schemes: Vec<&str> = c.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["bearer", "bearer", "dpop"]);
        assert_eq!(c[0].param("realm"), Some("a, b"));
        assert_eq!(c[1].param("error"), Some("insufficient_scope"));
        assert_eq!(c[2].param("algs"), Some("ES256 PS256"));
        assert_eq!(c[2].param("error"), Some("use_dpop_nonce"));
        assert_eq!(c[2].param("error_description"), Some(r#"say "n""#));
    }

    #[test]
    fn malformed_fields_do_not_panic() {
        for field in [
            "",
            ",,,",
            "=",
            "Basic YWxhZGRpbjpvcGVuc2VzYW1l==",
            r#"DPoP error=""#,
            "DPoP error=",
            "\u{e9}t\u{e9} x=\"\u{e9}\"",
        ] {
            let _ = parse_challenges(field);
        }
        assert_eq!(parse_challenges("Basic abc==")[0].scheme, "basic");
    }

    #[test]
    fn json_media_types_ignore_case_and_parameters() {
        for yes in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "APPLICATION/JSON;charset=UTF-8",
            " application/json ",
            "application/problem+json",
            "application/Problem+JSON; charset=utf-8",
        ] {
            assert!(is_json(yes), "{yes}");
        }
        for no in [
            "",
            "text/html",
            "text/json",
            "application/jsonp",
            "application",
            "application/json-seq",
        ] {
            assert!(!is_json(no), "{no}");
        }
    }

    #[test]
    fn only_a_well_formed_dpop_nonce_is_taken() {
        use reqwest::header::{HeaderMap, HeaderValue};
        let with = |values: &[&[u8]]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("dpop-nonce", HeaderValue::from_bytes(v).unwrap());
            }
            dpop_nonce(&h)
        };
        assert_eq!(with(&[b"eyJ7S_zG.7a-~"]).as_deref(), Some("eyJ7S_zG.7a-~"));
        assert_eq!(with(&[]), None);
        for bad in [
            &b"has space"[..],
            b"quote\"\"",
            b"back\\slash",
            b"caf\xc3\xa9",
            b"\t",
        ] {
            assert_eq!(with(&[bad]), None, "{bad:?}");
        }
        assert_eq!(with(&[&[b'n'; MAX_DPOP_NONCE_BYTES + 1]]), None);
        assert!(with(&[&[b'n'; MAX_DPOP_NONCE_BYTES]]).is_some());
        assert_eq!(with(&[b"one", b"two"]), None, "two nonces are none");
    }
}
