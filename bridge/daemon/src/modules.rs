//! authbridge's optional modules (what the OCS apps API lists and switches) and
//! their on/off state. Switching one off persists in the store and takes effect
//! on the next request: a disabled backend module is not asked, disabled app
//! passwords are not accepted, a disabled welcome mail makes password-less
//! creation fail.

use authbridge_core::BackendKind;
use authbridge_store::AccountStore;
use std::sync::atomic::{AtomicU32, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleId {
    ProvisioningApi,
    UserImap,
    UserSmb,
    UserFtp,
    AppPasswords,
    PasswordPolicy,
    WelcomeMail,
}

/// What the apps API says about a module.
pub struct Module {
    pub id: ModuleId,
    pub name: &'static str,
    pub description: &'static str,
    /// The backend kind this module stands for, if any.
    pub kind: Option<BackendKind>,
    /// Modules the API itself needs cannot be switched off through it.
    pub required: bool,
}

pub const MODULES: &[Module] = &[
    Module {
        id: ModuleId::ProvisioningApi,
        name: "Provisioning API",
        description: "This OCS API: users, groups and apps",
        kind: None,
        required: true,
    },
    Module {
        id: ModuleId::UserImap,
        name: "IMAP backend",
        description: "Checks passwords against IMAP servers",
        kind: Some(BackendKind::Imap),
        required: false,
    },
    Module {
        id: ModuleId::UserSmb,
        name: "SMB backend",
        description: "Checks passwords against SMB servers",
        kind: Some(BackendKind::Smb),
        required: false,
    },
    Module {
        id: ModuleId::UserFtp,
        name: "FTP backend",
        description: "Checks passwords against FTP servers",
        kind: Some(BackendKind::Ftp),
        required: false,
    },
    Module {
        id: ModuleId::AppPasswords,
        name: "App passwords",
        description: "Per-device passwords, stored as keyed hashes",
        kind: Some(BackendKind::AppPassword),
        required: false,
    },
    Module {
        id: ModuleId::PasswordPolicy,
        name: "Password policy",
        description: "Length and common-password rules for local passwords",
        kind: None,
        required: false,
    },
    Module {
        id: ModuleId::WelcomeMail,
        name: "Welcome mail",
        description: "Mails a single-use link to set a password",
        kind: None,
        required: false,
    },
];

impl ModuleId {
    /// The app id the OCS API and the store know it by.
    pub fn app_id(self) -> &'static str {
        match self {
            ModuleId::ProvisioningApi => "provisioning_api",
            ModuleId::UserImap => "user_imap",
            ModuleId::UserSmb => "user_smb",
            ModuleId::UserFtp => "user_ftp",
            ModuleId::AppPasswords => "app_passwords",
            ModuleId::PasswordPolicy => "password_policy",
            ModuleId::WelcomeMail => "welcome_mail",
        }
    }

    pub fn from_app_id(id: &str) -> Option<ModuleId> {
        MODULES.iter().map(|m| m.id).find(|m| m.app_id() == id)
    }

    pub fn module(self) -> &'static Module {
        MODULES
            .iter()
            .find(|m| m.id == self)
            .expect("every module is in MODULES")
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// The modules' on/off state, read from the store at start and written through:
/// every password check asks it, so it costs one atomic load. Only a daemon
/// switches modules (the OCS API); on a store shared by hosts the others
/// read them again every [`FOLLOW_EVERY`](crate::FOLLOW_EVERY).
pub struct Switches {
    off: AtomicU32,
    /// Held by a switch and by a reload's store, so that a reload that read
    /// the store before a switch committed cannot put the old state back.
    changing: std::sync::Mutex<()>,
    /// Switches made through this process, counted.
    switched: std::sync::atomic::AtomicU64,
}

impl Switches {
    pub fn load(store: &dyn AccountStore) -> authbridge_store::Result<Switches> {
        Ok(Switches {
            off: AtomicU32::new(Self::read(store)?),
            changing: std::sync::Mutex::new(()),
            switched: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn read(store: &dyn AccountStore) -> authbridge_store::Result<u32> {
        let mut off = 0;
        for m in MODULES {
            if store.app_enabled(m.id.app_id())? == Some(false) {
                off |= m.id.bit();
            }
        }
        Ok(off)
    }

    /// Reads the switches again: on a store shared by hosts, another host's
    /// daemon may have switched a module.
    pub fn reload(&self, store: &dyn AccountStore) -> authbridge_store::Result<()> {
        // Read without the lock (a slow store must not hold up a switch);
        // kept only if no switch happened meanwhile.
        let before = self.switched.load(Ordering::Acquire);
        let read = Self::read(store)?;
        let _turn = self.changing.lock().unwrap_or_else(|p| p.into_inner());
        if self.switched.load(Ordering::Acquire) == before {
            self.off.store(read, Ordering::Release);
        }
        Ok(())
    }

    /// Whether a module is on (every module is on until switched off).
    pub fn enabled(&self, id: ModuleId) -> bool {
        self.off.load(Ordering::Acquire) & id.bit() == 0
    }

    /// Whether the backends of `kind` may be asked now.
    pub fn kind_enabled(&self, kind: BackendKind) -> bool {
        MODULES
            .iter()
            .find(|m| m.kind == Some(kind))
            .is_none_or(|m| self.enabled(m.id))
    }

    /// Persists first, so that what is answered is what a restart will see.
    pub fn set(
        &self,
        store: &dyn AccountStore,
        id: ModuleId,
        on: bool,
    ) -> authbridge_store::Result<()> {
        store.set_app_enabled(id.app_id(), on)?;
        let _turn = self.changing.lock().unwrap_or_else(|p| p.into_inner());
        self.switched.fetch_add(1, Ordering::AcqRel);
        match on {
            true => self.off.fetch_and(!id.bit(), Ordering::AcqRel),
            false => self.off.fetch_or(id.bit(), Ordering::AcqRel),
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authbridge_store::SqliteStore;

    #[test]
    fn switches_persist_and_every_app_id_names_its_module() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.sqlite")).unwrap();
        for m in MODULES {
            assert_eq!(ModuleId::from_app_id(m.id.app_id()), Some(m.id));
        }
        assert_eq!(ModuleId::from_app_id("files"), None);
        let switches = Switches::load(&store).unwrap();
        assert!(switches.enabled(ModuleId::UserImap));
        switches.set(&store, ModuleId::UserImap, false).unwrap();
        assert!(!switches.kind_enabled(BackendKind::Imap));
        assert!(switches.kind_enabled(BackendKind::Smb));
        assert!(switches.kind_enabled(BackendKind::Database));
        // A restart reads what was switched.
        let again = Switches::load(&store).unwrap();
        assert!(!again.enabled(ModuleId::UserImap));
        again.set(&store, ModuleId::UserImap, true).unwrap();
        assert!(Switches::load(&store).unwrap().enabled(ModuleId::UserImap));
    }
}
