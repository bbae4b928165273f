//! Query strings as Go's `net/url` writes and reads them (`url.Values.Encode`,
//! `url.ParseQuery`): keys sorted, unreserved bytes kept, space as `+`, the rest `%XX`.

/// Escapes one query component like Go's `url.QueryEscape`.
pub fn escape_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
    out
}

/// Encodes `pairs` as `k=v&...`, sorted by key (stable for equal keys), like Go's
/// `url.Values.Encode`.
pub fn encode_query<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let mut sorted: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (k, v) in sorted {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&escape_query(k));
        out.push('=');
        out.push_str(&escape_query(v));
    }
    out
}

/// Decodes a query string (`+` is a space, `%XX` a byte; malformed escapes are kept as
/// they are; a leading `?` is ignored) into pairs in order.
pub fn decode_query(query: &str) -> Vec<(String, String)> {
    let query = query.strip_prefix('?').unwrap_or(query);
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            (unescape(k), unescape(v))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        assert_eq!(escape_query("a b&c=d/é~"), "a+b%26c%3Dd%2F%C3%A9~");
        assert_eq!(
            encode_query(&[("op", "try"), ("dtm", "http://x/api"), ("gid", "g 1")]),
            "dtm=http%3A%2F%2Fx%2Fapi&gid=g+1&op=try"
        );
    }

    #[test]
    fn decodes() {
        let q = decode_query("?gid=g+1&dtm=http%3A%2F%2Fx&bad=%zz&tail=%4&empty&=v");
        assert_eq!(
            q,
            vec![
                ("gid".to_string(), "g 1".to_string()),
                ("dtm".to_string(), "http://x".to_string()),
                ("bad".to_string(), "%zz".to_string()),
                ("tail".to_string(), "%4".to_string()),
                ("empty".to_string(), String::new()),
                (String::new(), "v".to_string()),
            ]
        );
    }
}
