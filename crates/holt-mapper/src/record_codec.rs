//! The bytes of the store's records on disk (see [`crate::intent_log`]): an intent's key and record, an
//! internet name's DNS answers. In: the store's types. Out: compact bytes, and back; every length read
//! is checked, so bytes that are not a record decode to an error, never a panic.
//!
//! Strings are a `u16` length and UTF-8 bytes; times `u64`; addresses a family byte (4, 6) and 4 or 16
//! bytes; integers little-endian. A key is the client (namespace, name, kind or none) and the target (a
//! tag, then a workload, a domain, an address, or a network and its prefix). A record ends with its HTTP
//! paths (a `u16` count, then each path and its methods byte) only when it has any, so records written
//! by earlier versions read as records without paths. A Kafka topic-use key is the client (namespace,
//! name), the broker and the topic; its record the client's kind, the allowed and the denied operations
//! (a `u16` of [`KAFKA_OPERATIONS`] bits each) and the first and last seen times.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use holt_api::v2beta1::KafkaOperation;
use holt_mapper_api::IpBlock;
use holt_model::Identity;

use crate::kafka_discovery::{KafkaKey, KafkaRecord};
use crate::store::{DnsName, IntentKey, Record, TargetKey};

/// Why bytes are not a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a record: {0}")]
pub struct DecodeError(&'static str);

/// Writes with lengths and tags.
struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }
    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_le_bytes());
    }
    fn str(&mut self, text: &str) {
        // Names are far shorter than 64 KiB (the mapper refuses longer ones); cut, never wrap.
        let bytes = &text.as_bytes()[..text.len().min(usize::from(u16::MAX))];
        self.0.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
        self.0.extend_from_slice(bytes);
    }
    fn ip(&mut self, ip: IpAddr) {
        match ip {
            IpAddr::V4(v4) => {
                self.u8(4);
                self.0.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                self.u8(6);
                self.0.extend_from_slice(&v6.octets());
            }
        }
    }
    fn identity(&mut self, identity: &Identity) {
        self.str(&identity.namespace);
        self.str(&identity.name);
        match &identity.kind {
            Some(kind) => {
                self.u8(1);
                self.str(kind);
            }
            None => self.u8(0),
        }
    }
}

/// Reads what [`Writer`] wrote.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError("cut short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let bytes = self.take(2)?;
        Ok(u16::from_le_bytes([bytes[0], bytes[1]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(word))
    }
    fn str(&mut self) -> Result<String, DecodeError> {
        let len = usize::from(self.u16()?);
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| DecodeError("a string is not UTF-8"))
    }
    fn ip(&mut self) -> Result<IpAddr, DecodeError> {
        match self.u8()? {
            4 => {
                let mut octets = [0u8; 4];
                octets.copy_from_slice(self.take(4)?);
                Ok(IpAddr::V4(Ipv4Addr::from(octets)))
            }
            6 => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(self.take(16)?);
                Ok(IpAddr::V6(Ipv6Addr::from(octets)))
            }
            _ => Err(DecodeError("unknown address family")),
        }
    }
    fn identity(&mut self) -> Result<Identity, DecodeError> {
        let namespace = self.str()?;
        let name = self.str()?;
        let kind = match self.u8()? {
            0 => None,
            1 => Some(self.str()?),
            _ => return Err(DecodeError("bad kind flag")),
        };
        Ok(Identity {
            namespace,
            name,
            kind,
        })
    }
    fn end(&self) -> Result<(), DecodeError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DecodeError("bytes left over"))
        }
    }
}

const WORKLOAD: u8 = 1;
const DOMAIN: u8 = 2;
const ADDRESS: u8 = 3;
const NETWORK: u8 = 4;

pub fn encode_key(key: &IntentKey, out: &mut Vec<u8>) {
    let mut w = Writer(out);
    w.identity(&key.client);
    match &key.target {
        TargetKey::Workload(server) => {
            w.u8(WORKLOAD);
            w.identity(server);
        }
        TargetKey::Domain(domain) => {
            w.u8(DOMAIN);
            w.str(domain);
        }
        TargetKey::Address(ip) => {
            w.u8(ADDRESS);
            w.ip(*ip);
        }
        TargetKey::Network(block) => {
            w.u8(NETWORK);
            w.ip(block.address());
            w.u8(block.prefix());
        }
    }
}

pub fn decode_key(bytes: &[u8]) -> Result<IntentKey, DecodeError> {
    let mut r = Reader(bytes);
    let client = r.identity()?;
    let target = match r.u8()? {
        WORKLOAD => TargetKey::Workload(r.identity()?),
        DOMAIN => TargetKey::Domain(r.str()?),
        ADDRESS => TargetKey::Address(r.ip()?),
        NETWORK => {
            let address = r.ip()?;
            TargetKey::Network(IpBlock::network(address, r.u8()?))
        }
        _ => return Err(DecodeError("unknown target")),
    };
    r.end()?;
    Ok(IntentKey { client, target })
}

pub fn encode_record(record: &Record, out: &mut Vec<u8>) {
    let mut w = Writer(out);
    w.u64(record.first_seen_ms);
    w.u64(record.last_seen_ms);
    match &record.service {
        Some(service) => {
            w.u8(1);
            w.str(service);
        }
        None => w.u8(0),
    }
    let count = record.ips.len().min(usize::from(u16::MAX));
    w.0.extend_from_slice(&(count as u16).to_le_bytes());
    for ip in record.ips.iter().take(count) {
        w.ip(*ip);
    }
    // HTTP paths only when there are any: a record without them has the bytes of earlier versions.
    if !record.http.is_empty() {
        let count = record.http.len().min(usize::from(u16::MAX));
        w.0.extend_from_slice(&(count as u16).to_le_bytes());
        for (path, methods) in record.http.iter().take(count) {
            w.str(path);
            w.u8(*methods);
        }
    }
}

pub fn decode_record(bytes: &[u8]) -> Result<Record, DecodeError> {
    let mut r = Reader(bytes);
    let first_seen_ms = r.u64()?;
    let last_seen_ms = r.u64()?;
    let service = match r.u8()? {
        0 => None,
        1 => Some(r.str()?),
        _ => return Err(DecodeError("bad service flag")),
    };
    let mut ips = Vec::new();
    for _ in 0..r.u16()? {
        ips.push(r.ip()?);
    }
    ips.sort_unstable();
    ips.dedup();
    let mut http = BTreeMap::new();
    if !r.0.is_empty() {
        for _ in 0..r.u16()? {
            let path = r.str()?;
            http.insert(path, r.u8()?);
        }
    }
    r.end()?;
    Ok(Record {
        first_seen_ms,
        last_seen_ms,
        service,
        ips,
        http,
    })
}

pub fn encode_name(name: &str, out: &mut Vec<u8>) {
    Writer(out).str(name);
}

pub fn decode_name(bytes: &[u8]) -> Result<String, DecodeError> {
    let mut r = Reader(bytes);
    let name = r.str()?;
    r.end()?;
    Ok(name)
}

pub fn encode_dns(entry: &DnsName, out: &mut Vec<u8>) {
    let mut w = Writer(out);
    w.u64(entry.last_seen_ms);
    let count = entry.addresses.len().min(usize::from(u16::MAX));
    w.0.extend_from_slice(&(count as u16).to_le_bytes());
    for (ip, seen) in entry.addresses.iter().take(count) {
        w.ip(*ip);
        w.u64(*seen);
    }
}

pub fn decode_dns(bytes: &[u8]) -> Result<DnsName, DecodeError> {
    let mut r = Reader(bytes);
    let last_seen_ms = r.u64()?;
    let mut addresses = Vec::new();
    for _ in 0..r.u16()? {
        let ip = r.ip()?;
        addresses.push((ip, r.u64()?));
    }
    r.end()?;
    Ok(DnsName {
        addresses,
        last_seen_ms,
    })
}

/// Bit `i` of a Kafka record's operations stands for `KAFKA_OPERATIONS[i]`: append only.
pub const KAFKA_OPERATIONS: [KafkaOperation; 11] = [
    KafkaOperation::All,
    KafkaOperation::Consume,
    KafkaOperation::Produce,
    KafkaOperation::Create,
    KafkaOperation::Alter,
    KafkaOperation::Delete,
    KafkaOperation::Describe,
    KafkaOperation::ClusterAction,
    KafkaOperation::DescribeConfigs,
    KafkaOperation::AlterConfigs,
    KafkaOperation::IdempotentWrite,
];

fn operation_bits(operations: &std::collections::BTreeSet<KafkaOperation>) -> u16 {
    KAFKA_OPERATIONS
        .iter()
        .enumerate()
        .filter(|(_, operation)| operations.contains(operation))
        .fold(0, |bits, (i, _)| bits | 1 << i)
}

fn operations_of(bits: u16) -> Result<std::collections::BTreeSet<KafkaOperation>, DecodeError> {
    if bits >> KAFKA_OPERATIONS.len() != 0 {
        return Err(DecodeError("unknown Kafka operation"));
    }
    Ok(KAFKA_OPERATIONS
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & 1 << i != 0)
        .map(|(_, operation)| *operation)
        .collect())
}

pub fn encode_kafka_key(key: &KafkaKey, out: &mut Vec<u8>) {
    let mut w = Writer(out);
    w.str(&key.client.0);
    w.str(&key.client.1);
    w.str(&key.broker);
    w.str(&key.topic);
}

pub fn decode_kafka_key(bytes: &[u8]) -> Result<KafkaKey, DecodeError> {
    let mut r = Reader(bytes);
    let client = (r.str()?, r.str()?);
    let key = KafkaKey {
        client,
        broker: r.str()?,
        topic: r.str()?,
    };
    r.end()?;
    Ok(key)
}

pub fn encode_kafka_record(record: &KafkaRecord, out: &mut Vec<u8>) {
    let mut w = Writer(out);
    match &record.client_kind {
        Some(kind) => {
            w.u8(1);
            w.str(kind);
        }
        None => w.u8(0),
    }
    w.0.extend_from_slice(&operation_bits(&record.allowed).to_le_bytes());
    w.0.extend_from_slice(&operation_bits(&record.denied).to_le_bytes());
    w.u64(record.first_seen_ms);
    w.u64(record.last_seen_ms);
}

pub fn decode_kafka_record(bytes: &[u8]) -> Result<KafkaRecord, DecodeError> {
    let mut r = Reader(bytes);
    let client_kind = match r.u8()? {
        0 => None,
        1 => Some(r.str()?),
        _ => return Err(DecodeError("bad kind flag")),
    };
    let allowed = operations_of(r.u16()?)?;
    let denied = operations_of(r.u16()?)?;
    let record = KafkaRecord {
        client_kind,
        allowed,
        denied,
        first_seen_ms: r.u64()?,
        last_seen_ms: r.u64()?,
    };
    r.end()?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(kind: Option<&str>) -> Identity {
        Identity::new("shop", "client", kind)
    }

    #[test]
    fn keys_records_and_dns_answers_round_trip() {
        let ip: IpAddr = "2001:db8::7".parse().expect("ip");
        let targets = [
            TargetKey::Workload(id(Some("Deployment"))),
            TargetKey::Workload(id(None)),
            TargetKey::Domain("api.example.com".into()),
            TargetKey::Address("93.184.216.34".parse().expect("ip")),
            TargetKey::Network(IpBlock::network(ip, 64)),
        ];
        for target in targets {
            let key = IntentKey {
                client: id(Some("StatefulSet")),
                target,
            };
            let mut bytes = Vec::new();
            encode_key(&key, &mut bytes);
            assert_eq!(decode_key(&bytes), Ok(key));
        }
        let record = Record {
            first_seen_ms: 1,
            last_seen_ms: u64::MAX,
            service: Some("server".into()),
            ips: vec!["10.0.0.1".parse().expect("ip"), ip],
            http: BTreeMap::new(),
        };
        let mut bytes = Vec::new();
        encode_record(&record, &mut bytes);
        assert_eq!(decode_record(&bytes), Ok(record.clone()));
        let older = bytes.clone();
        let with_paths = Record {
            http: [("/orders/*".to_owned(), 0b11), ("/charge".to_owned(), 0b10)].into(),
            ..record
        };
        let mut bytes = Vec::new();
        encode_record(&with_paths, &mut bytes);
        assert!(
            bytes.starts_with(&older),
            "a record with paths extends the earlier bytes"
        );
        assert_eq!(decode_record(&bytes), Ok(with_paths));
        for cut in older.len() + 1..bytes.len() {
            assert!(decode_record(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let entry = DnsName {
            addresses: vec![(ip, 5), ("1.2.3.4".parse().expect("ip"), 9)],
            last_seen_ms: 9,
        };
        let mut bytes = Vec::new();
        encode_dns(&entry, &mut bytes);
        assert_eq!(decode_dns(&bytes), Ok(entry));
    }

    #[test]
    fn bytes_that_are_no_record_are_an_error() {
        let mut bytes = Vec::new();
        encode_key(
            &IntentKey {
                client: id(None),
                target: TargetKey::Domain("a".into()),
            },
            &mut bytes,
        );
        for cut in 0..bytes.len() {
            assert!(decode_key(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        bytes.push(0);
        assert!(decode_key(&bytes).is_err(), "a byte too many");
        assert!(decode_record(&[0xff; 40]).is_err());
    }

    #[test]
    fn kafka_topic_use_round_trips_and_cut_bytes_are_an_error() {
        let key = KafkaKey {
            client: ("shop".into(), "client".into()),
            broker: "kafka.kafka".into(),
            topic: "orders".into(),
        };
        let record = KafkaRecord {
            client_kind: Some("Deployment".into()),
            allowed: [KafkaOperation::Produce, KafkaOperation::IdempotentWrite].into(),
            denied: KAFKA_OPERATIONS.into(),
            first_seen_ms: 3,
            last_seen_ms: u64::MAX,
        };
        let (mut key_bytes, mut record_bytes) = (Vec::new(), Vec::new());
        encode_kafka_key(&key, &mut key_bytes);
        encode_kafka_record(&record, &mut record_bytes);
        assert_eq!(decode_kafka_key(&key_bytes), Ok(key));
        assert_eq!(decode_kafka_record(&record_bytes), Ok(record));
        for cut in 0..record_bytes.len() {
            assert!(decode_kafka_record(&record_bytes[..cut]).is_err(), "cut at {cut}");
        }
        // An operation bit this version does not know is an error, not a silent loss.
        let mut unknown = record_bytes.clone();
        unknown[1 + 2 + "Deployment".len() + 1] |= 0x80;
        assert!(decode_kafka_record(&unknown).is_err());
    }
}
