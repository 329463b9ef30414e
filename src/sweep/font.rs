//! The figures' font: one TrueType file read at run time and registered with plotters' `ab_glyph`
//! text backend, so drawing needs neither fontconfig nor a font bundled into the binary.

use std::path::PathBuf;
use std::sync::OnceLock;

use plotters::style::FontStyle;

use super::error::SweepError;

/// The family name the figures ask plotters for.
pub const FAMILY: &str = "sans-serif";

/// Where common systems keep a plain sans-serif font (Debian/Ubuntu first: `fonts-dejavu-core`).
const CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

static REGISTERED: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Registers the first font found (`LPIPE_FONT` first) once per process; returns its path.
pub fn ensure() -> Result<PathBuf, SweepError> {
    REGISTERED
        .get_or_init(register)
        .clone()
        .map_err(|looked| SweepError::NoFont { looked })
}

fn register() -> Result<PathBuf, String> {
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Some(custom) = std::env::var_os("LPIPE_FONT") {
        paths.push(PathBuf::from(custom));
    }
    paths.extend(CANDIDATES.iter().map(PathBuf::from));
    for path in &paths {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        // plotters keeps `&'static` font data; one font per process is a bounded leak.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        if plotters::style::register_font(FAMILY, FontStyle::Normal, bytes).is_ok() {
            return Ok(path.clone());
        }
    }
    Err(paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", "))
}
