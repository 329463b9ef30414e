//! The diagnostic enum: one variant per stable code `lpipe::E…`.
