//! The one place that reads the wall clock. Everything else takes `now` as an argument, so
//! tests decide what time it is. Also how a time is written for people (`format_time`).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::model::UnixTime;

pub fn now() -> UnixTime {
    now_millis() / 1000
}

pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as u64)
        // A clock set before 1970 is a broken host; treat it as the epoch rather than panic.
        .unwrap_or(0)
}

/// `2026-11-22 08:09 UTC`: dates for people, computed from the Unix time with the
/// days-to-civil algorithm (proleptic Gregorian calendar).
pub fn format_time(unix: UnixTime) -> String {
    let (year, month, day, seconds_of_day) = civil(unix);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        seconds_of_day / 3600,
        seconds_of_day % 3600 / 60
    )
}

/// A time as a file name sorts it: `20261201T234612Z` (ISO 8601 basic, UTC).
pub fn compact_time(unix: UnixTime) -> String {
    let (year, month, day, seconds_of_day) = civil(unix);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        seconds_of_day / 3600,
        seconds_of_day % 3600 / 60,
        seconds_of_day % 60
    )
}

/// The proleptic Gregorian date of `unix` (Howard Hinnant's days-from-civil, inverted) and
/// the seconds into that day.
fn civil(unix: UnixTime) -> (i64, i64, i64, u64) {
    let days = (unix / 86_400) as i64;
    let seconds_of_day = unix % 86_400;
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day, seconds_of_day)
}

#[cfg(test)]
mod tests {
    use super::{compact_time, format_time};

    #[test]
    fn formats_times() {
        assert_eq!(compact_time(1_795_334_977), "20261122T080937Z");
        assert_eq!(compact_time(0), "19700101T000000Z");
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_time(1_795_334_977), "2026-11-22 08:09 UTC");
    }
}
