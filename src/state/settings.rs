//! Runtime settings: the knobs an operator can turn while the gateway runs (`PATCH
//! /api/settings`), stored in the store and applied by every instance without a restart.
//!
//! Each setting starts from the config file's value; a stored value overrides it. Clearing a
//! stored value returns to the file's.

use crate::config::Config;
use crate::store::Settings;
use std::time::Duration;

/// The hot knobs, as the request path reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    pub max_retries: u32,
    pub retry_delay: Duration,
    pub session_ttl: Duration,
    pub request_timeout: Duration,
    pub stream_idle_timeout: Duration,
    pub ping_interval: Duration,
    pub concurrency_queue: Duration,
    pub dedup_window: Duration,
}

/// One setting: its name, the bounds of its value, and where it lives in [`Runtime`].
struct Knob {
    name: &'static str,
    min: u64,
    max: u64,
    unit: Unit,
    set: fn(&mut Runtime, u64),
}

#[derive(Clone, Copy)]
enum Unit {
    Count,
    Millis,
    Seconds,
}

const KNOBS: [Knob; 8] = [
    Knob { name: "max_retries", min: 0, max: 20, unit: Unit::Count, set: |r, v| r.max_retries = v as u32 },
    Knob {
        name: "retry_delay_ms",
        min: 0,
        max: 60_000,
        unit: Unit::Millis,
        set: |r, v| r.retry_delay = Duration::from_millis(v),
    },
    Knob {
        name: "session_ttl_s",
        min: 1,
        max: 30 * 86_400,
        unit: Unit::Seconds,
        set: |r, v| r.session_ttl = Duration::from_secs(v),
    },
    Knob {
        name: "request_timeout_s",
        min: 1,
        max: 86_400,
        unit: Unit::Seconds,
        set: |r, v| r.request_timeout = Duration::from_secs(v),
    },
    Knob {
        name: "stream_idle_timeout_s",
        min: 1,
        max: 86_400,
        unit: Unit::Seconds,
        set: |r, v| r.stream_idle_timeout = Duration::from_secs(v),
    },
    Knob {
        name: "ping_interval_s",
        min: 1,
        max: 3_600,
        unit: Unit::Seconds,
        set: |r, v| r.ping_interval = Duration::from_secs(v),
    },
    Knob {
        name: "concurrency_queue_ms",
        min: 0,
        max: 600_000,
        unit: Unit::Millis,
        set: |r, v| r.concurrency_queue = Duration::from_millis(v),
    },
    Knob {
        name: "dedup_window_ms",
        min: 0,
        max: 600_000,
        unit: Unit::Millis,
        set: |r, v| r.dedup_window = Duration::from_millis(v),
    },
];

/// Occurs when a stored or submitted setting is unknown or out of range; names the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct BadSetting {
    pub name: String,
    pub message: String,
}

/// Every setting's name, in the order [`Runtime::to_json`] lists them.
pub fn names() -> impl Iterator<Item = &'static str> {
    KNOBS.iter().map(|k| k.name)
}

impl Runtime {
    /// The config file's values.
    pub fn from_config(c: &Config) -> Runtime {
        Runtime {
            max_retries: c.max_retries,
            retry_delay: Duration::from_millis(c.retry_delay_ms),
            session_ttl: Duration::from_secs(c.session_ttl_s),
            request_timeout: Duration::from_secs(c.request_timeout_s),
            stream_idle_timeout: Duration::from_secs(c.stream_idle_timeout_s),
            ping_interval: Duration::from_secs(c.ping_interval_s),
            concurrency_queue: Duration::from_millis(c.concurrency_queue_ms),
            dedup_window: Duration::from_millis(c.dedup_window_ms),
        }
    }

    /// `base` with the stored settings applied. A bad stored value is skipped (and logged)
    /// rather than taking the gateway down.
    pub fn with_stored(base: Runtime, stored: &Settings) -> Runtime {
        let mut r = base;
        for (name, value) in stored {
            if let Err(e) = r.apply(name, value) {
                tracing::warn!(error = %e, "ignoring a stored setting");
            }
        }
        r
    }

    /// Applies one setting, checking its name, type and range.
    pub fn apply(&mut self, name: &str, value: &serde_json::Value) -> Result<(), BadSetting> {
        let bad = |message: String| BadSetting { name: name.to_string(), message };
        let knob = KNOBS.iter().find(|k| k.name == name).ok_or_else(|| {
            bad(format!(
                "not a runtime setting (one of: {})",
                KNOBS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let n =
            value.as_u64().ok_or_else(|| bad(format!("expected a whole number{}", knob.unit.suffix())))?;
        if !(knob.min..=knob.max).contains(&n) {
            return Err(bad(format!("must be between {} and {}{}", knob.min, knob.max, knob.unit.suffix())));
        }
        (knob.set)(self, n);
        Ok(())
    }

    /// Every setting by name, as the admin API shows them.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "max_retries": self.max_retries,
            "retry_delay_ms": self.retry_delay.as_millis() as u64,
            "session_ttl_s": self.session_ttl.as_secs(),
            "request_timeout_s": self.request_timeout.as_secs(),
            "stream_idle_timeout_s": self.stream_idle_timeout.as_secs(),
            "ping_interval_s": self.ping_interval.as_secs(),
            "concurrency_queue_ms": self.concurrency_queue.as_millis() as u64,
            "dedup_window_ms": self.dedup_window.as_millis() as u64,
        })
    }
}

impl Unit {
    fn suffix(self) -> &'static str {
        match self {
            Unit::Count => "",
            Unit::Millis => " of milliseconds",
            Unit::Seconds => " of seconds",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stored_values_override_the_file_and_bad_ones_are_refused() {
        let base = Runtime::from_config(&Config::default());
        let mut stored = Settings::new();
        stored.insert("max_retries".into(), json!(5));
        stored.insert("ping_interval_s".into(), json!(3));
        stored.insert("nonsense".into(), json!(1));
        let r = Runtime::with_stored(base, &stored);
        assert_eq!(r.max_retries, 5);
        assert_eq!(r.ping_interval, Duration::from_secs(3));
        assert_eq!(r.retry_delay, base.retry_delay);

        let mut r = base;
        assert_eq!(r.apply("max_retries", &json!("many")).unwrap_err().message, "expected a whole number");
        assert!(r.apply("session_ttl_s", &json!(0)).unwrap_err().message.contains("between 1 and"));
        assert_eq!(r.apply("nope", &json!(1)).unwrap_err().name, "nope");
        assert_eq!(r, base, "refused values change nothing");
        for (name, _) in r.to_json().as_object().unwrap() {
            assert!(KNOBS.iter().any(|k| k.name == name), "{name}");
        }
    }
}
