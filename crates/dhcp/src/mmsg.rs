//! Batched datagram IO (`recvmmsg(2)` / `sendmmsg(2)`): one system call for many datagrams.
//! std and socket2 have no batch calls; these two wrappers keep the `unsafe` in one place.

use std::io;
use std::net::{SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;

/// Receive buffers for up to `slots` datagrams of at most `size` bytes each.
pub struct RecvBatch {
    bufs: Vec<Vec<u8>>,
    lens: Vec<usize>,
    count: usize,
}

impl RecvBatch {
    pub fn new(slots: usize, size: usize) -> RecvBatch {
        RecvBatch {
            bufs: vec![vec![0u8; size]; slots.max(1)],
            lens: vec![0; slots.max(1)],
            count: 0,
        }
    }

    /// Take what is queued on the (non-blocking) socket, up to the number of slots. Returns the
    /// number received; 0 when nothing was queued.
    pub fn recv(&mut self, sock: &UdpSocket) -> io::Result<usize> {
        let n = self.bufs.len();
        let mut iovs: Vec<libc::iovec> = self
            .bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        // SAFETY: an all-zero mmsghdr is valid (null name, no control data); each header then
        // points at one iovec that points at one of our buffers, all of which outlive the call.
        let mut msgs: Vec<libc::mmsghdr> = (0..n).map(|_| unsafe { std::mem::zeroed() }).collect();
        for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: `msgs` holds `n` initialised headers whose buffers are valid for writing.
        let r = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if r < 0 {
            let e = io::Error::last_os_error();
            self.count = 0;
            return if e.kind() == io::ErrorKind::WouldBlock {
                Ok(0)
            } else {
                Err(e)
            };
        }
        self.count = r as usize;
        for (len, m) in self.lens.iter_mut().zip(msgs.iter()).take(self.count) {
            *len = m.msg_len as usize;
        }
        Ok(self.count)
    }

    /// The datagrams of the last `recv`.
    pub fn datagrams(&self) -> impl Iterator<Item = &[u8]> {
        self.bufs
            .iter()
            .zip(self.lens.iter())
            .take(self.count)
            .map(|(b, &l)| b.get(..l).unwrap_or(&[]))
    }
}

fn sockaddr(dest: &SocketAddrV4) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid starting value.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_port = dest.port().to_be();
    sa.sin_addr = libc::in_addr {
        s_addr: u32::from(*dest.ip()).to_be(),
    };
    sa
}

/// Send every `(packet, dest)` with as few `sendmmsg` calls as the kernel allows. Returns how
/// many were sent before an error stopped it (WouldBlock included: the caller decides).
pub fn send_all(sock: &UdpSocket, out: &[(Vec<u8>, SocketAddrV4)]) -> (usize, Option<io::Error>) {
    let mut sent = 0usize;
    while sent < out.len() {
        let rest = out.get(sent..).unwrap_or(&[]);
        let mut addrs: Vec<libc::sockaddr_in> = rest.iter().map(|(_, d)| sockaddr(d)).collect();
        let mut iovs: Vec<libc::iovec> = rest
            .iter()
            .map(|(p, _)| libc::iovec {
                iov_base: p.as_ptr() as *mut libc::c_void,
                iov_len: p.len(),
            })
            .collect();
        // SAFETY: as in `RecvBatch::recv`; the kernel only reads the packets and addresses.
        let mut msgs: Vec<libc::mmsghdr> = (0..rest.len())
            .map(|_| unsafe { std::mem::zeroed() })
            .collect();
        for ((m, iov), sa) in msgs.iter_mut().zip(iovs.iter_mut()).zip(addrs.iter_mut()) {
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_name = (sa as *mut libc::sockaddr_in).cast();
            m.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        }
        // SAFETY: `msgs` holds initialised headers pointing at live packets and addresses.
        let r = unsafe {
            libc::sendmmsg(
                sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                msgs.len() as libc::c_uint,
                0,
            )
        };
        if r < 0 {
            return (sent, Some(io::Error::last_os_error()));
        }
        if r == 0 {
            break;
        }
        sent += r as usize;
    }
    (sent, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_round_trip_over_loopback() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        b.set_nonblocking(true).unwrap();
        let std::net::SocketAddr::V4(dest) = b.local_addr().unwrap() else {
            panic!("v4")
        };
        let out: Vec<(Vec<u8>, SocketAddrV4)> = (0..10u8)
            .map(|i| (vec![i; 100 + i as usize], dest))
            .collect();
        assert_eq!(send_all(&a, &out).0, 10);
        let mut rb = RecvBatch::new(4, 2048);
        let mut got = Vec::new();
        for _ in 0..100 {
            if rb.recv(&b).unwrap() == 0 && got.len() == 10 {
                break;
            }
            got.extend(rb.datagrams().map(|d| d.to_vec()));
            if got.len() == 10 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(got.len(), 10);
        for (i, d) in got.iter().enumerate() {
            assert_eq!(d, &vec![i as u8; 100 + i]);
        }
        assert_eq!(rb.recv(&b).unwrap(), 0, "nothing queued → 0, not an error");
    }
}
