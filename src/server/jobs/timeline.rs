//! Placeholder; replaced by the timeline work.
