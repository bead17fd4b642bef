//! The trigger: a cron read in an IANA time zone (croner, chrono-tz), so "9:00 on the 15th in
//! Europe/Paris" stays 9:00 in Paris across daylight-saving changes (07:00 UTC in summer,
//! 08:00 UTC in winter).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;

use super::error::FlowError;
use super::spec::Trigger;

/// A parsed trigger.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    zone: Tz,
}

impl Schedule {
    /// Reads the trigger: its cron and its time zone.
    pub fn new(trigger: &Trigger) -> Result<Schedule, FlowError> {
        let cron: Cron = trigger.cron.parse().map_err(|source| FlowError::Cron {
            cron: trigger.cron.clone(),
            source,
        })?;
        let zone: Tz = trigger
            .timezone
            .parse()
            .map_err(|_| FlowError::TimeZone(trigger.timezone.clone()))?;
        Ok(Schedule { cron, zone })
    }

    /// A cron with no next fire time.
    fn no_next(&self) -> impl FnOnce(croner::errors::CronError) -> FlowError {
        let cron = self.cron.as_str().to_string();
        move |source| FlowError::Cron { cron, source }
    }

    /// The time zone the cron is read in.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// The next `n` fire times strictly after `after`.
    pub fn next(&self, after: DateTime<Utc>, n: usize) -> Result<Vec<DateTime<Tz>>, FlowError> {
        let mut out = Vec::with_capacity(n);
        let mut cursor = after.with_timezone(&self.zone);
        for _ in 0..n {
            cursor = self
                .cron
                .find_next_occurrence(&cursor, false)
                .map_err(self.no_next())?;
            out.push(cursor);
        }
        Ok(out)
    }

    /// Fire times in `(since, now]`: what a scheduler that last looked at `since` owes now.
    /// Several when it slept through more than one (each run is then done in turn).
    pub fn due(
        &self,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Tz>>, FlowError> {
        let mut out = Vec::new();
        let mut cursor = since.with_timezone(&self.zone);
        loop {
            let next = self
                .cron
                .find_next_occurrence(&cursor, false)
                .map_err(self.no_next())?;
            if next.with_timezone(&Utc) > now {
                return Ok(out);
            }
            out.push(next);
            cursor = next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn monthly() -> Schedule {
        Schedule::new(&Trigger {
            cron: "0 9 15 * *".into(),
            timezone: "Europe/Paris".into(),
        })
        .unwrap()
    }

    #[test]
    fn nine_in_paris_is_eight_utc_in_winter_and_seven_in_summer() {
        let from = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let utc: Vec<String> = monthly()
            .next(from, 4)
            .unwrap()
            .iter()
            .map(|t| t.with_timezone(&Utc).format("%Y-%m-%d %H:%M").to_string())
            .collect();
        // Paris moves to summer time on 29 March 2026.
        assert_eq!(
            utc,
            [
                "2026-01-15 08:00",
                "2026-02-15 08:00",
                "2026-03-15 08:00",
                "2026-04-15 07:00"
            ]
        );
    }

    #[test]
    fn a_scheduler_that_slept_owes_every_missed_run_once() {
        let s = monthly();
        let since = Utc.with_ymd_and_hms(2026, 1, 15, 8, 0, 0).unwrap();
        assert!(
            s.due(since, since).unwrap().is_empty(),
            "the run at `since` was already done"
        );
        let now = Utc.with_ymd_and_hms(2026, 3, 15, 8, 0, 0).unwrap();
        assert_eq!(s.due(since, now).unwrap().len(), 2);
    }
}
