//! TensorBoard event files: scalars a run logs (loss, learning rate, …) in the format
//! TensorBoard reads, `events.out.tfevents.<time>.<host>` in the run directory.
//!
//! The format is TFRecord framing around `tensorflow.Event` protobufs; it is small and frozen,
//! so it is written here rather than through a protobuf stack: each record is the payload's
//! length (u64 LE), its masked CRC-32C, the payload, and the payload's masked CRC-32C. The
//! first event carries `file_version = "brain.Event:2"`, the others one `Summary.Value` with a
//! `simple_value`. Each record is flushed as it is written, so a killed run leaves every
//! scalar up to the kill (a torn last record is skipped by TensorBoard's reader).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// An open event file.
#[derive(Debug)]
pub struct EventWriter {
    file: File,
    path: PathBuf,
}

impl EventWriter {
    /// Starts a new event file in `dir` (one per process, as TensorBoard's writers do; a resumed
    /// run adds a file and TensorBoard shows the runs' scalars together).
    pub fn create(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let host = super::hostname();
        // Several writers of one process may open files in the same second (the evaluation
        // stages after training): the sequence number keeps their names apart.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!(
            "events.out.tfevents.{}.{host}.{}.{n}",
            now.as_secs(),
            std::process::id()
        ));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)?;
        let mut writer = EventWriter { file, path };
        writer.write_event(&file_version_event(now.as_secs_f64()))?;
        Ok(writer)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Logs `value` under `tag` at `step`.
    pub fn scalar(&mut self, tag: &str, step: u64, value: f64) -> io::Result<()> {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        self.write_event(&scalar_event(tag, step, value as f32, wall))
    }

    fn write_event(&mut self, payload: &[u8]) -> io::Result<()> {
        self.file.write_all(&record(payload))?;
        self.file.flush()
    }
}

/// One TFRecord: length, masked CRC of the length, payload, masked CRC of the payload.
pub fn record(payload: &[u8]) -> Vec<u8> {
    let len = (payload.len() as u64).to_le_bytes();
    let mut out = Vec::with_capacity(payload.len() + 16);
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc(&len).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc(payload).to_le_bytes());
    out
}

/// `Event { wall_time, file_version: "brain.Event:2" }`.
pub fn file_version_event(wall_time: f64) -> Vec<u8> {
    let mut out = Vec::new();
    out.push(0x09); // field 1 (wall_time), 64-bit
    out.extend_from_slice(&wall_time.to_le_bytes());
    bytes_field(&mut out, 3, b"brain.Event:2");
    out
}

/// `Event { wall_time, step, summary { value { tag, simple_value } } }`.
pub fn scalar_event(tag: &str, step: u64, value: f32, wall_time: f64) -> Vec<u8> {
    let mut value_msg = Vec::new();
    bytes_field(&mut value_msg, 1, tag.as_bytes());
    value_msg.push(0x15); // field 2 (simple_value), 32-bit
    value_msg.extend_from_slice(&value.to_le_bytes());
    let mut summary = Vec::new();
    bytes_field(&mut summary, 1, &value_msg);
    let mut out = Vec::new();
    out.push(0x09);
    out.extend_from_slice(&wall_time.to_le_bytes());
    // proto3 leaves a zero scalar out, as TensorBoard's own writer does.
    if step != 0 {
        out.push(0x10); // field 2 (step), varint
        varint(&mut out, step);
    }
    bytes_field(&mut out, 5, &summary);
    out
}

/// A length-delimited protobuf field.
fn bytes_field(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    out.push((field << 3) | 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// TFRecord's masked CRC-32C (Castagnoli), so that CRCs of CRCs do not collide.
pub fn masked_crc(bytes: &[u8]) -> u32 {
    let crc = crc32c(bytes);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// CRC-32C (reflected polynomial 0x82F63B78), bytewise with a table built at compile time.
fn crc32c(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        // The catalogue's check value for CRC-32C.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }
}
