//! The audit trail on disk: the decision log's active file and the days it was rotated into.
//!
//! The active file (`decisions.jsonl`) holds the current UTC day. At UTC midnight the log's
//! writer renames it to `decisions.2026-11-25.jsonl`, opens a fresh one, and hands the
//! closed day to a thread that compresses it (`decisions.2026-11-25.jsonl.gz`, written
//! beside it and renamed into place, so a crash leaves either the plain or the whole
//! compressed file) and deletes the days older than the retention. A second file for one
//! day (the clock set back, say) gets a number: `decisions.2026-11-25.1.jsonl`.
//!
//! What it approximates: a line is filed by when the writer wrote it, which may be up to
//! one writer tick (50 ms) after its request; readers filter by each line's `ts` and look
//! one day either side of the range they want.

use flate2::write::GzEncoder;
use flate2::Compression;
use jiff::civil::Date;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// A decision log's file names: the active one and its rotated days.
#[derive(Debug, Clone)]
pub struct Trail {
    active: PathBuf,
    dir: PathBuf,
    /// The active file's name without its extension: `decisions`.
    stem: String,
    /// Its extension with the dot (`.jsonl`), or nothing.
    ext: String,
}

/// One rotated day on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotated {
    pub day: Date,
    pub path: PathBuf,
    pub compressed: bool,
}

/// The UTC day of a Unix time.
pub fn utc_day(seconds: i64) -> Date {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())
        .unwrap_or(Date::MIN)
}

impl Trail {
    pub fn new(active: &Path) -> Self {
        let name = active
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "decisions.jsonl".into());
        let (stem, ext) = match name.rfind('.') {
            Some(i) if i > 0 => (name[..i].to_string(), name[i..].to_string()),
            _ => (name, String::new()),
        };
        let dir = match active.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Self {
            active: active.to_path_buf(),
            dir,
            stem,
            ext,
        }
    }

    pub fn active(&self) -> &Path {
        &self.active
    }

    /// Where a day's file goes: the first free of `stem.DAY.ext`, `stem.DAY.1.ext`...
    fn free_name(&self, day: Date) -> PathBuf {
        (0..)
            .map(|n| {
                let number = if n == 0 {
                    String::new()
                } else {
                    format!(".{n}")
                };
                self.dir
                    .join(format!("{}.{day}{number}{}", self.stem, self.ext))
            })
            .find(|p| !p.exists() && !gz(p).exists())
            .expect("a free name")
    }

    /// The day a rotated file's name gives, if it is one of this trail's.
    fn parse(&self, name: &str) -> Option<(Date, bool)> {
        let rest = name.strip_prefix(&self.stem)?.strip_prefix('.')?;
        let (rest, compressed) = match rest.strip_suffix(".gz") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let rest = rest.strip_suffix(self.ext.as_str())?;
        let day: Date = rest.get(..10)?.parse().ok()?;
        let number = &rest[10..];
        let numbered = number.is_empty()
            || number
                .strip_prefix('.')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        numbered.then_some((day, compressed))
    }

    /// Every rotated file in the directory, oldest day first. A plain file whose gzipped
    /// copy is complete already (it is being compressed) is left out.
    pub fn rotated(&self) -> io::Result<Vec<Rotated>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((day, compressed)) = self.parse(&name) {
                if !compressed && gz(&entry.path()).exists() {
                    continue;
                }
                out.push(Rotated {
                    day,
                    path: entry.path(),
                    compressed,
                });
            }
        }
        out.sort_by(|a, b| (a.day, &a.path).cmp(&(b.day, &b.path)));
        Ok(out)
    }

    /// Rename the active file to its day's name; the renamed path.
    pub fn rotate(&self, day: Date) -> io::Result<PathBuf> {
        let to = self.free_name(day);
        fs::rename(&self.active, &to)?;
        Ok(to)
    }

    /// Whether the active file can be rotated: a regular file, or none yet (not a device
    /// such as `/dev/null`, a pipe, or standard output's).
    pub fn rotatable(&self) -> bool {
        fs::metadata(&self.active).map_or(true, |m| m.is_file())
    }

    /// The UTC day of the active file's first line, if it has a readable one.
    pub fn active_day(&self) -> Option<Date> {
        let file = File::open(&self.active).ok()?;
        let mut first = String::new();
        // A line longer than any log line is not one.
        BufReader::new(file.take(64 * 1024))
            .read_line(&mut first)
            .ok()?;
        let ts = serde_json::from_str::<serde_json::Value>(&first).ok()?;
        let ts: jiff::Timestamp = ts["ts"].as_str()?.parse().ok()?;
        Some(ts.to_zoned_datetime(jiff::tz::TimeZone::UTC).date())
    }

    /// Compress every rotated day still plain (when `compress`), then delete the days
    /// older than `retention_days` before `today`. Returns the files deleted.
    pub fn tidy(
        &self,
        today: Date,
        retention_days: u32,
        compress_days: bool,
    ) -> io::Result<Vec<PathBuf>> {
        for file in self.rotated()? {
            if compress_days && !file.compressed {
                compress(&file.path)?;
            }
        }
        let oldest = today
            .checked_sub(jiff::Span::new().days(i64::from(retention_days)))
            .unwrap_or(Date::MIN);
        let mut deleted = Vec::new();
        for file in self.rotated()? {
            if file.day < oldest {
                fs::remove_file(&file.path)?;
                deleted.push(file.path);
            }
        }
        Ok(deleted)
    }

    /// The files that may hold lines of the UTC days `from` to `to`: the rotated days from
    /// the day before to the day after, and the active file.
    pub fn files_between(&self, from: Date, to: Date) -> io::Result<Vec<PathBuf>> {
        let (low, high) = (
            from.yesterday().unwrap_or(from),
            to.tomorrow().unwrap_or(to),
        );
        let mut files: Vec<PathBuf> = self
            .rotated()?
            .into_iter()
            .filter(|f| f.day >= low && f.day <= high)
            .map(|f| f.path)
            .collect();
        if self.active.exists() {
            files.push(self.active.clone());
        }
        Ok(files)
    }
}

fn gz(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

/// Gzip `path` into `path.gz` (through a temporary name, synced before the rename) and
/// remove `path`.
pub fn compress(path: &Path) -> io::Result<PathBuf> {
    let target = gz(path);
    let mut partial = target.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    {
        let mut input = File::open(path)?;
        let mut encoder = GzEncoder::new(File::create(&partial)?, Compression::default());
        io::copy(&mut input, &mut encoder)?;
        encoder.finish()?.sync_all()?;
    }
    fs::rename(&partial, &target)?;
    fs::remove_file(path)?;
    Ok(target)
}

/// Read a trail file, plain or gzipped, line by line.
pub fn open_lines(path: &Path) -> io::Result<Box<dyn BufRead>> {
    Ok(lines_of(path, File::open(path)?))
}

/// The lines of `raw`, the bytes of the trail file at `path` (gunzipped if its name ends
/// in `.gz`).
pub fn lines_of(path: &Path, raw: impl Read + 'static) -> Box<dyn BufRead> {
    let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    Box::new(BufReader::with_capacity(256 * 1024, reader))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut file = File::create(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }

    fn day(text: &str) -> Date {
        text.parse().unwrap()
    }

    #[test]
    fn rotated_names_carry_their_day_and_a_number_when_taken() {
        let dir = tempfile::tempdir().unwrap();
        let trail = Trail::new(&dir.path().join("decisions.jsonl"));
        write_synced(trail.active(), b"{\"ts\":\"2026-11-25T10:00:00.000Z\"}\n").unwrap();
        assert_eq!(trail.active_day(), Some(day("2026-11-25")));
        let first = trail.rotate(day("2026-11-25")).unwrap();
        assert!(first.ends_with("decisions.2026-11-25.jsonl"));
        write_synced(trail.active(), b"{}\n").unwrap();
        let second = trail.rotate(day("2026-11-25")).unwrap();
        assert!(second.ends_with("decisions.2026-11-25.1.jsonl"));
        let compressed = compress(&first).unwrap();
        assert!(compressed.ends_with("decisions.2026-11-25.jsonl.gz"));
        let mut text = String::new();
        open_lines(&compressed)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.contains("2026-11-25T10:00"));
        let found = trail.rotated().unwrap();
        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|f| f.day == day("2026-11-25")));
        // Not ours: another stem, a bad day, a bad number.
        for other in [
            "other.2026-11-25.jsonl",
            "decisions.2026-13-01.jsonl",
            "decisions.2026-11-25.x.jsonl",
        ] {
            write_synced(&dir.path().join(other), b"").unwrap();
        }
        assert_eq!(trail.rotated().unwrap().len(), 2);
    }

    #[test]
    fn tidying_compresses_and_keeps_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let trail = Trail::new(&dir.path().join("decisions.jsonl"));
        for d in ["2025-10-20", "2025-10-21", "2026-11-24"] {
            write_synced(&dir.path().join(format!("decisions.{d}.jsonl")), b"{}\n").unwrap();
        }
        // 400 days before 2026-11-25 is 2025-10-21: that day stays, the one before goes.
        let deleted = trail.tidy(day("2026-11-25"), 400, true).unwrap();
        assert_eq!(deleted.len(), 1);
        assert!(deleted[0].to_string_lossy().contains("2025-10-20"));
        let kept = trail.rotated().unwrap();
        assert_eq!(kept.len(), 2);
        assert!(kept.iter().all(|f| f.compressed));
        let between = trail
            .files_between(day("2026-11-25"), day("2026-11-25"))
            .unwrap();
        assert_eq!(between.len(), 1, "the day before, no active file yet");
    }
}
