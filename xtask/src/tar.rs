//! A tar archive writer (POSIX ustar), enough for image layers and OCI archives: directories and regular
//! files with a mode, owned by root, all with one fixed modification time so that the same input gives the
//! same bytes (and so the same image digests).
//!
//! In: entries in the order they should appear. Out: the archive's bytes.

use thiserror::Error;

const BLOCK: usize = 512;

#[derive(Debug, Error)]
pub enum TarError {
    #[error("tar path {path:?} is longer than ustar allows (100 bytes of name, 155 of prefix)")]
    PathTooLong { path: String },
    #[error("tar entry {path:?} is larger than ustar allows (8 GiB)")]
    TooLarge { path: String },
}

/// An archive being written.
#[derive(Debug, Default)]
pub struct TarWriter {
    bytes: Vec<u8>,
    mtime: u64,
}

impl TarWriter {
    /// A new archive whose entries all carry `mtime` (seconds since the epoch).
    pub fn new(mtime: u64) -> Self {
        Self {
            bytes: Vec::new(),
            mtime,
        }
    }

    /// A directory (`path` without a trailing slash).
    pub fn directory(&mut self, path: &str, mode: u32) -> Result<(), TarError> {
        self.header(&format!("{path}/"), mode, 0, b'5')
    }

    /// A regular file.
    pub fn file(&mut self, path: &str, mode: u32, content: &[u8]) -> Result<(), TarError> {
        self.header(path, mode, content.len() as u64, b'0')?;
        self.bytes.extend_from_slice(content);
        let padding = (BLOCK - content.len() % BLOCK) % BLOCK;
        self.bytes.resize(self.bytes.len() + padding, 0);
        Ok(())
    }

    /// The archive, closed with its two zero blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.bytes.resize(self.bytes.len() + 2 * BLOCK, 0);
        self.bytes
    }

    fn header(&mut self, path: &str, mode: u32, size: u64, kind: u8) -> Result<(), TarError> {
        if size >= 8 << 30 {
            return Err(TarError::TooLarge {
                path: path.to_owned(),
            });
        }
        let (prefix, name) = split_path(path)?;
        let mut header = [0u8; BLOCK];
        put(&mut header[0..100], name.as_bytes());
        put(&mut header[100..108], format!("{mode:07o}\0").as_bytes());
        put(&mut header[108..116], b"0000000\0"); // uid
        put(&mut header[116..124], b"0000000\0"); // gid
        put(&mut header[124..136], format!("{size:011o}\0").as_bytes());
        put(&mut header[136..148], format!("{:011o}\0", self.mtime).as_bytes());
        header[148..156].fill(b' '); // checksum counted as spaces
        header[156] = kind;
        put(&mut header[257..263], b"ustar\0");
        put(&mut header[263..265], b"00");
        put(&mut header[265..297], b"root");
        put(&mut header[297..329], b"root");
        put(&mut header[345..500], prefix.as_bytes());
        let checksum: u32 = header.iter().map(|b| u32::from(*b)).sum();
        put(&mut header[148..156], format!("{checksum:06o}\0 ").as_bytes());
        self.bytes.extend_from_slice(&header);
        Ok(())
    }
}

fn put(field: &mut [u8], value: &[u8]) {
    field[..value.len()].copy_from_slice(value);
}

/// ustar keeps a path as prefix (≤ 155) + `/` + name (≤ 100).
fn split_path(path: &str) -> Result<(&str, &str), TarError> {
    if path.len() <= 100 {
        return Ok(("", path));
    }
    let too_long = || TarError::PathTooLong {
        path: path.to_owned(),
    };
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let split = trimmed[..trimmed.len().min(156)]
        .rfind('/')
        .ok_or_else(too_long)?;
    let (prefix, name) = (&path[..split], &path[split + 1..]);
    if prefix.len() > 155 || name.len() > 100 || name.is_empty() {
        return Err(too_long());
    }
    Ok((prefix, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_block_aligned_with_valid_checksums() -> Result<(), TarError> {
        let mut tar = TarWriter::new(0);
        tar.directory("etc", 0o755)?;
        tar.file("etc/passwd", 0o644, b"root:x:0:0::/:/sbin/nologin\n")?;
        let bytes = tar.finish();
        assert_eq!(bytes.len(), 512 + 512 + 512 + 1024);
        for header in [&bytes[0..512], &bytes[512..1024]] {
            let stored = std::str::from_utf8(&header[148..154]).map(|s| u32::from_str_radix(s, 8));
            let mut copy = header.to_vec();
            copy[148..156].fill(b' ');
            let sum: u32 = copy.iter().map(|b| u32::from(*b)).sum();
            assert_eq!(stored, Ok(Ok(sum)));
        }
        assert_eq!(&bytes[0..4], b"etc/");
        assert_eq!(bytes[156], b'5');
        assert_eq!(&bytes[1024..1052], b"root:x:0:0::/:/sbin/nologin\n");
        Ok(())
    }

    #[test]
    fn long_paths_use_the_prefix_field() -> Result<(), TarError> {
        let long = format!("{}/file", "d".repeat(120));
        assert_eq!(split_path(&long)?, ("d".repeat(120).as_str(), "file"));
        assert!(split_path(&"x".repeat(300)).is_err());
        Ok(())
    }
}
