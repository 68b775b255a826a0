//! One captured packet into the batch and the counters: decode it with `holt_decode`, add each DNS
//! address or TCP SYN to the batch, count skips and decode errors by category. No I/O, and no allocation
//! unless the packet brings a name, address pair or counter category not seen before in this batch.

use holt_decode::{LinkType, MAX_NAME_LEN, Observation, decode};
use holt_mapper_api::SeenBy;

use crate::shared::State;

/// What to record (the `--enable-dns` / `--enable-tcp` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recording {
    pub dns: bool,
    pub tcp_syn: bool,
}

/// Decodes and records packets; keeps a scratch buffer for names.
#[derive(Debug)]
pub struct Recorder {
    recording: Recording,
    link: LinkType,
    name: [u8; MAX_NAME_LEN],
}

impl Recorder {
    /// Records packets whose link header is `link` (`RawIp` for the capture socket).
    pub fn new(recording: Recording, link: LinkType) -> Self {
        Self {
            recording,
            link,
            name: [0; MAX_NAME_LEN],
        }
    }

    /// Records one packet seen at `at_ms` (Unix milliseconds).
    pub fn record(&mut self, state: &mut State, packet: &[u8], at_ms: u64) {
        state.tally.packets += 1;
        match decode(self.link, packet) {
            Ok(Observation::Dns(response)) if self.recording.dns => {
                for answer in response.answers() {
                    let name = answer.name.write_to(&mut self.name);
                    state
                        .batch
                        .add_dns(response.client, name, answer.addr, answer.ttl, at_ms);
                }
                state.tally.dns_answers_dropped += u64::from(response.dropped_answers());
            }
            Ok(Observation::TcpSyn(syn)) if self.recording.tcp_syn => {
                state
                    .batch
                    .add_connection(syn.src, syn.dst, syn.dst_port, SeenBy::Syn, None, at_ms);
            }
            Ok(Observation::Dns(_)) => state.tally.skip("dns_disabled"),
            Ok(Observation::TcpSyn(_)) => state.tally.skip("tcp_disabled"),
            Ok(Observation::Skip(skip)) => state.tally.skip(skip.category()),
            Err(error) => state.tally.decode_error(error.category()),
        }
    }
}
