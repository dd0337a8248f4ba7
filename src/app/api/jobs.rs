//! Placeholder; replaced by the feature work.
