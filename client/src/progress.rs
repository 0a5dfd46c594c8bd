//! Progress of transfers, shown as one bar per layer on a terminal, as plain lines
//! (`abc123def456: Pushed`) elsewhere, or not at all with `-q`.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
pub enum Progress {
    /// Bars on a terminal, and the final status lines to leave behind them.
    Bars(MultiProgress, Mutex<Vec<String>>),
    /// One line per finished step on stdout.
    Plain(Mutex<()>),
    /// Nothing.
    Quiet,
}

impl Progress {
    /// Bars when stdout is a terminal, plain lines otherwise, nothing when `quiet`.
    pub fn new(quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if std::io::stdout().is_terminal() && std::env::var_os("RREG_PLAIN_PROGRESS").is_none() {
            Progress::Bars(
                MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
                Mutex::new(Vec::new()),
            )
        } else {
            Progress::Plain(Mutex::new(()))
        }
    }

    /// Ends the display: on a terminal the bars are replaced by their final status lines, so what
    /// is printed next starts on a line of its own.
    pub fn done(&self) {
        if let Progress::Bars(m, lines) = self {
            let _ = m.clear();
            if let Ok(lines) = lines.lock() {
                let mut out = std::io::stdout().lock();
                for l in lines.iter() {
                    let _ = writeln!(out, "{l}");
                }
            }
        }
    }

    /// Whether anything but the final result is printed.
    pub fn verbose(&self) -> bool {
        !matches!(self, Progress::Quiet)
    }

    /// Prints a line (above the bars on a terminal).
    pub fn println(&self, line: &str) {
        match self {
            Progress::Bars(m, _) => {
                let _ = m.println(line);
            }
            Progress::Plain(lock) => {
                let _g = lock.lock();
                let _ = writeln!(std::io::stdout().lock(), "{line}");
            }
            Progress::Quiet => {}
        }
    }

    /// A tracker for one item (a layer) of `total` bytes, labelled `id`.
    pub fn item(&self, id: &str, total: u64, message: &str) -> Item<'_> {
        let bar = match self {
            Progress::Bars(m, _) => {
                let bar = m.add(ProgressBar::new(total));
                let style = ProgressStyle::with_template("{prefix}: {msg:<12} [{bar:40}] {bytes}/{total_bytes}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                bar.set_style(style);
                bar.set_prefix(id.to_owned());
                bar.set_message(message.to_owned());
                Some(bar)
            }
            _ => None,
        };
        Item {
            progress: self,
            id: id.to_owned(),
            bar,
        }
    }
}

/// Progress of one item.
pub struct Item<'a> {
    progress: &'a Progress,
    id: String,
    bar: Option<ProgressBar>,
}

impl Item<'_> {
    /// Adds transferred bytes.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    /// The bar, for counting bytes from another task.
    pub fn bar_handle(&self) -> Option<ProgressBar> {
        self.bar.clone()
    }

    /// Sets the position (after a resume).
    pub fn set_position(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_position(n);
        }
    }

    /// Changes the status text.
    pub fn message(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(msg.to_owned());
        }
    }

    /// Ends the item with a final status (`Pushed`, `Layer already exists`).
    pub fn finish(&self, msg: &str) {
        match &self.bar {
            Some(b) => {
                b.set_style(
                    ProgressStyle::with_template("{prefix}: {msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                b.finish_with_message(msg.to_owned());
                if let Progress::Bars(_, lines) = self.progress {
                    if let Ok(mut l) = lines.lock() {
                        l.push(format!("{}: {msg}", self.id));
                    }
                }
            }
            None => self.progress.println(&format!("{}: {msg}", self.id)),
        }
    }
}

/// The 12-character short form of a digest, as Docker labels layers.
pub fn short_id(d: &rreg_oci::Digest) -> String {
    d.hex().chars().take(12).collect()
}
