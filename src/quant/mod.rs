//! bitsandbytes-compatible 4-bit quantization (NF4/FP4, double quantization).
