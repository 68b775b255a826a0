//! `cargo xtask images`, run as a user runs it, then each archive taken apart with the system's `tar` and
//! checked: the OCI layout's digests, the image's user (not root) and entrypoint, exactly the files it
//! should hold, and the entrypoint run with `--version` in the unpacked root as that user, with nothing
//! else in the root (no libc, no shell).
//!
//! The binaries are built with the `dev` profile here (`HOLT_IMAGES_TEST_PROFILE=release` tests what
//! ships): the image assembly is the same code either way; a cold release build of the binaries
//! takes several minutes more on the 2-core CI machine (docs/install.md has the figures).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, ensure};
use serde_json::Value;

const BINARIES: [&str; 4] = ["holt-credentials", "holt-mapper", "holt-operator", "holt-sniffer"];

fn sha256(bytes: &[u8]) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn untar(archive: &Path, into: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(into)?;
    let status = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .arg("--no-same-owner")
        .status()
        .context("running tar")?;
    ensure!(status.success(), "tar -xf {} failed", archive.display());
    Ok(())
}

/// Every path under `root`, relative, sorted (directories with a trailing slash).
fn listing(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut paths = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let relative = path.strip_prefix(root)?.display().to_string();
            if path.is_dir() {
                paths.push(format!("{relative}/"));
                pending.push(path);
            } else {
                paths.push(relative);
            }
        }
    }
    paths.sort();
    Ok(paths)
}

fn blob(layout: &Path, digest: &str) -> anyhow::Result<Vec<u8>> {
    let hex = digest.strip_prefix("sha256:").context("digest algorithm")?;
    let bytes = std::fs::read(layout.join("blobs/sha256").join(hex))?;
    ensure!(
        sha256(&bytes) == digest,
        "blob {digest} does not hash to its name"
    );
    Ok(bytes)
}

#[test]
fn every_image_unpacks_runs_its_entrypoint_and_is_not_root() -> anyhow::Result<()> {
    ensure!(
        running_as_root(),
        "this test runs the images' entrypoints in a chroot, which needs root (CI runs as root)"
    );
    let profile = std::env::var("HOLT_IMAGES_TEST_PROFILE").unwrap_or_else(|_| "dev".to_owned());
    let out = tempfile::tempdir()?;
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["images", "--profile", &profile, "--out"])
        .arg(out.path())
        .output()
        .context("running xtask images")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "xtask images failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // What the build cost, for CI logs and docs/install.md: crates compiled, and xtask's own summary.
    let stderr = String::from_utf8_lossy(&output.stderr);
    let compiled = stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("Compiling "))
        .count();
    let summary = stderr
        .lines()
        .filter(|l| l.starts_with("images:"))
        .collect::<Vec<_>>()
        .join("; ");
    eprintln!(
        "{stdout}xtask images ({profile}): {:?}, {compiled} crates compiled; {summary}",
        started.elapsed()
    );

    let version = env!("CARGO_PKG_VERSION");
    for name in BINARIES {
        let archive = out.path().join(format!("{name}-{version}.oci.tar"));
        let reference = format!("localhost/holt/{name}:{version}");
        ensure!(stdout.contains(&reference), "{reference} not reported: {stdout}");
        let layout = out.path().join(format!("{name}-layout"));
        untar(&archive, &layout)?;
        let oci_layout: Value = serde_json::from_slice(&std::fs::read(layout.join("oci-layout"))?)?;
        assert_eq!(oci_layout["imageLayoutVersion"], "1.0.0");
        let index: Value = serde_json::from_slice(&std::fs::read(layout.join("index.json"))?)?;
        let entry = &index["manifests"][0];
        assert_eq!(
            entry["annotations"]["org.opencontainers.image.ref.name"],
            reference.as_str()
        );
        let manifest: Value = serde_json::from_slice(&blob(
            &layout,
            entry["digest"].as_str().context("manifest digest")?,
        )?)?;
        let config: Value = serde_json::from_slice(&blob(
            &layout,
            manifest["config"]["digest"].as_str().context("config digest")?,
        )?)?;
        let layer_digest = manifest["layers"][0]["digest"].as_str().context("layer digest")?;
        let layer = blob(&layout, layer_digest)?;
        assert_eq!(
            config["rootfs"]["diff_ids"][0], layer_digest,
            "uncompressed layer: diff id = digest"
        );

        // Not root: a numeric uid other than 0, named in the image's /etc/passwd.
        let user = config["config"]["User"].as_str().context("User")?;
        let uid: u32 = user.split(':').next().context("uid")?.parse()?;
        ensure!(uid != 0, "{name} runs as root ({user})");
        let entrypoint = config["config"]["Entrypoint"][0].as_str().context("Entrypoint")?;
        assert_eq!(entrypoint, format!("/usr/local/bin/{name}"));

        let root = out.path().join(format!("{name}-root"));
        let layer_file = out.path().join(format!("{name}-layer.tar"));
        std::fs::write(&layer_file, &layer)?;
        untar(&layer_file, &root)?;
        assert_eq!(
            listing(&root)?,
            vec![
                "etc/".to_owned(),
                "etc/group".to_owned(),
                "etc/passwd".to_owned(),
                "etc/ssl/".to_owned(),
                "etc/ssl/certs/".to_owned(),
                "etc/ssl/certs/ca-certificates.crt".to_owned(),
                "usr/".to_owned(),
                "usr/local/".to_owned(),
                "usr/local/bin/".to_owned(),
                format!("usr/local/bin/{name}"),
            ],
            "{name}: the image holds its binary, users and CA certificates, nothing else"
        );
        let passwd = std::fs::read_to_string(root.join("etc/passwd"))?;
        ensure!(
            passwd.contains(&format!(":{uid}:")),
            "uid {uid} not in /etc/passwd"
        );
        let certificates = std::fs::read_to_string(root.join("etc/ssl/certs/ca-certificates.crt"))?;
        ensure!(certificates.contains("BEGIN CERTIFICATE"), "no CA certificate");

        // The entrypoint runs in the empty root, as the image's user, with an empty environment.
        let run = Command::new(program("chroot")?)
            .arg(format!("--userspec={user}"))
            .arg(&root)
            .arg(entrypoint)
            .arg("--version")
            .env_clear()
            .output()
            .context("running chroot")?;
        let printed = String::from_utf8_lossy(&run.stdout);
        ensure!(
            run.status.success() && printed.trim() == format!("{name} {version}"),
            "{name} --version in its image: {printed} {}",
            String::from_utf8_lossy(&run.stderr)
        );
        eprintln!(
            "{name}: archive {:.1} MiB, layer {:.1} MiB",
            std::fs::metadata(&archive)?.len() as f64 / 1048576.0,
            layer.len() as f64 / 1048576.0
        );
    }
    Ok(())
}

/// `name` found on this process's PATH (the command runs with an empty environment).
fn program(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("{name} is not on PATH"))
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}
