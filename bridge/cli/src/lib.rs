//! The parts of the `authbridge` binary that read untrusted text, as a library so
//! the fuzz targets (`fuzz/`) and tests can reach them: the config file, and
//! Nextcloud's `config.php` with its importer.

pub mod config;
pub mod import;
pub mod logging;
pub mod nsswitch;
pub mod php;
