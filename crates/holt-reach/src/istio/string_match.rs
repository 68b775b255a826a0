//! Istio's string matching for principals, namespaces, paths and methods: `abc` exactly, `abc*` by prefix,
//! `*abc` by suffix, and `*` alone for any non-empty value. A `*` anywhere else, and the path templates
//! `{*}`/`{**}`, are refused rather than guessed at.

use std::fmt;

use serde::Serialize;

/// One checked entry of a string list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum StringPattern {
    Exact(String),
    Prefix(String),
    Suffix(String),
    /// `*`: the value is present and not empty.
    Presence,
}

/// Why an entry is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StringPatternError {
    #[error("`{0}`: `*` is allowed only alone, at the start or at the end")]
    InnerWildcard(String),
    #[error("`{0}`: path templates ({{*}}, {{**}}) are not evaluated")]
    PathTemplate(String),
}

impl StringPattern {
    /// Reads one entry; `is_path` also refuses path templates.
    pub fn parse(text: &str, is_path: bool) -> Result<Self, StringPatternError> {
        if is_path && (text.contains('{') || text.contains('}')) {
            return Err(StringPatternError::PathTemplate(text.to_owned()));
        }
        if text == "*" {
            return Ok(Self::Presence);
        }
        let pattern = if let Some(prefix) = text.strip_suffix('*') {
            Self::Prefix(prefix.to_owned())
        } else if let Some(suffix) = text.strip_prefix('*') {
            Self::Suffix(suffix.to_owned())
        } else {
            Self::Exact(text.to_owned())
        };
        let inner = match &pattern {
            Self::Exact(rest) | Self::Prefix(rest) | Self::Suffix(rest) => rest,
            Self::Presence => "",
        };
        if inner.contains('*') {
            return Err(StringPatternError::InnerWildcard(text.to_owned()));
        }
        Ok(pattern)
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Exact(exact) => value == exact,
            Self::Prefix(prefix) => value.starts_with(prefix.as_str()),
            Self::Suffix(suffix) => value.ends_with(suffix.as_str()),
            Self::Presence => !value.is_empty(),
        }
    }
}

impl fmt::Display for StringPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(exact) => f.write_str(exact),
            Self::Prefix(prefix) => write!(f, "{prefix}*"),
            Self::Suffix(suffix) => write!(f, "*{suffix}"),
            Self::Presence => f.write_str("*"),
        }
    }
}

impl From<StringPattern> for String {
    fn from(pattern: StringPattern) -> Self {
        pattern.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, value: &str) -> bool {
        StringPattern::parse(pattern, true).expect("valid").matches(value)
    }

    #[test]
    fn exact_prefix_suffix_and_presence() {
        assert!(matches("/orders", "/orders"));
        assert!(!matches("/orders", "/orders/1"), "exact means the whole value");
        assert!(matches("/orders*", "/orders"), "a prefix matches itself");
        assert!(matches("/orders*", "/orders/1"));
        assert!(matches("/orders*", "/ordersx"), "a prefix is not a path segment");
        assert!(!matches("/orders*", "/order"));
        assert!(matches("*.json", "/a/b.json"));
        assert!(!matches("*.json", "/a/b.jsonx"));
        assert!(matches("*", "/"));
        assert!(!matches("*", ""), "presence needs a non-empty value");
    }

    #[test]
    fn matching_is_case_sensitive() {
        assert!(!matches("GET", "get"));
        assert!(!matches("/Orders", "/orders"));
    }

    #[test]
    fn inner_wildcards_and_templates_are_refused() {
        assert_eq!(
            StringPattern::parse("/a*b", true).expect_err("inner").to_string(),
            "`/a*b`: `*` is allowed only alone, at the start or at the end"
        );
        assert!(StringPattern::parse("**", false).is_err());
        assert_eq!(
            StringPattern::parse("/items/{*}", true)
                .expect_err("template")
                .to_string(),
            "`/items/{*}`: path templates ({*}, {**}) are not evaluated"
        );
        assert!(
            StringPattern::parse("{x}", false).is_ok(),
            "braces are plain text outside paths"
        );
    }
}
