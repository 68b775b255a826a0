//! The rule that folds ID-like segments of HTTP paths into wildcards (`--http-path-fold`), and the HTTP
//! paths a record keeps. In: a path as the sniffer reported it. Out: the path the store keeps, e.g.
//! `/orders/17` and `/orders/18` both `/orders/*`.
//!
//! The rule is a comma-separated list of segment kinds (`number,uuid,hex`, the default; `none` or an
//! empty value keeps paths exact):
//!
//! - `number`: a segment of ASCII digits only (`17`);
//! - `uuid`: 8-4-4-4-12 hexadecimal digits with dashes, either case;
//! - `hex`: 16 or more hexadecimal digits with at least one decimal digit (object IDs, hashes).
//!
//! The first segment that is one of these kinds, and **everything after it**, become `*`:
//! `/orders/17/items` → `/orders/*`. A `*` is a prefix wildcard where the path goes to Istio (what the
//! intents operator writes for `http` targets): `/orders/*` allows `/orders/18/items` too, and a `*`
//! in the middle of a path would match only a literal `*`. A path the sniffer reported as a prefix
//! (ending in `*`) stays a prefix. Percent-encoded bytes are compared as sent.

use std::fmt;
use std::str::FromStr;

/// Which segment kinds fold into `*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PathFold {
    pub numbers: bool,
    pub uuids: bool,
    pub hex: bool,
}

impl Default for PathFold {
    fn default() -> Self {
        PathFold {
            numbers: true,
            uuids: true,
            hex: true,
        }
    }
}

/// A `--http-path-fold` value that is not a list of known kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--http-path-fold: unknown segment kind {0:?} (expected a comma-separated list of number, uuid, hex; or none)"
)]
pub struct PathFoldError(String);

impl FromStr for PathFold {
    type Err = PathFoldError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut fold = PathFold {
            numbers: false,
            uuids: false,
            hex: false,
        };
        for kind in text.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            match kind {
                "number" => fold.numbers = true,
                "uuid" => fold.uuids = true,
                "hex" => fold.hex = true,
                "none" => {}
                other => return Err(PathFoldError(other.to_owned())),
            }
        }
        Ok(fold)
    }
}

impl fmt::Display for PathFold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kinds: Vec<&str> = [(self.numbers, "number"), (self.uuids, "uuid"), (self.hex, "hex")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
        if kinds.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&kinds.join(","))
        }
    }
}

impl PathFold {
    /// `path` with its first ID-like segment and the rest folded into `*`.
    pub fn fold(&self, path: &str) -> String {
        let mut at = 0;
        for segment in path.split('/') {
            if !segment.is_empty() && self.is_id(segment) {
                return format!("{}*", &path[..at]);
            }
            at += segment.len() + 1;
        }
        path.to_owned()
    }

    fn is_id(&self, segment: &str) -> bool {
        let bytes = segment.as_bytes();
        (self.numbers && bytes.iter().all(u8::is_ascii_digit))
            || (self.uuids && is_uuid(bytes))
            || (self.hex
                && bytes.len() >= 16
                && bytes.iter().all(u8::is_ascii_hexdigit)
                && bytes.iter().any(u8::is_ascii_digit))
    }
}

fn is_uuid(bytes: &[u8]) -> bool {
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(at, b)| match at {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// `path` cut to its first segment and `*` (`/orders/17/items` → `/orders/*`), or `/*` when it has
/// only one: what a path becomes when its record holds as many paths as it may.
pub fn coarsest(path: &str) -> String {
    let first = path
        .strip_prefix('/')
        .and_then(|rest| rest.split_once('/'))
        .map(|(first, _)| first);
    match first {
        Some(first) if !first.is_empty() && first != "*" => format!("/{first}/*"),
        _ => "/*".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_what_follows_fold_into_a_prefix() {
        let fold = PathFold::default();
        assert_eq!(fold.fold("/orders/17"), "/orders/*");
        assert_eq!(fold.fold("/orders/18"), "/orders/*");
        assert_eq!(fold.fold("/orders/17/items"), "/orders/*");
        assert_eq!(
            fold.fold("/users/3F2504E0-4F89-11D3-9A0C-0305E82C3301/avatar"),
            "/users/*"
        );
        assert_eq!(fold.fold("/blobs/5f2b9c8e7d6a4b3c"), "/blobs/*");
        assert_eq!(
            fold.fold("/v1/deadbeefdeadbeef"),
            "/v1/deadbeefdeadbeef",
            "hex without a digit"
        );
        assert_eq!(fold.fold("/charge"), "/charge");
        assert_eq!(fold.fold("/"), "/");
        assert_eq!(fold.fold("/17"), "/*");
        assert_eq!(fold.fold("/inventory/*"), "/inventory/*");
        assert_eq!(fold.fold("/v2/orders/"), "/v2/orders/");
    }

    #[test]
    fn the_rule_parses_and_prints() {
        assert_eq!(
            "none".parse::<PathFold>(),
            Ok(PathFold {
                numbers: false,
                uuids: false,
                hex: false
            })
        );
        assert_eq!(
            "".parse::<PathFold>().map(|f| f.to_string()),
            Ok("none".to_owned())
        );
        let numbers: PathFold = "number".parse().expect("a kind");
        assert_eq!(numbers.fold("/orders/17"), "/orders/*");
        assert_eq!(numbers.fold("/blobs/5f2b9c8e7d6a4b3c"), "/blobs/5f2b9c8e7d6a4b3c");
        assert_eq!(PathFold::default().to_string(), "number,uuid,hex");
        let error = "number,ids".parse::<PathFold>().expect_err("unknown kind");
        assert!(error.to_string().contains("--http-path-fold") && error.to_string().contains("\"ids\""));
        let exact: PathFold = "none".parse().expect("none");
        assert_eq!(exact.fold("/orders/17"), "/orders/17");
    }

    #[test]
    fn the_coarsest_form_keeps_the_first_segment() {
        assert_eq!(coarsest("/orders/17/items"), "/orders/*");
        assert_eq!(coarsest("/orders/*"), "/orders/*");
        assert_eq!(coarsest("/charge"), "/*");
        assert_eq!(coarsest("/*"), "/*");
        assert_eq!(coarsest("//x"), "/*");
    }
}
