//! The API server's rules for the names Holt writes: object names (DNS-1123 subdomains), namespace and
//! Service names (DNS-1123 labels) and kinds (lower-cased, a DNS-1035 label). In: a name; out: why the API
//! server would refuse it, if it would.

/// The longest object name the API server accepts.
pub const MAX_OBJECT_NAME: usize = 253;

/// The longest namespace name, Service name, kind or label value the API server accepts.
pub const MAX_LABEL: usize = 63;

/// Why `name` is not a DNS-1123 subdomain: at most 253 characters, dot-separated parts of lower-case letters,
/// digits and `-`, each starting and ending with a letter or digit.
pub fn check_object_name(name: &str) -> Result<(), &'static str> {
    if name.len() > MAX_OBJECT_NAME {
        return Err("object names are at most 253 characters");
    }
    if name.split('.').all(is_dns_label_part) {
        Ok(())
    } else {
        Err(
            "object names hold only lower-case letters, digits, `-` and `.`, and each part between dots starts \
             and ends with a letter or digit",
        )
    }
}

/// Why `name` is not a DNS-1123 label: 1–63 lower-case letters, digits and `-`, starting and ending with a
/// letter or digit.
pub fn check_label_name(name: &str) -> Result<(), &'static str> {
    if name.len() > MAX_LABEL {
        return Err("it is over 63 characters");
    }
    if is_dns_label_part(name) {
        Ok(())
    } else {
        Err("it must be lower-case letters, digits and `-`, starting and ending with a letter or digit")
    }
}

/// Why `kind` is not a kind the API server accepts (its lower-case form a DNS-1035 label: at most 63
/// letters, digits and `-`, starting with a letter and ending with a letter or digit). Kinds go verbatim
/// into the `owner-kind` label value of the selectors Holt writes, and lower-cased into object names.
pub fn check_kind_name(kind: &str) -> Result<(), &'static str> {
    if kind.len() > MAX_LABEL {
        return Err("kinds are at most 63 characters");
    }
    let lower = kind.to_ascii_lowercase();
    if is_dns_label_part(&lower) && lower.starts_with(|c: char| c.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err("kinds are letters, digits and `-`, starting with a letter and ending with a letter or digit")
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_dns_label_part(part: &str) -> bool {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    !part.is_empty()
        && part.chars().all(|c| alphanumeric(c) || c == '-')
        && part.starts_with(alphanumeric)
        && part.ends_with(alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names() {
        for ok in ["a", "app.v2-deployment-access", "0-a.b-0", &"a".repeat(253)] {
            assert_eq!(check_object_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "A",
            "a_b",
            "a..b",
            ".a",
            "a.",
            "-a",
            "a-",
            "a.-b",
            "ä",
            &"a".repeat(254),
        ] {
            assert!(check_object_name(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn label_names() {
        for ok in ["a", "shop", "0a", "a-0", &"a".repeat(63)] {
            assert_eq!(check_label_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a.b", "Shop", "a_b", "-a", "a-", &"a".repeat(64)] {
            assert!(check_label_name(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn kinds() {
        for ok in [
            "Deployment",
            "StatefulSet",
            "Rollout",
            "V2Thing",
            "My-Kind",
            &format!("K{}", "a".repeat(62)),
        ] {
            assert_eq!(check_kind_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "1Kind",
            "Kind-",
            "Kind_X",
            "Kind.X",
            "Kind/X",
            &format!("K{}", "a".repeat(63)),
        ] {
            assert!(check_kind_name(bad).is_err(), "{bad} should be refused");
        }
    }
}
