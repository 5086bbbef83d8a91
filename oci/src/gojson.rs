//! JSON bytes exactly as Go's `encoding/json` writes them, which cosign's formats are made of:
//! compact, struct fields in declaration order (serde keeps it), map keys sorted (use
//! `BTreeMap`), and `<`, `>`, `&`, U+2028, U+2029 escaped inside strings.

use serde::Serialize;

/// Serializes `value` like Go's `json.Marshal`.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let plain = serde_json::to_vec(value).expect("serializing plain data cannot fail");
    escape_html(plain)
}

/// Go escapes these characters in every string; they can only occur inside strings in JSON,
/// so replacing them in the whole text is exact.
fn escape_html(json: Vec<u8>) -> Vec<u8> {
    if !json.iter().any(|b| matches!(b, b'<' | b'>' | b'&' | 0xE2)) {
        return json;
    }
    let text = String::from_utf8(json).expect("serde_json writes UTF-8");
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.into_bytes()
}

/// Looks up `name` in a JSON object the way Go's decoder does: exact match first, then
/// case-insensitive.
pub fn field<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<&'a serde_json::Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn escapes_like_go_and_sorts_maps() {
        let mut m = BTreeMap::new();
        m.insert("b", "x<y>&z\u{2028}");
        m.insert("a", "plain");
        assert_eq!(
            String::from_utf8(to_vec(&m)).unwrap(),
            r#"{"a":"plain","b":"x\u003cy\u003e\u0026z\u2028"}"#
        );
    }
}
