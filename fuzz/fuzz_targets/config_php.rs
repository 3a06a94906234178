//! Nextcloud's config.php through `authbridge config import-nextcloud`: the PHP
//! reader and `convert` never panic or hang (nesting is bounded), and the TOML
//! a successful conversion prints is a config file authbridge reads.
#![no_main]

use authbridge::config::ConfigFile;
use authbridge::{import, php};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = php::find_key(text, "user_backends") {
        assert!(e.line >= 1 && e.line <= text.lines().count() + 1, "{e}");
    }
    if let Ok(c) = import::convert(text) {
        if let Err(e) = toml::from_str::<ConfigFile>(&c.toml) {
            panic!(
                "convert printed a config authbridge refuses: {e}\n{}",
                c.toml
            );
        }
    }
});
