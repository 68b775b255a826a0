//! The packet socket: the only module with `unsafe` code. In: an optional interface name, the BPF
//! program and the ring geometry. Out: captured packets, one ring block at a time, as byte slices that
//! start at the IP header, plus the kernel's drop counts; and, for tests and the benchmark, a sender that
//! writes pre-built frames to an interface.
//!
//! How: one `AF_PACKET`/`SOCK_DGRAM` socket for all protocols (`ETH_P_ALL`) and all interfaces (or one),
//! the BPF program attached before the socket is bound (so nothing unfiltered is ever queued), and a
//! `PACKET_RX_RING` of version `TPACKET_V3` mapped into our memory. The kernel fills a block with packets
//! and hands it over by setting `TP_STATUS_USER` in the block header; we read every packet in it and give
//! it back by writing `TP_STATUS_KERNEL`. Packets the kernel cannot place because every block is ours are
//! dropped and counted; `PACKET_STATISTICS` reports them.
//!
//! `SOCK_DGRAM` rather than `SOCK_RAW`: the kernel strips the link header, so every packet starts at the
//! IP header whatever the interface (Ethernet, loopback, tunnels, WireGuard, IPoIB), and the filter and
//! the decoder need no per-interface link type. The cost is the link header, which the sniffer never uses.

#![allow(unsafe_code)]

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::net::{AddressFamily, SocketType, socket};

use crate::filter::Instruction;

/// Size of `struct sockaddr_ll` for `bind`/`sendto`.
const SOCKADDR_LL_LEN: libc::socklen_t = size_of::<libc::sockaddr_ll>() as libc::socklen_t;

/// Why the capture socket could not be set up or read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open an AF_PACKET socket (the sniffer needs CAP_NET_RAW): {0}")]
    Socket(#[source] io::Error),
    #[error("interface {interface:?} does not exist")]
    NoSuchInterface { interface: String },
    #[error("cannot set socket option {option}: {source}")]
    SetOption {
        option: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("cannot read socket option {option}: {source}")]
    GetOption {
        option: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("ring geometry rejected: {0}")]
    Geometry(&'static str),
    #[error("cannot map the receive ring of {bytes} bytes: {source}")]
    Map {
        bytes: usize,
        #[source]
        source: io::Error,
    },
    #[error("cannot bind the packet socket: {0}")]
    Bind(#[source] io::Error),
    #[error("waiting for packets failed: {0}")]
    Poll(#[source] io::Error),
    #[error("cannot send a frame: {0}")]
    Send(#[source] io::Error),
}

/// The receive ring's shape: `block_count` blocks of `block_size` bytes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingGeometry {
    /// Bytes per block: a power of two, a multiple of the page size, at least one maximal packet.
    pub block_size: u32,
    pub block_count: u32,
    /// How long the kernel keeps a partly filled block before handing it over anyway.
    pub block_timeout: Duration,
}

impl Default for RingGeometry {
    fn default() -> Self {
        Self {
            block_size: 1 << 20,
            block_count: 16,
            block_timeout: Duration::from_millis(20),
        }
    }
}

/// One captured packet: the bytes from the IP header on, and when the kernel saw it.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub data: &'a [u8],
    /// Length on the wire (may exceed `data.len()` when the packet was cut at the snap length).
    pub wire_len: u32,
    /// Kernel timestamp, Unix milliseconds.
    pub timestamp_ms: u64,
}

/// Kernel counters since the previous call to [`Capture::take_statistics`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Statistics {
    /// Packets that passed the filter (including dropped ones).
    pub packets: u64,
    /// Packets that passed the filter but found no room in the ring.
    pub drops: u64,
}

/// An open capture: the packet socket and its mapped receive ring.
#[derive(Debug)]
pub struct Capture {
    fd: OwnedFd,
    ring: NonNull<u8>,
    ring_len: usize,
    block_size: usize,
    block_count: usize,
    next_block: usize,
}

// SAFETY: the ring is a private shared mapping owned by this value alone (no other handle to it exists in
// the process); moving it to another thread moves that exclusive ownership with it.
unsafe impl Send for Capture {}

impl Capture {
    /// Opens the socket, attaches `program`, maps the ring and binds to `interface` (all when `None`).
    pub fn open(
        interface: Option<&str>,
        program: &[Instruction],
        geometry: RingGeometry,
    ) -> Result<Self, CaptureError> {
        check_geometry(geometry)?;
        // Protocol 0: the socket receives nothing until it is bound below, after the filter is in place.
        let fd = socket(AddressFamily::PACKET, SocketType::DGRAM, None)
            .map_err(|e| CaptureError::Socket(e.into()))?;
        let ifindex = match interface {
            Some(name) => interface_index(name)?,
            None => 0,
        };
        set_option(
            &fd,
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            "PACKET_VERSION",
            &(libc::tpacket_versions::TPACKET_V3 as libc::c_int),
        )?;
        attach_filter(&fd, program)?;
        let timeout_ms = u32::try_from(geometry.block_timeout.as_millis())
            .unwrap_or(u32::MAX)
            .max(1);
        let request = libc::tpacket_req3 {
            tp_block_size: geometry.block_size,
            tp_block_nr: geometry.block_count,
            tp_frame_size: FRAME_SIZE,
            tp_frame_nr: geometry.block_size / FRAME_SIZE * geometry.block_count,
            tp_retire_blk_tov: timeout_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        set_option(
            &fd,
            libc::SOL_PACKET,
            libc::PACKET_RX_RING,
            "PACKET_RX_RING",
            &request,
        )?;
        let block_size =
            usize::try_from(geometry.block_size).map_err(|_| CaptureError::Geometry("block size"))?;
        let block_count =
            usize::try_from(geometry.block_count).map_err(|_| CaptureError::Geometry("block count"))?;
        let ring_len = block_size
            .checked_mul(block_count)
            .ok_or(CaptureError::Geometry("ring larger than the address space"))?;
        // SAFETY: a fresh mapping (null hint) of the ring the kernel just allocated for this socket; the
        // kernel checks the length against the ring. Nothing else aliases the returned memory.
        let mapped = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                ring_len,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::SHARED,
                &fd,
                0,
            )
        }
        .map_err(|e| CaptureError::Map {
            bytes: ring_len,
            source: e.into(),
        })?;
        let ring = NonNull::new(mapped.cast::<u8>()).ok_or(CaptureError::Geometry("mmap returned null"))?;
        let capture = Self {
            fd,
            ring,
            ring_len,
            block_size,
            block_count,
            next_block: 0,
        };
        capture.bind(ifindex)?;
        Ok(capture)
    }

    fn bind(&self, ifindex: libc::c_int) -> Result<(), CaptureError> {
        let address = link_address(ifindex);
        // SAFETY: `address` is a valid, initialised `sockaddr_ll` and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                self.fd.as_raw_fd(),
                (&raw const address).cast::<libc::sockaddr>(),
                SOCKADDR_LL_LEN,
            )
        };
        if rc != 0 {
            return Err(CaptureError::Bind(io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Waits up to `timeout` for the next block, calls `each` for every packet in it and hands the block
    /// back to the kernel. Returns the number of packets (0 when the wait timed out).
    pub fn next_block(
        &mut self,
        timeout: Duration,
        mut each: impl FnMut(Packet<'_>),
    ) -> Result<usize, CaptureError> {
        let status = self.block_status();
        if status.load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
            let timeout = Timespec::try_from(timeout).unwrap_or(Timespec {
                tv_sec: 1,
                tv_nsec: 0,
            });
            let mut fds = [PollFd::new(&self.fd, PollFlags::IN | PollFlags::ERR)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(CaptureError::Poll(e.into())),
            }
            if status.load(Ordering::Acquire) & libc::TP_STATUS_USER == 0 {
                return Ok(0);
            }
        }
        let offset = self.next_block * self.block_size;
        // SAFETY: the block lies inside the mapping (`offset + block_size <= ring_len`), and its status word
        // says the kernel has handed it to user space: the kernel does not write to it again until we store
        // TP_STATUS_KERNEL below, after the last use of this slice. The acquire load above orders our reads
        // after the kernel's writes.
        let block = unsafe { std::slice::from_raw_parts(self.ring.as_ptr().add(offset), self.block_size) };
        let count = read_block(block, &mut each);
        status.store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.next_block = (self.next_block + 1) % self.block_count;
        Ok(count)
    }

    /// The status word of the next block (`tpacket_block_desc.hdr.bh1.block_status`, offset 8).
    fn block_status(&self) -> &AtomicU32 {
        let offset = self.next_block * self.block_size + BLOCK_STATUS_OFFSET;
        // SAFETY: the word is inside the mapping, 4-byte aligned (blocks start at page boundaries and the
        // offset is 8), and is only ever accessed atomically by us; the kernel accesses it with its own
        // barriers. The reference cannot outlive `self`, which owns the mapping.
        unsafe { AtomicU32::from_ptr(self.ring.as_ptr().add(offset).cast::<u32>()) }
    }

    /// Reads and resets the kernel's counters.
    pub fn take_statistics(&self) -> Result<Statistics, CaptureError> {
        let mut stats = libc::tpacket_stats_v3 {
            tp_packets: 0,
            tp_drops: 0,
            tp_freeze_q_cnt: 0,
        };
        let mut len = size_of::<libc::tpacket_stats_v3>() as libc::socklen_t;
        // SAFETY: `stats` is a writable `tpacket_stats_v3` and `len` holds its size; the kernel writes at most
        // `len` bytes and updates `len`.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_PACKET,
                libc::PACKET_STATISTICS,
                (&raw mut stats).cast::<libc::c_void>(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(CaptureError::GetOption {
                option: "PACKET_STATISTICS",
                source: io::Error::last_os_error(),
            });
        }
        Ok(Statistics {
            packets: u64::from(stats.tp_packets),
            drops: u64::from(stats.tp_drops),
        })
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // SAFETY: the mapping was created in `open` with this address and length and no slice into it
        // outlives a `next_block` call, so nothing refers to it any more.
        let _ = unsafe { rustix::mm::munmap(self.ring.as_ptr().cast(), self.ring_len) };
    }
}

/// `tp_frame_size`: TPACKET_V3 packs packets of any size into blocks; the frame size only has to divide
/// the block size and be TPACKET-aligned.
const FRAME_SIZE: u32 = 2048;
const BLOCK_STATUS_OFFSET: usize = 8;

fn check_geometry(geometry: RingGeometry) -> Result<(), CaptureError> {
    if !geometry.block_size.is_power_of_two() || geometry.block_size < 65_536 {
        return Err(CaptureError::Geometry(
            "block size must be a power of two of at least 64 KiB",
        ));
    }
    if geometry.block_count == 0 {
        return Err(CaptureError::Geometry("at least one block is needed"));
    }
    Ok(())
}

/// Walks the packets of one block. The block was written by the kernel, but every offset is still
/// checked: a bad one ends the walk instead of reading outside the block.
fn read_block(block: &[u8], each: &mut impl FnMut(Packet<'_>)) -> usize {
    // struct tpacket_block_desc { u32 version; u32 offset_to_priv; struct tpacket_hdr_v1 {
    //   u32 block_status; u32 num_pkts; u32 offset_to_first_pkt; u32 blk_len; u64 seq_num; ... } }
    let (Some(count), Some(first)) = (u32_at(block, 12), u32_at(block, 16)) else {
        return 0;
    };
    let mut offset = first as usize;
    let mut seen = 0;
    for _ in 0..count {
        // struct tpacket3_hdr { u32 tp_next_offset; u32 tp_sec; u32 tp_nsec; u32 tp_snaplen; u32 tp_len;
        //   u32 tp_status; u16 tp_mac; u16 tp_net; ... }
        let header = (
            u32_at(block, offset),
            u32_at(block, offset + 4),
            u32_at(block, offset + 8),
            u32_at(block, offset + 12),
            u32_at(block, offset + 16),
            u16_at(block, offset + 26),
        );
        let (Some(next), Some(sec), Some(nsec), Some(snaplen), Some(wire_len), Some(net)) = header else {
            break;
        };
        let start = offset + usize::from(net);
        let Some(data) = block.get(start..start + snaplen as usize) else {
            break;
        };
        each(Packet {
            data,
            wire_len,
            timestamp_ms: u64::from(sec) * 1000 + u64::from(nsec) / 1_000_000,
        });
        seen += 1;
        if next == 0 {
            break;
        }
        offset += next as usize;
    }
    seen
}

fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    let raw = bytes.get(offset..offset + 4)?;
    Some(u32::from_ne_bytes(raw.try_into().ok()?))
}

fn u16_at(bytes: &[u8], offset: usize) -> Option<u16> {
    let raw = bytes.get(offset..offset + 2)?;
    Some(u16::from_ne_bytes(raw.try_into().ok()?))
}

fn interface_index(name: &str) -> Result<libc::c_int, CaptureError> {
    let missing = || CaptureError::NoSuchInterface {
        interface: name.to_owned(),
    };
    let c_name = CString::new(name).map_err(|_| missing())?;
    // SAFETY: `c_name` is a valid NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    libc::c_int::try_from(index)
        .ok()
        .filter(|&i| i > 0)
        .ok_or_else(missing)
}

fn link_address(ifindex: libc::c_int) -> libc::sockaddr_ll {
    libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as libc::c_ushort,
        sll_protocol: (libc::ETH_P_ALL as u16).to_be(),
        sll_ifindex: ifindex,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    }
}

fn set_option<T>(
    fd: &OwnedFd,
    level: libc::c_int,
    name: libc::c_int,
    label: &'static str,
    value: &T,
) -> Result<(), CaptureError> {
    // SAFETY: `value` points to a live, initialised `T` of the size passed; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast::<libc::c_void>(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(CaptureError::SetOption {
            option: label,
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

fn attach_filter(fd: &OwnedFd, program: &[Instruction]) -> Result<(), CaptureError> {
    let mut filter: Vec<libc::sock_filter> = program
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let len = u16::try_from(filter.len()).map_err(|_| CaptureError::Geometry("filter program too long"))?;
    let fprog = libc::sock_fprog {
        len,
        filter: filter.as_mut_ptr(),
    };
    // The kernel copies the program during the call; `filter` outlives it.
    set_option(
        fd,
        libc::SOL_SOCKET,
        libc::SO_ATTACH_FILTER,
        "SO_ATTACH_FILTER",
        &fprog,
    )
}

/// Writes complete frames (link header included) to one interface: the benchmark's traffic generator
/// and the tests' source of malformed frames.
#[derive(Debug)]
pub struct FrameSender {
    fd: OwnedFd,
    address: libc::sockaddr_ll,
}

impl FrameSender {
    /// A `SOCK_RAW` packet socket that sends on `interface`, bypassing the queueing discipline.
    pub fn open(interface: &str) -> Result<Self, CaptureError> {
        let fd = socket(AddressFamily::PACKET, SocketType::RAW, None)
            .map_err(|e| CaptureError::Socket(e.into()))?;
        let address = link_address(interface_index(interface)?);
        set_option(
            &fd,
            libc::SOL_PACKET,
            libc::PACKET_QDISC_BYPASS,
            "PACKET_QDISC_BYPASS",
            &(1 as libc::c_int),
        )?;
        Ok(Self { fd, address })
    }

    /// Sends every frame in `frames` with one `sendmmsg` call per 64 frames; returns how many were sent.
    pub fn send_all(&self, frames: &[&[u8]]) -> Result<usize, CaptureError> {
        let mut sent = 0;
        for chunk in frames.chunks(64) {
            let mut iovecs: Vec<libc::iovec> = chunk
                .iter()
                .map(|frame| libc::iovec {
                    iov_base: frame.as_ptr().cast_mut().cast::<libc::c_void>(),
                    iov_len: frame.len(),
                })
                .collect();
            let mut messages: Vec<libc::mmsghdr> = iovecs
                .iter_mut()
                .map(|iov| {
                    // SAFETY: `msghdr` is a plain C struct for which all-zero is a valid (empty) value.
                    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
                    header.msg_name = (&raw const self.address).cast_mut().cast::<libc::c_void>();
                    header.msg_namelen = SOCKADDR_LL_LEN;
                    header.msg_iov = iov;
                    header.msg_iovlen = 1;
                    libc::mmsghdr {
                        msg_hdr: header,
                        msg_len: 0,
                    }
                })
                .collect();
            let mut done = 0;
            while done < messages.len() {
                let rest = &mut messages[done..];
                // SAFETY: every message points to `self.address` and to one iovec over a frame borrowed for
                // this call; the kernel only reads them (and writes `msg_len`).
                let rc = unsafe {
                    libc::sendmmsg(
                        self.fd.as_fd().as_raw_fd(),
                        rest.as_mut_ptr(),
                        rest.len() as libc::c_uint,
                        0,
                    )
                };
                if rc < 0 {
                    let error = io::Error::last_os_error();
                    if error.raw_os_error() == Some(libc::ENOBUFS)
                        || error.kind() == io::ErrorKind::WouldBlock
                    {
                        std::thread::yield_now();
                        continue;
                    }
                    return Err(CaptureError::Send(error));
                }
                done += rc as usize;
            }
            sent += done;
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_with(packets: &[&[u8]]) -> Vec<u8> {
        let mut block = vec![0u8; 4096];
        let first = 48usize;
        block[12..16].copy_from_slice(&(packets.len() as u32).to_ne_bytes());
        block[16..20].copy_from_slice(&(first as u32).to_ne_bytes());
        let mut offset = first;
        for (n, data) in packets.iter().enumerate() {
            let size = 68 + data.len().next_multiple_of(16);
            let next = if n + 1 == packets.len() { 0 } else { size as u32 };
            block[offset..offset + 4].copy_from_slice(&next.to_ne_bytes());
            block[offset + 4..offset + 8].copy_from_slice(&7u32.to_ne_bytes());
            block[offset + 8..offset + 12].copy_from_slice(&5_000_000u32.to_ne_bytes());
            block[offset + 12..offset + 16].copy_from_slice(&(data.len() as u32).to_ne_bytes());
            block[offset + 16..offset + 20].copy_from_slice(&(data.len() as u32 + 10).to_ne_bytes());
            block[offset + 26..offset + 28].copy_from_slice(&68u16.to_ne_bytes());
            block[offset + 68..offset + 68 + data.len()].copy_from_slice(data);
            offset += size;
        }
        block
    }

    #[test]
    fn reads_every_packet_of_a_block() {
        let block = block_with(&[b"first packet", b"second"]);
        let mut seen = Vec::new();
        let count = read_block(&block, &mut |p: Packet<'_>| {
            seen.push((p.data.to_vec(), p.wire_len, p.timestamp_ms))
        });
        assert_eq!(count, 2);
        assert_eq!(seen[0], (b"first packet".to_vec(), 22, 7005));
        assert_eq!(seen[1].0, b"second".to_vec());
    }

    #[test]
    fn stops_at_offsets_outside_the_block() {
        let mut block = block_with(&[b"one", b"two"]);
        // Claim many more packets, and a snap length past the end for the second one.
        block[12..16].copy_from_slice(&1000u32.to_ne_bytes());
        let second = 48 + 68 + 16;
        block[second + 12..second + 16].copy_from_slice(&u32::MAX.to_ne_bytes());
        let mut seen = 0;
        assert_eq!(read_block(&block, &mut |_| seen += 1), 1);
        assert_eq!(seen, 1);
        assert_eq!(read_block(&block[..10], &mut |_| seen += 1), 0);
    }

    #[test]
    fn rejects_bad_geometry() {
        let bad = RingGeometry {
            block_size: 100_000,
            ..RingGeometry::default()
        };
        assert!(matches!(check_geometry(bad), Err(CaptureError::Geometry(_))));
        let none = RingGeometry {
            block_count: 0,
            ..RingGeometry::default()
        };
        assert!(matches!(check_geometry(none), Err(CaptureError::Geometry(_))));
        assert!(check_geometry(RingGeometry::default()).is_ok());
    }
}
