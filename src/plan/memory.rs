//! Peak-memory estimates per run, calibrated against the seed's measurements.
