//! Java KeyStores (JKS), written without Java: a keystore with one private key and its certificate chain,
//! and a truststore with trusted certificates, as `keytool` and every JVM read them.
//!
//! In: the key (PKCS#8 DER), certificates (DER), the password, the creation time and 20 random bytes (the
//! key protector's salt; the caller draws them, so this stays pure). Out: the store's bytes.
//!
//! The format (big-endian throughout): magic `FEEDFEED`, version 2, the entry count, then per entry its tag
//! (1 private key, 2 trusted certificate), alias (Java's modified UTF-8: a u16 length, then the bytes;
//! aliases are lower case, as Java keeps them) and creation time in milliseconds. A private key entry holds
//! the key protected with Sun's JKS key protector (OID 1.3.6.1.4.1.42.2.17.1.1, in an
//! `EncryptedPrivateKeyInfo`) and its chain; each certificate is its type (`X.509`) and DER with a u32
//! length. The store ends with a SHA-1 digest of the password (UTF-16BE), the words "Mighty Aphrodite" and
//! everything before, which Java checks against the password it is given.
//!
//! The key protector: salt (20 bytes), a keystream of SHA-1 blocks (`d₀ = salt`, `dᵢ = SHA-1(password ‖
//! dᵢ₋₁)`) XORed over the key, and SHA-1(password ‖ key) as a check: `salt ‖ encrypted key ‖ check`.

use jiff::Timestamp;
use ring::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY};

const MAGIC: u32 = 0xFEED_FEED;
const VERSION: u32 = 2;
const PRIVATE_KEY_TAG: u32 = 1;
const TRUSTED_CERT_TAG: u32 = 2;
const CERT_TYPE: &str = "X.509";
const INTEGRITY_WORDS: &[u8] = b"Mighty Aphrodite";
/// 1.3.6.1.4.1.42.2.17.1.1, DER-encoded content of the OBJECT IDENTIFIER.
const KEY_PROTECTOR_OID: [u8; 10] = [0x2b, 0x06, 0x01, 0x04, 0x01, 0x2a, 0x02, 0x11, 0x01, 0x01];
const SHA1_LEN: usize = 20;

/// The salt length of the key protector.
pub const SALT_LEN: usize = SHA1_LEN;

/// What does not fit the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JksError {
    #[error("the alias `{0}` is longer than 65535 bytes")]
    Alias(String),
    #[error("{what} is larger than 4 GiB")]
    TooLarge { what: &'static str },
    #[error("a private key entry needs at least one certificate")]
    EmptyChain,
}

/// A keystore with one private key entry, `alias`, holding `key_pkcs8` and its `chain` (the key's own
/// certificate first).
pub fn keystore(
    alias: &str,
    key_pkcs8: &[u8],
    chain: &[&[u8]],
    password: &str,
    created: Timestamp,
    salt: [u8; SALT_LEN],
) -> Result<Vec<u8>, JksError> {
    if chain.is_empty() {
        return Err(JksError::EmptyChain);
    }
    let mut out = header(1);
    put_u32(&mut out, PRIVATE_KEY_TAG);
    put_alias(&mut out, alias)?;
    put_u64(&mut out, millis(created));
    let protected = encrypted_private_key_info(&protect(key_pkcs8, password, salt));
    put_bytes(&mut out, &protected, "the protected key")?;
    put_u32(&mut out, chain.len() as u32);
    for cert in chain {
        put_certificate(&mut out, cert)?;
    }
    Ok(seal(out, password))
}

/// A truststore with one trusted certificate entry per `(alias, DER)`.
pub fn truststore(
    certificates: &[(String, &[u8])],
    password: &str,
    created: Timestamp,
) -> Result<Vec<u8>, JksError> {
    let count = u32::try_from(certificates.len()).map_err(|_| JksError::TooLarge {
        what: "the entry count",
    })?;
    let mut out = header(count);
    for (alias, cert) in certificates {
        put_u32(&mut out, TRUSTED_CERT_TAG);
        put_alias(&mut out, alias)?;
        put_u64(&mut out, millis(created));
        put_certificate(&mut out, cert)?;
    }
    Ok(seal(out, password))
}

/// The password as Java hashes it: each UTF-16 code unit, big-endian.
fn password_bytes(password: &str) -> Vec<u8> {
    password.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// The key protector's output: `salt ‖ key XOR keystream ‖ SHA-1(password ‖ key)`.
fn protect(key: &[u8], password: &str, salt: [u8; SALT_LEN]) -> Vec<u8> {
    let password = password_bytes(password);
    let mut out = Vec::with_capacity(SALT_LEN + key.len() + SHA1_LEN);
    out.extend_from_slice(&salt);
    let mut block: Vec<u8> = salt.to_vec();
    for chunk in key.chunks(SHA1_LEN) {
        let mut context = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
        context.update(&password);
        context.update(&block);
        block = context.finish().as_ref().to_vec();
        out.extend(chunk.iter().zip(&block).map(|(k, s)| k ^ s));
    }
    let mut check = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    check.update(&password);
    check.update(key);
    out.extend_from_slice(check.finish().as_ref());
    out
}

/// `EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier { keyProtectorOID, NULL }, OCTET STRING }`.
fn encrypted_private_key_info(protected: &[u8]) -> Vec<u8> {
    let mut algorithm = der(0x06, &KEY_PROTECTOR_OID);
    algorithm.extend(der(0x05, &[]));
    let mut body = der(0x30, &algorithm);
    body.extend(der(0x04, protected));
    der(0x30, &body)
}

/// One DER element: tag, definite length, content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let length = content.len();
    if length < 0x80 {
        out.push(length as u8);
    } else {
        let bytes = length.to_be_bytes();
        let significant: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | significant.len() as u8);
        out.extend(significant);
    }
    out.extend_from_slice(content);
    out
}

fn header(count: u32) -> Vec<u8> {
    let mut out = Vec::new();
    put_u32(&mut out, MAGIC);
    put_u32(&mut out, VERSION);
    put_u32(&mut out, count);
    out
}

/// Appends the integrity digest.
fn seal(mut out: Vec<u8>, password: &str) -> Vec<u8> {
    let mut context = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
    context.update(&password_bytes(password));
    context.update(INTEGRITY_WORDS);
    context.update(&out);
    out.extend_from_slice(context.finish().as_ref());
    out
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_be_bytes());
}

fn put_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// Java's `writeUTF` of the lower-cased alias. Modified UTF-8 differs from UTF-8 only for NUL and
/// characters outside the BMP, which aliases Holt writes never hold.
fn put_alias(out: &mut Vec<u8>, alias: &str) -> Result<(), JksError> {
    let alias = alias.to_lowercase();
    let length = u16::try_from(alias.len()).map_err(|_| JksError::Alias(alias.clone()))?;
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(alias.as_bytes());
    Ok(())
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8], what: &'static str) -> Result<(), JksError> {
    let length = u32::try_from(bytes.len()).map_err(|_| JksError::TooLarge { what })?;
    put_u32(out, length);
    out.extend_from_slice(bytes);
    Ok(())
}

fn put_certificate(out: &mut Vec<u8>, der: &[u8]) -> Result<(), JksError> {
    out.extend_from_slice(&(CERT_TYPE.len() as u16).to_be_bytes());
    out.extend_from_slice(CERT_TYPE.as_bytes());
    put_bytes(out, der, "a certificate")
}

fn millis(time: Timestamp) -> u64 {
    u64::try_from(time.as_millisecond()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha1(bytes: &[u8]) -> Vec<u8> {
        ring::digest::digest(&SHA1_FOR_LEGACY_USE_ONLY, bytes)
            .as_ref()
            .to_vec()
    }

    fn created() -> Timestamp {
        Timestamp::from_millisecond(1_700_000_000_123).expect("time")
    }

    /// The key protector undone, as Java's `KeyProtector.recover` does.
    fn recover(protected: &[u8], password: &str) -> Option<Vec<u8>> {
        let password = password_bytes(password);
        let salt = &protected[..SALT_LEN];
        let encrypted = &protected[SALT_LEN..protected.len() - SHA1_LEN];
        let check = &protected[protected.len() - SHA1_LEN..];
        let mut block = salt.to_vec();
        let mut key = Vec::new();
        for chunk in encrypted.chunks(SHA1_LEN) {
            block = sha1(&[password.as_slice(), &block].concat());
            key.extend(chunk.iter().zip(&block).map(|(e, s)| e ^ s));
        }
        (sha1(&[password.as_slice(), &key].concat()) == check).then_some(key)
    }

    #[test]
    fn the_key_protector_round_trips_and_checks_the_password() {
        let key: Vec<u8> = (0..=137u8).collect();
        let protected = protect(&key, "pässword", [7; SALT_LEN]);
        assert_eq!(protected.len(), SALT_LEN + key.len() + SHA1_LEN);
        assert_eq!(&protected[..SALT_LEN], &[7; SALT_LEN]);
        assert_ne!(&protected[SALT_LEN..SALT_LEN + key.len()], key.as_slice());
        assert_eq!(recover(&protected, "pässword"), Some(key));
        assert_eq!(recover(&protected, "password"), None);
    }

    #[test]
    fn a_keystore_has_the_header_entry_and_digest_java_expects() {
        let key = [1u8; 100];
        let cert = [2u8; 300];
        let ca = [3u8; 5];
        let store =
            keystore("PKey", &key, &[&cert, &ca], "password", created(), [9; SALT_LEN]).expect("store");
        assert_eq!(&store[..12], &[0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 1]);
        assert_eq!(&store[12..16], &[0, 0, 0, 1], "a private key entry");
        assert_eq!(&store[16..22], b"\x00\x04pkey", "the alias, lower case");
        assert_eq!(&store[22..30], &1_700_000_000_123u64.to_be_bytes());
        let (body, digest) = store.split_at(store.len() - SHA1_LEN);
        let expected = sha1(&[password_bytes("password").as_slice(), INTEGRITY_WORDS, body].concat());
        assert_eq!(digest, expected.as_slice());
        // The protected key is an EncryptedPrivateKeyInfo with the key protector's OID, and recovers.
        let length = u32::from_be_bytes(store[30..34].try_into().expect("4 bytes")) as usize;
        let info = &store[34..34 + length];
        assert_eq!(info[0], 0x30);
        let oid_at = info
            .windows(KEY_PROTECTOR_OID.len())
            .position(|w| w == KEY_PROTECTOR_OID);
        assert!(oid_at.is_some());
        let protected = &info[info.len() - (SALT_LEN + key.len() + SHA1_LEN)..];
        assert_eq!(recover(protected, "password"), Some(key.to_vec()));
        // Then the chain: two certificates of type X.509.
        let rest = &store[34 + length..store.len() - SHA1_LEN];
        assert_eq!(&rest[..4], &[0, 0, 0, 2]);
        assert_eq!(&rest[4..11], b"\x00\x05X.509");
        assert_eq!(&rest[11..15], &300u32.to_be_bytes());
        assert_eq!(rest.len(), 4 + (7 + 4 + 300) + (7 + 4 + 5));
    }

    #[test]
    fn a_truststore_holds_one_entry_per_certificate() {
        let a = [4u8; 10];
        let b = [5u8; 20];
        let store =
            truststore(&[("ca-0".into(), &a), ("ca-1".into(), &b)], "changeit", created()).expect("store");
        assert_eq!(&store[8..12], &[0, 0, 0, 2]);
        assert_eq!(&store[12..16], &[0, 0, 0, 2], "a trusted certificate entry");
        assert_eq!(store.len(), 12 + 2 * (4 + 2 + 4 + 8 + 7 + 4) + 10 + 20 + SHA1_LEN);
        let (body, digest) = store.split_at(store.len() - SHA1_LEN);
        let expected = sha1(&[password_bytes("changeit").as_slice(), INTEGRITY_WORDS, body].concat());
        assert_eq!(digest, expected.as_slice());
    }

    #[test]
    fn der_lengths_use_the_long_form_from_128_bytes() {
        assert_eq!(der(0x04, &[0; 5])[..2], [0x04, 5]);
        assert_eq!(der(0x04, &[0; 128])[..3], [0x04, 0x81, 128]);
        assert_eq!(der(0x04, &[0; 300])[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(
            keystore("a", &[1], &[], "p", created(), [0; SALT_LEN]),
            Err(JksError::EmptyChain)
        );
    }
}
