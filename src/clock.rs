//! The one place that reads the wall clock. Everything else takes `now` as an argument, so
//! tests decide what time it is.

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
