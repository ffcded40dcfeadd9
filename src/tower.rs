//! tower middleware (feature `tower`). Being written.
