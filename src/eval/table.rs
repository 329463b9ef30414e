//! A small table renderer shared by the eval summary and `lpipe report`: terminal, Markdown, CSV.

/// Rows of cells under a header; numeric-looking columns are right-aligned in text and Markdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Column titles.
    pub header: Vec<String>,
    /// Cells, one row per entry (short rows are padded with empty cells).
    pub rows: Vec<Vec<String>>,
}

/// Output format of a [`Table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for the terminal.
    Table,
    /// A GitHub-flavoured Markdown table.
    Markdown,
    /// RFC 4180 CSV.
    Csv,
}

fn numeric(cell: &str) -> bool {
    let t = cell.trim_start_matches(['+', '-']);
    !t.is_empty()
        && t.chars().next().is_some_and(|c| c.is_ascii_digit())
        && t.chars().all(|c| "0123456789.e-+% ±sx".contains(c))
}

fn csv_cell(cell: &str) -> String {
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

impl Table {
    /// A table with these column titles and no rows.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Self {
        Table {
            header: header.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    fn cell(&self, row: usize, col: usize) -> &str {
        self.rows
            .get(row)
            .and_then(|r| r.get(col))
            .map_or("", String::as_str)
    }

    fn right_aligned(&self, col: usize) -> bool {
        let cells: Vec<&str> = (0..self.rows.len())
            .map(|r| self.cell(r, col))
            .filter(|c| !c.is_empty())
            .collect();
        !cells.is_empty() && cells.iter().all(|c| numeric(c))
    }

    fn widths(&self) -> Vec<usize> {
        (0..self.header.len())
            .map(|c| {
                let body = (0..self.rows.len()).map(|r| self.cell(r, c).chars().count());
                body.chain([self.header[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    /// Renders in `format`, ending with a newline.
    pub fn render(&self, format: Format) -> String {
        let widths = self.widths();
        let align: Vec<bool> = (0..self.header.len())
            .map(|c| self.right_aligned(c))
            .collect();
        let pad = |text: &str, c: usize| {
            let w = widths[c];
            if align[c] {
                format!("{text:>w$}")
            } else {
                format!("{text:<w$}")
            }
        };
        let mut out = String::new();
        match format {
            Format::Table => {
                let line = |cells: Vec<String>| cells.join("  ").trim_end().to_string() + "\n";
                out += &line(
                    self.header
                        .iter()
                        .enumerate()
                        .map(|(c, h)| pad(h, c))
                        .collect(),
                );
                out += &line(widths.iter().map(|w| "─".repeat(*w)).collect());
                for r in 0..self.rows.len() {
                    out += &line((0..widths.len()).map(|c| pad(self.cell(r, c), c)).collect());
                }
            }
            Format::Markdown => {
                let esc = |s: &str| s.replace('|', "\\|");
                let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
                out += &line(
                    self.header
                        .iter()
                        .enumerate()
                        .map(|(c, h)| pad(&esc(h), c))
                        .collect(),
                );
                out += &line(
                    widths
                        .iter()
                        .zip(&align)
                        .map(|(w, right)| {
                            let dashes = "-".repeat((*w).max(3) - 1);
                            if *right {
                                format!("{dashes}:")
                            } else {
                                format!(":{dashes}")
                            }
                        })
                        .collect(),
                );
                for r in 0..self.rows.len() {
                    out += &line(
                        (0..widths.len())
                            .map(|c| pad(&esc(self.cell(r, c)), c))
                            .collect(),
                    );
                }
            }
            Format::Csv => {
                let line = |cells: Vec<String>| cells.join(",") + "\n";
                out += &line(self.header.iter().map(|h| csv_cell(h)).collect());
                for r in 0..self.rows.len() {
                    out += &line(
                        (0..self.header.len())
                            .map(|c| csv_cell(self.cell(r, c)))
                            .collect(),
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(["run", "mmlu (acc)"]);
        t.rows.push(vec!["base".into(), "0.250 ± 0.043".into()]);
        t.rows
            .push(vec!["r16, \"a32\"".into(), "0.310 ± 0.046".into()]);
        t
    }

    #[test]
    fn text_aligns_numbers_right() {
        let s = sample().render(Format::Table);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "run            mmlu (acc)");
        assert_eq!(lines[2], "base        0.250 ± 0.043");
        assert_eq!(lines[1], "──────────  ─────────────");
    }

    #[test]
    fn markdown_and_csv() {
        let md = sample().render(Format::Markdown);
        assert!(md.starts_with("| run        |    mmlu (acc) |\n| :--------- | ------------: |\n| base       | 0.250 ± 0.043 |\n"), "{md}");
        let csv = sample().render(Format::Csv);
        assert_eq!(
            csv,
            "run,mmlu (acc)\nbase,0.250 ± 0.043\n\"r16, \"\"a32\"\"\",0.310 ± 0.046\n"
        );
    }
}
