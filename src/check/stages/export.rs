//! `export { … }` and `report { … }` → [`ir::Export`], [`ir::Report`].

use crate::check::cx::Cx;
use crate::check::fields::{Fields, Invalid, as_choice};
use crate::check::value::Value;
use crate::ir::{Export, Report, ReportFormat};

/// Converts the export stage of pipeline `pipeline`; without `path` it exports to
/// `out/<pipeline>` in the working directory (beside `runs/`), so pipelines that extend one file
/// never share an export folder.
pub fn export(cx: &mut Cx, f: &mut Fields, pipeline: &str) -> Option<Export> {
    let path = match f.has("path") {
        true => f.path(cx, "path", None),
        false => Some(default_path(pipeline)),
    };
    let merge = f.bool(cx, "merge", false);
    Some(Export {
        path: path?,
        merge: merge?,
    })
}

/// `out/<pipeline>`: the export folder when the file names none.
pub fn default_path(pipeline: &str) -> std::path::PathBuf {
    std::path::Path::new("out").join(crate::io::path_component(pipeline))
}

/// Converts the report stage.
pub fn report(cx: &mut Cx, f: &mut Fields) -> Option<Report> {
    let formats = match f.value("formats") {
        Ok(None) => Some(vec![ReportFormat::Table]),
        Ok(Some(v)) => {
            let items = match &v.kind {
                Value::List(items) => items.clone(),
                _ => vec![v.clone()],
            };
            let formats: Vec<Option<ReportFormat>> = items
                .iter()
                .map(|item| {
                    Some(
                        match as_choice(cx, item, "report format", &["table", "markdown", "csv"])?
                            .as_str()
                        {
                            "table" => ReportFormat::Table,
                            "markdown" => ReportFormat::Markdown,
                            _ => ReportFormat::Csv,
                        },
                    )
                })
                .collect();
            formats.into_iter().collect()
        }
        Err(Invalid) => None,
    };
    let plot = f.bool(cx, "plot", false);
    Some(Report {
        formats: formats?,
        plot: plot?,
    })
}
