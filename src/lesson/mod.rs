//! Lessons: the seed notes' experiments, runnable with one command (`rtool lesson run chain`).
//!
//! A lesson is a small text file in `lessons/` (the format: `lessons/README.md`). Each file is
//! compiled into the binary, so `rtool lesson run` works from any directory, with no checkout.
//! The pieces:
//! - [`script`] parses a lesson into steps (before anything starts, so a typo costs nothing);
//! - [`node`] starts and stops the servers and taps a lesson asks for, on free loopback ports,
//!   and makes sure none outlives the run (errors, panics, Ctrl-C);
//! - [`client`] talks RESP to them and shows replies the way `redis-cli` does;
//! - [`mask`] turns what varies between runs (ports, replication IDs, times) into stable
//!   names, so the transcript can go into the book and be compared by a test;
//! - [`run`] executes the steps and writes the transcript.

pub mod client;
pub mod mask;
pub mod node;
pub mod run;
pub mod script;

pub use run::{Options, Outcome};
pub use script::{Kind, Lesson};

/// Every lesson, in the order the book meets them: (name, source text).
pub const LESSONS: &[(&str, &str)] = &[
    (
        "first-setup",
        include_str!("../../lessons/first-setup.lesson"),
    ),
    ("typo-port", include_str!("../../lessons/typo-port.lesson")),
    ("chain", include_str!("../../lessons/chain.lesson")),
    ("readonly", include_str!("../../lessons/readonly.lesson")),
    ("auth", include_str!("../../lessons/auth.lesson")),
    (
        "protected-mode",
        include_str!("../../lessons/protected-mode.lesson"),
    ),
    ("failover", include_str!("../../lessons/failover.lesson")),
];

/// The embedded lesson called `name`, parsed.
pub fn find(name: &str) -> Option<Result<Lesson, script::ParseError>> {
    LESSONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| script::parse(n, text))
}

/// Every embedded lesson, parsed (a lesson that does not parse is a bug the tests catch).
pub fn all() -> Vec<Result<Lesson, script::ParseError>> {
    LESSONS
        .iter()
        .map(|(n, text)| script::parse(n, text))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_embedded_lesson_parses() {
        for l in super::all() {
            let l = l.unwrap();
            assert!(!l.steps.is_empty(), "{} has no steps", l.name);
        }
    }
}
