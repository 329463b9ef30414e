//! GGUF metadata values.

/// One metadata value (GGUF `gguf_metadata_value_type`).
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    /// `UINT8`.
    U8(u8),
    /// `INT8`.
    I8(i8),
    /// `UINT16`.
    U16(u16),
    /// `INT16`.
    I16(i16),
    /// `UINT32`.
    U32(u32),
    /// `INT32`.
    I32(i32),
    /// `UINT64`.
    U64(u64),
    /// `INT64`.
    I64(i64),
    /// `FLOAT32`.
    F32(f32),
    /// `FLOAT64`.
    F64(f64),
    /// `BOOL`.
    Bool(bool),
    /// `STRING` (UTF-8).
    Str(String),
    /// `ARRAY` of one element type.
    Array(GgufArray),
}

/// A homogeneous metadata array, stored unboxed so that vocabularies stay compact.
#[derive(Debug, Clone, PartialEq)]
pub enum GgufArray {
    /// Array of `UINT8`.
    U8(Vec<u8>),
    /// Array of `INT8`.
    I8(Vec<i8>),
    /// Array of `UINT16`.
    U16(Vec<u16>),
    /// Array of `INT16`.
    I16(Vec<i16>),
    /// Array of `UINT32`.
    U32(Vec<u32>),
    /// Array of `INT32`.
    I32(Vec<i32>),
    /// Array of `UINT64`.
    U64(Vec<u64>),
    /// Array of `INT64`.
    I64(Vec<i64>),
    /// Array of `FLOAT32`.
    F32(Vec<f32>),
    /// Array of `FLOAT64`.
    F64(Vec<f64>),
    /// Array of `BOOL`.
    Bool(Vec<bool>),
    /// Array of `STRING`.
    Str(Vec<String>),
    /// Array of arrays.
    Array(Vec<GgufArray>),
}

impl GgufValue {
    /// The GGUF type name, for diagnostics (`UINT32`, `ARRAY[STRING]`, …).
    pub fn type_name(&self) -> String {
        match self {
            Self::U8(_) => "UINT8".into(),
            Self::I8(_) => "INT8".into(),
            Self::U16(_) => "UINT16".into(),
            Self::I16(_) => "INT16".into(),
            Self::U32(_) => "UINT32".into(),
            Self::I32(_) => "INT32".into(),
            Self::U64(_) => "UINT64".into(),
            Self::I64(_) => "INT64".into(),
            Self::F32(_) => "FLOAT32".into(),
            Self::F64(_) => "FLOAT64".into(),
            Self::Bool(_) => "BOOL".into(),
            Self::Str(_) => "STRING".into(),
            Self::Array(a) => format!("ARRAY[{}]", a.element_type_name()),
        }
    }

    /// The value as a signed 128-bit integer when it is of any integer type.
    pub fn as_integer(&self) -> Option<i128> {
        Some(match *self {
            Self::U8(v) => v.into(),
            Self::I8(v) => v.into(),
            Self::U16(v) => v.into(),
            Self::I16(v) => v.into(),
            Self::U32(v) => v.into(),
            Self::I32(v) => v.into(),
            Self::U64(v) => v.into(),
            Self::I64(v) => v.into(),
            _ => return None,
        })
    }

    /// The value as `f64` when it is a float (f32 widened exactly).
    pub fn as_float(&self) -> Option<f64> {
        match *self {
            Self::F32(v) => Some(v.into()),
            Self::F64(v) => Some(v),
            _ => None,
        }
    }
}

impl GgufArray {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::I8(v) => v.len(),
            Self::U16(v) => v.len(),
            Self::I16(v) => v.len(),
            Self::U32(v) => v.len(),
            Self::I32(v) => v.len(),
            Self::U64(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::F32(v) => v.len(),
            Self::F64(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::Str(v) => v.len(),
            Self::Array(v) => v.len(),
        }
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The GGUF name of the element type.
    pub fn element_type_name(&self) -> &'static str {
        match self {
            Self::U8(_) => "UINT8",
            Self::I8(_) => "INT8",
            Self::U16(_) => "UINT16",
            Self::I16(_) => "INT16",
            Self::U32(_) => "UINT32",
            Self::I32(_) => "INT32",
            Self::U64(_) => "UINT64",
            Self::I64(_) => "INT64",
            Self::F32(_) => "FLOAT32",
            Self::F64(_) => "FLOAT64",
            Self::Bool(_) => "BOOL",
            Self::Str(_) => "STRING",
            Self::Array(_) => "ARRAY",
        }
    }
}
