//! A measured cache in a child process of its own, seen from the parent: the line protocol that
//! `throughput` and `facade` share. The child prints `READY` once its cache is built and prefilled
//! (or [`UNAVAILABLE`]), then answers each request line on its stdin with one line, until its stdin
//! closes.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::UNAVAILABLE;

/// Writes one progress line of a child to the stderr it shares with its siblings, in a single
/// `write` so that lines of children running at once never interleave (`eprintln!` writes the
/// pieces of its format separately).
pub(crate) fn child_note(line: &str) {
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    // Progress output only: a closed stderr is no reason to fail the measurement.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// A running child and its pipes; dropping it closes its stdin and waits for it to exit.
pub(crate) struct LaneProcess {
    label: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl LaneProcess {
    /// Re-executes this binary with `args` (stderr inherited); `label` names the cache in errors.
    pub(crate) fn spawn(label: &'static str, args: &[String]) -> Result<Self> {
        let exe = std::env::current_exe().context("locating this binary to re-execute it")?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting the {label} lane"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            bail!("the {label} lane has no pipes");
        };
        Ok(Self {
            label,
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
        })
    }

    /// The child's next line.
    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .with_context(|| format!("reading from the {} lane", self.label))?;
        if n == 0 {
            bail!("the {} lane exited early (see its error above)", self.label);
        }
        Ok(line.trim_end().to_owned())
    }

    /// Waits until the child has prefilled; `None` (and the child gone) if its cache is not available
    /// in this build.
    pub(crate) fn ready(mut self) -> Result<Option<Self>> {
        match self.read_line()?.as_str() {
            "READY" => Ok(Some(self)),
            UNAVAILABLE => Ok(None),
            other => bail!("the {} lane said {other:?} instead of READY", self.label),
        }
    }

    /// Sends one request line and returns the child's answer line.
    pub(crate) fn request(&mut self, line: &str) -> Result<String> {
        let stdin = self.stdin.as_mut().context("lane closed")?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .with_context(|| format!("writing to the {} lane", self.label))?;
        self.read_line()
    }
}

impl Drop for LaneProcess {
    fn drop(&mut self) {
        // Closing stdin ends the child's loop.
        drop(self.stdin.take());
        if let Err(e) = self.child.wait() {
            eprintln!("waiting for the {} lane: {e}", self.label);
        }
    }
}
