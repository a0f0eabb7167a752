//! A scenario's report: what was measured, which checks passed, and the violations of those that failed.

use std::fmt::Write as _;
use std::time::Duration;

/// How many violations of one check a report spells out (the rest are counted).
const SHOWN: usize = 8;

/// The outcome of one scenario.
#[derive(Debug, Default)]
pub struct Report {
    /// The scenario's name.
    pub name: String,
    lines: Vec<String>,
    failed: Vec<String>,
}

impl Report {
    /// An empty report for `name`.
    #[must_use]
    pub fn new(name: &str) -> Report {
        Report {
            name: name.to_owned(),
            ..Report::default()
        }
    }

    /// Adds an informational line (settings, counts).
    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("[{}] {text}", self.name);
        self.lines.push(text);
    }

    /// Adds a measured time, as `measured <what>: <seconds>`.
    pub fn measure(&mut self, what: &str, took: Duration) {
        self.note(format!("measured {what}: {:.3}s", took.as_secs_f64()));
    }

    /// Records a check: passed when `violations` is empty.
    pub fn check(&mut self, what: &str, violations: Vec<String>) {
        if violations.is_empty() {
            self.note(format!("PASS {what}"));
            return;
        }
        let mut text = format!("FAIL {what}: {} violation(s)", violations.len());
        for v in violations.iter().take(SHOWN) {
            let _ = write!(text, "\n    - {v}");
        }
        if violations.len() > SHOWN {
            let _ = write!(text, "\n    - ... and {} more", violations.len() - SHOWN);
        }
        self.note(text.clone());
        self.failed.push(text);
    }

    /// Records a check that is a single condition.
    pub fn require(&mut self, what: &str, holds: bool, why: impl FnOnce() -> String) {
        let violations = if holds { Vec::new() } else { vec![why()] };
        self.check(what, violations);
    }

    /// True when no check failed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.failed.is_empty()
    }

    /// The whole report as text.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = format!("== scenario {} ==\n", self.name);
        for line in &self.lines {
            out.push_str(line);
            out.push('\n');
        }
        let verdict = if self.passed() {
            "PASSED".to_owned()
        } else {
            format!("FAILED ({} check(s))", self.failed.len())
        };
        let _ = writeln!(out, "== {} {verdict} ==", self.name);
        out
    }
}
