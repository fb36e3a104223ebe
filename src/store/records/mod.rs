//! On-disk records. For now only the byte fixtures of every table, written against the
//! record code as it stands, so that moving that code here can be shown to change no byte.

#[cfg(test)]
mod fixtures;
