//! `cargo xtask images`: one OCI image archive per binary the chart runs (`holt-operator`, `holt-mapper`,
//! `holt-sniffer`, `holt-credentials`), built on this machine with no base image: the binary linked statically
//! (`x86_64-unknown-linux-gnu` with `+crt-static`: glibc's static library, whose DNS resolution needs no
//! NSS module), the CA certificates, and an `/etc/passwd` and `/etc/group` naming the unprivileged user
//! 65532 the images run as.
//!
//! In: the workspace, a cargo profile, the machine's CA bundle. Out: `<out>/<binary>-<version>.oci.tar`,
//! named `<repository>/<binary>:<version>` (the chart's default image names), and one line per image.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::oci::{self, ImageSpec, LayerFile};

/// The binaries that get an image, each its own package.
pub const BINARIES: [&str; 4] = ["holt-operator", "holt-mapper", "holt-sniffer", "holt-credentials"];
/// The target the images' binaries are built for.
pub const TARGET: &str = "x86_64-unknown-linux-gnu";
/// The user the images run as (the chart's pods set it too; the sniffer's pod runs as root).
pub const USER: &str = "65532:65532";

/// What to build.
#[derive(Debug, Clone)]
pub struct Options {
    /// Cargo profile: `release` (what ships) or `dev` (faster to build, for tests).
    pub profile: String,
    pub out: PathBuf,
    pub repository: String,
    pub ca_certificates: PathBuf,
}

/// One image built.
#[derive(Debug, Clone)]
pub struct Built {
    pub reference: String,
    pub path: PathBuf,
    pub size: u64,
    pub binary_size: u64,
    pub layer_size: u64,
    pub manifest_digest: String,
}

/// Builds the binaries, then the images; prints a line per image and the times.
pub fn build(options: &Options) -> anyhow::Result<Vec<Built>> {
    let started = Instant::now();
    let binaries = build_binaries(&options.profile)?;
    let compiled = started.elapsed();
    let certificates = std::fs::read(&options.ca_certificates).with_context(|| {
        format!(
            "reading the CA certificates {} (Debian: the ca-certificates package; or pass --ca-certificates)",
            options.ca_certificates.display()
        )
    })?;
    std::fs::create_dir_all(&options.out).with_context(|| format!("creating {}", options.out.display()))?;
    let version = env!("CARGO_PKG_VERSION");
    let mut built = Vec::new();
    for (name, binary) in binaries {
        let content = std::fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
        let entrypoint = format!("/usr/local/bin/{name}");
        let reference = format!("{}/{name}:{version}", options.repository);
        let spec = ImageSpec {
            reference: reference.clone(),
            files: vec![
                LayerFile {
                    path: format!("usr/local/bin/{name}"),
                    mode: 0o755,
                    content: content.clone(),
                },
                LayerFile {
                    path: "etc/passwd".to_owned(),
                    mode: 0o644,
                    content: b"root:x:0:0:root:/root:/sbin/nologin\n\
                               holt:x:65532:65532:holt:/nonexistent:/sbin/nologin\n"
                        .to_vec(),
                },
                LayerFile {
                    path: "etc/group".to_owned(),
                    mode: 0o644,
                    content: b"root:x:0:\nholt:x:65532:\n".to_vec(),
                },
                LayerFile {
                    path: "etc/ssl/certs/ca-certificates.crt".to_owned(),
                    mode: 0o644,
                    content: certificates.clone(),
                },
            ],
            user: USER.to_owned(),
            entrypoint: vec![entrypoint],
            env: vec!["SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt".to_owned()],
            labels: vec![
                ("org.opencontainers.image.title".to_owned(), name.clone()),
                ("org.opencontainers.image.version".to_owned(), version.to_owned()),
                (
                    "org.opencontainers.image.source".to_owned(),
                    env!("CARGO_PKG_REPOSITORY").to_owned(),
                ),
            ],
        };
        let archive = oci::build(&spec)?;
        let path = options.out.join(format!("{name}-{version}.oci.tar"));
        std::fs::write(&path, &archive.bytes).with_context(|| format!("writing {}", path.display()))?;
        let item = Built {
            reference,
            path,
            size: archive.bytes.len() as u64,
            binary_size: content.len() as u64,
            layer_size: archive.layer_size as u64,
            manifest_digest: archive.manifest_digest,
        };
        println!(
            "{} {} (archive {:.1} MiB, layer {:.1} MiB, binary {:.1} MiB) {}",
            item.reference,
            item.path.display(),
            mib(item.size),
            mib(item.layer_size),
            mib(item.binary_size),
            item.manifest_digest
        );
        built.push(item);
    }
    eprintln!(
        "images: binaries built in {:.1} s ({} profile), images written in {:.1} s",
        compiled.as_secs_f64(),
        options.profile,
        (started.elapsed() - compiled).as_secs_f64()
    );
    Ok(built)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// `cargo build --target x86_64-unknown-linux-gnu` of the binaries with glibc linked statically.
/// With an explicit target, the flag applies to the binaries only (not build scripts), and their output
/// (`target/x86_64-unknown-linux-gnu/<profile>/`) is apart from the host build's.
fn build_binaries(profile: &str) -> anyhow::Result<Vec<(String, PathBuf)>> {
    // Without the variables a test's cargo sets for it (when a test runs this), which some build scripts
    // (ring's) watch: with them, every such run would rebuild those crates and all that sits on them.
    let mut command = holt_testenv::cargo_command();
    command
        .current_dir(workspace_dir())
        .args(["build", "--locked", "--message-format=json-render-diagnostics"])
        .args(["--profile", profile, "--target", TARGET])
        .arg("--config")
        .arg(format!(
            "target.{TARGET}.rustflags=[\"-C\", \"target-feature=+crt-static\"]"
        ));
    for name in BINARIES {
        command.args(["-p", name, "--bin", name]);
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build")?;
    if !output.status.success() {
        bail!(
            "cargo build of the images' binaries failed; static linking needs glibc's static library \
             (Debian: libc6-dev, /usr/lib/x86_64-linux-gnu/libc.a)"
        );
    }
    let mut binaries = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" {
            continue;
        }
        if let (Some(name), Some(executable)) =
            (message["target"]["name"].as_str(), message["executable"].as_str())
            && BINARIES.contains(&name)
        {
            binaries.push((name.to_owned(), PathBuf::from(executable)));
        }
    }
    binaries.sort();
    if binaries.len() != BINARIES.len() {
        bail!("cargo build named {binaries:?}, not the executables of {BINARIES:?}");
    }
    Ok(binaries)
}

/// The workspace's root (xtask lives one level below it).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `<target dir>/images`: `CARGO_TARGET_DIR` or the workspace's `target`.
pub fn default_out_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target"))
        .join("images")
}
