//! Image history as `docker history` shows it: config `history` entries (newest first) matched to
//! the manifest's layers, empty layers included, the top row carrying the image ID.

use rreg_oci::{Digest, ImageConfig};
use serde::Serialize;

use crate::output;

/// One row of a history.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `sha256:…` for the image itself, `<missing>` for the layers below it.
    pub id: String,
    /// RFC 3339 creation time.
    pub created: Option<String>,
    /// The instruction.
    pub created_by: String,
    /// Layer size in bytes (0 for empty layers).
    pub size: u64,
    /// Comment.
    pub comment: String,
}

/// Builds the rows (newest first). `sizes[i]` is the size of the i-th layer of the manifest.
pub fn rows(config: &ImageConfig, image_id: &Digest, sizes: &[u64]) -> Vec<Row> {
    let mut out = Vec::new();
    let mut layer = 0usize;
    for h in &config.history {
        let size = if h.is_empty_layer() {
            0
        } else {
            let s = sizes.get(layer).copied().unwrap_or(0);
            layer += 1;
            s
        };
        out.push(Row {
            id: "<missing>".into(),
            created: h.created.clone(),
            created_by: h.created_by.clone().unwrap_or_default(),
            size,
            comment: h.comment.clone().unwrap_or_default(),
        });
    }
    // Layers the history does not account for (images built without history).
    for s in sizes.iter().skip(layer) {
        out.push(Row {
            id: "<missing>".into(),
            created: config.created.clone(),
            created_by: String::new(),
            size: *s,
            comment: String::new(),
        });
    }
    out.reverse();
    if let Some(top) = out.first_mut() {
        top.id = image_id.to_string();
    }
    out
}

/// How to print a history.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Cut IDs to 12 characters and instructions to 45.
    pub truncate: bool,
    /// Human times and sizes.
    pub human: bool,
}

fn id_text(row: &Row, style: Style) -> String {
    if style.truncate {
        row.id
            .strip_prefix("sha256:")
            .map_or(row.id.clone(), |h| h.chars().take(12).collect())
    } else {
        row.id.clone()
    }
}

fn created_text(row: &Row, style: Style) -> String {
    if style.human {
        output::since(row.created.as_deref())
    } else {
        output::rfc3339_local(row.created.as_deref())
    }
}

fn created_by_text(row: &Row, style: Style) -> String {
    let s = row.created_by.replace('\t', " ");
    if style.truncate {
        output::ellipsis(&s, 45)
    } else {
        s
    }
}

fn size_text(row: &Row, style: Style) -> String {
    if style.human {
        output::human_size(row.size)
    } else {
        row.size.to_string()
    }
}

/// The table `docker history` prints.
pub fn table(rows: &[Row], style: Style) -> String {
    let mut cells = vec![vec![
        "IMAGE".to_owned(),
        if style.human { "CREATED" } else { "CREATED AT" }.to_owned(),
        "CREATED BY".to_owned(),
        "SIZE".to_owned(),
        "COMMENT".to_owned(),
    ]];
    for r in rows {
        cells.push(vec![
            id_text(r, style),
            created_text(r, style),
            created_by_text(r, style),
            size_text(r, style),
            r.comment.clone(),
        ]);
    }
    output::table(&cells)
}

/// Only the IDs (`-q`).
pub fn ids(rows: &[Row], style: Style) -> String {
    rows.iter().map(|r| format!("{}\n", id_text(r, style))).collect()
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct JsonRow {
    comment: String,
    created_at: String,
    created_by: String,
    created_since: String,
    #[serde(rename = "ID")]
    id: String,
    size: String,
}

/// One JSON object per line, with the keys of `docker history --format json`.
pub fn json_lines(rows: &[Row], style: Style) -> anyhow::Result<String> {
    let mut out = String::new();
    for r in rows {
        let j = JsonRow {
            comment: r.comment.clone(),
            created_at: output::rfc3339_local(r.created.as_deref()),
            created_by: created_by_text(r, style),
            created_since: created_text(r, Style { human: true, ..style }),
            id: id_text(r, style),
            size: size_text(r, style),
        };
        out.push_str(&serde_json::to_string(&j)?);
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rreg_oci::History;

    #[test]
    fn matches_layers_and_empty_entries() {
        let config = ImageConfig {
            history: vec![
                History {
                    created_by: Some("ADD rootfs /".into()),
                    ..Default::default()
                },
                History {
                    created_by: Some("CMD [\"sh\"]".into()),
                    empty_layer: Some(true),
                    ..Default::default()
                },
                History {
                    created_by: Some("RUN\techo".into()),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let id = Digest::sha256(b"config");
        let r = rows(&config, &id, &[100, 2000]);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].id, id.to_string());
        assert_eq!((r[0].size, r[1].size, r[2].size), (2000, 0, 100));
        assert_eq!(r[2].id, "<missing>");
        let t = table(
            &r,
            Style {
                truncate: true,
                human: true,
            },
        );
        assert!(
            t.starts_with("IMAGE          CREATED   CREATED BY     SIZE      COMMENT\n"),
            "{t}"
        );
        assert!(t.contains("RUN echo"));
    }
}
