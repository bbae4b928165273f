//! Gid files: one gid a line, written as the load runs (a background thread flushes
//! whenever it catches up), so they survive whatever happens to the server.

use std::io::{BufRead, BufWriter, Write};
use std::sync::{mpsc, Mutex};

type Writer = std::thread::JoinHandle<std::io::Result<()>>;

/// A file being appended to by a background thread.
pub struct GidLog {
    tx: Mutex<Option<mpsc::Sender<String>>>,
    thread: Mutex<Option<Writer>>,
}

impl GidLog {
    /// Creates (truncates) `path`.
    pub fn create(path: &str) -> std::io::Result<GidLog> {
        let file = std::fs::File::create(path)?;
        let (tx, rx) = mpsc::channel::<String>();
        let thread = std::thread::spawn(move || {
            let mut w = BufWriter::new(file);
            while let Ok(gid) = rx.recv() {
                writeln!(w, "{gid}")?;
                while let Ok(gid) = rx.try_recv() {
                    writeln!(w, "{gid}")?;
                }
                w.flush()?;
            }
            w.flush()
        });
        Ok(GidLog {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues one gid.
    pub fn add(&self, gid: &str) {
        if let Some(tx) = &*self.tx.lock().expect("gid log lock") {
            let _ = tx.send(gid.to_string());
        }
    }

    /// Writes everything queued and closes the file; later gids are dropped.
    pub fn finish(&self) -> std::io::Result<()> {
        self.tx.lock().expect("gid log lock").take();
        let thread = self.thread.lock().expect("gid log lock").take();
        match thread {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("panicked"))),
            None => Ok(()),
        }
    }
}

/// Reads a gid file (blank lines skipped).
pub fn read(path: &str) -> std::io::Result<Vec<String>> {
    let file = std::fs::File::open(path)?;
    std::io::BufReader::new(file)
        .lines()
        .filter(|l| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|l| l.map(|l| l.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let path = std::env::temp_dir().join(format!("gidlog-{}", std::process::id()));
        let path = path.to_str().expect("utf8");
        let log = GidLog::create(path).expect("create");
        log.add("a-1");
        log.add("a-2");
        log.finish().expect("finish");
        assert_eq!(read(path).expect("read"), vec!["a-1", "a-2"]);
        let _ = std::fs::remove_file(path);
    }
}
