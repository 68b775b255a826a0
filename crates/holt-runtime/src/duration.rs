//! Durations as the binaries' flags take them, and as the reference's Go configuration writes them: one or
//! more `<whole number><unit>` parts, units `ms`, `s`, `m`, `h` and `d` (`500ms`, `30s`, `1m30s`, `24h`,
//! `30d`), more than zero.

use std::time::Duration;

/// Parses `text` (see the module docs); the error says what is wrong and what is expected.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let expected = "write e.g. `500ms`, `30s`, `1m30s`, `24h` or `30d`";
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(format!("an empty duration: {expected}"));
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{text}`: a number must come before each unit; {expected}"
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}`: the number is too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let seconds = |factor: u64| Duration::from_secs(number.saturating_mul(factor));
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(number),
            "s" => seconds(1),
            "m" => seconds(60),
            "h" => seconds(3_600),
            "d" => seconds(86_400),
            "" => return Err(format!("`{text}` has no unit: {expected}")),
            unit => return Err(format!("unknown unit `{unit}` in `{text}`: use ms, s, m, h or d")),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_len..];
    }
    if total.is_zero() {
        return Err(format!("`{text}` must be more than zero"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_and_compound_durations_parse() {
        for (text, expected) in [
            ("500ms", Duration::from_millis(500)),
            ("30s", Duration::from_secs(30)),
            ("5m", Duration::from_secs(300)),
            ("1h", Duration::from_secs(3_600)),
            ("30d", Duration::from_secs(30 * 86_400)),
            ("1m30s", Duration::from_secs(90)),
            ("1h0m0s", Duration::from_secs(3_600)),
            (" 2s ", Duration::from_secs(2)),
        ] {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn what_is_not_a_duration_is_an_error_that_says_why() {
        for (text, says) in [
            ("", "empty"),
            ("5", "no unit"),
            ("s", "number must come before"),
            ("1w", "unknown unit `w`"),
            ("1.5s", "unknown unit `.`"),
            ("0s", "more than zero"),
            ("99999999999999999999s", "too large"),
        ] {
            let error = parse_duration(text).expect_err(text);
            assert!(error.contains(says), "{text}: {error}");
        }
    }
}
