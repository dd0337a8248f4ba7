//! jobs poller
