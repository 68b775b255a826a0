//! An OCI image as an image-layout archive (`oci-layout`, `index.json`, `blobs/sha256/…` in one tar file),
//! from nothing but the files of its single layer: no base image. The archive loads with
//! `ctr images import`, `skopeo copy oci-archive:…`, `podman load` and `kind load image-archive`.
//!
//! In: the image's reference, its layer's files, its user and entrypoint. Out: the archive's bytes and the
//! manifest's digest.

use serde_json::json;

use crate::tar::{TarError, TarWriter};

/// A file in the layer.
#[derive(Debug, Clone)]
pub struct LayerFile {
    /// Path inside the image, without a leading slash.
    pub path: String,
    pub mode: u32,
    pub content: Vec<u8>,
}

/// What the image is.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// `repository/name:tag`.
    pub reference: String,
    pub files: Vec<LayerFile>,
    /// `uid:gid` the entrypoint runs as.
    pub user: String,
    pub entrypoint: Vec<String>,
    pub env: Vec<String>,
    pub labels: Vec<(String, String)>,
}

/// A built image archive.
#[derive(Debug)]
pub struct ImageArchive {
    pub bytes: Vec<u8>,
    /// `sha256:…` of the manifest: the image's identity in a registry.
    pub manifest_digest: String,
    pub layer_size: usize,
}

/// `sha256:<hex>` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let hash = ring::digest::digest(&ring::digest::SHA256, bytes);
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// The layer: every parent directory of the files (mode 0755), then the files, in path order.
fn layer(files: &[LayerFile]) -> Result<Vec<u8>, TarError> {
    let mut directories = std::collections::BTreeSet::new();
    for file in files {
        let mut path = file.path.as_str();
        while let Some((parent, _)) = path.rsplit_once('/') {
            directories.insert(parent.to_owned());
            path = parent;
        }
    }
    let mut tar = TarWriter::new(0);
    for directory in &directories {
        tar.directory(directory, 0o755)?;
    }
    let mut files: Vec<&LayerFile> = files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    for file in files {
        tar.file(&file.path, file.mode, &file.content)?;
    }
    Ok(tar.finish())
}

/// Builds the archive. The same spec always gives the same bytes.
pub fn build(spec: &ImageSpec) -> Result<ImageArchive, TarError> {
    let layer = layer(&spec.files)?;
    let layer_digest = digest(&layer);
    let labels: serde_json::Map<String, serde_json::Value> =
        spec.labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let config = json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": spec.user,
            "Entrypoint": spec.entrypoint,
            "Env": spec.env,
            "WorkingDir": "/",
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        "history": [{"created_by": "cargo xtask images"}],
    });
    let config = serde_json::to_vec(&config).unwrap_or_default();
    let config_digest = digest(&config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest,
            "size": config.len(),
        },
        "layers": [{
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": layer_digest,
            "size": layer.len(),
        }],
    });
    let manifest = serde_json::to_vec(&manifest).unwrap_or_default();
    let manifest_digest = digest(&manifest);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": {"architecture": "amd64", "os": "linux"},
            "annotations": {
                "io.containerd.image.name": spec.reference,
                "org.opencontainers.image.ref.name": spec.reference,
            },
        }],
    });
    let index = serde_json::to_vec(&index).unwrap_or_default();

    let mut archive = TarWriter::new(0);
    archive.file("oci-layout", 0o644, br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    archive.file("index.json", 0o644, &index)?;
    archive.directory("blobs", 0o755)?;
    archive.directory("blobs/sha256", 0o755)?;
    for (blob_digest, blob) in [
        (&manifest_digest, &manifest),
        (&config_digest, &config),
        (&layer_digest, &layer),
    ] {
        let hex = blob_digest.trim_start_matches("sha256:");
        archive.file(&format!("blobs/sha256/{hex}"), 0o644, blob)?;
    }
    Ok(ImageArchive {
        bytes: archive.finish(),
        manifest_digest,
        layer_size: layer.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ImageSpec {
        ImageSpec {
            reference: "localhost/holt/x:1".to_owned(),
            files: vec![LayerFile {
                path: "usr/local/bin/x".to_owned(),
                mode: 0o755,
                content: b"#!".to_vec(),
            }],
            user: "65532:65532".to_owned(),
            entrypoint: vec!["/usr/local/bin/x".to_owned()],
            env: vec![],
            labels: vec![],
        }
    }

    #[test]
    fn the_same_spec_gives_the_same_bytes() -> Result<(), TarError> {
        let a = build(&spec())?;
        let b = build(&spec())?;
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.manifest_digest, b.manifest_digest);
        let mut other = spec();
        other.user = "0:0".to_owned();
        assert_ne!(build(&other)?.manifest_digest, a.manifest_digest);
        Ok(())
    }

    #[test]
    fn digests_are_sha256() {
        assert_eq!(
            digest(b"abc"),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
