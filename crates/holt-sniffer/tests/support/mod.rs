//! Test support: network namespaces and the peers the sniffer watches and reports to.
#![allow(dead_code)]

pub mod access;
pub mod discovery;
pub mod frames;
pub mod netns;
pub mod process;
pub mod servers;
