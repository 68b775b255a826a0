//! The discovered intents on disk: an append-only log in the state directory (`intents.log`), written
//! incrementally and compacted now and then. In: the store's [`Changes`] (what changed since the last
//! write) or the whole store (a compaction). Out: a file that reads back into the same store at start.
//!
//! Chosen by measurement over redb, fjall and SQLite (`benches/store-candidates`, figures in
//! `docs/mapper.md`): with a million intents, a write of 1,000 changed records takes a few
//! milliseconds (one `fdatasync`), and reading the whole log back takes about a second and a half.
//!
//! The file: an 8-byte header (`HOLTLG01`), then records of a kind byte, key and value lengths (`u32`
//! each), a CRC-32C of kind, key and value, the key and the value ([`crate::record_codec`]). Kinds:
//! intent written, DNS name written, DNS name forgotten, everything forgotten (a reset). Reading
//! replays the records in order, the last of a key winning.
//! Kinds since: Kafka topic use written ([`crate::kafka_discovery`]), Kafka topic use forgotten (its
//! reset). A kind a version does not know is skipped, so an older mapper reads a newer log without them.
//!
//! Durability: a write appends its records and `fdatasync`s before it returns. A crash in the middle of
//! a write leaves a torn or mismatching last record: reading stops there, the file is cut back to the
//! last whole record, and the loss is reported (a write that failed is tried again whole). A compaction
//! writes the whole store to a temporary file, `fsync`s it, renames it over the log and `fsync`s the
//! directory: a crash leaves the old log or the new one. A log whose header is wrong is moved aside
//! (`intents.log.corrupt-<unix ms>`), never deleted, and the mapper starts empty.
//!
//! An `intents.json` of an earlier version is imported once (then renamed `intents.json.imported-<unix
//! ms>`).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::kafka_discovery::{KafkaChanges, KafkaDiscovery, KafkaKey, KafkaRecord};
use crate::record_codec::{self, DecodeError};
use crate::snapshot::{self, Loaded};
use crate::store::{Changes, DnsName, IntentKey, Record, Store};

/// The log's file name in the state directory.
pub const FILE_NAME: &str = "intents.log";
const HEADER: &[u8; 8] = b"HOLTLG01";
/// Kind byte, key length, value length, checksum.
const RECORD_HEADER: usize = 13;
/// A compaction is due once the log is this much larger than twice what it held after the last one.
const COMPACTION_SLACK: u64 = 64 << 20;

const INTENT: u8 = 1;
const DNS: u8 = 2;
const DNS_FORGOTTEN: u8 = 3;
const RESET: u8 = 4;
const KAFKA: u8 = 5;
const KAFKA_RESET: u8 = 6;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot create the state directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot read the intent log {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write the intent log {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot move the unreadable intent log {path} aside to {to}: {source}")]
    MoveAside {
        path: PathBuf,
        to: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Import(#[from] snapshot::SnapshotError),
}

/// What opening found, for the log.
#[derive(Debug, Default)]
pub struct Opened {
    /// Intents and DNS names read back.
    pub intents: usize,
    pub dns_names: usize,
    /// Kafka topic-use records read back, for [`KafkaDiscovery::load`].
    pub kafka: BTreeMap<KafkaKey, KafkaRecord>,
    /// Bytes after the last whole record (a write cut short by a crash), cut off.
    pub torn_bytes: u64,
    /// How long reading the records back took (decoding and replaying them).
    pub replay_ms: u64,
    /// The log was unreadable and moved here; the mapper starts empty.
    pub moved_aside: Option<(PathBuf, String)>,
    /// An earlier version's `intents.json` was imported (and moved here), or moved aside unreadable.
    pub imported: Option<PathBuf>,
    pub import_failed: Option<(PathBuf, String)>,
}

/// The open log.
#[derive(Debug)]
pub struct IntentLog {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    /// Bytes in the file.
    bytes: u64,
    /// Bytes right after the last compaction (or at opening).
    compacted_bytes: u64,
    /// A write failed half-way: the next write is a compaction.
    broken: bool,
}

fn write_error(path: &Path) -> impl Fn(std::io::Error) -> LogError + '_ {
    move |source| LogError::Write {
        path: path.to_owned(),
        source,
    }
}

fn push_record(
    out: &mut Vec<u8>,
    kind: u8,
    key: impl FnOnce(&mut Vec<u8>),
    value: impl FnOnce(&mut Vec<u8>),
) {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER]);
    key(out);
    let key_end = out.len();
    value(out);
    let key_len = (key_end - start - RECORD_HEADER) as u32;
    let value_len = (out.len() - key_end) as u32;
    out[start] = kind;
    out[start + 1..start + 5].copy_from_slice(&key_len.to_le_bytes());
    out[start + 5..start + 9].copy_from_slice(&value_len.to_le_bytes());
    let checksum = crc32c::crc32c_append(crc32c::crc32c(&[kind]), &out[start + RECORD_HEADER..]);
    out[start + 9..start + 13].copy_from_slice(&checksum.to_le_bytes());
}

fn push_intent(out: &mut Vec<u8>, key: &IntentKey, record: &Record) {
    push_record(
        out,
        INTENT,
        |o| record_codec::encode_key(key, o),
        |o| record_codec::encode_record(record, o),
    );
}

fn push_dns(out: &mut Vec<u8>, name: &str, entry: Option<&DnsName>) {
    match entry {
        Some(entry) => push_record(
            out,
            DNS,
            |o| record_codec::encode_name(name, o),
            |o| record_codec::encode_dns(entry, o),
        ),
        None => push_record(out, DNS_FORGOTTEN, |o| record_codec::encode_name(name, o), |_| {}),
    }
}

/// The records of `changes` (taken from the store under its lock).
pub fn encode_changes(changes: &Changes) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + changes.intents.len() * 160 + changes.dns.len() * 64);
    if changes.reset {
        push_record(&mut out, RESET, |_| {}, |_| {});
    }
    for (key, record) in &changes.intents {
        // Intents only go with a reset, which came first.
        if let Some(record) = record {
            push_intent(&mut out, key, record);
        }
    }
    for (name, entry) in &changes.dns {
        push_dns(&mut out, name, entry.as_ref());
    }
    out
}

fn push_kafka(out: &mut Vec<u8>, key: &KafkaKey, record: &KafkaRecord) {
    push_record(
        out,
        KAFKA,
        |o| record_codec::encode_kafka_key(key, o),
        |o| record_codec::encode_kafka_record(record, o),
    );
}

/// Appends the records of Kafka topic use's `changes` to `out` (after the store's changes).
pub fn encode_kafka_changes(changes: &KafkaChanges, out: &mut Vec<u8>) {
    if changes.reset {
        push_record(out, KAFKA_RESET, |_| {}, |_| {});
    }
    for (key, record) in &changes.records {
        push_kafka(out, key, record);
    }
}

/// Appends every Kafka topic-use record to a compaction's `out` (after [`encode_store`]).
pub fn encode_kafka(kafka: &KafkaDiscovery, out: &mut Vec<u8>) {
    for (key, record) in kafka.records() {
        push_kafka(out, key, record);
    }
}

/// The records of the whole store, for a compaction (under its lock: about 0.1 µs per record).
pub fn encode_store(store: &Store) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER.len() + store.len() * 160 + store.dns_len() * 40);
    out.extend_from_slice(HEADER);
    for (key, record) in store.records() {
        push_intent(&mut out, key, record);
    }
    for (name, entry) in store.dns() {
        push_dns(&mut out, name, Some(entry));
    }
    out
}

/// What reading a log replays.
#[derive(Debug, Default)]
struct Replayed {
    intents: BTreeMap<IntentKey, Record>,
    dns: BTreeMap<String, DnsName>,
    kafka: BTreeMap<KafkaKey, KafkaRecord>,
    /// Offset after the last whole record.
    good: usize,
}

fn replay(bytes: &[u8]) -> Replayed {
    let mut replayed = Replayed {
        good: HEADER.len(),
        ..Replayed::default()
    };
    let mut at = HEADER.len();
    while let Some(header) = bytes.get(at..at + RECORD_HEADER) {
        let word = |i: usize| u32::from_le_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let (kind, key_len, value_len, checksum) = (header[0], word(1) as usize, word(5) as usize, word(9));
        let body_start = at + RECORD_HEADER;
        let Some(body) = key_len
            .checked_add(value_len)
            .and_then(|len| bytes.get(body_start..body_start.checked_add(len)?))
        else {
            break;
        };
        if crc32c::crc32c_append(crc32c::crc32c(&[kind]), body) != checksum {
            break;
        }
        let (key, value) = body.split_at(key_len);
        let applied: Result<(), DecodeError> = (|| {
            match kind {
                INTENT => {
                    let key = record_codec::decode_key(key)?;
                    replayed.intents.insert(key, record_codec::decode_record(value)?);
                }
                DNS => {
                    let name = record_codec::decode_name(key)?;
                    replayed.dns.insert(name, record_codec::decode_dns(value)?);
                }
                DNS_FORGOTTEN => {
                    replayed.dns.remove(&record_codec::decode_name(key)?);
                }
                RESET => {
                    replayed.intents.clear();
                    replayed.dns.clear();
                    replayed.kafka.clear();
                }
                KAFKA => {
                    let key = record_codec::decode_kafka_key(key)?;
                    replayed
                        .kafka
                        .insert(key, record_codec::decode_kafka_record(value)?);
                }
                KAFKA_RESET => replayed.kafka.clear(),
                // A kind this version does not know: skipped (its checksum held).
                _ => {}
            }
            Ok(())
        })();
        if applied.is_err() {
            break;
        }
        at = body_start + key_len + value_len;
        replayed.good = at;
    }
    replayed
}

impl IntentLog {
    /// Opens (or creates) `<dir>/intents.log` and reads it into `store`.
    pub fn open(dir: &Path, store: &mut Store, now_ms: u64) -> Result<(IntentLog, Opened), LogError> {
        fs::create_dir_all(dir).map_err(|source| LogError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(FILE_NAME);
        let mut opened = Opened::default();
        let mut bytes = Vec::new();
        match File::open(&path) {
            Ok(mut file) => {
                file.read_to_end(&mut bytes).map_err(|source| LogError::Read {
                    path: path.clone(),
                    source,
                })?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(LogError::Read { path, source }),
        }
        if !bytes.is_empty() && !bytes.starts_with(HEADER) {
            let to = dir.join(format!("{FILE_NAME}.corrupt-{now_ms}"));
            fs::rename(&path, &to).map_err(|source| LogError::MoveAside {
                path: path.clone(),
                to: to.clone(),
                source,
            })?;
            opened.moved_aside = Some((to, "the file does not begin with the intent log's header".into()));
            bytes.clear();
        }
        let fresh = bytes.is_empty();
        if fresh {
            // First start with this format: an earlier version's snapshot, if any, is imported.
            match snapshot::load(dir, now_ms)? {
                Loaded::Fresh => {}
                Loaded::Restored(contents) => {
                    store.import(contents, now_ms);
                    let to = dir.join(format!("{}.imported-{now_ms}", snapshot::FILE_NAME));
                    let from = dir.join(snapshot::FILE_NAME);
                    fs::rename(&from, &to).map_err(|source| LogError::MoveAside {
                        path: from,
                        to: to.clone(),
                        source,
                    })?;
                    opened.imported = Some(to);
                }
                Loaded::MovedAside { reason, moved_to, .. } => {
                    opened.import_failed = Some((moved_to, reason))
                }
            }
        } else {
            let started = std::time::Instant::now();
            let replayed = replay(&bytes);
            opened.torn_bytes = (bytes.len() - replayed.good) as u64;
            opened.intents = replayed.intents.len();
            opened.dns_names = replayed.dns.len();
            opened.kafka = replayed.kafka;
            opened.replay_ms = started.elapsed().as_millis() as u64;
            drop(bytes);
            store.load_intents(replayed.intents);
            for (name, entry) in replayed.dns {
                store.load_dns(name, entry);
            }
            if opened.torn_bytes > 0 {
                let file = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(write_error(&path))?;
                file.set_len(replayed.good as u64).map_err(write_error(&path))?;
                file.sync_all().map_err(write_error(&path))?;
            }
        }
        let mut log = IntentLog {
            dir: dir.to_owned(),
            file: OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(write_error(&path))?,
            path,
            bytes: 0,
            compacted_bytes: 0,
            broken: false,
        };
        if fresh {
            // Writes the header (and whatever was imported).
            log.compact(&encode_store(store))?;
            let _ = store.take_changes();
        } else {
            log.bytes = log.file.metadata().map_err(write_error(&log.path))?.len();
            log.compacted_bytes = log.bytes;
        }
        Ok((log, opened))
    }

    /// Whether the next write should be a compaction (the log grew past twice its compacted size and
    /// the slack, or a write failed half-way).
    pub fn compaction_due(&self) -> bool {
        self.broken
            || self.bytes
                > self
                    .compacted_bytes
                    .saturating_mul(2)
                    .saturating_add(COMPACTION_SLACK)
    }

    /// Bytes in the log.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Appends `records` ([`encode_changes`]) and waits until they are on disk.
    pub fn append(&mut self, records: &[u8]) -> Result<(), LogError> {
        if records.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(records).and_then(|()| self.file.sync_data());
        match result {
            Ok(()) => {
                self.bytes += records.len() as u64;
                Ok(())
            }
            Err(source) => {
                // What was written of it may be a torn record; the next write rewrites the log.
                self.broken = true;
                Err(LogError::Write {
                    path: self.path.clone(),
                    source,
                })
            }
        }
    }

    /// Replaces the log with `store_records` ([`encode_store`]), atomically.
    pub fn compact(&mut self, store_records: &[u8]) -> Result<(), LogError> {
        let temporary = self.dir.join(format!("{FILE_NAME}.tmp"));
        let write = |source| LogError::Write {
            path: temporary.clone(),
            source,
        };
        let mut out = File::create(&temporary).map_err(write)?;
        out.write_all(store_records).map_err(write)?;
        out.sync_all().map_err(write)?;
        drop(out);
        fs::rename(&temporary, &self.path).map_err(write_error(&self.path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(write_error(&self.dir))?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(write_error(&self.path))?;
        self.bytes = store_records.len() as u64;
        self.compacted_bytes = self.bytes;
        self.broken = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use holt_model::Identity;

    use super::*;
    use crate::store::{StoreLimits, TargetKey};

    fn filled(n: usize) -> Store {
        let mut store = Store::new(StoreLimits {
            max_intents: usize::MAX,
            max_intents_per_client: usize::MAX,
            max_internet_targets_per_client: usize::MAX,
            group_internet_addresses_after: usize::MAX,
            ..StoreLimits::default()
        });
        for i in 0..n {
            let client = Identity::new("ns", format!("client-{}", i % 7), Some("Deployment"));
            store
                .record(
                    client,
                    TargetKey::Domain(format!("d{i}.example.com")),
                    i as u64,
                    None,
                    None,
                )
                .expect("kept");
        }
        store.record_dns("d1.example.com", "93.184.216.34".parse().expect("ip"), 5);
        store
    }

    fn reopened(dir: &Path) -> (Store, Opened) {
        let mut store = Store::default();
        let (_, opened) = IntentLog::open(dir, &mut store, 1).expect("open");
        (store, opened)
    }

    #[test]
    fn changes_appended_read_back_and_a_compaction_keeps_the_same_store() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::default();
        let (mut log, opened) = IntentLog::open(dir.path(), &mut store, 1).expect("open");
        assert_eq!(opened.intents, 0);
        let mut source = filled(100);
        log.append(&encode_changes(&source.take_changes()))
            .expect("append");
        // A change to one intent appends one record; read back, the last one wins.
        let client = Identity::new("ns", "client-3", Some("Deployment"));
        source
            .record(
                client,
                TargetKey::Domain("d3.example.com".into()),
                1_000,
                None,
                None,
            )
            .expect("known");
        let before = log.bytes();
        log.append(&encode_changes(&source.take_changes()))
            .expect("append");
        assert!(
            log.bytes() - before < 200,
            "{} bytes for one change",
            log.bytes() - before
        );
        let (back, opened) = reopened(dir.path());
        assert_eq!((opened.intents, opened.dns_names, opened.torn_bytes), (100, 1, 0));
        assert_eq!(back.contents(), source.contents());
        log.compact(&encode_store(&source)).expect("compact");
        let (back, _) = reopened(dir.path());
        assert_eq!(back.contents(), source.contents());
        // A reset is durable.
        source.reset();
        log.append(&encode_changes(&source.take_changes()))
            .expect("append");
        let (back, _) = reopened(dir.path());
        assert!(back.is_empty() && back.dns().is_empty());
    }

    #[test]
    fn kafka_topic_use_is_appended_compacted_and_reset_with_the_intents() {
        use crate::kafka_authz::AuthzDecision;
        use holt_api::v2beta1::KafkaOperation;

        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::default();
        let (mut log, _) = IntentLog::open(dir.path(), &mut store, 1).expect("open");
        let mut source = filled(3);
        let mut kafka = KafkaDiscovery::new(10);
        let client = Identity::new("shop", "client", Some("Deployment"));
        let decide = |kafka: &mut KafkaDiscovery, allowed, operation, topic: &str, at| {
            let decision = AuthzDecision {
                principal: "User:CN=client.shop".into(),
                allowed,
                operation,
                host: "10.0.0.1".parse().expect("ip"),
                topic: topic.into(),
            };
            kafka.record("kafka.kafka", &decision, Some(client.clone()), at);
        };
        decide(&mut kafka, true, KafkaOperation::Produce, "orders", 10);
        decide(&mut kafka, false, KafkaOperation::Describe, "payments", 20);
        let write = |log: &mut IntentLog, store: &mut Store, kafka: &mut KafkaDiscovery| {
            let mut records = encode_changes(&store.take_changes());
            encode_kafka_changes(&kafka.take_changes(), &mut records);
            log.append(&records).expect("append");
        };
        write(&mut log, &mut source, &mut kafka);
        assert!(!kafka.is_dirty());
        let read_back = |dir: &Path| {
            let (store, opened) = reopened(dir);
            let mut kafka = KafkaDiscovery::new(10);
            kafka.load(opened.kafka);
            (store, kafka)
        };
        let every = crate::store::Filter::default();
        let (back, back_kafka) = read_back(dir.path());
        assert_eq!(back.contents(), source.contents(), "the intents beside them");
        assert_eq!(back_kafka.uses(&every), kafka.uses(&every));
        assert_eq!(back_kafka.uses(&every).len(), 2);

        let mut records = encode_store(&source);
        encode_kafka(&kafka, &mut records);
        log.compact(&records).expect("compact");
        assert_eq!(read_back(dir.path()).1.uses(&every), kafka.uses(&every));

        // Forgetting the Kafka records alone keeps the intents; a reset of everything forgets both.
        kafka.clear();
        write(&mut log, &mut source, &mut kafka);
        let (back, back_kafka) = read_back(dir.path());
        assert!(back_kafka.is_empty());
        assert_eq!(back.len(), 3);
        decide(&mut kafka, true, KafkaOperation::Consume, "orders", 30);
        write(&mut log, &mut source, &mut kafka);
        assert_eq!(read_back(dir.path()).1.len(), 1);
        source.reset();
        write(&mut log, &mut source, &mut KafkaDiscovery::new(10));
        let (back, back_kafka) = read_back(dir.path());
        assert!(back.is_empty() && back_kafka.is_empty());
    }

    #[test]
    fn a_torn_last_record_is_cut_off_and_everything_before_it_kept() {
        let dir = tempfile::tempdir().expect("dir");
        let mut store = Store::default();
        let (mut log, _) = IntentLog::open(dir.path(), &mut store, 1).expect("open");
        let mut source = filled(10);
        log.append(&encode_changes(&source.take_changes()))
            .expect("append");
        let whole = log.bytes();
        let mut more = filled(20);
        let records = encode_changes(&more.take_changes());
        // A crash in the middle of a write: half of it reached the disk.
        log.append(&records[..records.len() / 2]).expect("append");
        let (back, opened) = reopened(dir.path());
        assert!(opened.torn_bytes > 0);
        assert!(back.len() >= 10, "{}", back.len());
        assert_eq!(
            fs::metadata(dir.path().join(FILE_NAME)).expect("log").len(),
            whole + (records.len() / 2) as u64 - opened.torn_bytes
        );
        // A flipped byte in a record: reading stops before it.
        let mut bytes = fs::read(dir.path().join(FILE_NAME)).expect("read");
        let last = bytes.len() - 3;
        bytes[last] ^= 0xff;
        fs::write(dir.path().join(FILE_NAME), &bytes).expect("write");
        let (_, opened) = reopened(dir.path());
        assert!(opened.torn_bytes > 0);
    }

    #[test]
    fn an_unreadable_log_is_moved_aside_and_an_earlier_snapshot_imported() {
        let dir = tempfile::tempdir().expect("dir");
        fs::write(dir.path().join(FILE_NAME), b"not a log").expect("write");
        let (store, opened) = reopened(dir.path());
        assert!(store.is_empty());
        let (moved, _) = opened.moved_aside.expect("moved aside");
        assert_eq!(fs::read(moved).expect("kept"), b"not a log");

        let dir = tempfile::tempdir().expect("dir");
        let source = filled(5);
        snapshot::save(dir.path(), &source.contents()).expect("save");
        let (store, opened) = reopened(dir.path());
        assert_eq!(store.contents(), source.contents());
        assert!(opened.imported.expect("imported").exists());
        assert!(!dir.path().join(snapshot::FILE_NAME).exists());
        let (again, _) = reopened(dir.path());
        assert_eq!(again.contents(), source.contents(), "written to the log");
    }
}
