//! The operator configuration for `holt plan` and `holt diff`: resolved as the operator resolves it, with one
//! `note:` line on stderr per value set but not acted on.

use anyhow::Context;
use holt_config::ConfigArgs;
use holt_model::Config;

pub fn resolve(args: &ConfigArgs) -> anyhow::Result<Config> {
    let resolved = args.resolve().context("reading the configuration")?;
    for notice in &resolved.notices {
        eprintln!("note: {notice}");
    }
    Ok(resolved.config)
}
