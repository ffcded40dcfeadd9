//! Deserializing options (feature `serde`). Being written.
