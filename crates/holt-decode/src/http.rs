//! HTTP/1.x request lines. In: the payload of one TCP segment (client to server). Out: the request's
//! [`Method`] and the path of its request-target, or nothing when the payload does not begin with a
//! request line.
//!
//! What is read: `method SP request-target SP HTTP/1.0|HTTP/1.1 CRLF` at the very start of the payload,
//! and nothing after the CRLF: headers and bodies are never looked at. Choices:
//!
//! - **Methods**: the RFC 9110 methods a ClientIntents `http` resource can name — `GET`, `POST`, `PUT`,
//!   `DELETE`, `OPTIONS`, `TRACE`, `PATCH` — case-sensitive, as RFC 9110 says. Other tokens (`HEAD`,
//!   which ClientIntents cannot name; `CONNECT`, whose target is never a path; extension methods) are
//!   not requests for this decoder, so the kernel filter can select the same set by the first four
//!   payload bytes ([`REQUEST_PREFIXES`]).
//! - **Target**: origin form only (`/path?query`); absolute form (to proxies), authority form and `*`
//!   are not read. Every target byte must be visible ASCII (`0x21..=0x7e`). The query (from `?`) and a
//!   fragment (from `#`, which clients should not send) are cut off and never returned.
//!   Percent-encoding is left as sent (`/a%2Fb` stays `/a%2Fb`; no normalisation of `.` or `..`).
//! - **Version**: `HTTP/1.0` or `HTTP/1.1` followed by CRLF. A segment that ends inside the version is
//!   accepted when what it holds agrees with it.
//! - **Paths that are not whole** ([`PathEnd`]): a segment that ends inside the path (the request line
//!   was split across segments), or a path longer than [`MAX_PATH_LEN`] bytes, gives the known part up
//!   to and including its last `/`, marked as a prefix: the path *starts with* it. The segment ends
//!   before any query, so the known part of a cut path never holds one.
//!
//! No allocation, no panic: the path borrows from the payload.

/// The longest path returned whole; a longer one becomes a prefix (see [`PathEnd::TooLong`]).
pub const MAX_PATH_LEN: usize = 256;

/// The request methods recognised (see the module docs for the choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Options,
    Trace,
    Patch,
}

impl Method {
    /// Every recognised method.
    pub const ALL: [Method; 7] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Options,
        Method::Trace,
        Method::Patch,
    ];

    /// The method token as sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
        }
    }

    /// The method a token names, if one recognised here.
    pub fn from_token(token: &[u8]) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str().as_bytes() == token)
    }
}

/// The first four payload bytes of each recognised method's request line (the token, then a space
/// when it is shorter than four bytes), as big-endian words: what the kernel filter compares.
pub const REQUEST_PREFIXES: [u32; 7] = [
    u32::from_be_bytes(*b"GET "),
    u32::from_be_bytes(*b"POST"),
    u32::from_be_bytes(*b"PUT "),
    u32::from_be_bytes(*b"DELE"),
    u32::from_be_bytes(*b"OPTI"),
    u32::from_be_bytes(*b"TRAC"),
    u32::from_be_bytes(*b"PATC"),
];

/// Whether [`RequestLine::path`] is the whole path or only how it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathEnd {
    /// The whole path.
    Whole,
    /// The segment ended inside the path: what follows its last `/` is unknown.
    CutBySegment,
    /// The path was longer than [`MAX_PATH_LEN`]: kept up to the last `/` within that length.
    TooLong,
}

/// A decoded request line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestLine<'a> {
    pub method: Method,
    /// The path of the request-target: starts with `/`, never holds `?` or `#`, at most
    /// [`MAX_PATH_LEN`] bytes. When [`RequestLine::end`] is not [`PathEnd::Whole`], it ends with `/`
    /// and is a prefix of the real path.
    pub path: &'a str,
    pub end: PathEnd,
}

impl RequestLine<'_> {
    /// Whether [`RequestLine::path`] is only how the path starts.
    pub fn is_prefix(&self) -> bool {
        self.end != PathEnd::Whole
    }
}

/// The method of a payload that starts with a recognised method token and a space.
fn method(payload: &[u8]) -> Option<(Method, &[u8])> {
    Method::ALL.into_iter().find_map(|method| {
        let rest = payload.strip_prefix(method.as_str().as_bytes())?;
        Some((method, rest.strip_prefix(b" ")?))
    })
}

/// Whether `payload` begins like a request line: a recognised method token and a space.
pub fn starts_like_request(payload: &[u8]) -> bool {
    method(payload).is_some()
}

/// The request line at the start of `payload`, or `None` when it does not begin with one (see the
/// module docs for what is accepted).
pub fn request_line(payload: &[u8]) -> Option<RequestLine<'_>> {
    let (method, rest) = method(payload)?;
    if rest.first() != Some(&b'/') {
        return None;
    }
    let target_len = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    let target = rest.get(..target_len)?;
    if !target.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return None;
    }
    let path_len = target
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(target.len());
    let mut end = PathEnd::Whole;
    if target_len == rest.len() {
        // No space after the target: the segment ended inside it. A query already begun means the
        // path is whole.
        if path_len == target.len() {
            end = PathEnd::CutBySegment;
        }
    } else if !version_agrees(rest.get(target_len + 1..)?) {
        return None;
    }
    let mut path = target.get(..path_len)?;
    if end == PathEnd::CutBySegment {
        path = up_to_last_slash(path);
    }
    if path.len() > MAX_PATH_LEN {
        path = up_to_last_slash(path.get(..MAX_PATH_LEN)?);
        end = PathEnd::TooLong;
    }
    Some(RequestLine {
        method,
        path: std::str::from_utf8(path).ok()?,
        end,
    })
}

/// `HTTP/1.0` or `HTTP/1.1` and CRLF, or as much of it as the segment holds.
fn version_agrees(after_target: &[u8]) -> bool {
    const VERSION: &[u8; 10] = b"HTTP/1.1\r\n";
    after_target
        .iter()
        .zip(VERSION.iter())
        .enumerate()
        .all(|(at, (&got, &expected))| got == expected || (at == 7 && got == b'0'))
}

/// `path` up to and including its last `/` (it starts with one).
fn up_to_last_slash(path: &[u8]) -> &[u8] {
    let last = path.iter().rposition(|&b| b == b'/').unwrap_or(0);
    path.get(..=last).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(payload: &[u8]) -> Option<(Method, &str, PathEnd)> {
        request_line(payload).map(|l| (l.method, l.path, l.end))
    }

    #[test]
    fn reads_method_and_path_of_whole_lines() {
        assert_eq!(
            line(b"GET /orders/17 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some((Method::Get, "/orders/17", PathEnd::Whole))
        );
        assert_eq!(
            line(b"POST /charge HTTP/1.0\r\n"),
            Some((Method::Post, "/charge", PathEnd::Whole))
        );
        assert_eq!(
            line(b"DELETE / HTTP/1.1\r\n"),
            Some((Method::Delete, "/", PathEnd::Whole))
        );
    }

    #[test]
    fn query_and_fragment_are_cut_off() {
        assert_eq!(
            line(b"GET /search?q=secret&token=abc HTTP/1.1\r\n"),
            Some((Method::Get, "/search", PathEnd::Whole))
        );
        assert_eq!(
            line(b"GET /page#part HTTP/1.1\r\n"),
            Some((Method::Get, "/page", PathEnd::Whole))
        );
        // The segment ends inside the query: the path is whole all the same.
        assert_eq!(
            line(b"PUT /items/7?vers"),
            Some((Method::Put, "/items/7", PathEnd::Whole))
        );
    }

    #[test]
    fn percent_encoding_is_left_as_sent() {
        assert_eq!(
            line(b"GET /a%2Fb/%E2%82%AC HTTP/1.1\r\n"),
            Some((Method::Get, "/a%2Fb/%E2%82%AC", PathEnd::Whole))
        );
    }

    #[test]
    fn a_line_cut_inside_the_path_gives_its_known_prefix() {
        assert_eq!(
            line(b"GET /inventory/it"),
            Some((Method::Get, "/inventory/", PathEnd::CutBySegment))
        );
        assert_eq!(line(b"GET /inv"), Some((Method::Get, "/", PathEnd::CutBySegment)));
        // Cut inside the version: the path is whole.
        assert_eq!(
            line(b"GET /inventory/items HTT"),
            Some((Method::Get, "/inventory/items", PathEnd::Whole))
        );
        assert_eq!(line(b"GET /x "), Some((Method::Get, "/x", PathEnd::Whole)));
        // Cut before the target: nothing known.
        assert_eq!(line(b"GET "), None);
        assert_eq!(line(b"GET"), None);
    }

    #[test]
    fn long_paths_become_prefixes() {
        let mut payload = b"GET /a/".to_vec();
        payload.extend(std::iter::repeat_n(b'b', 300));
        payload.extend_from_slice(b" HTTP/1.1\r\n");
        assert_eq!(line(&payload), Some((Method::Get, "/a/", PathEnd::TooLong)));
        let mut exact = b"GET /".to_vec();
        exact.extend(std::iter::repeat_n(b'c', MAX_PATH_LEN - 1));
        exact.extend_from_slice(b" HTTP/1.1\r\n");
        let whole = request_line(&exact).map(|l| (l.path.len(), l.end));
        assert_eq!(whole, Some((MAX_PATH_LEN, PathEnd::Whole)));
    }

    #[test]
    fn other_traffic_is_not_a_request_line() {
        for payload in [
            &b"HTTP/1.1 200 OK\r\n"[..],
            b"HEAD / HTTP/1.1\r\n",
            b"CONNECT example.com:443 HTTP/1.1\r\n",
            b"OPTIONS * HTTP/1.1\r\n",
            b"GET http://example.com/ HTTP/1.1\r\n",
            b"get / HTTP/1.1\r\n",
            b"GET / HTTP/2.0\r\n",
            b"GET / HTTP/1.1\n",
            b"GET /a b HTTP/1.1\r\n",
            b"GET /\x00 HTTP/1.1\r\n",
            b"GET /caf\xc3\xa9 HTTP/1.1\r\n",
            b"POSTMAN / HTTP/1.1\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"",
        ] {
            assert_eq!(line(payload), None, "{:?}", String::from_utf8_lossy(payload));
        }
    }

    #[test]
    fn every_method_is_read_and_selected_by_its_prefix() {
        for method in Method::ALL {
            let payload = format!("{} /x HTTP/1.1\r\n", method.as_str());
            assert_eq!(line(payload.as_bytes()), Some((method, "/x", PathEnd::Whole)));
            let first: [u8; 4] = payload.as_bytes()[..4].try_into().expect("four bytes");
            assert!(REQUEST_PREFIXES.contains(&u32::from_be_bytes(first)));
            assert_eq!(Method::from_token(method.as_str().as_bytes()), Some(method));
        }
    }
}
