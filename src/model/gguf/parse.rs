//! Parsing the GGUF header, metadata and tensor table from bytes.

use std::collections::HashSet;

use super::cursor::{Cursor, ReadError};
use super::ggml_type::GgmlType;
use super::tensor::TensorInfo;
use super::value::{GgufArray, GgufValue};

/// Arrays may nest (ARRAY of ARRAY); deeper nesting than this is treated as corruption.
const MAX_NESTING: usize = 4;
/// llama.cpp's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// Default `general.alignment`.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// The parsed layout of a GGUF file, before tensor bounds are checked against the file.
pub(crate) struct Parsed {
    pub version: u32,
    pub metadata: Vec<(String, GgufValue)>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    pub data_offset: u64,
}

/// Header failures distinguished from generic corruption.
pub(crate) enum ParseError {
    Magic([u8; 4]),
    Version(u32),
    Read(ReadError),
}

impl From<ReadError> for ParseError {
    fn from(e: ReadError) -> Self {
        Self::Read(e)
    }
}

/// Reads everything up to the start of tensor data.
pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed, ParseError> {
    let mut c = Cursor::new(bytes);
    let magic: [u8; 4] = c.array("magic")?;
    if &magic != b"GGUF" {
        return Err(ParseError::Magic(magic));
    }
    let version = c.u32("version")?;
    if !(2..=3).contains(&version) {
        return Err(ParseError::Version(version));
    }
    // A tensor entry takes at least 8 (name len) + 4 (n_dims) + 4 (type) + 8 (offset) bytes.
    let n_tensors = c.count(24, "tensor count")?;
    // A key/value pair takes at least 8 (key len) + 4 (type) + 1 (smallest value) bytes.
    let n_kv = c.count(13, "metadata count")?;

    let mut metadata: Vec<(String, GgufValue)> = Vec::with_capacity(n_kv);
    let mut seen = HashSet::with_capacity(n_kv);
    for i in 0..n_kv {
        let key = c.string(&format!("key of metadata entry {i}"))?;
        if !seen.insert(key.clone()) {
            return Err(c.error(format!("duplicate metadata key `{key}`")).into());
        }
        let ty = c.u32(&format!("type of `{key}`"))?;
        let value = read_value(&mut c, ty, &key, 0)?;
        metadata.push((key, value));
    }

    let alignment = match metadata.iter().find(|(k, _)| k == "general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some((_, v)) => match v.as_integer() {
            Some(a) if a > 0 && (a as u64).is_power_of_two() && a <= 1 << 20 => a as u64,
            _ => {
                return Err(c
                    .error(format!("`general.alignment` is {v:?}, not a power of two"))
                    .into());
            }
        },
    };

    let mut tensors: Vec<TensorInfo> = Vec::with_capacity(n_tensors);
    let mut seen = HashSet::with_capacity(n_tensors);
    for i in 0..n_tensors {
        let name = c.string(&format!("name of tensor {i}"))?;
        let n_dims = c.u32(&format!("rank of tensor `{name}`"))?;
        if n_dims > MAX_DIMS {
            return Err(c
                .error(format!(
                    "tensor `{name}` has {n_dims} dimensions (at most {MAX_DIMS})"
                ))
                .into());
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for d in 0..n_dims {
            dims.push(c.u64(&format!("dimension {d} of tensor `{name}`"))?);
        }
        let ty_at = c.pos();
        let type_id = c.u32(&format!("type of tensor `{name}`"))?;
        let ty = GgmlType::from_id(type_id).ok_or_else(|| ReadError {
            offset: ty_at as u64,
            what: format!("tensor `{name}` has unknown ggml type id {type_id}"),
        })?;
        let offset = c.u64(&format!("data offset of tensor `{name}`"))?;
        if !seen.insert(name.clone()) {
            return Err(c.error(format!("duplicate tensor name `{name}`")).into());
        }
        tensors.push(TensorInfo {
            name,
            dims,
            ty,
            offset,
        });
    }

    let end = c.pos() as u64;
    let data_offset = end.div_ceil(alignment) * alignment;
    Ok(Parsed {
        version,
        metadata,
        tensors,
        alignment,
        data_offset,
    })
}

fn read_value(c: &mut Cursor, ty: u32, key: &str, depth: usize) -> Result<GgufValue, ReadError> {
    Ok(match ty {
        0 => GgufValue::U8(c.array::<1>(key)?[0]),
        1 => GgufValue::I8(i8::from_le_bytes(c.array(key)?)),
        2 => GgufValue::U16(u16::from_le_bytes(c.array(key)?)),
        3 => GgufValue::I16(i16::from_le_bytes(c.array(key)?)),
        4 => GgufValue::U32(u32::from_le_bytes(c.array(key)?)),
        5 => GgufValue::I32(i32::from_le_bytes(c.array(key)?)),
        6 => GgufValue::F32(f32::from_le_bytes(c.array(key)?)),
        7 => GgufValue::Bool(read_bool(c, key)?),
        8 => GgufValue::Str(c.string(key)?),
        9 => {
            if depth >= MAX_NESTING {
                return Err(c.error(format!("`{key}` nests arrays deeper than {MAX_NESTING}")));
            }
            let elem = c.u32(&format!("element type of `{key}`"))?;
            GgufValue::Array(read_array(c, elem, key, depth + 1)?)
        }
        10 => GgufValue::U64(u64::from_le_bytes(c.array(key)?)),
        11 => GgufValue::I64(i64::from_le_bytes(c.array(key)?)),
        12 => GgufValue::F64(f64::from_le_bytes(c.array(key)?)),
        other => {
            return Err(c.error(format!("`{key}` has unknown value type {other}")));
        }
    })
}

fn read_bool(c: &mut Cursor, key: &str) -> Result<bool, ReadError> {
    match c.array::<1>(key)?[0] {
        0 => Ok(false),
        1 => Ok(true),
        b => Err(c.error(format!("`{key}` holds bool byte {b}, expected 0 or 1"))),
    }
}

/// Reads `n` fixed-size elements with `f`, after checking they fit.
fn fixed<T, const N: usize>(
    c: &mut Cursor,
    key: &str,
    f: impl Fn([u8; N]) -> T,
) -> Result<Vec<T>, ReadError> {
    let n = c.count(N, &format!("length of `{key}`"))?;
    let raw = c.take(n * N, key)?;
    Ok(raw
        .chunks_exact(N)
        .map(|ch| {
            let mut a = [0u8; N];
            a.copy_from_slice(ch);
            f(a)
        })
        .collect())
}

fn read_array(c: &mut Cursor, elem: u32, key: &str, depth: usize) -> Result<GgufArray, ReadError> {
    Ok(match elem {
        0 => GgufArray::U8(fixed::<_, 1>(c, key, |a| a[0])?),
        1 => GgufArray::I8(fixed(c, key, i8::from_le_bytes)?),
        2 => GgufArray::U16(fixed(c, key, u16::from_le_bytes)?),
        3 => GgufArray::I16(fixed(c, key, i16::from_le_bytes)?),
        4 => GgufArray::U32(fixed(c, key, u32::from_le_bytes)?),
        5 => GgufArray::I32(fixed(c, key, i32::from_le_bytes)?),
        6 => GgufArray::F32(fixed(c, key, f32::from_le_bytes)?),
        7 => {
            let n = c.count(1, &format!("length of `{key}`"))?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(read_bool(c, key)?);
            }
            GgufArray::Bool(v)
        }
        8 => {
            // Each string takes at least its 8-byte length.
            let n = c.count(8, &format!("length of `{key}`"))?;
            let mut v = Vec::with_capacity(n);
            for i in 0..n {
                v.push(c.string(&format!("element {i} of `{key}`"))?);
            }
            GgufArray::Str(v)
        }
        9 => {
            if depth >= MAX_NESTING {
                return Err(c.error(format!("`{key}` nests arrays deeper than {MAX_NESTING}")));
            }
            // Each inner array takes at least its type and length.
            let n = c.count(12, &format!("length of `{key}`"))?;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                let inner = c.u32(&format!("element type of `{key}`"))?;
                v.push(read_array(c, inner, key, depth + 1)?);
            }
            GgufArray::Array(v)
        }
        10 => GgufArray::U64(fixed(c, key, u64::from_le_bytes)?),
        11 => GgufArray::I64(fixed(c, key, i64::from_le_bytes)?),
        12 => GgufArray::F64(fixed(c, key, f64::from_le_bytes)?),
        other => {
            return Err(c.error(format!("`{key}` is an array of unknown type {other}")));
        }
    })
}
