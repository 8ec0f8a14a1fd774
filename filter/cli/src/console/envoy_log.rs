//! Envoy's log, read from an offset on: the warnings, errors and critical lines written since a
//! push, for the reason of a rejected one. Each poll reads only what was appended since the last,
//! however long the log has grown.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// More than a rejection's lines; the rest of one poll's share is left unread.
const MAX_READ: u64 = 1 << 20;
/// Distinct messages kept; the console shows the first few.
const MAX_LINES: usize = 100;

pub struct LogTail {
    path: PathBuf,
    offset: u64,
    /// The end of the last read when it stopped inside a line.
    partial: Vec<u8>,
}

impl LogTail {
    pub fn from(path: &Path, offset: u64) -> LogTail {
        LogTail {
            path: path.to_path_buf(),
            offset,
            partial: Vec::new(),
        }
    }

    /// The complete lines appended since the last call.
    fn new_lines(&mut self) -> Vec<String> {
        let Ok(mut file) = File::open(&self.path) else {
            return Vec::new();
        };
        if file.metadata().is_ok_and(|m| m.len() < self.offset) {
            // Truncated or rotated under the same name: its lines are all new.
            self.offset = 0;
            self.partial.clear();
        }
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut read = Vec::new();
        let Ok(n) = file.take(MAX_READ).read_to_end(&mut read) else {
            return Vec::new();
        };
        self.offset += n as u64;
        self.partial.extend_from_slice(&read);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            return Vec::new();
        };
        let rest = self.partial.split_off(end + 1);
        let complete = std::mem::replace(&mut self.partial, rest);
        String::from_utf8_lossy(&complete)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Envoy's warning, error and critical lines appended since the last call, each message once
    /// (every worker logs the same failure), without the time and thread prefix.
    pub fn warnings(&mut self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for line in self.new_lines() {
            let Some(level) = ["[warning]", "[error]", "[critical]"]
                .iter()
                .find_map(|level| line.find(level))
            else {
                continue;
            };
            let message = line.get(level..).unwrap_or(&line).to_string();
            if !out.contains(&message) && out.len() < MAX_LINES {
                out.push(message);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn only_lines_appended_since_the_offset_are_read_each_once_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("envoy.log");
        let old = "[t][1][warning][config] before the push\n";
        std::fs::write(&path, old).unwrap();
        let mut tail = LogTail::from(&path, old.len() as u64);
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let mut append = |text: &str| {
            log.write_all(text.as_bytes()).unwrap();
        };
        append("[t][1][info][main] unrelated\n[t][1][error][wasm] half of a li");
        assert_eq!(tail.warnings(), Vec::<String>::new());
        append("ne\n[t][2][error][wasm] half of a line\n[t][2][critical][x] y\n");
        assert_eq!(
            tail.warnings(),
            ["[error][wasm] half of a line", "[critical][x] y"]
        );
        assert_eq!(tail.warnings(), Vec::<String>::new(), "read once");
        // Rotated: a shorter file under the same name is read from its start.
        std::fs::write(&path, "[t][1][warning][config] after rotation\n").unwrap();
        assert_eq!(tail.warnings(), ["[warning][config] after rotation"]);
    }
}
