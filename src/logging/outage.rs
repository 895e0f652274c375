//! A failure that may last (Centrifugo down, a full disk), reported when it starts, at
//! most once per interval while it lasts, and when it ends: an hour-long outage writes
//! about sixty lines, not one per retry. Callers word the lines; this keeps the count.

use std::time::{Duration, Instant};

/// The state of one kind of failure, retried over and over by one loop.
pub struct Outage {
    every: Duration,
    current: Option<Spell>,
}

struct Spell {
    since: Instant,
    tries: u64,
    reported: Instant,
}

/// What a caller should log after a try.
#[derive(Debug, PartialEq)]
pub enum Report {
    /// The first failure after a success.
    Began,
    /// Still failing, and `every` has passed since the last report.
    Lasting { since: Duration, tries: u64 },
    /// A success after `tries` failures that lasted `since`.
    Ended { since: Duration, tries: u64 },
    /// Nothing worth a line.
    Quiet,
}

impl Outage {
    /// Reports a lasting failure again once per `every`.
    pub fn new(every: Duration) -> Outage {
        Outage {
            every,
            current: None,
        }
    }

    pub fn failed(&mut self) -> Report {
        let now = Instant::now();
        match &mut self.current {
            None => {
                self.current = Some(Spell {
                    since: now,
                    tries: 1,
                    reported: now,
                });
                Report::Began
            }
            Some(spell) => {
                spell.tries += 1;
                if now.duration_since(spell.reported) < self.every {
                    return Report::Quiet;
                }
                spell.reported = now;
                Report::Lasting {
                    since: now.duration_since(spell.since),
                    tries: spell.tries,
                }
            }
        }
    }

    pub fn succeeded(&mut self) -> Report {
        match self.current.take() {
            Some(spell) => Report::Ended {
                since: spell.since.elapsed(),
                tries: spell.tries,
            },
            None => Report::Quiet,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_reported_when_it_begins_at_most_once_per_interval_and_when_it_ends() {
        let mut quiet_for_long = Outage::new(Duration::from_secs(3600));
        assert_eq!(quiet_for_long.succeeded(), Report::Quiet);
        assert_eq!(quiet_for_long.failed(), Report::Began);
        for _ in 0..100 {
            assert_eq!(quiet_for_long.failed(), Report::Quiet);
        }
        assert!(matches!(
            quiet_for_long.succeeded(),
            Report::Ended { tries: 101, .. }
        ));
        assert_eq!(quiet_for_long.succeeded(), Report::Quiet);

        let mut every_time = Outage::new(Duration::ZERO);
        assert_eq!(every_time.failed(), Report::Began);
        assert!(matches!(
            every_time.failed(),
            Report::Lasting { tries: 2, .. }
        ));
    }
}
