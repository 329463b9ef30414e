//! 4-bit NF4/FP4 quantization kernels for lpipe.
