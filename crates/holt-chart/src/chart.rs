//! Where the chart is, and `helm` run on it: `template` output parsed into objects.

use std::path::PathBuf;
use std::process::Output;

use serde_json::Value;

use crate::error::Error;

/// The repository's root.
pub fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `deploy/helm/holt`.
pub fn chart_dir() -> PathBuf {
    workspace_dir().join("deploy/helm/holt")
}

/// `deploy/crds`, generated from the Rust types.
pub fn crds_dir() -> PathBuf {
    workspace_dir().join("deploy/crds")
}

/// `helm` with its caches and configuration in a directory of its own.
#[derive(Debug)]
pub struct Helm {
    home: tempfile::TempDir,
}

impl Helm {
    pub fn new() -> Result<Self, Error> {
        let home = tempfile::tempdir().map_err(Error::io("create a home for helm"))?;
        Ok(Self { home })
    }

    /// Runs `helm args...` and returns its output, whatever its exit status.
    pub async fn output<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<Output, Error> {
        holt_testenv::helm(self.home.path())?
            .args(args)
            .output()
            .await
            .map_err(Error::io("run helm"))
    }

    /// Runs `helm args...`; an exit status other than 0 is an error carrying helm's stderr.
    pub async fn run<S: AsRef<std::ffi::OsStr>>(&self, args: &[S]) -> Result<String, Error> {
        let output = self.output(args).await?;
        if !output.status.success() {
            return Err(Error::Helm {
                args: args
                    .iter()
                    .map(|a| a.as_ref().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(" "),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// `helm template holt <chart> --namespace <namespace> <extra...>`, parsed.
    pub async fn template(&self, namespace: &str, extra: &[&str]) -> Result<Rendered, Error> {
        let chart = chart_dir();
        let mut args = vec![
            "template".to_owned(),
            "holt".to_owned(),
            chart.display().to_string(),
            "--namespace".to_owned(),
            namespace.to_owned(),
        ];
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        let text = self.run(&args).await?;
        Rendered::parse(&text)
    }
}

/// The objects of a rendered chart.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub objects: Vec<Value>,
}

impl Rendered {
    /// Parses multi-document YAML, dropping empty documents.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let mut objects = Vec::new();
        for document in serde_yaml::Deserializer::from_str(text) {
            let value: Value = serde::Deserialize::deserialize(document).map_err(|e| Error::Parse {
                what: "helm template output".to_owned(),
                reason: e.to_string(),
            })?;
            if !value.is_null() {
                objects.push(value);
            }
        }
        Ok(Self { objects })
    }

    /// The objects of one kind.
    pub fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.objects.iter().filter(|o| o["kind"] == kind).collect()
    }

    /// The object of this kind and name, if rendered.
    pub fn get(&self, kind: &str, name: &str) -> Option<&Value> {
        self.objects
            .iter()
            .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
    }

    /// `kind/name` of every object, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .objects
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap_or("?"),
                    o["metadata"]["name"].as_str().unwrap_or("?")
                )
            })
            .collect();
        names.sort();
        names
    }
}
