//! The Holt sniffer, the network mapper's node agent. In: the packets on the node's interfaces (through
//! an `AF_PACKET` socket with a kernel BPF filter that passes only DNS responses and TCP SYNs, IPv4 and
//! IPv6) and the TCP socket tables under `/proc`. Out: every report interval, a
//! [`holt_mapper_api::Report`] posted to the mapper as JSON — which client resolved which name to which
//! addresses (through CNAME chains), which source opened or holds a TCP connection to which
//! destination port — with cumulative counters (packets, kernel drops, decode errors by category,
//! observations lost).
//!
//! Flow: [`capture`] (the one module with `unsafe`: the mmap ring) → [`capture_loop`] on its own thread
//! → [`record`] (decode with `holt_decode`, no allocation per packet; repeats recognised by
//! [`recent`] and not decoded again; DNS over TCP reassembled by [`tcp_dns`]) → [`batch`] (deduplicated, bounded) in [`shared`] state → [`reporter`] (scan with [`socket_scan`], encode with [`report_body`], deliver with [`deliver`]
//! carrying the [`token`], retry with back-off) on a single-threaded async runtime beside the [`health`] server.

pub mod args;
pub mod batch;
pub mod capture;
pub mod capture_loop;
pub mod deliver;
pub mod endpoint;
pub mod filter;
pub mod health;
pub mod ip_text;
pub mod recent;
pub mod record;
pub mod report_body;
pub mod reporter;
pub mod shared;
pub mod socket_scan;
pub mod tally;
pub mod tcp_dns;
pub mod token;
