//! The webhook's bounds, each with its default and the reason for it: how large a review may be, how long
//! one may take, how many run at once and how much memory they may hold together ([`ReviewLimits`]).
//!
//! The figures come from what the API server can send:
//! - An object is at most 3 MiB when written (kube-apiserver's `--max-resource-write-bytes`, default
//!   3,145,728 bytes) and at most 1.5 MiB once stored (etcd's `--max-request-bytes`, default 1,572,864). An
//!   `AdmissionReview` carries one object and, for an update, its previous version: 8 MiB holds both at the
//!   write limit with their managed fields and the review around them.
//! - A `ConversionReview` is not bounded by one object: to serve a list in another version the API server
//!   sends every object of the list that is not in that version in one review (`getObjectsToConvert` in
//!   apiextensions-apiserver's webhook converter). A list without `limit` (a plain list from client-go or
//!   kube-rs) of 40,000 ClientIntents is one review of about 32 MB. 64 MiB holds about 80,000 ClientIntents
//!   of a typical size; each object in it is held to the admission limit.
//! - The API server waits 30 s for a webhook (its webhook clients' timeout) and, for admission, the webhook's
//!   `timeoutSeconds` (Holt registers 10 s), which it sends as `?timeout=10s`; an answer after that is read by
//!   nobody.
//! - It retries a `429` or `5xx` answer that carries `Retry-After`, after that many seconds, up to 10 times
//!   (client-go's REST client, which both webhook callers use); any other error answer fails the conversion
//!   (the API request that needed it fails with a 500 naming the webhook's message) or, for admission, counts
//!   as the webhook failing, and Holt registers `failurePolicy: Fail` (the write is refused, naming the
//!   message).

use std::time::Duration;

const MIB: usize = 1024 * 1024;

/// Default [`ReviewLimits::request_timeout`]: the API server's own wait for a webhook.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`ReviewLimits::max_conversion_body`]: 64 MiB, about 80,000 ClientIntents in one list.
pub const DEFAULT_MAX_CONVERSION_BODY: usize = 64 * MIB;
/// Default [`ReviewLimits::max_admission_body`]: 8 MiB, an object and its previous version at the API
/// server's 3 MiB write limit, with their managed fields.
pub const DEFAULT_MAX_ADMISSION_BODY: usize = 8 * MIB;
/// Default [`ReviewLimits::review_memory`]: 128 MiB, two conversion reviews of up to 32 MiB at once, or one
/// of the largest.
pub const DEFAULT_REVIEW_MEMORY: usize = 128 * MIB;
/// Default [`ReviewLimits::max_concurrent_reviews`].
pub const DEFAULT_MAX_CONCURRENT_REVIEWS: usize = 32;
/// Default [`ReviewLimits::queue_wait`]: long enough for the reviews ahead to finish (a 32 MB conversion
/// takes about a second), short enough to leave the API server time to send the review again.
pub const DEFAULT_QUEUE_WAIT: Duration = Duration::from_secs(10);
/// What a conversion review is charged in [`ReviewLimits::review_memory`], per byte of its body: the body
/// and the converted answer, about as large (objects are converted one at a time).
pub const CONVERSION_MEMORY_PER_BODY_BYTE: usize = 2;
/// What an admission review is charged per byte of its body: it is parsed into a tree, several times larger
/// than its text.
pub const ADMISSION_MEMORY_PER_BODY_BYTE: usize = 8;
/// The `Retry-After` of a review refused because the webhook is busy: the API server sends it again after
/// that many seconds.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// A setting's command-line flag and environment variable, named in the answers that refuse a review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    pub flag: &'static str,
    pub env: &'static str,
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "--{} ({})", self.flag, self.env)
    }
}

/// The flag and variable of [`ReviewLimits::request_timeout`].
pub const REQUEST_TIMEOUT: Setting = Setting {
    flag: "webhook-request-timeout",
    env: "HOLT_WEBHOOK_REQUEST_TIMEOUT",
};
/// The flag and variable of [`ReviewLimits::max_conversion_body`].
pub const MAX_CONVERSION_BODY: Setting = Setting {
    flag: "webhook-max-conversion-body-mib",
    env: "HOLT_WEBHOOK_MAX_CONVERSION_BODY_MIB",
};
/// The flag and variable of [`ReviewLimits::max_admission_body`].
pub const MAX_ADMISSION_BODY: Setting = Setting {
    flag: "webhook-max-admission-body-mib",
    env: "HOLT_WEBHOOK_MAX_ADMISSION_BODY_MIB",
};
/// The flag and variable of [`ReviewLimits::review_memory`].
pub const REVIEW_MEMORY: Setting = Setting {
    flag: "webhook-review-memory-mib",
    env: "HOLT_WEBHOOK_REVIEW_MEMORY_MIB",
};
/// The flag and variable of [`ReviewLimits::max_concurrent_reviews`].
pub const MAX_CONCURRENT_REVIEWS: Setting = Setting {
    flag: "webhook-max-concurrent-reviews",
    env: "HOLT_WEBHOOK_MAX_CONCURRENT_REVIEWS",
};
/// The flag and variable of [`ReviewLimits::queue_wait`].
pub const QUEUE_WAIT: Setting = Setting {
    flag: "webhook-queue-wait",
    env: "HOLT_WEBHOOK_QUEUE_WAIT",
};

/// How large, how long and how many reviews the webhook takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewLimits {
    /// From a request's headers to its answer: waiting for a turn, reading the body, answering. A body still
    /// arriving then is answered `408` and its connection closed.
    pub request_timeout: Duration,
    /// The largest `ConversionReview` body; larger ones are answered `413` without being read.
    pub max_conversion_body: usize,
    /// The largest `AdmissionReview` body, and the largest object in a `ConversionReview`.
    pub max_admission_body: usize,
    /// Memory the reviews in flight may hold together, each charged its body times
    /// [`CONVERSION_MEMORY_PER_BODY_BYTE`] or [`ADMISSION_MEMORY_PER_BODY_BYTE`] (at most this whole budget,
    /// so that the largest review can run alone). A review that does not fit waits.
    pub review_memory: usize,
    /// Reviews in flight at once; more wait.
    pub max_concurrent_reviews: usize,
    /// How long a review waits for its turn (at most half of what is left of its deadline) before it is
    /// answered `429` with `Retry-After`.
    pub queue_wait: Duration,
}

impl Default for ReviewLimits {
    fn default() -> Self {
        ReviewLimits {
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_conversion_body: DEFAULT_MAX_CONVERSION_BODY,
            max_admission_body: DEFAULT_MAX_ADMISSION_BODY,
            review_memory: DEFAULT_REVIEW_MEMORY,
            max_concurrent_reviews: DEFAULT_MAX_CONCURRENT_REVIEWS,
            queue_wait: DEFAULT_QUEUE_WAIT,
        }
    }
}

/// `bytes` for messages: `4 MiB` when a whole number of MiB, else `4,194,305 bytes (4.00 MiB)`.
pub(super) fn mib(bytes: usize) -> String {
    if bytes.is_multiple_of(MIB) {
        return format!("{} MiB", bytes / MIB);
    }
    let digits = bytes.to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("{grouped} bytes ({:.2} MiB)", bytes as f64 / MIB as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_mib_or_exact_bytes() {
        assert_eq!(mib(4 * MIB), "4 MiB");
        assert_eq!(mib(4 * MIB + 1), "4,194,305 bytes (4.00 MiB)");
        assert_eq!(mib(512), "512 bytes (0.00 MiB)");
    }

    #[test]
    fn settings_read_as_flag_and_variable() {
        assert_eq!(
            REQUEST_TIMEOUT.to_string(),
            "--webhook-request-timeout (HOLT_WEBHOOK_REQUEST_TIMEOUT)"
        );
    }
}
