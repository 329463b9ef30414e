//! Read-only memory maps of model and adapter files.

use std::path::Path;

/// Maps `path` read-only.
///
/// Every input file lpipe maps goes through here, so the one `unsafe` and its argument live in
/// one place: the map is read-only and lpipe never writes a file it has mapped. A file changed
/// underneath by another process can only change the bytes read (every reader bounds-checks
/// offsets against the map's length); one truncated underneath would fault, as with any mmap
/// reader, so readers should not hold maps of files that other programs rewrite in place.
pub fn map_readonly(path: &Path) -> std::io::Result<memmap2::Mmap> {
    let file = std::fs::File::open(path)?;
    // SAFETY: see above; the map is read-only and outlives no file handle it depends on.
    unsafe { memmap2::Mmap::map(&file) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_a_file_and_reports_a_missing_one() {
        let dir = crate::testing::scratch("mmap");
        let path = dir.join("x.bin");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(&map_readonly(&path).unwrap()[..], b"abc");
        let err = map_readonly(&dir.join("missing")).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
