//! Which embedded store keeps the mapper's discovered intents: redb, fjall, SQLite (rusqlite, bundled)
//! and an append-only log of our own, measured on the mapper's workload.
//!
//! The workload: records of a (client, target) key of ~70 bytes and a value of ~60 bytes (first and
//! last seen, a Service, addresses), as the mapper's store has them. For each candidate, in a fresh
//! directory: load `N` records (commits of 100,000), then 20 durable commits of 1,000 changed records
//! (the steady state: what changed in one snapshot interval), one durable commit of 100,000 changed
//! records (a flood), then close, reopen and read every record back into a map (a restart). Every commit
//! is durable (fsync) before it returns.
//!
//! `cargo run --release --manifest-path crates/holt-mapper/benches/store-candidates/Cargo.toml [N] [candidates]`
//! (default 1,000,000 records, every candidate). This is a workspace of its own, so that the candidates
//! are compiled only when it runs.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

type Records = Vec<(Vec<u8>, Vec<u8>)>;

trait Candidate {
    fn name(&self) -> &'static str;
    /// Writes `records` (insert or replace) in one durable commit.
    fn commit(&mut self, records: &[(Vec<u8>, Vec<u8>)]);
    /// Closes the store.
    fn close(self: Box<Self>);
}

fn key(n: usize) -> Vec<u8> {
    format!(
        "ns-{:03}\0client-deployment-{:05}\0Deployment\0internet\0api-{:07}.example.com",
        n % 500,
        n % 20_000,
        n
    )
    .into_bytes()
}

fn value(n: usize, round: usize) -> Vec<u8> {
    format!(
        "{{\"f\":{},\"l\":{},\"ips\":[\"93.184.{}.{}\"]}}",
        1_700_000_000_000u64 + n as u64,
        1_700_000_000_000u64 + (n + round) as u64,
        n / 250 % 250,
        n % 250
    )
    .into_bytes()
}

fn batch(range: impl Iterator<Item = usize>, round: usize) -> Records {
    range.map(|n| (key(n), value(n, round))).collect()
}

// --- redb -------------------------------------------------------------------------------------------

const REDB_TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("intents");

struct Redb(redb::Database);

fn redb_open(dir: &Path) -> Box<dyn Candidate> {
    Box::new(Redb(redb::Database::create(dir.join("intents.redb")).expect("redb")))
}

impl Candidate for Redb {
    fn name(&self) -> &'static str {
        "redb"
    }
    fn commit(&mut self, records: &[(Vec<u8>, Vec<u8>)]) {
        let tx = self.0.begin_write().expect("begin");
        {
            let mut table = tx.open_table(REDB_TABLE).expect("table");
            for (k, v) in records {
                table.insert(k.as_slice(), v.as_slice()).expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    fn close(self: Box<Self>) {}
}

fn redb_load(dir: &Path) -> usize {
    use redb::ReadableDatabase;
    let db = redb::Database::create(dir.join("intents.redb")).expect("redb");
    let tx = db.begin_read().expect("read");
    let table = tx.open_table(REDB_TABLE).expect("table");
    let mut map = HashMap::new();
    for entry in redb::ReadableTable::iter(&table).expect("iter") {
        let (k, v) = entry.expect("entry");
        map.insert(k.value().to_vec(), v.value().to_vec());
    }
    map.len()
}

// --- fjall ------------------------------------------------------------------------------------------

struct Fjall {
    db: fjall::Database,
    keyspace: fjall::Keyspace,
}

fn fjall_open(dir: &Path) -> Box<dyn Candidate> {
    let db = fjall::Database::builder(dir.join("fjall")).open().expect("fjall");
    let keyspace = db
        .keyspace("intents", fjall::KeyspaceCreateOptions::default)
        .expect("keyspace");
    Box::new(Fjall { db, keyspace })
}

impl Candidate for Fjall {
    fn name(&self) -> &'static str {
        "fjall"
    }
    fn commit(&mut self, records: &[(Vec<u8>, Vec<u8>)]) {
        let mut batch = self.db.batch();
        for (k, v) in records {
            batch.insert(&self.keyspace, k.as_slice(), v.as_slice());
        }
        batch.commit().expect("commit");
        self.db.persist(fjall::PersistMode::SyncAll).expect("persist");
    }
    fn close(self: Box<Self>) {}
}

fn fjall_load(dir: &Path) -> usize {
    let db = fjall::Database::builder(dir.join("fjall")).open().expect("fjall");
    let keyspace = db
        .keyspace("intents", fjall::KeyspaceCreateOptions::default)
        .expect("keyspace");
    let mut map = HashMap::new();
    for guard in keyspace.iter() {
        let (k, v) = guard.into_inner().expect("entry");
        map.insert(k.to_vec(), v.to_vec());
    }
    map.len()
}

// --- SQLite -----------------------------------------------------------------------------------------

struct Sqlite(rusqlite::Connection);

fn sqlite_connection(dir: &Path) -> rusqlite::Connection {
    let connection = rusqlite::Connection::open(dir.join("intents.sqlite")).expect("sqlite");
    connection
        .execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS intents (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;",
        )
        .expect("schema");
    connection
}

fn sqlite_open(dir: &Path) -> Box<dyn Candidate> {
    Box::new(Sqlite(sqlite_connection(dir)))
}

impl Candidate for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn commit(&mut self, records: &[(Vec<u8>, Vec<u8>)]) {
        let tx = self.0.transaction().expect("begin");
        {
            let mut insert = tx
                .prepare_cached("INSERT OR REPLACE INTO intents (k, v) VALUES (?1, ?2)")
                .expect("prepare");
            for (k, v) in records {
                insert.execute((k, v)).expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    fn close(self: Box<Self>) {
        // A checkpoint folds the WAL into the database, as a clean stop would.
        let _ = self.0.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    }
}

fn sqlite_load(dir: &Path) -> usize {
    let connection = sqlite_connection(dir);
    let mut query = connection.prepare("SELECT k, v FROM intents").expect("select");
    let mut rows = query.query(()).expect("query");
    let mut map = HashMap::new();
    while let Some(row) = rows.next().expect("row") {
        map.insert(row.get::<_, Vec<u8>>(0).expect("k"), row.get::<_, Vec<u8>>(1).expect("v"));
    }
    map.len()
}

// --- an append-only log of our own ------------------------------------------------------------------

/// Each record: key length (u32 LE), value length (u32 LE), CRC-32 of key and value, key, value. A
/// commit appends its records and fsyncs; loading replays the file, the last record of a key winning,
/// and stops at the first record that is torn or fails its checksum. (Compaction, rewriting the live
/// records when the file is twice their size, is not measured: it is a load plus a bulk write.)
struct Log(BufWriter<File>);

fn log_open(dir: &Path) -> Box<dyn Candidate> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("intents.log"))
        .expect("log");
    Box::new(Log(BufWriter::with_capacity(1 << 20, file)))
}

impl Candidate for Log {
    fn name(&self) -> &'static str {
        "own log"
    }
    fn commit(&mut self, records: &[(Vec<u8>, Vec<u8>)]) {
        for (k, v) in records {
            let mut crc = crc32fast::Hasher::new();
            crc.update(k);
            crc.update(v);
            self.0.write_all(&(k.len() as u32).to_le_bytes()).expect("write");
            self.0.write_all(&(v.len() as u32).to_le_bytes()).expect("write");
            self.0.write_all(&crc.finalize().to_le_bytes()).expect("write");
            self.0.write_all(k).expect("write");
            self.0.write_all(v).expect("write");
        }
        self.0.flush().expect("flush");
        self.0.get_ref().sync_data().expect("fsync");
    }
    fn close(self: Box<Self>) {}
}

fn log_load(dir: &Path) -> usize {
    let mut bytes = Vec::new();
    BufReader::new(File::open(dir.join("intents.log")).expect("log"))
        .read_to_end(&mut bytes)
        .expect("read");
    let mut map = HashMap::new();
    let mut at = 0;
    while at + 12 <= bytes.len() {
        let word = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let (k_len, v_len, crc) = (word(at) as usize, word(at + 4) as usize, word(at + 8));
        let end = at + 12 + k_len + v_len;
        if end > bytes.len() {
            break;
        }
        let (k, v) = (&bytes[at + 12..at + 12 + k_len], &bytes[at + 12 + k_len..end]);
        let mut check = crc32fast::Hasher::new();
        check.update(k);
        check.update(v);
        if check.finalize() != crc {
            break;
        }
        map.insert(k.to_vec(), v.to_vec());
        at = end;
    }
    map.len()
}

// --- the run ----------------------------------------------------------------------------------------

fn size_on_disk(path: &Path) -> u64 {
    let Ok(meta) = fs::metadata(path) else { return 0 };
    if meta.is_file() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|entries| entries.filter_map(Result::ok).map(|e| size_on_disk(&e.path())).sum())
        .unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let only: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    type Open = fn(&Path) -> Box<dyn Candidate>;
    type Load = fn(&Path) -> usize;
    let candidates: [(&str, Open, Load); 4] = [
        ("redb", redb_open, redb_load),
        ("fjall", fjall_open, fjall_load),
        ("sqlite", sqlite_open, sqlite_load),
        ("log", log_open, log_load),
    ];
    let base = std::env::var_os("HOLT_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("store-candidates-{}", std::process::id()));
    println!(
        "{:<8} {:>10} {:>11} {:>12} {:>12} {:>14} {:>11} {:>9}",
        "store", "records", "load_s", "change_ms", "change_p90", "flood_100k_ms", "reopen_s", "disk_mb"
    );
    for (label, open, load) in candidates {
        if !only.is_empty() && !only.contains(&label) {
            continue;
        }
        let dir = base.join(label);
        fs::create_dir_all(&dir).expect("dir");
        let mut store = open(&dir);
        let started = Instant::now();
        for start in (0..n).step_by(100_000) {
            store.commit(&batch(start..(start + 100_000).min(n), 0));
        }
        let load_time = started.elapsed();
        let mut changes = Vec::new();
        for round in 1..=20 {
            // 1,000 records spread over the store, changed.
            let records = batch((0..1_000).map(|i| (i * 7_919 + round * 13) % n), round);
            let started = Instant::now();
            store.commit(&records);
            changes.push(started.elapsed());
        }
        changes.sort();
        let records = batch((0..100_000).map(|i| (i * 7 + 3) % n), 99);
        let started = Instant::now();
        store.commit(&records);
        let flood = started.elapsed();
        let name = store.name();
        store.close();
        let started = Instant::now();
        let count = load(&dir);
        let reopen = started.elapsed();
        assert_eq!(count, n, "{name} reads back every record");
        println!(
            "{:<8} {:>10} {:>11.2} {:>12.1} {:>12.1} {:>14.0} {:>11.2} {:>9.0}",
            name,
            n,
            load_time.as_secs_f64(),
            ms(changes[changes.len() / 2]),
            ms(changes[changes.len() * 9 / 10]),
            ms(flood),
            reopen.as_secs_f64(),
            size_on_disk(&dir) as f64 / 1e6
        );
        let _ = fs::remove_dir_all(&dir);
    }
    let _ = fs::remove_dir_all(&base);
}
