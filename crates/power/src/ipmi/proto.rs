//! IPMI wire formats: RMCP, IPMI 1.5 session packets, IPMI 2.0 RMCP+ packets, IPMI messages,
//! RAKP, and the session crypto. Pure functions with no I/O, so they can be fuzzed.
//!
//! Every parser takes untrusted bytes and returns `Err` (never panics) on anything short,
//! inconsistent or unexpected.

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};

/// Parse errors: a short human-readable reason.
pub type PResult<T> = Result<T, String>;

pub const RMCP_HEADER: [u8; 4] = [0x06, 0x00, 0xff, 0x07];
pub const BMC_ADDR: u8 = 0x20;
pub const SW_ADDR: u8 = 0x81;

pub const NETFN_CHASSIS: u8 = 0x00;
pub const NETFN_APP: u8 = 0x06;

pub const AUTH_NONE: u8 = 0;
pub const AUTH_MD5: u8 = 2;
pub const AUTH_STRAIGHT: u8 = 4;
pub const AUTH_RMCPP: u8 = 6;

pub const PT_IPMI: u8 = 0x00;
pub const PT_OPEN_REQ: u8 = 0x10;
pub const PT_OPEN_RSP: u8 = 0x11;
pub const PT_RAKP1: u8 = 0x12;
pub const PT_RAKP2: u8 = 0x13;
pub const PT_RAKP3: u8 = 0x14;
pub const PT_RAKP4: u8 = 0x15;
pub const PT_ENCRYPTED: u8 = 0x80;
pub const PT_AUTHENTICATED: u8 = 0x40;

/// A bounds-checked little-endian reader.
struct Rd<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Rd<'a> {
    fn new(b: &'a [u8]) -> Self {
        Rd { b, p: 0 }
    }
    fn take(&mut self, n: usize) -> PResult<&'a [u8]> {
        let end = self.p.checked_add(n).ok_or("length overflow")?;
        let s = self
            .b
            .get(self.p..end)
            .ok_or_else(|| format!("packet too short ({} bytes, wanted {end})", self.b.len()))?;
        self.p = end;
        Ok(s)
    }
    fn u8(&mut self) -> PResult<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> PResult<u16> {
        let s = self.take(2)?;
        Ok(u16::from_le_bytes([s[0], s[1]]))
    }
    fn u32(&mut self) -> PResult<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn arr16(&mut self) -> PResult<[u8; 16]> {
        let mut a = [0u8; 16];
        a.copy_from_slice(self.take(16)?);
        Ok(a)
    }
    fn rest(&self) -> &'a [u8] {
        self.b.get(self.p..).unwrap_or(&[])
    }
}

fn checksum(b: &[u8]) -> u8 {
    0u8.wrapping_sub(b.iter().fold(0u8, |a, x| a.wrapping_add(*x)))
}

/// An IPMI request message (BMC at 0x20, software ID 0x81, LUN 0).
pub fn encode_request(netfn: u8, cmd: u8, rq_seq: u8, data: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(7 + data.len());
    m.extend_from_slice(&[BMC_ADDR, netfn << 2]);
    m.push(checksum(&m));
    m.extend_from_slice(&[SW_ADDR, (rq_seq & 0x3f) << 2, cmd]);
    m.extend_from_slice(data);
    let c = checksum(&m[3..]);
    m.push(c);
    m
}

/// A decoded IPMI response message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub netfn: u8,
    pub rq_seq: u8,
    pub cmd: u8,
    pub cc: u8,
    pub data: Vec<u8>,
}

pub fn decode_response(m: &[u8]) -> PResult<Response> {
    if m.len() < 8 {
        return Err(format!("IPMI response too short ({} bytes)", m.len()));
    }
    let (head, body) = m.split_at(3);
    if checksum(head) != 0 {
        return Err("bad IPMI header checksum".into());
    }
    if checksum(body) != 0 {
        return Err("bad IPMI data checksum".into());
    }
    let data = body.get(4..body.len() - 1).unwrap_or(&[]).to_vec();
    Ok(Response {
        netfn: m[1] >> 2,
        rq_seq: m[4] >> 2,
        cmd: m[5],
        cc: m[6],
        data,
    })
}

/// IPMI 1.5 session packet (also used before any session for discovery commands).
pub fn encode_v15(
    auth_type: u8,
    seq: u32,
    sid: u32,
    auth_code: Option<&[u8; 16]>,
    msg: &[u8],
) -> Vec<u8> {
    let mut p = Vec::with_capacity(30 + msg.len());
    p.extend_from_slice(&RMCP_HEADER);
    p.push(auth_type);
    p.extend_from_slice(&seq.to_le_bytes());
    p.extend_from_slice(&sid.to_le_bytes());
    if let Some(c) = auth_code {
        p.extend_from_slice(c);
    }
    p.push(msg.len() as u8);
    p.extend_from_slice(msg);
    p
}

/// A parsed RMCP packet carrying IPMI.
#[derive(Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    V15 {
        auth_type: u8,
        seq: u32,
        sid: u32,
        msg: &'a [u8],
    },
    V20 {
        ptype: u8,
        sid: u32,
        seq: u32,
        payload: &'a [u8],
        signed: &'a [u8],
        auth_code: &'a [u8],
    },
}

/// Parse one datagram. `integrity_len` is the length of the integrity code an authenticated
/// RMCP+ packet carries (12 for HMAC-SHA1-96, 16 for HMAC-SHA256-128, 0 for none).
pub fn parse_packet(b: &[u8], integrity_len: usize) -> PResult<Packet<'_>> {
    let mut r = Rd::new(b);
    let h = r.take(4)?;
    if h[0] != 0x06 || h[3] & 0x1f != 0x07 {
        return Err("not an RMCP/IPMI packet".into());
    }
    let auth_type = r.u8()?;
    if auth_type == AUTH_RMCPP {
        let ptype = r.u8()?;
        if ptype & 0x3f == 0x02 {
            return Err("OEM payloads are not supported".into());
        }
        let sid = r.u32()?;
        let seq = r.u32()?;
        let len = r.u16()? as usize;
        let payload = r.take(len)?;
        let (signed, auth_code) = if ptype & PT_AUTHENTICATED != 0 {
            // pad bytes, pad length, next header (0x07), auth code
            let end = b
                .len()
                .checked_sub(integrity_len)
                .ok_or("integrity code missing")?;
            if end < r.p + 2 {
                return Err("session trailer too short".into());
            }
            let pad = b[end - 2] as usize;
            if b[end - 1] != 0x07 || r.p + pad + 2 != end {
                return Err("bad session trailer".into());
            }
            (&b[4..end], &b[end..])
        } else {
            (&b[4..r.p], &b[0..0])
        };
        Ok(Packet::V20 {
            ptype,
            sid,
            seq,
            payload,
            signed,
            auth_code,
        })
    } else {
        let seq = r.u32()?;
        let sid = r.u32()?;
        if auth_type != AUTH_NONE {
            r.take(16)?;
        }
        let len = r.u8()? as usize;
        let msg = r.take(len)?;
        Ok(Packet::V15 {
            auth_type,
            seq,
            sid,
            msg,
        })
    }
}

/// `password` padded / truncated to the 16 bytes IPMI 1.5 uses.
pub fn pad16(s: &[u8]) -> [u8; 16] {
    let mut a = [0u8; 16];
    let n = s.len().min(16);
    a[..n].copy_from_slice(&s[..n]);
    a
}

/// IPMI 1.5 per-message auth code for `auth_type` (MD5 or straight password).
pub fn v15_auth_code(
    auth_type: u8,
    password: &[u8; 16],
    sid: u32,
    seq: u32,
    msg: &[u8],
) -> Option<[u8; 16]> {
    match auth_type {
        AUTH_MD5 => {
            let mut h = Md5::new();
            h.update(password);
            h.update(sid.to_le_bytes());
            h.update(msg);
            h.update(seq.to_le_bytes());
            h.update(password);
            let mut out = [0u8; 16];
            out.copy_from_slice(&h.finalize());
            Some(out)
        }
        AUTH_STRAIGHT => Some(*password),
        _ => None,
    }
}

/// Get Channel Authentication Capabilities, the parts we use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthCaps {
    /// Bit mask of IPMI 1.5 auth types (bit 0 none, 2 MD5, 4 straight password).
    pub auth_types: u8,
    pub ipmi20: bool,
}

pub fn parse_auth_caps(d: &[u8]) -> PResult<AuthCaps> {
    if d.len() < 8 {
        return Err(format!(
            "short Get Channel Authentication Capabilities answer ({} bytes)",
            d.len()
        ));
    }
    Ok(AuthCaps {
        auth_types: d[1] & 0x3f,
        ipmi20: d[1] & 0x80 != 0 && d[3] & 0x02 != 0,
    })
}

/// Get Session Challenge answer: temporary session id and challenge.
pub fn parse_challenge(d: &[u8]) -> PResult<(u32, [u8; 16])> {
    let mut r = Rd::new(d);
    Ok((r.u32()?, r.arr16()?))
}

/// Activate Session answer: (auth type, session id, initial outbound sequence number, privilege).
pub fn parse_activate(d: &[u8]) -> PResult<(u8, u32, u32, u8)> {
    let mut r = Rd::new(d);
    Ok((r.u8()? & 0x0f, r.u32()?, r.u32()?, r.u8()? & 0x0f))
}

/// Cipher suite ids listed in the concatenated record data of Get Channel Cipher Suites.
pub fn parse_cipher_suite_ids(records: &[u8]) -> Vec<u8> {
    let mut ids = Vec::new();
    let mut i = 0;
    while i + 1 < records.len() {
        match records[i] {
            0xc0 => {
                ids.push(records[i + 1]);
                i += 2;
            }
            0xc1 => i += 5,
            _ => i += 1,
        }
    }
    ids
}

// ---------- RMCP+ ----------

/// A cipher suite: authentication, integrity and confidentiality algorithm numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    pub id: u8,
    /// 0 none, 1 HMAC-SHA1, 3 HMAC-SHA256.
    pub auth: u8,
    /// 0 none, 1 HMAC-SHA1-96, 4 HMAC-SHA256-128.
    pub integrity: u8,
    /// 0 none, 1 AES-CBC-128.
    pub confidentiality: u8,
}

/// The cipher suites this client implements, best first.
pub const SUITE_PREFERENCE: [u8; 5] = [17, 3, 2, 1, 0];

pub fn suite(id: u8) -> Option<Suite> {
    let (auth, integrity, confidentiality) = match id {
        0 => (0, 0, 0),
        1 => (1, 0, 0),
        2 => (1, 1, 0),
        3 => (1, 1, 1),
        17 => (3, 4, 1),
        _ => return None,
    };
    Some(Suite {
        id,
        auth,
        integrity,
        confidentiality,
    })
}

impl Suite {
    /// Length of the integrity code on session packets.
    pub fn integrity_len(&self) -> usize {
        match self.integrity {
            1 => 12,
            4 => 16,
            _ => 0,
        }
    }
    /// Length of the RAKP 4 integrity check value.
    pub fn rakp4_len(&self) -> usize {
        match self.auth {
            1 => 12,
            3 => 16,
            _ => 0,
        }
    }
    /// HMAC with the suite's authentication algorithm (empty for "none").
    pub fn auth_hmac(&self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        hmac_alg(self.auth, key, parts)
    }
    fn integrity_hmac(&self, key: &[u8], data: &[u8]) -> Vec<u8> {
        let alg = match self.integrity {
            1 => 1,
            4 => 3,
            _ => 0,
        };
        let mut v = hmac_alg(alg, key, &[data]);
        v.truncate(self.integrity_len());
        v
    }
}

/// HMAC-SHA1 (alg 1) or HMAC-SHA256 (alg 3) over the concatenated parts.
pub fn hmac_alg(alg: u8, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    match alg {
        1 => {
            let Ok(mut m) = Hmac::<sha1::Sha1>::new_from_slice(key) else {
                return Vec::new();
            };
            parts.iter().for_each(|p| m.update(p));
            m.finalize().into_bytes().to_vec()
        }
        3 => {
            let Ok(mut m) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
                return Vec::new();
            };
            parts.iter().for_each(|p| m.update(p));
            m.finalize().into_bytes().to_vec()
        }
        _ => Vec::new(),
    }
}

/// Constant-time-ish comparison of authentication codes.
pub fn codes_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// RMCP+ packet; with `integrity = Some((suite, k1))` the packet is authenticated.
pub fn encode_v20(
    ptype: u8,
    sid: u32,
    seq: u32,
    payload: &[u8],
    integrity: Option<(&Suite, &[u8])>,
) -> Vec<u8> {
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&RMCP_HEADER);
    p.push(AUTH_RMCPP);
    p.push(if integrity.is_some() {
        ptype | PT_AUTHENTICATED
    } else {
        ptype
    });
    p.extend_from_slice(&sid.to_le_bytes());
    p.extend_from_slice(&seq.to_le_bytes());
    p.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    p.extend_from_slice(payload);
    if let Some((s, k1)) = integrity {
        let pad = (4 - (p.len() - 4 + 2) % 4) % 4;
        p.extend(std::iter::repeat_n(0xff, pad));
        p.push(pad as u8);
        p.push(0x07);
        let code = s.integrity_hmac(k1, &p[4..]);
        p.extend_from_slice(&code);
    }
    p
}

/// Check the integrity code of a parsed authenticated RMCP+ packet.
pub fn verify_integrity(s: &Suite, k1: &[u8], signed: &[u8], code: &[u8]) -> bool {
    codes_equal(&s.integrity_hmac(k1, signed), code)
}

type Aes128CbcEnc = cbc::Encryptor<aes::Aes128>;
type Aes128CbcDec = cbc::Decryptor<aes::Aes128>;

/// AES-CBC-128 confidentiality: IV, then the encrypted data with IPMI's 1,2,3.. padding.
pub fn aes_encrypt(key: &[u8; 16], iv: &[u8; 16], data: &[u8]) -> Vec<u8> {
    let padn = (16 - (data.len() + 1) % 16) % 16;
    let mut buf = Vec::with_capacity(16 + data.len() + padn + 1);
    buf.extend_from_slice(data);
    buf.extend((1..=padn).map(|i| i as u8));
    buf.push(padn as u8);
    let n = buf.len();
    let enc = Aes128CbcEnc::new(key.into(), iv.into());
    let mut out = iv.to_vec();
    match enc.encrypt_padded_mut::<NoPadding>(&mut buf, n) {
        Ok(c) => out.extend_from_slice(c),
        Err(_) => return Vec::new(), // unreachable: the length is a multiple of 16
    }
    out
}

pub fn aes_decrypt(key: &[u8; 16], payload: &[u8]) -> PResult<Vec<u8>> {
    if payload.len() < 32 || !payload.len().is_multiple_of(16) {
        return Err(format!("bad encrypted payload length {}", payload.len()));
    }
    let (iv, body) = payload.split_at(16);
    let mut buf = body.to_vec();
    let mut ivb = [0u8; 16];
    ivb.copy_from_slice(iv);
    let dec = Aes128CbcDec::new(key.into(), (&ivb).into());
    let n = dec
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|_| "decryption failed".to_string())?
        .len();
    let padn = *buf.get(n.wrapping_sub(1)).ok_or("empty plaintext")? as usize;
    let len = n
        .checked_sub(padn + 1)
        .ok_or("bad confidentiality padding")?;
    buf.truncate(len);
    Ok(buf)
}

/// RMCP+ Open Session Request payload.
pub fn open_session_request(tag: u8, privilege: u8, console_sid: u32, s: &Suite) -> Vec<u8> {
    let mut p = vec![tag, privilege, 0, 0];
    p.extend_from_slice(&console_sid.to_le_bytes());
    p.extend_from_slice(&[0x00, 0, 0, 0x08, s.auth, 0, 0, 0]);
    p.extend_from_slice(&[0x01, 0, 0, 0x08, s.integrity, 0, 0, 0]);
    p.extend_from_slice(&[0x02, 0, 0, 0x08, s.confidentiality, 0, 0, 0]);
    p
}

/// Open Session Response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSession {
    pub tag: u8,
    pub status: u8,
    pub console_sid: u32,
    pub bmc_sid: u32,
    /// The (authentication, integrity, confidentiality) algorithms the BMC chose.
    pub algorithms: (u8, u8, u8),
}

/// A non-zero status comes back with no session ids (0).
pub fn parse_open_session_response(d: &[u8]) -> PResult<OpenSession> {
    let mut r = Rd::new(d);
    let tag = r.u8()?;
    let status = r.u8()?;
    if status != 0 {
        return Ok(OpenSession {
            tag,
            status,
            console_sid: 0,
            bmc_sid: 0,
            algorithms: (0, 0, 0),
        });
    }
    r.take(2)?;
    let console_sid = r.u32()?;
    let bmc_sid = r.u32()?;
    let mut alg = [0u8; 3];
    for (i, a) in alg.iter_mut().enumerate() {
        let rec = r.take(8)?;
        if rec[0] != i as u8 {
            return Err(format!(
                "Open Session answer: algorithm record {i} has type {}",
                rec[0]
            ));
        }
        *a = rec[4] & 0x3f;
    }
    Ok(OpenSession {
        tag,
        status,
        console_sid,
        bmc_sid,
        algorithms: (alg[0], alg[1], alg[2]),
    })
}

pub fn rakp1(tag: u8, bmc_sid: u32, rm: &[u8; 16], role: u8, user: &[u8]) -> Vec<u8> {
    let mut p = vec![tag, 0, 0, 0];
    p.extend_from_slice(&bmc_sid.to_le_bytes());
    p.extend_from_slice(rm);
    p.extend_from_slice(&[role, 0, 0, user.len() as u8]);
    p.extend_from_slice(user);
    p
}

/// RAKP 2: tag, status, console session id, BMC random, BMC GUID, key exchange code.
#[derive(Debug, PartialEq, Eq)]
pub struct Rakp2 {
    pub tag: u8,
    pub status: u8,
    pub console_sid: u32,
    pub rc: [u8; 16],
    pub guid: [u8; 16],
    pub code: Vec<u8>,
}

pub fn parse_rakp2(d: &[u8]) -> PResult<Rakp2> {
    let mut r = Rd::new(d);
    let tag = r.u8()?;
    let status = r.u8()?;
    if status != 0 {
        return Ok(Rakp2 {
            tag,
            status,
            console_sid: 0,
            rc: [0; 16],
            guid: [0; 16],
            code: Vec::new(),
        });
    }
    r.take(2)?;
    let console_sid = r.u32()?;
    let rc = r.arr16()?;
    let guid = r.arr16()?;
    Ok(Rakp2 {
        tag,
        status,
        console_sid,
        rc,
        guid,
        code: r.rest().to_vec(),
    })
}

pub fn rakp3(tag: u8, bmc_sid: u32, code: &[u8]) -> Vec<u8> {
    let mut p = vec![tag, 0, 0, 0];
    p.extend_from_slice(&bmc_sid.to_le_bytes());
    p.extend_from_slice(code);
    p
}

/// RAKP 4: (tag, status, console session id, integrity check value).
pub fn parse_rakp4(d: &[u8]) -> PResult<(u8, u8, u32, Vec<u8>)> {
    let mut r = Rd::new(d);
    let tag = r.u8()?;
    let status = r.u8()?;
    if status != 0 {
        return Ok((tag, status, 0, Vec::new()));
    }
    r.take(2)?;
    let csid = r.u32()?;
    Ok((tag, status, csid, r.rest().to_vec()))
}

/// Human name for an RMCP+ status code.
pub fn rmcpp_status(code: u8) -> &'static str {
    match code {
        0x01 => "insufficient resources to create a session",
        0x02 => "invalid session id",
        0x03 => "invalid payload type",
        0x04 => "invalid authentication algorithm",
        0x05 => "invalid integrity algorithm",
        0x06 => "no matching authentication payload",
        0x07 => "no matching integrity payload",
        0x08 => "inactive session id",
        0x09 => "invalid role",
        0x0a => "unauthorized role or privilege level requested",
        0x0b => "insufficient resources to create a session at the requested role",
        0x0c => "invalid name length",
        0x0d => "unauthorized name",
        0x0e => "unauthorized GUID",
        0x0f => "invalid integrity check value",
        0x10 => "invalid confidentiality algorithm",
        0x11 => "no cipher suite match with proposed security algorithms",
        0x12 => "illegal or unrecognized parameter",
        _ => "unknown status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip_shape() {
        let m = encode_request(NETFN_APP, 0x38, 5, &[0x8e, 0x04]);
        assert_eq!(checksum(&m[..3]), 0);
        assert_eq!(checksum(&m[3..]), 0);
    }

    #[test]
    fn aes_round_trip() {
        let k = [7u8; 16];
        for n in 0..40 {
            let data: Vec<u8> = (0..n as u8).collect();
            let c = aes_encrypt(&k, &[3u8; 16], &data);
            assert_eq!(aes_decrypt(&k, &c).unwrap(), data);
        }
    }

    #[test]
    fn v20_authenticated_round_trip() {
        let s = suite(3).unwrap();
        let k1 = [9u8; 20];
        for n in 0..20 {
            let payload = vec![0xab; n];
            let p = encode_v20(PT_IPMI, 0x1234, 7, &payload, Some((&s, &k1)));
            assert_eq!((p.len() - 4 - 12) % 4, 0);
            match parse_packet(&p, 12).unwrap() {
                Packet::V20 {
                    payload: pl,
                    signed,
                    auth_code,
                    sid,
                    seq,
                    ..
                } => {
                    assert_eq!((pl, sid, seq), (&payload[..], 0x1234, 7));
                    assert!(verify_integrity(&s, &k1, signed, auth_code));
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
