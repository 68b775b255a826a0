//! The reference's environment variables for the binaries configured by flags alone (the mapper, the
//! sniffer): the reference reads `OTTERIZE_<KEY>` for each configuration key (upper case, `-` as `_`);
//! where Holt has the option, the variable is read as if its flag were given. The command line and Holt's
//! own variable win: a flag given, or its `HOLT_*` variable set, leaves the reference's variable unread.
//!
//! In: the command line, a table of [`ReferenceVariable`]s, a lookup of the environment. Out: the command
//! line with the flags the reference's variables stand for appended ([`with_reference_env`]), parsed by clap
//! as usual so their values are checked exactly as a flag's are ([`parse_with_reference_env`]); or an error
//! naming the variable whose text Holt cannot translate.

use std::ffi::OsString;

use crate::duration::parse_duration;

/// How a reference variable's text becomes its flag's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// The text as it is.
    Text,
    /// A list, comma- or space-separated (Go's string slices from the environment are space-separated):
    /// the flag's comma-separated form.
    List,
    /// `true`/`false`, and what Go's `strconv.ParseBool` also takes (`1`, `t`, `TRUE`, `0`, `f`, ...).
    Bool,
    /// A Go duration (`10s`, `1m30s`), as the flag's milliseconds.
    Millis,
    /// A switch that turns the flag's feature off with `false` (the flag is then set to `0`); `true` sets
    /// nothing.
    OffIsZero,
}

/// One reference variable read for one flag.
#[derive(Clone, Copy, Debug)]
pub struct ReferenceVariable {
    /// `OTTERIZE_...`.
    pub variable: &'static str,
    /// The flag it stands for, without its dashes.
    pub flag: &'static str,
    /// The flag's own variable (`HOLT_...`), which wins.
    pub holt_variable: &'static str,
    pub shape: Shape,
}

/// Why a reference variable could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?}: {reason} (the reference's variable for --{flag})")]
pub struct ReferenceEnvError {
    pub variable: &'static str,
    pub flag: &'static str,
    pub value: String,
    pub reason: String,
}

/// `args` (the program's name first) with `--<flag>=<value>` appended for each reference variable of
/// `table` that is set while neither its flag is given nor its Holt variable set. Entries are taken in
/// order; one whose flag an earlier entry set is skipped.
pub fn with_reference_env(
    args: impl IntoIterator<Item = OsString>,
    table: &[ReferenceVariable],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<OsString>, ReferenceEnvError> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let given = |args: &[OsString], flag: &str| {
        let long = format!("--{flag}");
        let with_value = format!("--{flag}=");
        args.iter()
            .skip(1)
            .filter_map(|a| a.to_str())
            .any(|a| a == long || a.starts_with(&with_value))
    };
    for entry in table {
        if given(&args, entry.flag) || lookup(entry.holt_variable).is_some() {
            continue;
        }
        let Some(value) = lookup(entry.variable) else {
            continue;
        };
        let error = |reason: String| ReferenceEnvError {
            variable: entry.variable,
            flag: entry.flag,
            value: value.clone(),
            reason,
        };
        let translated = match entry.shape {
            Shape::Text => Some(value.clone()),
            Shape::List => Some(
                value
                    .split([',', ' ', '\t', '\n'])
                    .filter(|item| !item.is_empty())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Shape::Bool => Some(go_bool(&value).map_err(error)?.to_string()),
            Shape::Millis => Some(parse_duration(&value).map_err(error)?.as_millis().to_string()),
            Shape::OffIsZero => (!go_bool(&value).map_err(error)?).then(|| "0".to_owned()),
        };
        if let Some(translated) = translated {
            args.push(format!("--{}={translated}", entry.flag).into());
        }
    }
    Ok(args)
}

/// `A`'s flags parsed from `args` with [`with_reference_env`] applied first. Its errors are clap's, so that
/// they are printed (and exit) as a flag's.
pub fn parse_with_reference_env<A: clap::Parser>(
    args: impl IntoIterator<Item = OsString>,
    table: &[ReferenceVariable],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<A, clap::Error> {
    let args = with_reference_env(args, table, lookup)
        .map_err(|e| A::command().error(clap::error::ErrorKind::InvalidValue, e))?;
    A::try_parse_from(args)
}

/// What Go's `strconv.ParseBool` takes.
fn go_bool(text: &str) -> Result<bool, String> {
    match text.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err("not a boolean (true or false)".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const TABLE: [ReferenceVariable; 4] = [
        ReferenceVariable {
            variable: "OTTERIZE_EXCLUDE_NAMESPACES",
            flag: "exclude-namespaces",
            holt_variable: "HOLT_EXCLUDE",
            shape: Shape::List,
        },
        ReferenceVariable {
            variable: "OTTERIZE_UPDATE_ENABLED",
            flag: "interval-ms",
            holt_variable: "HOLT_INTERVAL_MS",
            shape: Shape::OffIsZero,
        },
        ReferenceVariable {
            variable: "OTTERIZE_UPDATE_INTERVAL",
            flag: "interval-ms",
            holt_variable: "HOLT_INTERVAL_MS",
            shape: Shape::Millis,
        },
        ReferenceVariable {
            variable: "OTTERIZE_ENABLE_DNS",
            flag: "enable-dns",
            holt_variable: "HOLT_ENABLE_DNS",
            shape: Shape::Bool,
        },
    ];

    fn run(args: &[&str], env: &[(&str, &str)]) -> Result<Vec<String>, ReferenceEnvError> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let args = args.iter().map(OsString::from);
        Ok(with_reference_env(args, &TABLE, |key| env.get(key).cloned())?
            .into_iter()
            .map(|a| a.into_string().expect("UTF-8"))
            .collect())
    }

    #[test]
    fn reference_variables_become_flags_translated() {
        let args = run(
            &["holt-mapper"],
            &[
                ("OTTERIZE_EXCLUDE_NAMESPACES", "istio-system  kube-system,linkerd"),
                ("OTTERIZE_UPDATE_INTERVAL", "1m30s"),
                ("OTTERIZE_ENABLE_DNS", "F"),
            ],
        )
        .expect("translated");
        assert_eq!(
            args,
            [
                "holt-mapper",
                "--exclude-namespaces=istio-system,kube-system,linkerd",
                "--interval-ms=90000",
                "--enable-dns=false",
            ]
        );
    }

    #[test]
    fn a_flag_given_or_holts_variable_set_wins_and_a_switch_turned_off_comes_first() {
        let args = run(
            &["holt-mapper", "--enable-dns", "true", "--exclude-namespaces=a"],
            &[
                ("OTTERIZE_EXCLUDE_NAMESPACES", "b"),
                ("OTTERIZE_ENABLE_DNS", "false"),
                ("OTTERIZE_UPDATE_ENABLED", "false"),
                ("OTTERIZE_UPDATE_INTERVAL", "5s"),
            ],
        )
        .expect("translated");
        assert_eq!(
            args,
            [
                "holt-mapper",
                "--enable-dns",
                "true",
                "--exclude-namespaces=a",
                "--interval-ms=0"
            ]
        );
        let holt_set = run(
            &["holt-mapper"],
            &[("HOLT_INTERVAL_MS", "100"), ("OTTERIZE_UPDATE_INTERVAL", "5s")],
        )
        .expect("translated");
        assert_eq!(holt_set, ["holt-mapper"]);
        let enabled = run(&["holt-mapper"], &[("OTTERIZE_UPDATE_ENABLED", "true")]).expect("translated");
        assert_eq!(enabled, ["holt-mapper"], "on is the default: nothing to set");
    }

    #[test]
    fn a_value_holt_cannot_translate_is_an_error_naming_the_variable() {
        let error = run(&["holt-mapper"], &[("OTTERIZE_UPDATE_INTERVAL", "soon")]).expect_err("refused");
        assert_eq!(error.variable, "OTTERIZE_UPDATE_INTERVAL");
        let message = error.to_string();
        assert!(
            message.contains("OTTERIZE_UPDATE_INTERVAL=\"soon\"") && message.contains("--interval-ms"),
            "{message}"
        );
        let error = run(&["holt-mapper"], &[("OTTERIZE_ENABLE_DNS", "yes")]).expect_err("refused");
        assert!(error.to_string().contains("not a boolean"), "{error}");
    }
}
